//! Transaction signing in the desktop app against the real daemon
//! (tests/session): a pasted signing request reviewed with the fields the
//! daemon decoded, a wrong PIN asked again, the response shown; declining
//! signs nothing.

mod session;

use session::{FAST_CONFIG, Session};
use tessera_core::activation::{ActivationCode, ActivationKey, Serial, instance_key};
use tessera_core::otp::Algorithm;
use tessera_core::payload::{Form, TesseraPayload};
use tessera_core::transaction::{Currency, Payment, Transaction, TransactionKeys};

const PIN: &str = "482915";
/// libadwaita 1.2 names dialog buttons twice (docs/desktop-app.md).
const SIGN: &str = "re:^Sign( Sign)?$";
const CONTINUE: &str = "re:^Continue( Continue)?$";
const CANCEL: &str = "re:^Cancel( Cancel)?$";

/// A session with one Tessera account of Example Bank, the app started;
/// the account's transaction keys, as its issuer holds them.
fn started() -> (Session, TransactionKeys) {
    let s = Session::new(FAST_CONFIG);
    let serial: Serial = "TSRGUI0001".parse().unwrap();
    let ak = ActivationKey::from_bytes([0x24; 16]);
    let mut payload = TesseraPayload::new(serial.clone(), ActivationCode::new(&serial, &ak));
    payload.issuer = Some("Example Bank".into());
    payload.label = Some("alice".into());
    let device_code = s.add_tessera_account(&payload.write(Form::Tag), PIN);
    let nonce: u32 = device_code[..10].parse().unwrap();
    let ik = instance_key(&ak, &serial, nonce, Algorithm::Sha1);
    let mut s = s;
    s.start_app();
    s.wait("label", "Example Bank");
    (s, TransactionKeys::derive(&serial, ik.expose()))
}

fn request(keys: &TransactionKeys, n: u8) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tx = Transaction::new(
        "TSRGUI0001".parse().unwrap(),
        [n; 16],
        now + 600,
        Currency::new("EUR").unwrap(),
        vec![Payment {
            amount: 12_500,
            payee_name: "Müller & Söhne GmbH".into(),
            payee_account: "DE89370400440532013000".into(),
            reference: format!("Invoice {n}"),
        }],
    )
    .unwrap();
    let r = keys.respond(&tx).as_str().to_owned();
    (
        keys.seal(&tx, [n; 24]).unwrap(),
        format!("{} {}", &r[..4], &r[4..]),
    )
}

fn paste(s: &mut Session, text: &str) {
    s.click("Main menu");
    s.cmd(serde_json::json!({"op": "click", "role": "menu item", "name": "Sign a Payment…"}));
    s.wait("label", "Sign a Payment");
    s.type_into("text", "Signing request", text);
    s.click(CONTINUE);
}

#[test]
fn a_pasted_request_is_reviewed_and_signed() {
    let (mut s, keys) = started();
    let (text, response) = request(&keys, 1);
    paste(&mut s, &text);
    s.wait("label", "Sign This Payment?");
    // The review shows what the daemon decoded.
    s.wait("label", "re:Amount: 125\\.00 EUR");
    s.wait("label", "re:Payee: Müller & Söhne GmbH");
    s.wait("label", "re:Account: DE89370400440532013000");
    s.wait("label", "re:Reference: Invoice 1");
    s.wait("label", "re:For Example Bank");
    s.shot("signing-review");

    // A wrong PIN: said, and the review asked again.
    s.type_into("text", "PIN", "000000");
    s.click(SIGN);
    s.wait("label", "re:(?i)wrong PIN");
    s.wait("label", "Sign This Payment?");
    s.type_into("text", "PIN", PIN);
    s.click(SIGN);
    s.wait("label", "Your Response");
    s.wait("label", &response);
    s.shot("signing-response");

    // The same request again: refused, the daemon's reason shown.
    s.keys(&["Escape"]);
    paste(&mut s, &text);
    s.wait("label", "re:signed before");
}

#[test]
fn declining_signs_nothing_and_bad_requests_are_explained() {
    let (mut s, keys) = started();
    let (text, _) = request(&keys, 2);
    paste(&mut s, &text);
    s.wait("label", "Sign This Payment?");
    s.click(CANCEL);
    s.wait("label", "Declined: nothing was signed");
    paste(&mut s, "tessera://sign?v=1&sn=TSRGUI0001&tx=AAAA");
    s.wait("label", "re:too short");
    paste(&mut s, "hello");
    s.wait("label", "re:no signing request found");
}
