//! The systemd integration: socket activation with the real
//! `systemd-socket-activate`, the unit files checked by `systemd-analyze`,
//! and `make install` putting every file in place.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use tessera_proto::v1 as pb;

/// The workspace root (Makefile, systemd/).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `systemd-socket-activate -l SOCKET tesserad …`: the daemon starts on the
/// first connection and serves the socket it was given.
#[tokio::test]
async fn socket_activation_serves_the_passed_socket() {
    if !have("systemd-socket-activate") {
        eprintln!("SKIPPED: systemd-socket-activate (package systemd) is not installed");
        return;
    }
    let d = Daemon::unstarted();
    std::fs::write(d.config_path(), FAST_CONFIG).unwrap();
    std::fs::create_dir(d.runtime_dir()).unwrap();
    std::fs::set_permissions(d.runtime_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let daemon = d.command();
    let mut activator = Command::new("systemd-socket-activate");
    activator
        .arg("-l")
        .arg(d.socket())
        .arg(daemon.get_program())
        .args(daemon.get_args())
        .env("RUST_LOG", "warn")
        // No session bus: the daemon serves gRPC only.
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = activator.spawn().unwrap();
    let _guard = KillGroup(child.id() as i32);
    let start = Instant::now();
    while !d.socket().exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "systemd-socket-activate exited"
        );
        assert!(start.elapsed() < Duration::from_secs(10), "no socket");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The first call starts tesserad, which answers on the passed socket
    // (binding its own would fail: the path is taken by a listener).
    let status = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!status.exists);
    let e = d
        .accounts()
        .await
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_NO_VAULT");
    assert!(child.try_wait().unwrap().is_none());
}

struct KillGroup(i32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        // SAFETY: kill on the process group this test started.
        unsafe { libc::kill(-self.0, libc::SIGTERM) };
    }
}

/// The binaries and plugins the build put next to tesserad.
fn built() -> (PathBuf, String, Vec<String>) {
    let dir = Path::new(env!("CARGO_BIN_EXE_tesserad"))
        .parent()
        .unwrap()
        .to_owned();
    let binaries: Vec<_> = ["tesserad", "tessera", "tessera-issuer", "tessera-app"]
        .into_iter()
        .filter(|b| dir.join(b).exists())
        .collect();
    let plugins = [
        "tessera_scanner_image",
        "tessera_scanner_colour",
        "tessera_scanner_screen",
        "tessera_scanner_camera",
        "tessera_biometric_fprintd",
    ]
    .into_iter()
    .filter(|p| dir.join(format!("lib{p}.so")).exists())
    .map(str::to_owned)
    .collect();
    (dir, binaries.join(" "), plugins)
}

fn make(args: &[String]) {
    let (dir, binaries, _) = built();
    let out = Command::new("make")
        .arg("-C")
        .arg(root())
        .arg("--no-print-directory")
        .args(args)
        .arg("CARGO_BUILD=0")
        .arg(format!("TARGET_DIR={}", dir.display()))
        .arg(format!("BINARIES={binaries}"))
        .output()
        .expect("make runs");
    assert!(
        out.status.success(),
        "make {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// `make install DESTDIR=… PREFIX=/usr` puts every file in place with sane
/// modes and paths; `make uninstall` takes them away.
#[test]
fn make_install_puts_everything_in_place() {
    if !have("make") {
        eprintln!("SKIPPED: make is not installed");
        return;
    }
    let dest = tempfile::tempdir().unwrap();
    let args = vec![
        "install".to_owned(),
        format!("DESTDIR={}", dest.path().display()),
        "PREFIX=/usr".to_owned(),
    ];
    make(&args);
    let at = |p: &str| dest.path().join(p.trim_start_matches('/'));
    assert_eq!(mode(&at("/usr/bin/tesserad")), 0o755);
    for file in [
        "/usr/lib/systemd/user/tesserad.service",
        "/usr/lib/systemd/user/tesserad.socket",
        "/usr/share/dbus-1/services/org.tessera.Authenticator1.service",
        "/usr/share/applications/org.tessera.Authenticator.desktop",
        "/usr/share/applications/org.tessera.Authenticator.OpenLink.desktop",
        "/usr/share/dbus-1/services/org.tessera.Authenticator.service",
        "/usr/share/metainfo/org.tessera.Authenticator.metainfo.xml",
        "/usr/share/icons/hicolor/scalable/apps/org.tessera.Authenticator.svg",
        "/usr/share/gnome-shell/search-providers/org.tessera.Authenticator.search-provider.ini",
        "/usr/share/krunner/dbusplugins/org.tessera.Authenticator.krunner.desktop",
        "/usr/share/dbus-1/interfaces/org.tessera.Authenticator1.xml",
        "/usr/share/doc/tessera/admin.md",
        "/usr/share/doc/tessera/dbus.md",
    ] {
        assert_eq!(mode(&at(file)), 0o644, "{file}");
    }
    let (_, _, plugins) = built();
    assert!(!plugins.is_empty(), "the build made no plugins");
    for p in &plugins {
        assert_eq!(
            mode(&at(&format!("/usr/lib/tessera/plugins/lib{p}.so"))),
            0o644
        );
    }
    // Paths follow PREFIX, not the build machine or DESTDIR.
    let unit = std::fs::read_to_string(at("/usr/lib/systemd/user/tesserad.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/tesserad --foreground"),
        "{unit}"
    );
    assert!(
        unit.contains("Documentation=file:///usr/share/doc/tessera/admin.md"),
        "{unit}"
    );
    let bus = std::fs::read_to_string(at(
        "/usr/share/dbus-1/services/org.tessera.Authenticator1.service",
    ))
    .unwrap();
    assert!(bus.contains("Exec=/usr/bin/tesserad"), "{bus}");
    assert!(bus.contains("SystemdService=tesserad.service"));
    // The app's desktop file: D-Bus activated, links through Open.
    let app = std::fs::read_to_string(at(
        "/usr/share/applications/org.tessera.Authenticator.desktop",
    ))
    .unwrap();
    assert!(app.contains("Exec=/usr/bin/tessera-app\n"), "{app}");
    assert!(app.contains("DBusActivatable=true"), "{app}");
    assert!(app.contains("MimeType=x-scheme-handler/tessera;x-scheme-handler/otpauth;"));
    let app_bus = std::fs::read_to_string(at(
        "/usr/share/dbus-1/services/org.tessera.Authenticator.service",
    ))
    .unwrap();
    assert!(
        app_bus.contains("Exec=/usr/bin/tessera-app --gapplication-service"),
        "{app_bus}"
    );
    // The app is installed when it was built (`cargo build --workspace`,
    // as scripts/test does; it needs the GTK development packages).
    if built().1.contains("tessera-app") {
        assert_eq!(mode(&at("/usr/bin/tessera-app")), 0o755);
    }
    // The terminal's link handler.
    let desktop = std::fs::read_to_string(at(
        "/usr/share/applications/org.tessera.Authenticator.OpenLink.desktop",
    ))
    .unwrap();
    assert!(desktop.contains("Exec=/usr/bin/tessera open-link %u"));
    assert!(desktop.contains("MimeType=x-scheme-handler/tessera;x-scheme-handler/otpauth;"));
    // AppStream's own check of the installed metadata.
    let validate = std::process::Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(at(
            "/usr/share/metainfo/org.tessera.Authenticator.metainfo.xml",
        ))
        .output()
        .expect("appstreamcli (Debian package appstream) runs");
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
    assert!(!unit.contains(&dest.path().display().to_string()));
    installs_completions_and_man_pages(&at);

    let mut args = args;
    args[0] = "uninstall".into();
    make(&args);
    assert!(!at("/usr/bin/tesserad").exists());
    assert!(!at("/usr/lib/systemd/user/tesserad.service").exists());
    assert!(!at("/usr/share/doc/tessera").exists());
    for b in ["tessera", "tessera-issuer"] {
        assert!(!at(&format!("/usr/share/man/man1/{b}.1")).exists());
        assert!(!at(&format!("/usr/share/bash-completion/completions/{b}")).exists());
    }
}

/// The clients' completions (bash, zsh, fish) and man pages, generated from
/// their clap definitions, where the shells and `man` look under PREFIX.
fn installs_completions_and_man_pages(at: &dyn Fn(&str) -> PathBuf) {
    for (b, sub) in [("tessera", "activate"), ("tessera-issuer", "finalize")] {
        let read = |p: &str| {
            assert_eq!(mode(&at(p)), 0o644, "{p}");
            std::fs::read_to_string(at(p)).unwrap()
        };
        let bash = read(&format!("/usr/share/bash-completion/completions/{b}"));
        assert!(
            bash.contains(&format!("complete -F _{}", b.replace('-', "__"))),
            "{bash}"
        );
        assert!(bash.contains(sub), "{b}: bash completion lacks {sub}");
        let zsh = read(&format!("/usr/share/zsh/site-functions/_{b}"));
        assert!(zsh.starts_with(&format!("#compdef {b}")), "{zsh}");
        assert!(zsh.contains(sub));
        let fish = read(&format!("/usr/share/fish/vendor_completions.d/{b}.fish"));
        assert!(fish.contains(&format!("complete -c {b}")), "{fish}");
        assert!(fish.contains(sub));
        let page = format!("/usr/share/man/man1/{b}.1");
        let roff = read(&page);
        assert!(roff.contains(&format!(".TH {b} 1")), "{roff}");
        if have("man") {
            // Rendered as a person reads it.
            let out = Command::new("man")
                .arg("-l")
                .arg(at(&page))
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "man -l {page}: {text}");
            assert!(text.contains("NAME"), "{text}");
            assert!(text.contains(sub), "{text}");
        } else {
            eprintln!("man (man-db) is not installed: checked the roff header only");
        }
    }
    // The link handler's command is completed too.
    let bash =
        std::fs::read_to_string(at("/usr/share/bash-completion/completions/tessera")).unwrap();
    assert!(bash.contains("open-link"));
}

/// The units pass `systemd-analyze verify` as installed, and the service's
/// exposure is 2.5 or lower.
#[test]
fn the_units_pass_systemd_analyze() {
    if !have("systemd-analyze") || !have("make") {
        eprintln!("SKIPPED: systemd-analyze (package systemd) or make is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Installed under a real PREFIX so ExecStart names an existing binary.
    make(&[
        "install".to_owned(),
        format!("PREFIX={}", prefix.display()),
        format!("PLUGINDIR={}/lib/tessera/plugins", prefix.display()),
    ]);
    let units = prefix.join("lib/systemd/user");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(units.join("tesserad.service"))
        .arg(units.join("tesserad.socket"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    assert!(
        !said.contains("tesserad.service:") && !said.contains("tesserad.socket:"),
        "systemd-analyze verify complains: {said}"
    );

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--user"])
        .arg(root().join("systemd/tesserad.service"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = said
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for tesserad.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure in: {said}"));
    assert!(exposure <= 2.5, "exposure {exposure} > 2.5:\n{said}");
}
