//! The built plugin library, loaded by the plugin host as the daemon loads
//! it, finding the portal through `DBUS_SESSION_BUS_ADDRESS`. One test
//! only: it changes the process's environment.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use tessera_plugin_host::{PluginError, PluginFolder, PluginHost, PluginStatus, ScannerInput};

const TIMEOUT: Duration = Duration::from_secs(20);

/// The plugin library cargo built for these tests: in `target/<profile>/deps/`
/// next to the test binary (or in `target/<profile>/` when another crate's
/// dev-dependency built it).
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .iter()
        .map(|dir| dir.join("libtessera_scanner_screen.so"))
        .find(|path| path.exists())
        .expect("cargo built libtessera_scanner_screen.so")
}

fn set_session_bus(address: &str) {
    // SAFETY: the only test of this binary; no other thread of it reads
    // the environment while it changes.
    unsafe { std::env::set_var("DBUS_SESSION_BUS_ADDRESS", address) };
}

#[test]
fn the_plugin_scans_through_the_session_bus() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let to = dir.path().join("libtessera_scanner_screen.so");
    std::fs::copy(built_library(), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], None);
    let info = host.plugins().pop().unwrap();
    assert_eq!(info.status, PluginStatus::Loaded);
    assert_eq!(info.name, "screen");
    assert_eq!(info.input, Some(ScannerInput::Capture));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // No session bus.
    set_session_bus(&format!(
        "unix:path={}",
        dir.path().join("no-bus").display()
    ));
    let err = runtime
        .block_on(host.scan("screen", Vec::new(), TIMEOUT, None))
        .unwrap_err();
    assert!(
        matches!(err, PluginError::SourceUnavailable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(
            "screen: no D-Bus session bus: the screen scanner needs a desktop session"
        ),
        "{err}"
    );

    // A desktop session whose portal answers with a screenshot.
    let uri = "otpauth://totp/Screen:bob?secret=JBSWY3DPEHPK3PXP";
    let png = screenshot_png(dir.path(), "shot.png", Some(uri));
    let bus = PrivateBus::start();
    set_session_bus(bus.address());
    let _portal = MockPortalService::start(
        bus.address(),
        Answer::Respond {
            code: 0,
            uri: Some(file_uri(&png)),
            after: Some(Duration::from_millis(100)),
        },
    );
    assert_eq!(
        runtime.block_on(host.scan("screen", Vec::new(), TIMEOUT, None)),
        Ok(vec![uri.to_owned()])
    );
    assert_eq!(host.plugins().pop().unwrap().status, PluginStatus::Loaded);
}
