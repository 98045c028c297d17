//! `tessera plugins`, `tessera scan` and the camera and screen sources of
//! `tessera activate`, against the real `tesserad` and the real `image`
//! scanner plugin that cargo builds next to it (a dev-dependency of this
//! crate). Most tests name their plugin folders in `[plugins] folders`, so
//! that the other plugins built next to `tesserad` (camera, screen) and the
//! user's own do not change the results.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{
    ALICE_KEY, ALICE_SERIAL, Daemon, FAST_CONFIG, PIN, activation_code, json_lines, path_str,
    qr_png, states, stderr, stdout, tessera_payload,
};

/// cargo's output folder (`target/debug`), where `tesserad` and the plugins
/// are built: this test is in its `deps/`.
fn build_output() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The shared QR test images (`../shared/testdata/qr`).
fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/qr")
}

/// A daemon whose only plugin folder is `<tmp>/plugins` (0700), holding a
/// copy of the `image` plugin with `mode` when `mode` is given.
fn daemon_with_image_plugin(mode: Option<u32>) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o700)).unwrap();
    if let Some(mode) = mode {
        let from = build_output().join("libtessera_scanner_image.so");
        let to = plugins.join("libtessera_scanner_image.so");
        std::fs::copy(&from, &to).unwrap_or_else(|e| {
            panic!(
                "copy {}: {e} (cargo builds it as a dev-dependency)",
                from.display()
            )
        });
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let config = format!(
        "{FAST_CONFIG}[plugins]\nfolders = [{:?}]\n",
        path_str(&plugins)
    );
    let runtime = dir.path().join("run");
    Daemon::start_in(dir, runtime, &config)
}

/// The entry named `name` of `tessera plugins --json`.
fn listed(d: &Daemon, name: &str) -> serde_json::Value {
    let out = d.run(&["plugins", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json_lines(&out)[0]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no plugin {name}: {}", stdout(&out)))
        .clone()
}

#[test]
fn the_image_plugin_is_loaded_from_the_build_folder_by_default() {
    // No [plugins] settings: the defaults, with tesserad's own folder in
    // this development build.
    let d = Daemon::start();
    let image = listed(&d, "image");
    assert_eq!(image["kind"], "scanner");
    assert_eq!(image["input"], "image");
    assert_eq!(image["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(image["status"], serde_json::json!({"state": "loaded"}));

    let out = d.run(&["plugins"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "KIND", "VERSION", "STATUS"]);
    assert!(
        lines.any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["image", "scanner", env!("CARGO_PKG_VERSION"), "loaded"]),
        "{text}"
    );
}

#[test]
fn scan_raw_prints_exactly_the_text_and_one_newline() {
    let d = daemon_with_image_plugin(Some(0o644));
    assert_eq!(listed(&d, "image")["status"]["state"], "loaded");

    let png = testdata().join("zxing-qrcode-1/1.png");
    let mut expected = std::fs::read(testdata().join("zxing-qrcode-1/1.txt")).unwrap();
    expected.push(b'\n');
    let out = d.run(&["scan", "--image", path_str(&png), "--raw"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, expected);
    assert!(out.stderr.is_empty());

    // Spaces and a newline of the code's own are kept; one newline is added.
    let text = "  two spaces before, a tab\tand a newline after \n";
    let qr = d.dir.path().join("spaces.png");
    qr_png(text, &qr);
    let out = d.run(&["scan", "--image", path_str(&qr), "--raw"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, format!("{text}\n").as_bytes());
    // From standard input too.
    let out = d.run_with_stdin(
        &["scan", "--image", "-", "--raw"],
        &std::fs::read(&qr).unwrap(),
    );
    assert_eq!(out.stdout, format!("{text}\n").as_bytes());
    // --raw --json: the text in JSON.
    let out = d.run(&["scan", "--image", path_str(&qr), "--raw", "--json"]);
    assert_eq!(json_lines(&out)[0]["codes"][0]["text"], text);

    // Not an activation payload: said so, the text not shown.
    let out = d.run(&["scan", "--image", path_str(&png)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("Code: not an activation payload\n"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("wikipedia"));
}

#[test]
fn scan_shows_the_kind_and_serial_but_never_the_activation_code() {
    let d = daemon_with_image_plugin(Some(0o644));
    let payload = tessera_payload(ALICE_SERIAL, ALICE_KEY, Some("alice"), Some("Example Bank"));
    let qr = d.dir.path().join("tessera.png");
    qr_png(&payload, &qr);
    let ac_digits: String = activation_code(ALICE_SERIAL, ALICE_KEY)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert!(payload.contains(&ac_digits));

    let out = d.run(&["scan", "--image", path_str(&qr)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Code: a Tessera activation\n"), "{text}");
    assert!(
        text.contains(&format!("  Serial:   {ALICE_SERIAL}\n")),
        "{text}"
    );
    assert!(text.contains("  Label:    alice\n"), "{text}");
    assert!(text.contains("  Issuer:   Example Bank\n"), "{text}");
    assert!(text.contains("The activation code is not shown"), "{text}");
    assert!(!text.contains(&ac_digits[..12]), "{text}");

    let out = d.run(&["scan", "--image", path_str(&qr), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let code = &json_lines(&out)[0]["codes"][0];
    assert_eq!(code["kind"], "tessera");
    assert_eq!(code["serial"], ALICE_SERIAL);
    assert_eq!(code["otp"], "totp:SHA1:6:30");
    assert!(code.get("text").is_none());
    assert!(!stdout(&out).contains(&ac_digits[..12]));

    // The same image activates through the plugin.
    let pin = d.file("pin", PIN.as_bytes());
    let out = d.run(&[
        "activate",
        "--image",
        path_str(&qr),
        "--pin-file",
        path_str(&pin),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let lines = json_lines(&out);
    assert_eq!(states(&lines).last(), Some(&"activated"));

    // An image the plugin cannot read: its message, exit 2.
    let bad = d.file("bad.png", b"not an image");
    let out = d.run(&["scan", "--image", path_str(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "tessera: image: not a supported image format (PNG, JPEG, GIF, BMP, WebP)\n"
    );
}

#[test]
fn a_world_writable_plugin_is_listed_failed_and_images_still_scan() {
    let d = daemon_with_image_plugin(Some(0o666));
    let image = listed(&d, "tessera_scanner_image");
    assert_eq!(image["status"]["state"], "failed");
    assert_eq!(image["kind"], serde_json::Value::Null);
    let reason = image["status"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("refused ")
            && reason.contains("libtessera_scanner_image.so: it is writable by others (mode 0666)"),
        "{reason}"
    );

    let out = d.run(&["plugins"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with("tessera_scanner_image  -     -        failed: refused "),
        "{text}"
    );
    assert!(row.contains("writable by others"), "{text}");

    // No image plugin loaded: the daemon decodes in process.
    let qr = d.dir.path().join("otp.png");
    let uri = "otpauth://totp/Site:erin?secret=JBSWY3DPEHPK3PXP&issuer=Site";
    qr_png(uri, &qr);
    let out = d.run(&["scan", "--image", path_str(&qr), "--raw"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{uri}\n"));
    let out = d.run(&["scan", "--image", path_str(&qr)]);
    assert_eq!(
        stdout(&out),
        "Code: an otpauth account (TOTP)\n  Label:    erin\n  Issuer:   Site\n  \
         OTP:      totp:SHA1:6:30\n(Secrets are not shown; `tessera scan --raw` prints the decoded text.)\n"
    );
}

#[test]
fn camera_and_screen_without_their_plugins_are_clear_errors() {
    let d = daemon_with_image_plugin(None);
    let out = d.run(&["scan", "--camera"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "tessera: no camera scanner plugin is installed (scanner-camera); \
         `tessera plugins` lists the plugins found\n"
    );
    let out = d.run(&["scan", "--camera", "--device", "1", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json_lines(&out)[0]["error"]["code"],
        "ERROR_CODE_UNSUPPORTED"
    );
    let out = d.run(&["scan", "--screen"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no screen scanner plugin is installed (scanner-screen)"));

    let out = d.run(&["activate", "--camera", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let lines = json_lines(&out);
    let failed = lines.iter().find(|l| l["state"] == "failed").unwrap();
    assert_eq!(failed["error"]["code"], "ERROR_CODE_UNSUPPORTED");

    let out = d.run(&["plugins"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("No plugins found."));
}
