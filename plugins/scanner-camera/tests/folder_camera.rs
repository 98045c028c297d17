//! The built plugin with a folder of pictures for a camera
//! (`TESSERA_CAMERA_FRAMES`), loaded by the plugin host as the daemon loads
//! it: the frames reach the host's live preview, scaled down, in order, and
//! the code in the last one is found. A file of its own: the variable is
//! set for the whole test process.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use image::{GrayImage, Luma};
use qrcode::QrCode;
use tessera_plugin_host::{FrameReply, PluginError, PreviewFrame, PreviewSink};

const URI: &str = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

#[tokio::test]
async fn frames_from_a_folder_reach_the_preview_and_the_code_is_found() {
    let frames = tempfile::tempdir().unwrap();
    for (i, grey) in [40u8, 120, 200].into_iter().enumerate() {
        GrayImage::from_pixel(640, 480, Luma([grey]))
            .save(frames.path().join(format!("{i}.png")))
            .unwrap();
    }
    let code = QrCode::new(URI).unwrap().render::<Luma<u8>>().build();
    let mut last = GrayImage::from_pixel(640, 480, Luma([255]));
    image::imageops::overlay(&mut last, &code, 100, 50);
    last.save(frames.path().join("3.png")).unwrap();
    // SAFETY: set before any other thread of this test process reads the environment.
    unsafe { std::env::set_var("TESSERA_CAMERA_FRAMES", frames.path()) };

    let (_dir, host) = common::load();

    let seen: Arc<Mutex<Vec<PreviewFrame>>> = Arc::default();
    let sink: PreviewSink = {
        let seen = seen.clone();
        Arc::new(move |frame| {
            seen.lock().unwrap().push(frame);
            FrameReply::More
        })
    };
    let texts = host
        .scan("camera", Vec::new(), Duration::from_secs(20), Some(sink))
        .await
        .unwrap();
    assert_eq!(texts, [URI]);
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let sizes: Vec<_> = seen.iter().map(|f| (f.width, f.height)).collect();
    assert_eq!(sizes, [(320, 240); 4], "every frame read, scaled down");
    let firsts: Vec<u8> = seen.iter().map(|f| f.pixels[0]).collect();
    assert_eq!(firsts, [40, 120, 200, 255], "in the folder's order");
    assert!(
        seen[3].pixels.contains(&0),
        "the last frame shows the code's dark modules"
    );

    // Without a preview sink the same scan still finds the code.
    let texts = host
        .scan("camera", Vec::new(), Duration::from_secs(20), None)
        .await
        .unwrap();
    assert_eq!(texts, [URI]);

    // A sink that asks it to stop ends the scan at the first frame.
    let stop: PreviewSink = Arc::new(|_| FrameReply::Stop);
    let err = host
        .scan("camera", Vec::new(), Duration::from_secs(20), Some(stop))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::NoCode { message, .. } if message == "camera: the scan was stopped"),
        "{err:?}"
    );
}
