//! A private `dbus-daemon` per test, a `tesserad` on it, and a mock
//! notification server speaking the real `org.freedesktop.Notifications`
//! interface (there is no notification UI here).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;
use zbus::{Connection, interface};

use crate::common::{Daemon, wait_for_socket};

/// A `dbus-daemon --session` of the test's own; ended when dropped.
pub struct PrivateBus {
    child: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Other users may connect (the peer test runs the daemon as nobody):
        // the daemon's own check must refuse them.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <allow_anonymous/>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package `dbus-daemon`) runs");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        PrivateBus {
            child,
            address,
            _dir: dir,
        }
    }

    pub async fn connect(&self) -> Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon on `bus` with `config`: waits for its socket and (when
/// `owns_name`) for it to own org.tessera.Authenticator1.
pub async fn daemon_on(bus: &PrivateBus, config: &str) -> Daemon {
    let d = spawn_on(bus, config);
    wait_for_name(bus, tesserad::dbus::BUS_NAME).await;
    d
}

/// Starts a daemon on `bus` and waits for its socket only.
pub fn spawn_on(bus: &PrivateBus, config: &str) -> Daemon {
    let mut d = Daemon {
        dir: tempfile::tempdir().unwrap(),
        child: None,
    };
    std::fs::write(d.config_path(), config).unwrap();
    let child = d
        .command()
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdin(Stdio::null())
        .spawn()
        .expect("tesserad starts");
    d.child = Some(child);
    wait_for_socket(&d.socket(), d.child.as_mut().unwrap());
    d
}

pub async fn wait_for_name(bus: &PrivateBus, name: &str) {
    let c = bus.connect().await;
    let dbus = zbus::fdo::DBusProxy::new(&c).await.unwrap();
    let start = Instant::now();
    while !dbus.name_has_owner(name.try_into().unwrap()).await.unwrap() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} never appeared on the bus"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How the mock notification server answers an approval notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Emit `ActionInvoked(id, key)` after the `Notify` reply.
    Action(&'static str),
    /// Emit `NotificationClosed(id, 2)` (dismissed by the user).
    Dismiss,
    /// Never answer.
    Never,
}

/// One `Notify` call as the mock saw it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub id: u32,
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub expire_timeout: i32,
}

#[derive(Clone)]
pub struct MockNotifications {
    pub reply: Arc<Mutex<Reply>>,
    pub shown: Arc<Mutex<Vec<Shown>>>,
    pub closed: Arc<Mutex<Vec<u32>>>,
}

#[interface(name = "org.freedesktop.Notifications")]
impl MockNotifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let id = {
            let mut shown = self.shown.lock().unwrap();
            let id = shown.len() as u32 + 1;
            shown.push(Shown {
                id,
                app_name,
                summary,
                body,
                actions: actions.clone(),
                expire_timeout,
            });
            id
        };
        let reply = *self.reply.lock().unwrap();
        if !actions.is_empty() && reply != Reply::Never {
            // After the method's reply, as a real server does.
            let emitter = emitter.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = match reply {
                    Reply::Action(key) => Self::action_invoked(&emitter, id, key).await,
                    Reply::Dismiss => Self::notification_closed(&emitter, id, 2).await,
                    Reply::Never => Ok(()),
                };
            });
        }
        id
    }

    async fn close_notification(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        id: u32,
    ) {
        self.closed.lock().unwrap().push(id);
        let _ = Self::notification_closed(&emitter, id, 3).await;
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "mock".into(),
            "tessera tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

/// Serves the mock on `bus`; keep the connection alive.
pub async fn mock_notifications(bus: &PrivateBus, reply: Reply) -> (Connection, MockNotifications) {
    let mock = MockNotifications {
        reply: Arc::new(Mutex::new(reply)),
        shown: Arc::default(),
        closed: Arc::default(),
    };
    let c = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", mock.clone())
        .unwrap()
        .build()
        .await
        .unwrap();
    (c, mock)
}

/// A client proxy of org.tessera.Authenticator1.
pub async fn authenticator(c: &Connection) -> zbus::Proxy<'static> {
    zbus::Proxy::new(
        c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::PATH,
        "org.tessera.Authenticator1",
    )
    .await
    .unwrap()
}

/// The named error of a failed call, and its message.
pub fn dbus_error(e: &zbus::Error) -> (String, String) {
    match e {
        zbus::Error::MethodError(name, message, _) => {
            (name.to_string(), message.clone().unwrap_or_default())
        }
        other => panic!("not a method error: {other:?}"),
    }
}
