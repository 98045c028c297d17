//! The built plugin library, loaded by the plugin host as the daemon loads it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use tessera_plugin_host::{PluginError, PluginFolder, PluginHost, PluginStatus, ScannerInput};

/// The plugin library cargo built for these tests: in `target/<profile>/deps/`
/// next to the test binary (or in `target/<profile>/` when another crate's
/// dev-dependency built it).
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .iter()
        .map(|dir| dir.join("libtessera_scanner_camera.so"))
        .find(|path| path.exists())
        .expect("cargo built libtessera_scanner_camera.so")
}

fn load() -> (tempfile::TempDir, PluginHost) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let to = dir.path().join("libtessera_scanner_camera.so");
    std::fs::copy(built_library(), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], None);
    (dir, host)
}

#[tokio::test]
async fn loads_as_the_camera_capture_scanner() {
    let (_dir, host) = load();
    let info = host.plugins().pop().unwrap();
    assert_eq!(info.status, PluginStatus::Loaded);
    assert_eq!(info.name, "camera");
    assert_eq!(info.input, Some(ScannerInput::Capture));

    let err = host
        .scan(
            "camera",
            b"device=first".to_vec(),
            Duration::from_secs(5),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::BadInput { .. }), "{err:?}");

    let err = host
        .scan("camera", Vec::new(), Duration::from_secs(5), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PluginError::SourceUnavailable { .. }),
        "{err:?}"
    );
    if cfg!(feature = "camera") {
        if !any_video_device() {
            assert!(err.to_string().contains("no camera found"), "{err}");
        }
    } else {
        // The message says how to get a build that has it.
        let msg = err.to_string();
        assert!(msg.contains("has no camera support"), "{msg}");
        assert!(msg.contains("make CAMERA=1"), "{msg}");
    }
    // The plugin is still usable.
    assert_eq!(host.plugins().pop().unwrap().status, PluginStatus::Loaded);
}

fn any_video_device() -> bool {
    std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("video"))
        })
        .unwrap_or(false)
}
