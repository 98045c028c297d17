//! A private `dbus-daemon` of the test's own.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zbus::Connection;

/// A `dbus-daemon` (session type, no services to start) listening in a
/// temporary folder; killed when dropped.
///
/// Its policy lets every user connect and own or call any name: other
/// uids must reach the daemon under test (the peer test runs `tesserad` as
/// `nobody`) so that the daemon's own check is what refuses them.
pub struct PrivateBus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    /// Starts the bus and reads its address.
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

    /// The bus address (`unix:path=…,guid=…`), for
    /// `DBUS_SESSION_BUS_ADDRESS` or `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A new client connection to the bus.
    pub async fn connect(&self) -> Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .unwrap()
            .build()
            .await
            .unwrap()
    }

    /// Waits (30 s at most) until `name` has an owner on the bus.
    pub async fn wait_for_name(&self, name: &str) {
        let c = self.connect().await;
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
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
