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
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
    assert_eq!(state_name(&v), "activated");

    let mut accounts = d.accounts().await;
    let list = accounts
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts.len(), 4);
    // HOTP: RFC 4226 codes in order; the counter advances and is kept.
    for want in ["755224", "287082", "359152"] {
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
    assert_eq!(a.counter, 3);

    // Activating the same account twice is refused, nothing stored twice.
    let uri =
        format!("otpauth://totp/GitHub:alice?secret={TOTP_SECRET_B32}&issuer=GitHub&digits=8");
    let v = start(&mut c, pb::start_activation_request::Source::Payload(uri)).await;
    let v = send(&mut c, &v, E::Pin(PIN.into())).await.unwrap();
    let v = send(&mut c, &v, E::Continue(empty())).await.unwrap();
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
    let qr = qrcode::QrCode::new(payload.as_bytes()).unwrap();
    let img = qr
        .render::<image::Luma<u8>>()
        .min_dimensions(300, 300)
        .build();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();

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
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    let e = vault
        .change_pin(pb::ChangePinRequest {
            old_pin: PIN.into(),
            new_pin: "1234".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_POLICY");
    vault
        .change_pin(pb::ChangePinRequest {
            old_pin: PIN.into(),
            new_pin: "735190".into(),
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
        err.contains("tessera.toml: line 2, column 1: unknown field `auto_lock`"),
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
