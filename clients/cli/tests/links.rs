//! Links: the desktop file that registers `x-scheme-handler/tessera` and
//! `x-scheme-handler/otpauth` runs a command line that opens the
//! activation. The test runs that command line, as a desktop would with
//! `%u` replaced by the link, against a real daemon.

mod common;

use common::*;

/// The `Exec` line of the repository's link handler, split into words.
fn exec_words() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../systemd/org.tessera.Authenticator.desktop"
    );
    let desktop = std::fs::read_to_string(path).unwrap();
    assert!(
        desktop.contains("MimeType=x-scheme-handler/tessera;x-scheme-handler/otpauth;"),
        "{desktop}"
    );
    let exec = desktop
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line");
    exec.split_whitespace().map(str::to_owned).collect()
}

/// The handler's arguments after the program, with `%u` set to `link`.
fn args_for(link: &str) -> Vec<String> {
    let words = exec_words();
    assert!(words[0].ends_with("/tessera"), "{words:?}");
    assert_eq!(words.iter().filter(|w| *w == "%u").count(), 1, "{words:?}");
    words[1..]
        .iter()
        .map(|w| {
            if w == "%u" {
                link.to_owned()
            } else {
                w.clone()
            }
        })
        .collect()
}

#[test]
fn a_tessera_link_opens_the_activation() {
    let d = Daemon::start();
    let link = "tessera://activate?sn=TSR0000001&ac=00000523310060624280605095539573136129562&lbl=alice%40example.com";
    let args = args_for(link);
    let out = d.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // Without a terminal the activation stops at the PIN, after showing
    // the device code: the link was opened as an activation.
    let text = stdout(&out);
    assert!(text.contains("Device code:"), "{text}{}", stderr(&out));
    assert!(stderr(&out).contains("--pin-file"), "{}", stderr(&out));
}

#[test]
fn an_otpauth_link_opens_the_activation() {
    let d = Daemon::start();
    let link = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let mut args = args_for(link);
    args.push("--json".into());
    let out = d.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let first = stdout(&out).lines().next().unwrap_or_default().to_owned();
    // An otpauth account has no device code: the first step is the PIN.
    assert!(
        first.contains("\"state\":\"choose_pin\""),
        "{first} / {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--pin-file") || stdout(&out).contains("--pin-file"));
}
