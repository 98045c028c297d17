//! The daemon's plugins through the real binary: the `image` scanner plugin
//! built by cargo (a dev-dependency, so `target/<profile>/` holds
//! `libtessera_scanner_image.so`), the in-process fallback without it, the
//! `Plugins` and `Scanner` services, camera and screen sources without their
//! plugins, and a misbehaving `image` plugin (C) that is disabled while the
//! daemon keeps serving.
//!
//! Each test names its plugin folders in `[plugins] folders`, so that the
//! plugins built next to `tesserad` (camera, screen) and the user's own do
//! not change the results.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use tessera_core::activation::{ActivationCode, ActivationKey, Serial};
use tessera_core::payload::{Form, TesseraPayload};
use tessera_proto::v1 as pb;

/// cargo's output folder (`target/debug`): this test is in its `deps/`.
fn build_output() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// A private plugin folder (0700) holding a copy of the `image` plugin.
fn image_plugin_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let from = build_output().join("libtessera_scanner_image.so");
    std::fs::copy(&from, dir.path().join("libtessera_scanner_image.so")).unwrap_or_else(|e| {
        panic!(
            "copy {}: {e} (cargo builds it as a dev-dependency)",
            from.display()
        )
    });
    dir
}

fn config_with_folders(folders: &[&Path]) -> String {
    let list: Vec<String> = folders
        .iter()
        .map(|f| format!("{:?}", f.to_str().unwrap()))
        .collect();
    format!("{FAST_CONFIG}[plugins]\nfolders = [{}]\n", list.join(", "))
}

use tessera_testkit::images::qr_png as png_of;

/// A Tessera payload and its activation code's digits.
fn tessera_payload() -> (String, String) {
    let serial: Serial = "TSRPLUGIN1".parse().unwrap();
    let code = ActivationCode::new(&serial, &ActivationKey::from_bytes([0x5a; 16]));
    let digits = code.expose().to_owned();
    let mut p = TesseraPayload::new(serial, code);
    p.label = Some("carol".into());
    p.issuer = Some("Example Bank".into());
    (p.write(Form::Tag), digits)
}

async fn plugins(d: &Daemon) -> Vec<pb::PluginInfo> {
    pb::plugins_client::PluginsClient::new(d.channel().await)
        .list(pb::ListPluginsRequest {})
        .await
        .unwrap()
        .into_inner()
        .plugins
}

async fn sources(d: &Daemon) -> Vec<pb::SourceInfo> {
    pb::scanner_client::ScannerClient::new(d.channel().await)
        .sources(pb::ListSourcesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sources
}

async fn scan(
    d: &Daemon,
    source: pb::scan_request::Source,
    raw: bool,
) -> Result<Vec<pb::DecodedCode>, tonic::Status> {
    pb::scanner_client::ScannerClient::new(d.channel().await)
        .scan(pb::ScanRequest {
            source: Some(source),
            raw,
        })
        .await
        .map(|r| r.into_inner().codes)
}

#[tokio::test]
async fn images_are_decoded_by_the_image_plugin() {
    let folder = image_plugin_folder();
    let d = Daemon::start(&config_with_folders(&[folder.path()]));

    let listed = plugins(&d).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let image = &listed[0];
    assert_eq!(image.name, "image");
    assert_eq!(image.kind(), pb::PluginKind::Scanner);
    assert_eq!(image.input(), pb::ScannerInput::Image);
    assert_eq!(image.status(), pb::PluginStatus::Loaded);
    assert_eq!(image.version, env!("CARGO_PKG_VERSION"));
    assert!(image.reason.is_empty());

    let s = sources(&d).await;
    assert_eq!(
        (s[0].source.as_str(), s[0].available, s[0].plugin.as_str()),
        ("image", true, "image")
    );

    // Without `raw`, the fields and never the activation code.
    let (payload, digits) = tessera_payload();
    let codes = scan(&d, pb::scan_request::Source::Image(png_of(&payload)), false)
        .await
        .unwrap();
    assert_eq!(codes.len(), 1);
    let c = &codes[0];
    assert_eq!(c.kind, "tessera");
    assert_eq!(c.serial, "TSRPLUGIN1");
    assert_eq!(c.label, "carol");
    assert_eq!(c.issuer, "Example Bank");
    assert_eq!(c.otp, "totp:SHA1:6:30");
    assert!(c.text.is_empty());
    assert!(!format!("{c:?}").contains(&digits));
    // With `raw`, the text exactly.
    let codes = scan(&d, pb::scan_request::Source::Image(png_of(&payload)), true)
        .await
        .unwrap();
    assert_eq!(codes[0].text, payload);

    // The plugin's own answers come back with its message.
    let e = scan(
        &d,
        pb::scan_request::Source::Image(b"not an image".to_vec()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_IMAGE");
    assert_eq!(
        e.message(),
        "image: not a supported image format (PNG, JPEG, GIF, BMP, WebP)"
    );

    // An activation from an image goes through the same path.
    let mut c = d.activation().await;
    let v = c
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Image(png_of(
                &payload,
            ))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state_name(&v), "device_code");
}

#[tokio::test]
async fn without_an_image_plugin_images_are_decoded_in_process() {
    let empty = tempfile::tempdir().unwrap();
    let d = Daemon::start(&config_with_folders(&[empty.path()]));
    assert!(plugins(&d).await.is_empty());
    let s = sources(&d).await;
    assert_eq!(
        (s[0].source.as_str(), s[0].available, s[0].plugin.as_str()),
        ("image", true, "built-in")
    );
    let codes = scan(
        &d,
        pb::scan_request::Source::Image(png_of(
            "otpauth://totp/Site:dave?secret=JBSWY3DPEHPK3PXP&issuer=Site",
        )),
        false,
    )
    .await
    .unwrap();
    assert_eq!(codes[0].kind, "otpauth");
    assert_eq!(codes[0].label, "dave");
    assert!(!format!("{codes:?}").contains("JBSWY3DPEHPK3PXP"));
}

#[tokio::test]
async fn camera_and_screen_without_their_plugins_are_unsupported() {
    let empty = tempfile::tempdir().unwrap();
    let d = Daemon::start(&config_with_folders(&[empty.path()]));
    let s = sources(&d).await;
    assert_eq!(s[1].source, "camera");
    assert!(!s[1].available);
    assert!(
        s[1].reason
            .contains("no camera scanner plugin is installed (scanner-camera)")
    );

    let e = scan(
        &d,
        pb::scan_request::Source::Camera(pb::CameraSource { device: Some(1) }),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_UNSUPPORTED");
    assert!(
        e.message()
            .starts_with("no camera scanner plugin is installed (scanner-camera)"),
        "{}",
        e.message()
    );
    let e = scan(&d, pb::scan_request::Source::Screen(pb::Empty {}), false)
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_UNSUPPORTED");
    assert!(e.message().contains("(scanner-screen)"), "{}", e.message());

    // An activation from the camera shows `scanning` at once (a capture is
    // decoded in the background), then fails with the same error.
    let mut c = d.activation().await;
    let v = c
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Camera(
                pb::CameraSource { device: None },
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(state_name(&v), "scanning" | "failed"),
        "{}",
        state_name(&v)
    );
    let mut watch = c
        .watch(pb::WatchActivationRequest {
            activation_id: v.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let failed = loop {
        use tokio_stream::StreamExt;
        let v = watch.next().await.expect("a view").unwrap();
        if state_name(&v) != "scanning" {
            break v;
        }
    };
    let Some(pb::activation_state::Kind::Failed(f)) = failed.state.and_then(|s| s.kind) else {
        panic!("not failed");
    };
    assert_eq!(f.error.unwrap().code, "ERROR_CODE_UNSUPPORTED");
}

/// Compiles the host's misbehaving C plugin as `image`: it sends a result
/// that is not UTF-8.
fn build_garbage_image_plugin(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let status = Command::new(&cc)
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
        ])
        .arg("-I")
        .arg(root.join("plugins/api/include"))
        .args(["-DPLUGIN_NAME=\"image\"", "-DBAD_NOT_UTF8"])
        .arg("-o")
        .arg(dir.join("libbad_image.so"))
        .arg(root.join("plugins/host/tests/c/bad_plugin.c"))
        .status()
        .unwrap_or_else(|e| panic!("run the C compiler {cc}: {e}"));
    assert!(status.success());
}

#[tokio::test]
async fn a_misbehaving_image_plugin_is_disabled_and_the_daemon_serves_on() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    build_garbage_image_plugin(folder.path());
    let d = Daemon::start(&config_with_folders(&[folder.path()]));
    assert_eq!(plugins(&d).await[0].status(), pb::PluginStatus::Loaded);

    let e = scan(&d, pb::scan_request::Source::Image(png_of("x")), false)
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PLUGIN_FAILED");
    assert!(
        e.message().starts_with("the image plugin failed: ")
            && e.message().ends_with("; see `tessera plugins`"),
        "{}",
        e.message()
    );
    let listed = plugins(&d).await;
    assert_eq!(listed[0].status(), pb::PluginStatus::Failed);
    assert!(
        listed[0].reason.contains("not UTF-8"),
        "{}",
        listed[0].reason
    );
    // No silent fallback: the disabled plugin's images fail, clearly.
    let e = scan(&d, pb::scan_request::Source::Image(png_of("x")), false)
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PLUGIN_FAILED");
    assert!(!sources(&d).await[0].available);
    // Everything else still works.
    let v = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap();
    assert!(!v.into_inner().exists);
}
