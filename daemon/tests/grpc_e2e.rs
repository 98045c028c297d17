//! End to end through the real daemon binary on a real Unix socket:
//! activation of each payload kind, codes, the vault's lock and PIN rules,
//! errors, restarts and several watchers.

mod common;

use common::*;
use tessera_core::activation::{self, ActivationCode, ActivationKey, DeviceCode, Serial};
use tessera_core::otp::{Algorithm, totp};
use tessera_core::payload::{Form, TesseraPayload};
use tessera_proto::v1 as pb;
use tonic::Code;

const PIN: &str = "482915";
const TOTP_SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // RFC 6238's SHA1 seed

type Client = pb::activation_client::ActivationClient<tonic::transport::Channel>;

fn tessera_payload(serial: &str, label: &str) -> (String, ActivationKey, Serial) {
    let serial: Serial = serial.parse().unwrap();
    let key = ActivationKey::from_bytes(rand::random());
    let mut p = TesseraPayload::new(serial.clone(), ActivationCode::new(&serial, &key));
    p.label = Some(label.into());
    p.issuer = Some("Example Bank".into());
    (p.write(Form::Tag), key, serial)
}

async fn start(c: &mut Client, source: pb::start_activation_request::Source) -> pb::ActivationView {
    c.start(pb::StartActivationRequest {
        source: Some(source),
    })
    .await
    .expect("start")
    .into_inner()
}

async fn send(
    c: &mut Client,
    view: &pb::ActivationView,
    kind: pb::event::Kind,
) -> Result<pb::ActivationView, tonic::Status> {
    c.send_event(pb::SendEventRequest {
        activation_id: view.id.clone(),
        revision: view.revision,
        event: event(kind),
    })
    .await
    .map(|r| r.into_inner())
}

fn empty() -> pb::Empty {
    pb::Empty {}
}

/// Activates a Tessera payload as a first activation (choose + confirm PIN)
/// and checks each code against the protocol; returns the account id.
async fn activate_tessera_first(d: &Daemon, serial: &str) -> (String, Vec<u8>) {
    use pb::event::Kind as E;
    let (payload, key, serial) = tessera_payload(serial, "alice@example.com");
    let mut c = d.activation().await;
    let v = start(
        &mut c,
        pb::start_activation_request::Source::Payload(payload),
    )
    .await;
    assert_eq!(state_name(&v), "device_code");
    // The issuer's side: the device code verifies against this activation.
    let dc = DeviceCode::parse(&shown_code(&v)).unwrap();
    let nonce = dc.verify(&key, &serial).expect("device code checks out");
    assert_eq!(v.accounts.len(), 1);
    assert_eq!(v.accounts[0].label, "alice@example.com");

    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "choose_pin");
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    assert_eq!(state_name(&v), "confirm_pin");
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    assert_eq!(state_name(&v), "finalize_code");

    let ik = activation::instance_key(&key, &serial, nonce, Algorithm::Sha1);
    let fin = activation::finalize_code(&ik, &serial, None);
    assert_eq!(
        shown_code(&v),
        fin.as_str(),
        "the finalize code the issuer expects"
    );

    // Nothing is stored before the finalize step is confirmed.
    assert!(!d.data_dir().join("vault").exists());
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "activated");
    assert!(d.data_dir().join("vault").exists());
    let Some(pb::activation_state::Kind::Activated(done)) = v.state.unwrap().kind else {
        unreachable!()
    };
    (done.accounts[0].id.clone(), ik.expose().to_vec())
}

#[tokio::test]
async fn tessera_activation_then_codes_lock_unlock_and_restart() {
    let mut d = Daemon::start(FAST_CONFIG);
    let (id, ik) = activate_tessera_first(&d, "TSR0000001").await;

    let mut accounts = d.accounts().await;
    let list = accounts
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts.len(), 1);
    assert_eq!(list.accounts[0].serial, "TSR0000001");
    assert_eq!(list.accounts[0].issuer, "Example Bank");

    // The code the daemon gives is RFC 6238 with the instance key.
    let code = accounts
        .code(pb::AccountRef {
            account: "alice".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let at = code.valid_from_unix as u64;
    assert_eq!(code.valid_until_unix - code.valid_from_unix, 30);
    assert_eq!(code.code, totp(&ik, Algorithm::Sha1, at, 30, 6).as_str());

    // Locked: codes are refused with a typed error; a wrong PIN is counted.
    let mut vault = d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    let e = accounts
        .code(pb::AccountRef {
            account: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(error_code(&e), "ERROR_CODE_VAULT_LOCKED");
    assert!(e.message().contains("unlock"), "{}", e.message());
    let e = vault
        .unlock(pb::UnlockRequest {
            pin: "000000".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    let status = vault
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((status.locked, status.failed_attempts), (true, 1));

    // A restart keeps the account and the wrong-PIN count; the vault starts locked.
    assert!(d.stop().unwrap().success(), "SIGTERM ends tesserad cleanly");
    assert!(!d.socket().exists(), "the socket is removed on shutdown");
    d.restart();
    let mut vault = d.vault().await;
    let status = vault
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(status.exists && status.locked);
    assert_eq!(status.failed_attempts, 1);
    assert_eq!(status.protection, pb::Protection::Pin as i32);
    let status = vault
        .unlock(pb::UnlockRequest {
            pin: PIN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!status.locked);
    assert_eq!((status.account_count, status.failed_attempts), (1, 0));
    let mut accounts = d.accounts().await;
    let again = accounts
        .code(pb::AccountRef { account: id })
        .await
        .unwrap()
        .into_inner();
    let at = again.valid_from_unix as u64;
    assert_eq!(again.code, totp(&ik, Algorithm::Sha1, at, 30, 6).as_str());
}

#[tokio::test]
async fn otpauth_and_export_activations_unlock_with_the_existing_pin() {
    use pb::event::Kind as E;
    let d = Daemon::start(FAST_CONFIG);
    activate_tessera_first(&d, "TSR0000002").await;
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();

    let mut c = d.activation().await;
    let uri =
        format!("otpauth://totp/GitHub:alice?secret={TOTP_SECRET_B32}&issuer=GitHub&digits=8");
    let v = start(&mut c, pb::start_activation_request::Source::Payload(uri)).await;
    assert_eq!(
        state_name(&v),
        "enter_pin",
        "no device code for otpauth; the vault PIN exists"
    );
    let v = send(&mut c, &v, E::Pin("999999".into())).await.unwrap();
    assert_eq!(state_name(&v), "enter_pin");
    let Some(pb::activation_state::Kind::EnterPin(prompt)) = v.state.clone().unwrap().kind else {
        unreachable!()
    };
    assert!(
        prompt.reason.to_lowercase().contains("wrong"),
        "{}",
        prompt.reason
    );
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    assert_eq!(state_name(&v), "finalize_code");
    // The finalize step shows the account's current code.
    assert_eq!(shown_code(&v).len(), 8);
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "activated");

    // An export with two accounts activates both in one pass.
    let batch = tessera_core::payload::MigrationBatch {
        accounts: ["a", "b"]
            .iter()
            .map(|name| tessera_core::payload::OtpAuthAccount {
                issuer: Some("Mail".into()),
                account: format!("{name}@example.com"),
                secret: tessera_core::SecretBytes::from(&b"12345678901234567890"[..]),
                params: "hotp:SHA1:6".parse().unwrap(),
                pin: None,
            })
            .collect(),
        version: 1,
        batch_size: 1,
        batch_index: 0,
        batch_id: 1,
    };
    let text = tessera_core::payload::migration::write(&batch).unwrap();
    let v = start(&mut c, pb::start_activation_request::Source::Payload(text)).await;
    assert_eq!(v.accounts.len(), 2);
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    // The first account's code at counter 0 (RFC 4226): shown, so used.
    assert_eq!(shown_code(&v), "755224");
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "activated");

    let mut accounts = d.accounts().await;
    let list = accounts
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts.len(), 4);
    // HOTP: RFC 4226 codes in order from the one after the code shown
    // during activation; the counter advances and is kept.
    for want in ["287082", "359152", "969429"] {
        let c = accounts
            .code(pb::AccountRef {
                account: "a@example.com".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(c.code, want);
    }
    let a = accounts
        .get(pb::AccountRef {
            account: "a@example.com".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.counter, 4);
    let b = accounts
        .get(pb::AccountRef {
            account: "b@example.com".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.counter, 0, "only the account whose code was shown");

    // Activating the same account twice is refused right after decoding
    // (the vault is unlocked): no PIN, no finalize step, nothing stored.
    let uri =
        format!("otpauth://totp/GitHub:alice?secret={TOTP_SECRET_B32}&issuer=GitHub&digits=8");
    let v = start(&mut c, pb::start_activation_request::Source::Payload(uri)).await;
    assert_eq!(state_name(&v), "failed");
    let Some(pb::activation_state::Kind::Failed(f)) = v.state.unwrap().kind else {
        unreachable!()
    };
    assert_eq!(f.error.unwrap().code, "ERROR_CODE_ALREADY_EXISTS");
    assert_eq!(
        accounts
            .list(pb::ListAccountsRequest {})
            .await
            .unwrap()
            .into_inner()
            .accounts
            .len(),
        4
    );
}

#[tokio::test]
async fn activation_from_an_image_and_manual_entry() {
    use pb::event::Kind as E;
    let d = Daemon::start(FAST_CONFIG);
    let (payload, key, serial) = tessera_payload("TSRIMAGE01", "bob");
    let png = tessera_testkit::images::qr_png(&payload);

    let mut c = d.activation().await;
    let v = start(&mut c, pb::start_activation_request::Source::Image(png)).await;
    assert_eq!(state_name(&v), "device_code");
    DeviceCode::parse(&shown_code(&v))
        .unwrap()
        .verify(&key, &serial)
        .expect("device code from the scanned image");
    // Cancel asks first; Back returns; ConfirmCancel stores nothing.
    let asked = send(&mut c, &v, E::Cancel(empty())).await.unwrap();
    assert_eq!(state_name(&asked), "cancel_confirm");
    let back = send(&mut c, &asked, E::Back(empty())).await.unwrap();
    assert_eq!(state_name(&back), "device_code");
    assert_eq!(shown_code(&back), shown_code(&v));
    let asked = send(&mut c, &back, E::Cancel(empty())).await.unwrap();
    let home = send(&mut c, &asked, E::ConfirmCancel(empty()))
        .await
        .unwrap();
    assert_eq!(state_name(&home), "home");
    assert!(!d.data_dir().join("vault").exists());

    // From Home, a manual entry (grouped as a user types it) starts again.
    let code = ActivationCode::new(&serial, &key).grouped();
    let v = send(
        &mut c,
        &home,
        E::EnterManually(pb::ManualEntry {
            serial: serial.to_string(),
            activation_code: code,
        }),
    )
    .await
    .unwrap();
    assert_eq!(state_name(&v), "device_code");
}

#[tokio::test]
async fn bad_input_gets_typed_errors_and_the_daemon_lives_on() {
    use pb::event::Kind as E;
    let d = Daemon::start(FAST_CONFIG);
    let mut c = d.activation().await;

    // A payload with wrong check digits fails the activation, naming the field.
    let bad =
        "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129563</AC></QRCode>";
    let v = start(
        &mut c,
        pb::start_activation_request::Source::Payload(bad.into()),
    )
    .await;
    assert_eq!(state_name(&v), "failed");
    let Some(pb::activation_state::Kind::Failed(f)) = v.state.clone().unwrap().kind else {
        unreachable!()
    };
    let f = f.error.unwrap();
    assert_eq!(f.code, "ERROR_CODE_INVALID_PAYLOAD");
    assert_eq!(f.message, "AC: check digits do not match the serial number");
    // Start over returns Home.
    let home = send(&mut c, &v, E::StartOver(empty())).await.unwrap();
    assert_eq!(state_name(&home), "home");

    // Images: not an image, an empty one, a blank one.
    for (bytes, want) in [
        (b"not an image".to_vec(), "not a supported image format"),
        (Vec::new(), "the file is empty"),
    ] {
        let v = start(&mut c, pb::start_activation_request::Source::Image(bytes)).await;
        let Some(pb::activation_state::Kind::Failed(f)) = v.state.unwrap().kind else {
            panic!("expected failed")
        };
        let f = f.error.unwrap();
        assert_eq!(f.code, "ERROR_CODE_INVALID_IMAGE");
        assert!(f.message.contains(want), "{}", f.message);
    }

    // An event that does not fit the state: a typed error, state unchanged.
    let (payload, _, _) = tessera_payload("TSR0000003", "carol");
    let v = start(
        &mut c,
        pb::start_activation_request::Source::Payload(payload),
    )
    .await;
    let e = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_EVENT");
    assert!(
        e.message().contains("pin does not apply"),
        "{}",
        e.message()
    );
    // A stale revision is refused too.
    let next = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    let e = send(&mut c, &v, E::Continue(empty())).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_EVENT");
    // A PIN the policy refuses keeps asking, with the reason.
    let again = send(&mut c, &next, E::Pin("1111".into())).await.unwrap();
    let Some(pb::activation_state::Kind::ChoosePin(p)) = again.state.unwrap().kind else {
        panic!("expected choose_pin")
    };
    assert!(p.reason.contains("too easy"), "{}", p.reason);

    // Missing fields and unknown ids.
    let e = c
        .start(pb::StartActivationRequest { source: None })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_ARGUMENT");
    let e = c
        .send_event(pb::SendEventRequest {
            activation_id: "nope".into(),
            revision: 0,
            event: event(E::Continue(empty())),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let mut accounts = d.accounts().await;
    let e = accounts.list(pb::ListAccountsRequest {}).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_NO_VAULT");
    let e = d
        .vault()
        .await
        .unlock(pb::UnlockRequest {
            pin: PIN.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_NO_VAULT");

    // Still serving.
    d.vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap();
}

#[tokio::test]
async fn several_clients_watch_one_activation_and_any_may_drive_it() {
    use pb::event::Kind as E;
    use tokio_stream::StreamExt;
    let d = Daemon::start(FAST_CONFIG);
    let (payload, _, _) = tessera_payload("TSR0000004", "dave");
    let mut a = d.activation().await;
    let mut b = d.activation().await;
    let v = start(
        &mut a,
        pb::start_activation_request::Source::Payload(payload),
    )
    .await;
    let mut watch = b
        .watch(pb::WatchActivationRequest {
            activation_id: v.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(state_name(&first), "device_code");
    // Client B drives a step; client A sees it through its own view.
    let v2 = send(&mut b, &first, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v2), "choose_pin");
    let seen = watch.next().await.unwrap().unwrap();
    assert_eq!(state_name(&seen), "choose_pin");
    let e = send(&mut a, &v, E::Continue(empty())).await.unwrap_err();
    assert_eq!(
        error_code(&e),
        "ERROR_CODE_INVALID_EVENT",
        "A's view is stale"
    );
}

#[tokio::test]
async fn change_pin_and_account_management() {
    let d = Daemon::start(FAST_CONFIG);
    let (id, _) = activate_tessera_first(&d, "TSR0000005").await;
    let mut vault = d.vault().await;
    let e = vault
        .change_pin(pb::ChangePinRequest {
            old_pin: "000000".into(),
            new_pin: "735190".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    let e = vault
        .change_pin(pb::ChangePinRequest {
            old_pin: PIN.into(),
            new_pin: "1234".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_POLICY");
    vault
        .change_pin(pb::ChangePinRequest {
            old_pin: PIN.into(),
            new_pin: "735190".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    vault.lock(pb::LockRequest {}).await.unwrap();
    assert!(
        vault
            .unlock(pb::UnlockRequest {
                pin: PIN.into(),
                ..Default::default()
            })
            .await
            .is_err()
    );
    vault
        .unlock(pb::UnlockRequest {
            pin: "735190".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let mut accounts = d.accounts().await;
    let renamed = accounts
        .rename(pb::RenameAccountRequest {
            account: id.clone(),
            label: "Work VPN".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.label, "Work VPN");
    let e = accounts
        .rename(pb::RenameAccountRequest {
            account: id.clone(),
            label: "x".repeat(65),
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_ARGUMENT");
    let r = accounts
        .respond(pb::RespondRequest {
            account: "work".into(),
            challenge: "12345678".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.suite, "OCRA-1:HOTP-SHA256-8:QN08");
    assert_eq!(r.response.len(), 8);
    let e = accounts
        .respond(pb::RespondRequest {
            account: "work".into(),
            challenge: "12ab".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_ARGUMENT");
    accounts
        .delete(pb::AccountRef {
            account: id.clone(),
        })
        .await
        .unwrap();
    let e = accounts
        .get(pb::AccountRef { account: id })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_NOT_FOUND");
}

#[test]
fn a_second_daemon_on_the_same_vault_is_refused_clearly() {
    let d = Daemon::start(FAST_CONFIG);
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already"), "{err}");
}

#[test]
fn an_invalid_config_file_stops_start_up_with_file_and_line() {
    let d = Daemon::unstarted();
    std::fs::write(d.config_path(), "[vault]\nauto_lock = 5\n").unwrap();
    let out = d.command().output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tessera.toml: line 2, column 1: `auto_lock` is not a key of [vault]")
            && err.contains("auto_lock_minutes"),
        "{err}"
    );
}

#[test]
fn folders_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start(FAST_CONFIG);
    let mode = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(d.runtime_dir()), 0o700);
    assert_eq!(mode(d.data_dir()), 0o700);
    assert_eq!(mode(d.socket()), 0o600);
}

/// Unlock is not taken at its word: an unlocked vault still checks the PIN,
/// counts a wrong one, and says it was unlocked already.
#[tokio::test]
async fn unlocking_an_unlocked_vault_still_checks_the_pin() {
    let d = Daemon::start(FAST_CONFIG);
    activate_tessera_first(&d, "TSR0000010").await;
    let mut vault = d.vault().await;
    assert!(!vault_status(&mut vault).await.locked);

    let e = unlock(&mut vault, "000000").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    assert!(
        e.message().contains("4 more tries before a delay"),
        "{}",
        e.message()
    );
    let s = vault_status(&mut vault).await;
    assert_eq!((s.locked, s.failed_attempts), (false, 1), "counted");

    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(s.already_unlocked && !s.locked);
    assert_eq!(s.failed_attempts, 0, "the right PIN resets the count");

    vault.lock(pb::LockRequest {}).await.unwrap();
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(!s.already_unlocked && !s.locked);
}

/// A method number the daemon does not know is refused, naming it; it is
/// never taken as AUTO.
#[tokio::test]
async fn an_unknown_unlock_method_is_an_invalid_argument() {
    let d = Daemon::start(FAST_CONFIG);
    activate_tessera_first(&d, "TSR0000011").await;
    let mut vault = d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    let e = vault
        .unlock(pb::UnlockRequest {
            pin: PIN.into(),
            method: 7,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(error_code(&e), "ERROR_CODE_INVALID_ARGUMENT");
    assert!(
        e.message().contains("unknown unlock method 7"),
        "{}",
        e.message()
    );
    assert!(
        vault_status(&mut vault).await.locked,
        "nothing was unlocked"
    );
}

/// The HOTP code shown at the finalize step counts as used: the first code
/// after the activation is the next one (RFC 4226 counter 1).
#[tokio::test]
async fn an_hotp_code_shown_during_activation_is_not_given_again() {
    use pb::event::Kind as E;
    let d = Daemon::start(FAST_CONFIG);
    let mut c = d.activation().await;
    // RFC 4226's secret "12345678901234567890".
    let uri = "otpauth://hotp/Mail:carol?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mail";
    let v = start(
        &mut c,
        pb::start_activation_request::Source::Payload(uri.into()),
    )
    .await;
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    assert_eq!(shown_code(&v), "755224");
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "activated");
    let code = d
        .accounts()
        .await
        .code(pb::AccountRef {
            account: "carol".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((code.code.as_str(), code.counter), ("287082", 1));
}

/// An account the vault has already is refused at the start: right after
/// decoding when the vault can be read, right after the PIN when it is
/// locked; never after the finalize code was shown.
#[tokio::test]
async fn an_account_already_in_the_vault_is_refused_at_the_start() {
    use pb::event::Kind as E;
    let d = Daemon::start(FAST_CONFIG);
    let (payload, _, _) = tessera_payload("TSR0000012", "dave");
    let mut c = d.activation().await;
    let source = || pb::start_activation_request::Source::Payload(payload.clone());
    let v = start(&mut c, source()).await;
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "activated");

    let failed = |v: &pb::ActivationView| match v.state.as_ref().and_then(|s| s.kind.clone()) {
        Some(pb::activation_state::Kind::Failed(f)) => f.error.unwrap(),
        other => panic!("expected failed, got {other:?}"),
    };
    // Unlocked: refused by Start itself.
    let v = start(&mut c, source()).await;
    let e = failed(&v);
    assert_eq!(e.code, "ERROR_CODE_ALREADY_EXISTS");
    assert!(
        e.message.contains("\"dave\" (Example Bank)"),
        "{}",
        e.message
    );

    // Locked: the accounts can be read only once the PIN is given.
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    let v = start(&mut c, source()).await;
    assert_eq!(state_name(&v), "device_code");
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "enter_pin");
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    assert_eq!(failed(&v).code, "ERROR_CODE_ALREADY_EXISTS");
    // Starting over goes back to Home, not through the same payload again.
    let home = send(&mut c, &v, E::StartOver(empty())).await.unwrap();
    assert_eq!(state_name(&home), "home");
    let list = d
        .accounts()
        .await
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts.len(), 1);
}

/// Change PIN checks the current PIN before anything else, can check it
/// alone (`check_only`), and refuses the same PIN.
#[tokio::test]
async fn change_pin_checks_the_current_pin_first_and_refuses_the_same_one() {
    let d = Daemon::start(FAST_CONFIG);
    activate_tessera_first(&d, "TSR0000013").await;
    let mut vault = d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    let change = |old: &str, new: &str, check_only| pb::ChangePinRequest {
        old_pin: old.into(),
        new_pin: new.into(),
        check_only,
    };
    // A wrong current PIN is said first, even with a new PIN policy refuses.
    let e = vault
        .change_pin(change("000000", "1111", false))
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    let e = vault
        .change_pin(change("000000", "", true))
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    assert_eq!(vault_status(&mut vault).await.failed_attempts, 2);
    let s = vault
        .change_pin(change(PIN, "", true))
        .await
        .unwrap()
        .into_inner();
    assert!(s.locked, "checking changes nothing");
    assert_eq!(s.failed_attempts, 0);
    let e = vault.change_pin(change(PIN, PIN, false)).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_POLICY");
    assert!(
        e.message().contains("same as the current"),
        "{}",
        e.message()
    );
    unlock(&mut vault, PIN).await.expect("the PIN is unchanged");
}

/// The otpauth finalize step's TOTP code says when it expires; PIN prompts
/// carry the policy's `digits_only`.
#[tokio::test]
async fn a_totp_code_shown_during_activation_says_when_it_expires() {
    use pb::event::Kind as E;
    let d = Daemon::start(&format!("{FAST_CONFIG}[pin]\ndigits_only = true\n"));
    let mut c = d.activation().await;
    let uri = format!("otpauth://totp/GitHub:erin?secret={TOTP_SECRET_B32}&issuer=GitHub");
    let v = start(&mut c, pb::start_activation_request::Source::Payload(uri)).await;
    let Some(pb::activation_state::Kind::ChoosePin(p)) = v.state.clone().unwrap().kind else {
        panic!("{v:?}")
    };
    assert!(p.digits_only);
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let Some(pb::activation_state::Kind::FinalizeCode(code)) = v.state.clone().unwrap().kind else {
        panic!("{v:?}")
    };
    assert_eq!(code.valid_until_unix % 30, 0);
    assert!(code.valid_until_unix > now - 1 && code.valid_until_unix <= now + 31);
    let at = (code.valid_until_unix - 30) as u64;
    assert_eq!(
        code.code,
        totp(b"12345678901234567890", Algorithm::Sha1, at, 30, 6).as_str()
    );
}

/// When the wrong-PIN counter cannot be written (a full disk: a real
/// small tmpfs when this runs as root; otherwise a folder in the counter
/// file's place, which makes its replacement fail the same way), the right
/// PIN still unlocks, a warning says so (reply and status), and wrong PINs
/// are still refused, counted in memory and delayed.
#[tokio::test]
async fn when_the_pin_counter_cannot_be_written_unlock_stays_honest() {
    let config = format!("{FAST_CONFIG}[pin]\nfree_attempts = 2\ndelay_seconds = 600\n");
    let mut d = Daemon::unstarted();
    let mount = Mount::tmpfs(&d.data_dir(), "1m");
    d.write_config(&config);
    d.restart();
    activate_tessera_first(&d, "TSR0000014").await;
    let counter = d.data_dir().join("pin-attempts");
    match &mount {
        Some(_) => fill(&d.data_dir()),
        None => {
            std::fs::create_dir(&counter).unwrap();
            std::fs::write(counter.join("keep"), b"x").unwrap();
        }
    }
    let mut vault = d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();

    // A wrong PIN: refused, counted in memory, and the failure to save said.
    let e = unlock(&mut vault, "000000").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    assert!(
        e.message().contains("could not be saved"),
        "{}",
        e.message()
    );
    let s = vault_status(&mut vault).await;
    assert_eq!((s.locked, s.failed_attempts), (true, 1));
    assert!(s.pin_counter_warning.contains("wrong-PIN counter"), "{s:?}");
    if mount.is_some() {
        assert!(
            s.pin_counter_warning.contains("No space left on device"),
            "{s:?}"
        );
        assert!(!counter.exists(), "the count could not be written");
    }

    // The right PIN still unlocks, with the warning in the reply.
    let s = unlock(&mut vault, PIN)
        .await
        .expect("the right PIN unlocks");
    assert!(!s.locked);
    assert!(!s.pin_counter_warning.is_empty(), "{s:?}");
    assert!(
        d.log().contains("cannot write the wrong-PIN counter"),
        "{}",
        d.log()
    );

    // Wrong PINs still lead to the delay, which even the right PIN waits.
    vault.lock(pb::LockRequest {}).await.unwrap();
    let e = unlock(&mut vault, "000000").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    let e = unlock(&mut vault, "111111").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    assert!(
        e.message().contains("try again in 10 min"),
        "{}",
        e.message()
    );
    let e = unlock(&mut vault, PIN).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED");
    let s = vault_status(&mut vault).await;
    assert!(s.locked && s.failed_attempts == 2 && s.retry_after_seconds > 0);
    drop(vault);
    d.stop();
    drop(mount);
}

#[tokio::test]
async fn an_over_long_id_is_not_found_with_a_short_echo() {
    let d = Daemon::start(FAST_CONFIG);
    activate_tessera_first(&d, "TSR0000008").await;
    let long = "x".repeat(10_000);
    let status = d
        .accounts()
        .await
        .code(pb::AccountRef {
            account: long.clone(),
        })
        .await
        .expect_err("no such account");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(error_code(&status), "ERROR_CODE_NOT_FOUND");
    // The message names the query, cut short: not 10,000 characters back.
    assert!(status.message().contains("xxxx"), "{}", status.message());
    assert!(status.message().len() < 300, "{}", status.message().len());
}

/// One client (a process) may have four activations under way; the fifth
/// is refused as busy, the daemon keeps serving, and a cancelled one frees
/// its place.
#[tokio::test]
async fn a_client_with_four_activations_under_way_is_told_it_is_busy() {
    use pb::start_activation_request::Source;
    let d = Daemon::start(FAST_CONFIG);
    let mut c = d.activation().await;
    let text = |i: u32| {
        Source::Payload(format!(
            "otpauth://totp/Busy:user{i}?secret={TOTP_SECRET_B32}"
        ))
    };
    let mut views = Vec::new();
    for i in 0..4 {
        views.push(start(&mut c, text(i)).await);
    }
    let status = c
        .start(pb::StartActivationRequest {
            source: Some(text(4)),
        })
        .await
        .expect_err("a fifth is refused");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(error_code(&status), "ERROR_CODE_BUSY");
    assert!(
        status
            .message()
            .contains("already has 4 activations under way"),
        "{}",
        status.message()
    );

    let v = send(&mut c, &views[0], pb::event::Kind::Cancel(empty()))
        .await
        .unwrap();
    let v = send(&mut c, &v, pb::event::Kind::ConfirmCancel(empty()))
        .await
        .unwrap();
    assert_eq!(state_name(&v), "home");
    let v = start(&mut c, text(4)).await;
    assert_eq!(state_name(&v), "choose_pin");
}
