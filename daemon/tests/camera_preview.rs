//! The camera's live preview through the real daemon, over D-Bus
//! (`PreviewFrame`) and gRPC (`GetPreviewFrame`): the real camera plugin
//! (a dev-dependency, so cargo builds its library) plays a folder of
//! frames (`TESSERA_CAMERA_FRAMES`), the one mock here: there is no camera.
//! Each frame reaches both interfaces scaled down and in order, the code in
//! the last one starts the activation's next step, and cancelling stops
//! the camera at once rather than at the capture timeout.

mod common;
mod dbus_bus;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use dbus_bus::*;
use tessera_proto::v1 as pb;
use tessera_testkit::images::{CameraFrame, camera_frames};
use tesserad::dbus::types::View;
use zbus::zvariant::{OwnedValue, Value};

const OTPAUTH: &str = "otpauth://totp/Example:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";

type Frame = (u64, u32, u32, Vec<u8>);

/// A private plugin folder (0700) holding the camera plugin cargo built.
fn camera_plugin_folder() -> tempfile::TempDir {
    let exe = std::env::current_exe().unwrap();
    let built = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("libtessera_scanner_camera.so");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(&built, dir.path().join("libtessera_scanner_camera.so"))
        .unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
    dir
}

/// A daemon on `bus` whose camera plugin plays `frames`.
async fn daemon_with_camera(
    bus: &PrivateBus,
    frames: &Path,
    plugins: &Path,
    extra: &str,
) -> Daemon {
    let mut d = Daemon(
        Tesserad::new(env!("CARGO_BIN_EXE_tesserad"))
            .with_env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .with_env("TESSERA_CAMERA_FRAMES", frames),
    );
    d.write_config(&format!(
        "{FAST_CONFIG}[plugins]\nfolders = [{:?}]\n{extra}",
        plugins.to_str().unwrap()
    ));
    d.restart();
    bus.wait_for_name(tesserad::dbus::BUS_NAME).await;
    d
}

fn camera() -> std::collections::HashMap<String, OwnedValue> {
    std::collections::HashMap::from([(
        "camera".to_owned(),
        OwnedValue::try_from(Value::from(-1i32)).unwrap(),
    )])
}

async fn frame(p: &zbus::Proxy<'_>, id: &str) -> Frame {
    call(p, "PreviewFrame", &(id,)).await.unwrap()
}

async fn state(p: &zbus::Proxy<'_>, id: &str) -> String {
    call::<View>(p, "GetActivation", &(id,))
        .await
        .unwrap()
        .state
}

#[tokio::test]
async fn each_camera_frame_reaches_both_interfaces_in_order() {
    let frames = tempfile::tempdir().unwrap();
    let greys: Vec<u8> = (0..20u8).map(|i| 10 + i * 10).collect();
    let mut shown: Vec<CameraFrame> = greys.iter().map(|&g| CameraFrame::Grey(g)).collect();
    shown.push(CameraFrame::Code(OTPAUTH));
    camera_frames(frames.path(), &shown);
    let plugins = camera_plugin_folder();
    let bus = PrivateBus::start();
    let d = daemon_with_camera(&bus, frames.path(), plugins.path(), "").await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let mut grpc = pb::activation_client::ActivationClient::new(d.channel().await);

    let v: View = call(&p, "StartActivation", &(camera(),)).await.unwrap();
    assert_eq!(v.state, "scanning");
    let mut seen: Vec<(u64, u8)> = Vec::new();
    let mut agreed = 0;
    let until = Instant::now() + Duration::from_secs(60);
    while state(&p, &v.id).await == "scanning" {
        assert!(
            Instant::now() < until,
            "the code in the last frame was not found"
        );
        let (sequence, width, height, pixels) = frame(&p, &v.id).await;
        let g = grpc
            .get_preview_frame(pb::GetPreviewFrameRequest {
                activation_id: v.id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if !pixels.is_empty() {
            assert_eq!((width, height), (320, 240), "scaled down from 640×480");
            assert_eq!(pixels.len(), 320 * 240);
            // The scan may end between the two calls: the preview is then
            // gone over gRPC, its sequence kept.
            if g.sequence == sequence && !g.pixels.is_empty() {
                assert_eq!((g.width, g.height), (width, height));
                assert!(g.pixels == pixels, "frame {sequence} differs over gRPC");
                agreed += 1;
            }
            if seen.last().map(|s| s.0) != Some(sequence) {
                seen.push((sequence, pixels[0]));
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let after: View = call(&p, "GetActivation", &(v.id.as_str(),)).await.unwrap();
    assert_eq!(after.state, "choose_pin", "the code was read: {after:?}");
    assert_eq!(after.accounts[0].label, "alice@example.com");

    assert!(seen.len() >= 3, "a live preview, not one picture: {seen:?}");
    assert!(
        agreed >= 1,
        "D-Bus and gRPC showed the same frame at least once"
    );
    for pair in seen.windows(2) {
        assert!(pair[0].0 < pair[1].0, "frames in order: {seen:?}");
    }
    for &(sequence, grey) in &seen {
        if let Some(&want) = greys.get(sequence as usize - 1) {
            assert_eq!(
                grey, want,
                "frame {sequence} shows the folder's frame {sequence}"
            );
        }
    }
    // The scan is over: no frame is kept; the count stays.
    let (sequence, _, _, pixels) = frame(&p, &v.id).await;
    assert!(
        pixels.is_empty(),
        "the frame that showed the code is dropped"
    );
    assert!(sequence >= 21, "{sequence}");

    // An activation from a payload has no preview; an unknown one is named.
    let text: View = call(&p, "StartActivation", &(payload(OTPAUTH),))
        .await
        .unwrap();
    assert_eq!(frame(&p, &text.id).await, (0, 0, 0, Vec::new()));
    let e = call::<Frame>(&p, "PreviewFrame", &("nope",))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.NotFound"
    );
    let e = grpc
        .get_preview_frame(pb::GetPreviewFrameRequest {
            activation_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
}

/// Without the stop the camera plugin would scan the blank frames until
/// the two-minute capture timeout, and the second scan would wait behind it.
#[tokio::test]
async fn cancelling_a_camera_scan_stops_the_camera() {
    let frames = tempfile::tempdir().unwrap();
    camera_frames(
        frames.path(),
        &[CameraFrame::Grey(90), CameraFrame::Grey(160)],
    );
    let plugins = camera_plugin_folder();
    let bus = PrivateBus::start();
    let _d = daemon_with_camera(
        &bus,
        frames.path(),
        plugins.path(),
        "capture_timeout_seconds = 120\n",
    )
    .await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;

    let first: View = call(&p, "StartActivation", &(camera(),)).await.unwrap();
    wait_for_frames(&p, &first.id).await;
    send_event(&p, &first.id, "cancel", "").await;
    let home = send_event(&p, &first.id, "confirm_cancel", "").await;
    assert_eq!(home.state, "home");

    let second: View = call(&p, "StartActivation", &(camera(),)).await.unwrap();
    assert_eq!(second.state, "scanning");
    wait_for_frames(&p, &second.id).await;
}

/// Waits (30 s at most) until activation `id` has shown two frames.
async fn wait_for_frames(p: &zbus::Proxy<'_>, id: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while frame(p, id).await.0 < 2 {
        assert!(
            Instant::now() < until,
            "no camera frames for {id}: is the camera still busy with a cancelled scan?"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
