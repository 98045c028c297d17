//! The desktop app's activation pages, driven through the accessibility
//! tree against the real daemon (tests/session): a website's otpauth code,
//! a full Tessera activation against `tessera-issuer`, cancel and back,
//! a failure and "Start over", and a second client moving the app along.

mod session;

use session::{EXAMPLE_URI, FAST_CONFIG, Session};

/// Types a link into the home page and adds it.
fn add_link(s: &mut Session, link: &str) {
    s.type_into(
        "text",
        "otpauth:// or tessera:// link, or the payload",
        link,
    );
    s.click("Add from Link");
}

fn choose_pin(s: &mut Session, pin: &str) {
    s.wait("label", "Choose a PIN");
    s.type_into("password text", "PIN", pin);
    s.click("Continue");
    s.wait("label", "Confirm Your PIN");
    s.type_into("password text", "PIN", pin);
    s.click("Continue");
}

#[test]
fn an_otpauth_code_becomes_an_account_with_its_code() {
    let mut s = Session::new(&format!("{FAST_CONFIG}[pin]\nmin_length = 6\n"));
    s.start_app();
    s.wait("label", "No accounts yet");
    s.click("Scan Code");
    s.wait("label", "Add an Account");
    add_link(&mut s, EXAMPLE_URI);

    // The policy's minimum length is shown; a mismatch says why.
    s.wait("label", "Choose a PIN");
    s.wait("label", "At least 6 characters.");
    s.type_into("password text", "PIN", "482915");
    s.click("Continue");
    s.wait("label", "Confirm Your PIN");
    s.type_into("password text", "PIN", "482916");
    s.click("Continue");
    s.wait("label", "Choose a PIN");
    s.wait("label", "re:did not match");
    choose_pin(&mut s, "482915");

    // A website's account shows its first code to type on the site.
    s.wait("label", "Enter This Code to Finish");
    s.wait("label", "re:on the website");
    s.wait("label", "re:^[0-9]{3} [0-9]{3}$");
    s.click("Done");
    s.wait("label", "Account Added");
    s.wait("label", "Example — alice@example.com");
    s.click("Show My Codes");

    // The row shows the code the daemon gives any client.
    s.wait("label", "Example");
    s.until("the row's code equals `tessera code`", |s| {
        let cli = s.tessera(&["code", "example"]);
        let cli = String::from_utf8_lossy(&cli.stdout).into_owned();
        let shown = s.texts("label", "re:^[0-9]{3} [0-9]{3}$");
        shown.len() == 1 && cli.contains(&shown[0].replace(' ', ""))
    });
}
