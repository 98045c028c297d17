//! A desktop session of the test's own: a private session bus, an X server
//! (Xvfb), the accessibility bus (at-spi2-core), the real `tesserad` on
//! that bus, the real `tessera-app`, and the AT-SPI driver
//! (`tests/gui/driver.py`) that clicks its buttons and reads its labels.
//! Nothing is mocked; everything stops when the session is dropped.
//!
//! Debian packages: xvfb, at-spi2-core, python3-pyatspi, xdotool, xclip
//! (scripts/test installs them).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_testkit::bins::workspace_bin;
use tessera_testkit::bus::PrivateBus;
use tessera_testkit::daemon::Tesserad;

/// Quick Argon2 for tests (the daemon's own tests use the same).
pub const FAST_CONFIG: &str = "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\n";

/// A standard TOTP QR code's link (RFC 6238's example key).
pub const EXAMPLE_URI: &str =
    "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

pub struct Session {
    pub daemon: Tesserad,
    pub bus: PrivateBus,
    display: String,
    xvfb: Child,
    atspi: Child,
    app: Option<Child>,
    driver: Option<Driver>,
    /// HOME, XDG folders and the app's log.
    pub home: tempfile::TempDir,
}

struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut d) = self.driver.take() {
            kill(&mut d.child);
        }
        if let Some(mut app) = self.app.take() {
            kill(&mut app);
        }
        self.daemon.stop();
        // The launcher and the bus it started.
        // SAFETY: a signal to the process group of our own child.
        unsafe { libc::kill(-(self.atspi.id() as i32), libc::SIGKILL) };
        let _ = self.atspi.wait();
        kill(&mut self.xvfb);
    }
}

impl Session {
    /// The bus, X, the accessibility bus and a daemon with `config`; the
    /// app is started by [`start_app`](Self::start_app).
    pub fn new(config: &str) -> Session {
        Session::start(config, None, None)
    }

    /// As [`new`](Self::new), with a camera: the daemon's camera plugin
    /// (loaded from cargo's build folder) plays the pictures of `frames`
    /// (`TESSERA_CAMERA_FRAMES`, testkit's `camera_frames`).
    pub fn with_camera(config: &str, frames: &Path) -> Session {
        Session::start(config, None, Some(frames))
    }

    /// As [`new`](Self::new), with the standard layers under a temporary
    /// root (`--config-root`): `config` as the vendor file and `admin` as
    /// the administrator's `etc/tessera/tessera.toml` (with its locks).
    pub fn with_policy(config: &str, admin: &str) -> Session {
        Session::start(config, Some(admin), None)
    }

    fn start(config: &str, admin: Option<&str>, frames: Option<&Path>) -> Session {
        let bus = PrivateBus::start();
        let home = tempfile::tempdir().unwrap();
        for d in ["config", "data", "cache", "run"] {
            std::fs::create_dir_all(home.path().join(d)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            home.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        // Xvfb picks a free display and writes its number to fd 1.
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (Debian package xvfb) runs");
        let mut number = String::new();
        BufReader::new(xvfb.stdout.take().unwrap())
            .read_line(&mut number)
            .unwrap();
        let display = format!(":{}", number.trim());
        assert!(display.len() > 1, "Xvfb printed no display number");
        let env = SessionEnv {
            display: display.clone(),
            bus: bus.address().to_owned(),
            home: home.path().to_owned(),
        };
        // In a process group of its own: the accessibility bus it starts
        // (a dbus-daemon) outlives it otherwise, one per test.
        let atspi = env
            .command("/usr/libexec/at-spi-bus-launcher")
            .arg("--launch-immediately")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("at-spi-bus-launcher (Debian package at-spi2-core) runs");
        let mut daemon = Tesserad::new(workspace_bin("tesserad"))
            .with_env("DBUS_SESSION_BUS_ADDRESS", bus.address());
        if let Some(frames) = frames {
            daemon = daemon.with_env("TESSERA_CAMERA_FRAMES", frames);
        }
        match admin {
            None => {
                daemon.write_config(config);
                daemon.restart();
            }
            Some(admin) => {
                let root = daemon.dir.path().join("root");
                for (path, text) in [
                    ("usr/share/tessera/tessera.toml", config),
                    ("etc/tessera/tessera.toml", admin),
                ] {
                    let file = root.join(path);
                    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                    std::fs::write(file, text).unwrap();
                }
                let mut c = daemon.layered_command();
                c.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                daemon.spawn(c);
            }
        }
        let session = Session {
            daemon,
            bus,
            display,
            xvfb,
            atspi,
            app: None,
            driver: None,
            home,
        };
        session.wait_for_name("org.tessera.Authenticator1");
        session.wait_for_name("org.a11y.Bus");
        session
    }

    fn env(&self) -> SessionEnv {
        SessionEnv {
            display: self.display.clone(),
            bus: self.bus.address().to_owned(),
            home: self.home.path().to_owned(),
        }
    }

    fn wait_for_name(&self, name: &str) {
        runtime().block_on(self.bus.wait_for_name(name));
    }

    /// Starts `tessera-app` and the driver, and waits for its window.
    pub fn start_app(&mut self) {
        self.start_app_with(&[]);
    }

    pub fn start_app_with(&mut self, args: &[&str]) {
        let log = std::fs::File::create(self.app_log_path()).unwrap();
        let app = self
            .env()
            .command(env!("CARGO_BIN_EXE_tessera-app"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tessera-app starts");
        self.app = Some(app);
        if self.driver.is_none() {
            let mut child = self
                .env()
                .command("/usr/bin/python3")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gui/driver.py"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3 with pyatspi (Debian package python3-pyatspi) runs");
            let stdin = child.stdin.take().unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            self.driver = Some(Driver {
                child,
                stdin,
                stdout,
            });
        }
        self.wait("frame", "Tessera");
    }

    /// Stops the app (the driver stays).
    pub fn stop_app(&mut self) {
        if let Some(mut app) = self.app.take() {
            kill(&mut app);
        }
    }

    fn app_log_path(&self) -> PathBuf {
        self.home.path().join("app.log")
    }

    /// What the app wrote to stdout and stderr.
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(self.app_log_path()).unwrap_or_default()
    }

    /// Sends one command to the driver; panics with its error, the app's
    /// log and the daemon's log when it fails.
    pub fn cmd(&mut self, cmd: Value) -> Value {
        let driver = self.driver.as_mut().expect("start_app first");
        writeln!(driver.stdin, "{cmd}").unwrap();
        driver.stdin.flush().unwrap();
        let mut line = String::new();
        driver.stdout.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the driver answered {line:?} ({e}) to {cmd}"));
        if reply["ok"] != true {
            let shot = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("gui-failure-{}.png", std::process::id()));
            self.screenshot(&shot);
            panic!(
                "{cmd} failed: {}\n--- the screen: {}\n--- app log:\n{}\n--- daemon log:\n{}",
                reply["error"],
                shot.display(),
                self.app_log(),
                self.daemon.log()
            );
        }
        reply
    }

    /// Waits until a `role` node named `name` shows ("re:…" for a regex).
    pub fn wait(&mut self, role: &str, name: &str) {
        self.cmd(json!({"op": "wait", "role": role, "name": name}));
    }

    /// Waits until no `role` node named `name` shows.
    pub fn gone(&mut self, role: &str, name: &str) {
        self.cmd(json!({"op": "gone", "role": role, "name": name}));
    }

    /// Clicks the button named `name` (waiting until it shows).
    pub fn click(&mut self, name: &str) {
        self.cmd(json!({"op": "click", "role": "push button", "name": name}));
    }

    /// Clicks the button named `name` inside the node named `within`.
    pub fn click_in(&mut self, within: &str, name: &str) {
        self.cmd(json!({"op": "click", "role": "push button", "name": name, "within": within}));
    }

    /// Focuses the `role` node named `name` and types `text` on the keyboard.
    pub fn type_into(&mut self, role: &str, name: &str, text: &str) {
        self.cmd(json!({"op": "focus", "role": role, "name": name}));
        self.cmd(json!({"op": "key", "keys": ["ctrl+a", "BackSpace"]}));
        self.cmd(json!({"op": "type", "text": text}));
    }

    /// Key presses (xdotool names: "Tab", "Return", "ctrl+n").
    pub fn keys(&mut self, keys: &[&str]) {
        self.cmd(json!({"op": "key", "keys": keys}));
    }

    /// The texts of the showing `role` nodes named `name`.
    pub fn texts(&mut self, role: &str, name: &str) -> Vec<String> {
        let reply = self.cmd(json!({"op": "texts", "role": role, "name": name}));
        reply["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }

    /// The showing labels, buttons and entries (for a failing test's message).
    pub fn summary(&mut self) -> Vec<String> {
        let reply = self.cmd(json!({"op": "summary"}));
        reply["summary"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }

    /// The text on the X clipboard, read by `xclip` as another program would.
    pub fn clipboard(&self) -> String {
        let out = self
            .env()
            .command("xclip")
            .args(["-o", "-selection", "clipboard"])
            .output()
            .expect("xclip (Debian package xclip) runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen as a PNG at `path` (ImageMagick's `import`).
    pub fn screenshot(&self, path: &Path) {
        let status = self
            .env()
            .command("import")
            .args(["-window", "root"])
            .arg(path)
            .status()
            .expect("import (Debian package imagemagick) runs");
        assert!(status.success(), "import failed");
    }

    /// The mean grey (0 to 255) of the lower left of the widget `role`
    /// `name` as drawn now: a screenshot of its window (ImageMagick's
    /// `import`), cropped to the square from 10 % to 30 % of the widget's
    /// width across and from 70 % to 90 % of its height down.
    pub fn grey_of(&mut self, role: &str, name: &str) -> f64 {
        let e = self.cmd(json!({"op": "extents", "role": role, "name": name}));
        let n = |k: &str| e[k].as_i64().unwrap_or_else(|| panic!("extents: {e}"));
        let (w, h) = (n("width") / 5, n("height") / 5);
        assert!(w > 0 && h > 0, "{name} is not drawn: {e}");
        let crop = format!("{w}x{h}+{}+{}", n("x") + w / 2, n("y") + h * 7 / 2);
        let out = self
            .env()
            .command("import")
            .args(["-window", e["window"].as_str().unwrap(), "-crop", &crop])
            .args(["-colorspace", "gray", "-format", "%[fx:mean*255]", "info:"])
            .output()
            .expect("import (Debian package imagemagick) runs");
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("import printed {:?}", String::from_utf8_lossy(&out.stdout)))
    }

    /// `tessera ARGS…` against this session's daemon.
    pub fn tessera(&self, args: &[&str]) -> Output {
        Command::new(workspace_bin("tessera"))
            .arg("--socket")
            .arg(self.daemon.socket())
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", self.bus.address())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Waits until `f` holds (30 s at most), reading the app between tries.
    pub fn until(&mut self, what: &str, mut f: impl FnMut(&mut Session) -> bool) {
        let start = Instant::now();
        while !f(self) {
            if start.elapsed() > Duration::from_secs(30) {
                let summary = self.summary();
                panic!("{what} never happened; showing: {summary:#?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The environment every program of the session runs in.
struct SessionEnv {
    display: String,
    bus: String,
    home: PathBuf,
}

impl SessionEnv {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        let h = &self.home;
        c.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("XDG_RUNTIME_DIR", h.join("run"))
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_CACHE_HOME", h.join("cache"))
            .env(
                "GTK_A11Y",
                std::env::var("GTK_A11Y").unwrap_or_else(|_| "atspi".into()),
            )
            .env("GDK_BACKEND", "x11")
            .env(
                "GSK_RENDERER",
                std::env::var("GSK_RENDERER").unwrap_or_else(|_| "cairo".into()),
            )
            .env("GSETTINGS_BACKEND", "memory")
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("NO_AT_BRIDGE")
            .env_remove("WAYLAND_DISPLAY");
        c
    }
}

/// `tessera-issuer ARGS…`, which must succeed; its stdout.
pub fn issuer(args: &[&str]) -> String {
    let out = Command::new(workspace_bin("tessera-issuer"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera-issuer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Session {
    /// The path of the administrator's file of [`with_policy`](Self::with_policy).
    pub fn admin_file(&self) -> PathBuf {
        self.daemon.dir.path().join("root/etc/tessera/tessera.toml")
    }

    /// Activates `payloads` over gRPC before the app starts (the vault is
    /// then unlocked with `pin`).
    pub fn add_accounts(&self, payloads: &[&str], pin: &str) {
        let rt = runtime();
        rt.block_on(async {
            for p in payloads {
                tessera_testkit::activation::activate(self.daemon.channel().await, p, pin).await;
            }
        });
    }

    /// Activates a Tessera `payload` over gRPC before the app starts; the
    /// device code it showed (its first 10 digits are the device's nonce).
    pub fn add_tessera_account(&self, payload: &str, pin: &str) -> String {
        runtime().block_on(async {
            let (_, code) = tessera_testkit::activation::activate_seeing_device_code(
                self.daemon.channel().await,
                payload,
                pin,
            )
            .await;
            code.expect("a Tessera activation shows a device code")
        })
    }

    /// A D-Bus call to the daemon, as another client makes it.
    pub fn dbus_call<B>(&self, method: &str, body: &B) -> zbus::Message
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.dbus_call_on("org.tessera.Authenticator1", method, body)
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Session {
    /// With `TESSERA_SCREENSHOTS=DIR` (scripts/screenshots), writes the
    /// screen to `DIR/NAME.png`; otherwise does nothing.
    pub fn shot(&self, name: &str) {
        self.shot_of(name, None);
    }

    /// As [`shot`](Self::shot), of the window titled `title` only.
    pub fn shot_window(&self, name: &str, title: &str) {
        self.shot_of(name, Some(title));
    }

    fn shot_of(&self, name: &str, title: Option<&str>) {
        let Some(dir) = std::env::var_os("TESSERA_SCREENSHOTS") else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Let the page finish drawing (a screenshot is not a test).
        std::thread::sleep(Duration::from_millis(300));
        let window = title.map(|t| {
            let out = self
                .env()
                .command("xdotool")
                .args(["search", "--onlyvisible", "--name", &format!("^{t}$")])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .last()
                .unwrap_or_else(|| panic!("no window titled {t}"))
                .to_owned()
        });
        let status = self
            .env()
            .command("import")
            .arg("-window")
            .arg(window.as_deref().unwrap_or("root"))
            .arg(dir.join(format!("{name}.png")))
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Session {
    /// The activations the daemon knows, as (id, revision, state), read
    /// from its `Activations` property over D-Bus.
    pub fn activations(&self) -> Vec<(String, u64, String)> {
        use zbus::zvariant::{OwnedValue, Value};
        type Views =
            std::collections::HashMap<String, std::collections::HashMap<String, OwnedValue>>;
        let reply = self.dbus_property("Activations");
        let views: Views = reply.try_into().unwrap();
        views
            .into_iter()
            .map(|(id, view)| {
                let revision: u64 = match &*view["revision"] {
                    Value::U64(r) => *r,
                    other => panic!("revision is {other:?}"),
                };
                let state: String = match &*view["state"] {
                    Value::Str(s) => s.to_string(),
                    other => panic!("state is {other:?}"),
                };
                (id, revision, state)
            })
            .collect()
    }

    fn dbus_property(&self, name: &str) -> zbus::zvariant::OwnedValue {
        let reply = self.dbus_call_on(
            "org.freedesktop.DBus.Properties",
            "Get",
            &("org.tessera.Authenticator1", name),
        );
        reply.body().deserialize().unwrap()
    }

    /// `SendEvent` over D-Bus, as another client sends it.
    pub fn send_event(&self, id: &str, revision: u64, event: &str, argument: &str) {
        self.dbus_call("SendEvent", &(id, revision, event, argument));
    }

    /// `StartActivation` of a payload over D-Bus, as another client does.
    pub fn dbus_start_activation(&self, payload: &str) {
        let mut source = std::collections::HashMap::new();
        source.insert("payload", zbus::zvariant::Value::from(payload));
        self.dbus_call("StartActivation", &(source,));
    }

    fn dbus_call_on<B>(&self, interface: &str, method: &str, body: &B) -> zbus::Message
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        runtime().block_on(async {
            let c = self.bus.connect().await;
            c.call_method(
                Some("org.tessera.Authenticator1"),
                "/org/tessera/Authenticator1",
                Some(interface),
                method,
                body,
            )
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
        })
    }
}

impl Session {
    /// Runs the app once with `TESSERA_APP_BENCH=1` (it quits after its
    /// first frame with the daemon's content): the wall time from spawning
    /// it to that frame, and its RSS then and the anonymous part of it (KiB).
    pub fn bench_app_start(&self) -> (Duration, u64, u64) {
        let start = Instant::now();
        let mut child = self
            .env()
            .command(env!("CARGO_BIN_EXE_tessera-app"))
            .env("TESSERA_APP_BENCH", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tessera-app starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let wall = start.elapsed();
        assert_eq!(line.trim(), "first-frame", "the app printed {line:?}");
        line.clear();
        out.read_line(&mut line).unwrap();
        let rss: u64 = line
            .strip_prefix("rss-kib ")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the app printed {line:?}"));
        line.clear();
        out.read_line(&mut line).unwrap();
        let anon: u64 = line
            .strip_prefix("rss-anon-kib ")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("the app printed {line:?}"));
        let _ = child.wait();
        (wall, rss, anon)
    }
}

/// `tessera-issuer` on a database in `dir`.
pub struct Issuer {
    db: String,
    dir: PathBuf,
}

/// An activation `tessera-issuer new` made.
pub struct NewActivation {
    pub serial: String,
    pub activation_code: String,
    /// Its QR code as a PNG.
    pub image: PathBuf,
}

impl Issuer {
    pub fn new(dir: &Path) -> Issuer {
        Issuer {
            db: dir.join("issuer.db").display().to_string(),
            dir: dir.to_owned(),
        }
    }

    /// `tessera-issuer COMMAND --db DB ARGS…`, which must succeed; its stdout.
    pub fn run(&self, command: &str, args: &[&str]) -> String {
        let mut all = vec![command, "--db", &self.db];
        all.extend_from_slice(args);
        issuer(&all)
    }

    /// A new activation with its image.
    pub fn new_activation(&self) -> NewActivation {
        let image = self.dir.join("activation.png");
        let new: Value =
            serde_json::from_str(&self.run("new", &["--image", image.to_str().unwrap(), "--json"]))
                .unwrap();
        NewActivation {
            serial: new["serial"].as_str().unwrap().to_owned(),
            activation_code: new["activation_code"].as_str().unwrap().to_owned(),
            image,
        }
    }

    /// Binds the device code the app shows.
    pub fn bind(&self, serial: &str, device_code: &str) {
        self.run("bind", &["--serial", serial, "--device-code", device_code]);
    }
}
