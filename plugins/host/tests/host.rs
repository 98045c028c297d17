//! The plugin host against real libraries: the `image` scanner and the Rust
//! mock built by cargo, and C plugins built here with the system compiler.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use tessera_plugin_host::{
    AllowList, PluginError, PluginFolder, PluginHost, PluginInfo, PluginKind, PluginStatus,
    ScannerInput,
};

const TIMEOUT: Duration = Duration::from_secs(20);

fn load(dir: &Path) -> PluginHost {
    PluginHost::load(&[PluginFolder::new(dir)], None)
}

fn info(host: &PluginHost, name: &str) -> PluginInfo {
    host.plugins()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no plugin {name} in {:#?}", host.plugins()))
}

fn failure(host: &PluginHost, name: &str) -> String {
    match info(host, name).status {
        PluginStatus::Failed(reason) => reason,
        PluginStatus::Loaded => panic!("{name} is loaded"),
    }
}

fn shared_qr(set: &str, name: &str) -> std::path::PathBuf {
    repo_root()
        .join("../shared/testdata/qr")
        .join(set)
        .join(name)
}

#[tokio::test]
async fn the_colour_scanner_reads_colour_codes_only() {
    let dir = plugin_dir();
    copy_plugin(
        "tessera_scanner_colour",
        dir.path(),
        "libtessera_scanner_colour.so",
    );
    let host = load(dir.path());
    let colour = info(&host, "colour");
    assert_eq!(colour.status, PluginStatus::Loaded);
    assert_eq!(colour.input, Some(ScannerInput::Image));

    let payload =
        "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC></QRCode>";
    let rgb = tessera_colour::ColourCode::new(payload).unwrap().to_rgb(6);
    let img = image::RgbImage::from_raw(rgb.width, rgb.height, rgb.data).unwrap();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert_eq!(
        host.scan("colour", png, TIMEOUT, None).await,
        Ok(vec![payload.to_owned()])
    );
    // A plain QR code is not this plugin's.
    let plain = std::fs::read(shared_qr("zxing-qrcode-1", "1.png")).unwrap();
    let err = host.scan("colour", plain, TIMEOUT, None).await.unwrap_err();
    assert!(matches!(&err, PluginError::NoCode { .. }), "{err:?}");
    assert!(err.to_string().contains("no Tessera colour code"), "{err}");
    let err = host
        .scan("colour", b"not an image".to_vec(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(matches!(&err, PluginError::BadInput { .. }), "{err:?}");
    assert_eq!(info(&host, "colour").status, PluginStatus::Loaded);
}

#[tokio::test]
async fn the_image_scanner_decodes_shared_test_data() {
    let dir = plugin_dir();
    let path = copy_plugin(
        "tessera_scanner_image",
        dir.path(),
        "libtessera_scanner_image.so",
    );
    let host = load(dir.path());
    let image = info(&host, "image");
    assert_eq!(image.status, PluginStatus::Loaded);
    assert_eq!(image.kind, Some(PluginKind::Scanner));
    assert_eq!(image.input, Some(ScannerInput::Image));
    assert_eq!(image.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(image.path, path);
    assert_eq!(host.scanners().len(), 1);

    let bytes = std::fs::read(shared_qr("zxing-qrcode-1", "1.png")).unwrap();
    let want = std::fs::read_to_string(shared_qr("zxing-qrcode-1", "1.txt")).unwrap();
    assert_eq!(
        host.scan("image", bytes, TIMEOUT, None).await,
        Ok(vec![want])
    );

    // Bad input is an answer, not a failure of the plugin.
    let err = host
        .scan("image", Vec::new(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(matches!(&err, PluginError::BadInput { .. }), "{err:?}");
    assert_eq!(err.to_string(), "image: the file is empty");
    let err = host
        .scan("image", b"not an image".to_vec(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a supported image format"),
        "{err}"
    );
    let mut png = std::fs::read(shared_qr("zxing-qrcode-1", "2.png")).unwrap();
    png.truncate(png.len() / 2);
    let err = host.scan("image", png, TIMEOUT, None).await.unwrap_err();
    assert!(
        err.to_string().starts_with("image: cannot be decoded"),
        "{err}"
    );
    assert_eq!(info(&host, "image").status, PluginStatus::Loaded);
}

#[tokio::test]
async fn the_build_output_folder_gives_the_workspace_scanners_only() {
    let host = PluginHost::load(&[PluginFolder::build_output(build_output())], None);
    assert_eq!(info(&host, "image").status, PluginStatus::Loaded);
    assert!(
        host.plugins()
            .iter()
            .all(|p| !p.path.to_string_lossy().contains("mock")),
        "test plugins are not loaded from the build output: {:#?}",
        host.plugins()
    );
}

#[tokio::test]
async fn the_c_example_plugin_works() {
    let dir = plugin_dir();
    let source = repo_root().join("plugins/examples/c-scanner/c_scanner.c");
    build_c(&source, dir.path(), "libtessera_scanner_c_example.so", &[]);
    let host = load(dir.path());
    let example = info(&host, "c-example");
    assert_eq!(example.status, PluginStatus::Loaded);
    assert_eq!(example.version.as_deref(), Some("1.0.0"));
    let text =
        b"header\notpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP\r\nnoise\ntessera://activate?x=1"
            .to_vec();
    assert_eq!(
        host.scan("c-example", text, TIMEOUT, None).await,
        Ok(vec![
            "otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP".to_owned(),
            "tessera://activate?x=1".to_owned()
        ])
    );
    let err = host
        .scan("c-example", b"nothing here".to_vec(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PluginError::NoCode {
            name: "c-example".into(),
            message: "no otpauth:// or tessera:// line found".into()
        }
    );
    let err = host
        .scan("c-example", Vec::new(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the file is empty");
}

#[tokio::test]
async fn a_file_writable_by_others_is_refused() {
    for mode in [0o666, 0o664] {
        let dir = plugin_dir();
        let path = copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
        set_mode(&path, mode);
        let host = load(dir.path());
        let reason = failure(&host, "mock");
        assert!(
            reason.starts_with(&format!("refused {}:", path.display())),
            "{reason}"
        );
        assert!(reason.contains("writable by others"), "{reason}");
        assert!(
            reason.contains(&format!("chmod go-w {}", path.display())),
            "{reason}"
        );
        assert!(host.scanners().is_empty());
        assert!(matches!(
            host.scan("mock", b"x".to_vec(), TIMEOUT, None).await,
            Err(PluginError::Unavailable { .. })
        ));
    }
}

#[tokio::test]
async fn a_folder_writable_by_others_is_refused() {
    let dir = plugin_dir();
    let path = copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    set_mode(dir.path(), 0o777);
    let host = load(dir.path());
    let reason = failure(&host, "mock");
    assert!(
        reason.starts_with(&format!("refused {}:", path.display())),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "its folder {} is writable by others",
            dir.path().display()
        )),
        "{reason}"
    );
}

#[tokio::test]
async fn a_symbolic_link_to_a_file_writable_by_others_is_refused() {
    let dir = plugin_dir();
    let elsewhere = plugin_dir();
    let target = copy_plugin("tessera_plugin_mock", elsewhere.path(), "libmock.so");
    set_mode(&target, 0o646);
    std::os::unix::fs::symlink(&target, dir.path().join("libmock.so")).unwrap();
    let host = load(dir.path());
    let reason = failure(&host, "mock");
    assert!(
        reason.contains(&format!("its target {}", target.display())),
        "{reason}"
    );
}

#[tokio::test]
async fn a_file_owned_by_another_user_is_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can give a file to another user");
        return;
    }
    let dir = plugin_dir();
    let path = copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    std::os::unix::fs::chown(&path, Some(54321), Some(54321)).unwrap();
    let host = load(dir.path());
    let reason = failure(&host, "mock");
    assert!(
        reason.starts_with(&format!("refused {}:", path.display())),
        "{reason}"
    );
    assert!(reason.contains("owned by user 54321"), "{reason}");
}

#[tokio::test]
async fn plugins_that_cannot_load_are_reported() {
    let dir = plugin_dir();
    build_bad(dir.path(), "wrong-abi", Some("BAD_ABI"));
    build_bad(dir.path(), "no-entry", Some("BAD_NO_ENTRY"));
    build_bad(dir.path(), "null-entry", Some("BAD_NULL_ENTRY"));
    let junk = dir.path().join("libjunk.so");
    std::fs::write(&junk, b"this is not a library").unwrap();
    build_bad(dir.path(), "fine", None);
    let host = load(dir.path());

    let reason = failure(&host, "wrong_abi");
    assert!(reason.contains("libwrong_abi.so"), "{reason}");
    assert!(
        reason.contains("built for plugin ABI version 3; this tesserad speaks versions 1 to 2"),
        "{reason}"
    );
    assert!(failure(&host, "no_entry").contains("exports no `tessera_plugin_entry` function"));
    assert!(failure(&host, "null_entry").contains("returned no plugin"));
    let reason = failure(&host, "junk");
    assert!(
        reason.contains(&junk.display().to_string()) && reason.contains("cannot be loaded"),
        "{reason}"
    );
    // The good one next to them works.
    assert_eq!(
        host.scan("fine", Vec::new(), TIMEOUT, None).await,
        Ok(vec!["fine".to_owned()])
    );
    assert_eq!(host.scanners().len(), 1);
}

#[tokio::test]
async fn a_panicking_plugin_is_disabled_and_the_host_keeps_serving() {
    let dir = plugin_dir();
    copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    copy_plugin(
        "tessera_scanner_image",
        dir.path(),
        "libtessera_scanner_image.so",
    );
    let host = load(dir.path());
    assert_eq!(
        host.scan("mock", b"a\nb".to_vec(), TIMEOUT, None).await,
        Ok(vec!["a".to_owned(), "b".to_owned()])
    );

    let err = host
        .scan("mock", b"panic".to_vec(), TIMEOUT, None)
        .await
        .unwrap_err();
    let PluginError::Misbehaved { name, reason } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(name, "mock");
    assert!(
        reason.contains("the plugin panicked: the mock was asked to panic"),
        "{reason}"
    );
    assert!(failure(&host, "mock").contains("panicked"));
    assert!(matches!(
        host.scan("mock", b"a".to_vec(), TIMEOUT, None).await,
        Err(PluginError::Unavailable { .. })
    ));

    let bytes = std::fs::read(shared_qr("zxing-qrcode-5", "01.png")).unwrap();
    let want = std::fs::read_to_string(shared_qr("zxing-qrcode-5", "01.txt")).unwrap();
    assert_eq!(
        host.scan("image", bytes, TIMEOUT, None).await,
        Ok(vec![want])
    );
}

#[tokio::test]
async fn a_hanging_plugin_times_out_and_is_disabled() {
    let dir = plugin_dir();
    copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    build_bad(dir.path(), "c-hang", Some("BAD_HANG"));
    build_bad(dir.path(), "fine", None);
    let host = load(dir.path());
    let timeout = Duration::from_millis(200);
    for (name, image) in [("mock", b"hang".to_vec()), ("c-hang", Vec::new())] {
        let started = Instant::now();
        let err = host.scan(name, image, timeout, None).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            err,
            PluginError::TimedOut {
                name: name.to_owned(),
                after: timeout
            }
        );
        assert!(failure(&host, name).contains("did not answer within 200 ms"));
        // Later calls fail at once.
        let started = Instant::now();
        assert!(matches!(
            host.scan(name, b"x".to_vec(), TIMEOUT, None).await,
            Err(PluginError::Unavailable { .. })
        ));
        assert!(started.elapsed() < Duration::from_millis(100));
    }
    assert_eq!(
        host.scan("fine", Vec::new(), timeout, None).await,
        Ok(vec!["fine".to_owned()])
    );
}

#[tokio::test]
async fn calls_waiting_behind_a_hung_call_fail_when_it_times_out() {
    let dir = plugin_dir();
    copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    let host = std::sync::Arc::new(load(dir.path()));
    let hung = {
        let host = host.clone();
        tokio::spawn(async move {
            host.scan("mock", b"hang".to_vec(), Duration::from_millis(300), None)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = host
        .scan("mock", b"ok".to_vec(), Duration::from_secs(5), None)
        .await;
    assert!(matches!(
        hung.await.unwrap(),
        Err(PluginError::TimedOut { .. })
    ));
    assert!(
        matches!(waiting, Err(PluginError::Unavailable { .. })),
        "{waiting:?}"
    );
}

#[tokio::test]
async fn garbage_output_is_refused_and_the_plugin_disabled() {
    let dir = plugin_dir();
    build_bad(dir.path(), "not-utf8", Some("BAD_NOT_UTF8"));
    build_bad(dir.path(), "too-long", Some("BAD_TOO_LONG"));
    build_bad(dir.path(), "too-many", Some("BAD_TOO_MANY"));
    build_bad(dir.path(), "bad-status", Some("BAD_STATUS"));
    let host = load(dir.path());
    for (name, why) in [
        ("not-utf8", "not UTF-8"),
        ("too-long", "a result of 4097 bytes"),
        ("too-many", "more than 16 results"),
        ("bad-status", "unknown status 42"),
    ] {
        let err = host
            .scan(name, b"x".to_vec(), TIMEOUT, None)
            .await
            .unwrap_err();
        let PluginError::Misbehaved { reason, .. } = &err else {
            panic!("{name}: {err:?}");
        };
        assert!(reason.contains(why), "{name}: {reason}");
        assert!(failure(&host, name).contains(why));
    }
    assert!(host.scanners().is_empty());
}

#[tokio::test]
async fn the_rust_helper_keeps_output_within_the_limits() {
    let dir = plugin_dir();
    copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    let host = load(dir.path());
    let many = host
        .scan("mock", b"many".to_vec(), TIMEOUT, None)
        .await
        .unwrap();
    assert_eq!(many.len(), 16);
    assert_eq!(many[15], "code 15");
    let err = host
        .scan("mock", b"long".to_vec(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("over 4096 bytes"), "{err}");
    let err = host
        .scan("mock", b"fail".to_vec(), TIMEOUT, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PluginError::Failed {
            name: "mock".into(),
            message: "the mock failed as asked".into()
        }
    );
    let err = host
        .scan("mock", vec![0xff], TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, PluginError::BadInput { .. }));
    // None of those disabled it.
    assert_eq!(info(&host, "mock").status, PluginStatus::Loaded);
}

#[tokio::test]
async fn the_allow_list_admits_only_listed_files_under_their_names() {
    let dir = plugin_dir();
    let mock = copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    copy_plugin(
        "tessera_scanner_image",
        dir.path(),
        "libtessera_scanner_image.so",
    );
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&mock).unwrap()))
    };
    let allow = AllowList::new().allow("mock", &hash).unwrap();
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], Some(&allow));
    assert_eq!(info(&host, "mock").status, PluginStatus::Loaded);
    let reason = failure(&host, "tessera_scanner_image");
    assert!(
        reason.contains("is not in the plugin allow-list"),
        "{reason}"
    );

    let wrong = AllowList::new().allow("other", &hash).unwrap();
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], Some(&wrong));
    let reason = failure(&host, "mock");
    assert!(
        reason.contains(r#"lists its SHA-256 for "other", but it is named "mock""#),
        "{reason}"
    );
    assert!(AllowList::new().allow("x", "abc").is_err());
}

#[tokio::test]
async fn the_first_plugin_of_a_name_wins() {
    let first = plugin_dir();
    let second = plugin_dir();
    let kept = copy_plugin("tessera_plugin_mock", first.path(), "libmock.so");
    let dropped = copy_plugin("tessera_plugin_mock", second.path(), "libmock.so");
    let host = PluginHost::load(
        &[
            PluginFolder::new(first.path()),
            PluginFolder::new(second.path()),
        ],
        None,
    );
    let plugins = host.plugins();
    assert_eq!(plugins.len(), 2);
    assert_eq!(
        (plugins[0].path.as_path(), &plugins[0].status),
        (kept.as_path(), &PluginStatus::Loaded)
    );
    let PluginStatus::Failed(reason) = &plugins[1].status else {
        panic!("{plugins:#?}");
    };
    assert!(
        reason.contains(&dropped.display().to_string()) && reason.contains("already loaded from")
    );
    assert_eq!(
        host.scan("mock", b"a".to_vec(), TIMEOUT, None).await,
        Ok(vec!["a".to_owned()])
    );
}

#[test]
fn missing_folders_are_skipped_and_the_defaults_are_in_order() {
    let host = PluginHost::load(&[PluginFolder::new("/nonexistent/tessera/plugins")], None);
    assert!(host.plugins().is_empty());
    let folders = tessera_plugin_host::default_folders(true);
    assert_eq!(folders[0].path, Path::new("/usr/lib/tessera/plugins"));
    assert!(
        folders
            .iter()
            .any(|f| f.path.ends_with(".local/lib/tessera/plugins"))
    );
    assert!(folders.last().unwrap().build_output);
    assert!(
        !tessera_plugin_host::default_folders(false)
            .iter()
            .any(|f| f.build_output)
    );
}

/// A release build run from the workspace (`./target/release/tesserad`)
/// loads the plugins built beside it, as a debug build does; an installed
/// binary's folder is no build output.
#[test]
fn a_cargo_target_folder_is_a_build_output() {
    use tessera_plugin_host::is_cargo_build_output;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    for sub in ["release", "x86_64-unknown-linux-gnu/release", "debug/deps"] {
        std::fs::create_dir_all(target.join(sub)).unwrap();
    }
    assert!(!is_cargo_build_output(&target.join("release")));
    std::fs::write(
        target.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n\
         # This file is a cache directory tag created by cargo.\n",
    )
    .unwrap();
    assert!(is_cargo_build_output(&target.join("release")));
    assert!(is_cargo_build_output(
        &target.join("x86_64-unknown-linux-gnu/release")
    ));
    // Test executables' folder, and folders that are not cargo's.
    assert!(!is_cargo_build_output(&target.join("debug/deps")));
    assert!(!is_cargo_build_output(Path::new("/usr/bin")));
    std::fs::write(
        target.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n# made by another tool\n",
    )
    .unwrap();
    assert!(!is_cargo_build_output(&target.join("release")));
}

#[tokio::test]
async fn unknown_plugins_and_kinds_are_errors() {
    let host = PluginHost::empty();
    assert_eq!(
        host.scan("image", Vec::new(), TIMEOUT, None).await,
        Err(PluginError::NotFound("image".into()))
    );
}
