//! The built plugin library, loaded by the plugin host as the daemon loads it.

mod common;

use std::time::Duration;

use common::load;
use tessera_plugin_host::{PluginError, PluginStatus, ScannerInput};

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
