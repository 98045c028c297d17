//! The desktop app's activation pages, driven through the accessibility
//! tree against the real daemon (tests/session): a website's otpauth code,
//! a full Tessera activation against `tessera-issuer`, cancel and back,
//! a failure and "Start over", and a second client moving the app along.

mod session;

use session::{EXAMPLE_URI, FAST_CONFIG, Issuer, Session};
use tessera_testkit::images::{CameraFrame, camera_frames};

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

#[test]
fn a_tessera_activation_binds_and_finalizes_with_the_issuer() {
    let mut s = Session::new(FAST_CONFIG);
    let issuer = Issuer::new(s.home.path());
    let new = issuer.new_activation();
    let (serial, image) = (new.serial, new.image);
    s.start_app();
    s.click("Scan Code");

    // The image through the file chooser, as a person picks it.
    s.click("Scan an Image File…");
    s.wait("", "Choose the Activation Image");
    s.keys(&["ctrl+l"]);
    s.cmd(serde_json::json!({"op": "type", "text": image.to_str().unwrap()}));
    s.keys(&["Return"]);

    // The device code, large and grouped; the issuer binds it.
    s.wait("label", "Enter This Code in Your Issuer’s App");
    s.shot("device-code");
    let device = s.texts("label", "re:^[0-9]{4} [0-9]{4} [0-9]{4}$");
    assert_eq!(device.len(), 1, "{device:?}");
    s.click("Copy Code");
    s.until("the device code is on the clipboard", |s| {
        s.clipboard() == device[0].replace(' ', "")
    });
    issuer.bind(&serial, &device[0]);
    s.click("I Entered It");
    choose_pin(&mut s, "482915");

    // The finalize code, checked by the issuer.
    s.wait("label", "Enter This Code to Finish");
    s.shot("finalize-code");
    let finalize = s.texts("label", "re:^[0-9 ]{6,}$");
    assert_eq!(finalize.len(), 1, "{finalize:?}");
    issuer.run(
        "finalize",
        &["--serial", &serial, "--code", &finalize[0].replace(' ', "")],
    );
    s.click("Done");
    s.wait("label", "Account Added");
    s.shot("activated");
    s.click("Show My Codes");

    // The code the app shows is one the issuer accepts.
    let code = s.texts("label", "re:^[0-9]{3} [0-9]{3}$");
    assert_eq!(code.len(), 1, "{code:?}");
    issuer.run(
        "verify",
        &["--serial", &serial, "--code", &code[0].replace(' ', "")],
    );
}

#[test]
fn cancel_back_and_start_over() {
    let mut s = Session::new(FAST_CONFIG);
    s.start_app();
    s.click("Scan Code");
    s.wait("label", "Add an Account");
    s.shot("scan");
    add_link(&mut s, EXAMPLE_URI);
    s.wait("label", "Choose a PIN");
    s.shot("choose-pin");

    // Cancel asks; Back returns to the same step.
    s.click("Cancel");
    s.wait("label", "Cancel the Activation?");
    s.shot("cancel");
    s.click("Back");
    s.wait("label", "Choose a PIN");
    s.click("Cancel");
    s.click("Cancel Activation");
    s.wait("label", "Add an Account");
    let status = s.tessera(&["--json", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_ne!(
        status["exists"], true,
        "a cancelled activation stored nothing: {status}"
    );

    // A bad link fails with the daemon's reason; Start over goes home.
    add_link(&mut s, "otpauth://totp/Broken?secret=not*base32");
    s.wait("label", "The Activation Failed");
    s.wait("label", "re:(?i)secret");
    s.shot("failed");
    s.click("Start Over");
    s.wait("label", "Add an Account");
    add_link(&mut s, EXAMPLE_URI);
    s.wait("label", "Choose a PIN");
    // Scanning again after "Start over" goes on in the same activation
    // (Rescan): none is left behind at home.
    let views = s.activations();
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0].2, "choose_pin");
}

/// The id and revision of the one activation the daemon has (its
/// `Activations` property, read as another D-Bus client does).
fn activation(s: &Session) -> (String, u64, String) {
    let views = s.activations();
    assert_eq!(views.len(), 1, "{views:?}");
    views.into_iter().next().unwrap()
}

#[test]
fn a_second_client_moves_the_app_along_and_the_reverse() {
    let mut s = Session::new(FAST_CONFIG);
    s.start_app();
    s.click("Scan Code");
    add_link(&mut s, EXAMPLE_URI);
    s.wait("label", "Choose a PIN");
    // Another client answers the step the app shows: the app moves on.
    let (id, revision, state) = activation(&s);
    assert_eq!(state, "choose_pin");
    s.send_event(&id, revision, "pin", "482915");
    s.wait("label", "Confirm Your PIN");
    // The app answers; the other client sees the daemon's new step.
    s.type_into("password text", "PIN", "482915");
    s.click("Continue");
    s.wait("label", "Enter This Code to Finish");
    assert_eq!(activation(&s).2, "finalize_code");
    s.click("Done");
    s.click("Show My Codes");
    s.wait("label", "Example");

    // An activation another client starts shows up in the app.
    s.dbus_start_activation("otpauth://totp/Second:bob?secret=KRSXG5CTMVRXEZLU&issuer=Second");
    s.wait("label", "Enter Your PIN");
}

#[test]
fn typed_codes_and_the_notification_permission() {
    let mut s = Session::new(&format!(
        "{FAST_CONFIG}[activation]\nnotifications = true\n"
    ));
    let issuer = Issuer::new(s.home.path());
    let new = issuer.new_activation();
    let (serial, code) = (new.serial, new.activation_code);

    s.start_app();
    s.click("Scan Code");
    s.type_into("text", "Serial number", &serial);
    s.type_into("text", "Activation code", &code);
    s.click("Activate with Codes");
    s.wait("label", "Enter This Code in Your Issuer’s App");
    let device = s.texts("label", "re:^[0-9]{4} [0-9]{4} [0-9]{4}$");
    issuer.bind(&serial, &device[0]);
    s.click("I Entered It");
    choose_pin(&mut s, "482915");
    s.wait("label", "Enter This Code to Finish");
    s.click("Done");
    s.wait("label", "Allow Approval Requests?");
    s.shot("notifications");
    s.click("Allow");
    s.wait("label", "Account Added");
    let list = s.tessera(&["--json", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let accounts = list
        .as_array()
        .or(list["accounts"].as_array())
        .unwrap()
        .clone();
    assert_eq!(accounts.len(), 1, "{list}");
    assert_eq!(accounts[0]["notifications"], true, "{list}");
}

#[test]
fn no_camera_is_said_plainly() {
    let mut s = Session::new(FAST_CONFIG);
    s.start_app();
    s.click("Scan Code");
    s.click("Scan with the Camera");
    s.wait("label", "The Activation Failed");
    s.wait("label", "re:(?i)camera");
    s.shot("no-camera");
    s.click("Start Over");
    s.wait("label", "Add an Account");
}

/// The camera (a folder of frames played by the real camera plugin: there
/// is no camera here) sees half a code against a dark wall, then against a
/// bright one, in turn, then the whole code. The scanning page shows each
/// frame as it comes, read back from the pixels on screen, and the code
/// moves the app to the PIN.
#[test]
fn the_camera_preview_shows_what_the_camera_sees() {
    const DARK: u8 = 30;
    const BRIGHT: u8 = 225;
    let frames = tempfile::tempdir().unwrap();
    let mut shown: Vec<CameraFrame> = (0..80)
        .map(|i| CameraFrame::HalfCode(if i % 10 < 5 { DARK } else { BRIGHT }, EXAMPLE_URI))
        .collect();
    shown.push(CameraFrame::Code(EXAMPLE_URI));
    camera_frames(frames.path(), &shown);
    let mut s = Session::with_camera(FAST_CONFIG, frames.path());
    s.start_app();
    s.click("Scan Code");
    s.click("Scan with the Camera");
    s.wait("label", "Reading the Code…");
    s.wait("image", "Camera preview");
    s.shot_window("camera-preview", "Tessera");
    let (mut dark, mut bright) = (false, false);
    let mut samples = Vec::new();
    while !(dark && bright) {
        assert!(
            samples.len() < 40,
            "the preview did not follow the camera: {samples:?}"
        );
        // The wall, in the frame's lower left (the code is in its top middle).
        let grey = s.grey_of("image", "Camera preview");
        samples.push(grey);
        let near = |g: u8| (grey - f64::from(g)).abs() < 12.0;
        assert!(
            near(DARK) || near(BRIGHT),
            "the preview shows a frame: {samples:?}"
        );
        dark |= near(DARK);
        bright |= near(BRIGHT);
    }
    s.wait("label", "Choose a PIN");
    s.gone("image", "Camera preview");
}

#[test]
fn the_cli_attached_to_the_apps_activation_moves_the_app_along() {
    let mut s = Session::new(FAST_CONFIG);
    s.start_app();
    s.click("Scan Code");
    add_link(&mut s, EXAMPLE_URI);
    s.wait("label", "Choose a PIN");
    let (id, _, _) = activation(&s);
    let pin = s.home.path().join("pin");
    std::fs::write(&pin, "482915\n").unwrap();
    // `tessera activate --attach` answers the steps from where the app is;
    // the app follows every one of them to the end.
    let out = s.tessera(&[
        "activate",
        "--attach",
        &id,
        "--pin-file",
        pin.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    s.wait("label", "Account Added");
    s.wait("label", "Example — alice@example.com");
}
