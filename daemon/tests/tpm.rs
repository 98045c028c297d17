//! The vault's TPM slot through the real daemon on a real software TPM
//! (swtpm per test, on loopback TCP; `tessera_testkit::swtpm`): activation
//! under `vault.protection = "tpm"`, unlock, wrong PINs counted by the
//! TPM, its lock-out, another TPM, PCRs changed after sealing, a power
//! cycle, a cleared TPM, an owner password, no TPM, enroll and removal.
//!
//! Built only with `--features tpm` (scripts/test passes it and installs
//! swtpm, swtpm-tools, tpm2-tools and libtss2-dev).

#![cfg(feature = "tpm")]

mod common;

use common::*;
use tessera_core::otp::{Algorithm, totp};
use tessera_proto::v1 as pb;
use tessera_testkit::swtpm::Swtpm;

const PIN: &str = "482917";
/// RFC 6238's key, "12345678901234567890".
const SECRET: &[u8] = b"12345678901234567890";
const URI: &str =
    "otpauth://totp/GitHub:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=GitHub";

type VaultClient = pb::vault_client::VaultClient<tonic::transport::Channel>;

/// Settings: fast Argon2, `protection`, the TPM at `tcti` and `pcrs`.
fn config(protection: &str, tcti: &str, pcrs: &[u32]) -> String {
    format!(
        "[vault]\nargon2_memory_kib = 64\nargon2_iterations = 1\nprotection = \"{protection}\"\n\
         [tpm]\ntcti = \"{tcti}\"\npcrs = {pcrs:?}\n"
    )
}

/// The GitHub account's code, checked against RFC 6238 at its own step.
async fn assert_code_is_right(d: &Daemon) {
    let c = d
        .accounts()
        .await
        .code(pb::AccountRef {
            account: "github".into(),
        })
        .await
        .expect("a code with the vault open")
        .into_inner();
    let want = totp(SECRET, Algorithm::Sha1, c.valid_from_unix as u64, 30, 6);
    assert_eq!(c.code, want.as_str());
}

async fn tpm_status(vault: &mut VaultClient) -> pb::TpmStatusResponse {
    vault
        .tpm_status(pb::TpmStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

async fn lock(vault: &mut VaultClient) {
    vault.lock(pb::LockRequest {}).await.unwrap();
}

/// The activation of `payload` run to its end: `activated` or `failed`.
async fn activation_end(d: &Daemon, payload: &str, pin: &str) -> pb::ActivationView {
    tessera_testkit::activation::run_to_end(d.channel().await, payload, pin)
        .await
        .0
}

fn failure(view: &pb::ActivationView) -> pb::ErrorCodeMessage {
    match view.state.as_ref().and_then(|s| s.kind.as_ref()) {
        Some(pb::activation_state::Kind::Failed(f)) => f.error.clone().unwrap(),
        other => panic!("the activation did not fail: {other:?}"),
    }
}

/// The vault file's slot kinds, read from its public header.
fn slot_kinds(d: &Daemon) -> Vec<String> {
    let bytes = std::fs::read(d.data_dir().join("vault")).unwrap();
    let end = 14 + bytes[14..].iter().position(|&b| b == b'\n').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes[14..end]).unwrap();
    header["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_activation_under_tpm_policy_seals_the_key_and_wrong_pins_count_in_the_tpm() {
    let tpm = Swtpm::start();
    tpm.set_lockout(10, 1000);
    let d = Daemon::start(&config("tpm", &tpm.tcti(), &[7]));
    let mut vault = d.vault().await;
    let before = tpm_status(&mut vault).await;
    assert!(before.built && before.present, "{before:?}");
    assert!(!before.enrolled);

    activate_payload(&d, URI, PIN).await;
    assert_eq!(slot_kinds(&d), ["tpm"], "the TPM slot only, no PIN slot");
    let s = vault_status(&mut vault).await;
    assert!(s.tpm_slot && !s.locked, "{s:?}");
    let t = tpm_status(&mut vault).await;
    assert!(t.enrolled && !t.pin_slot, "{t:?}");
    assert_eq!(t.pcrs, [7]);
    assert!(t.changed_pcrs.is_empty());
    assert_eq!(t.protection, "tpm");
    assert_code_is_right(&d).await;

    // A wrong PIN: our counter and the TPM's both count it.
    lock(&mut vault).await;
    let e = unlock(&mut vault, "000000").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN", "{}", e.message());
    assert!(
        e.message().contains("the TPM refused it too"),
        "{}",
        e.message()
    );
    assert_eq!(vault_status(&mut vault).await.failed_attempts, 1);
    let t = tpm_status(&mut vault).await;
    assert_eq!(
        (t.failed_tries, t.max_tries),
        (before.failed_tries + 1, 10),
        "{t:?}"
    );

    // The right PIN opens it; the TPM's counter is not raised by it.
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(!s.locked && s.tpm_warning.is_empty(), "{s:?}");
    assert_eq!(s.failed_attempts, 0);
    assert_eq!(tpm_status(&mut vault).await.failed_tries, t.failed_tries);
    assert_code_is_right(&d).await;
}

#[tokio::test]
async fn the_tpm_lockout_is_reported_as_such_and_refuses_even_the_right_pin() {
    let tpm = Swtpm::start();
    tpm.set_lockout(2, 1000);
    let d = Daemon::start(&config("tpm", &tpm.tcti(), &[]));
    activate_payload(&d, URI, PIN).await;
    let mut vault = d.vault().await;
    lock(&mut vault).await;
    for _ in 0..2 {
        let e = unlock(&mut vault, "000000").await.unwrap_err();
        assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN", "{}", e.message());
    }
    let t = tpm_status(&mut vault).await;
    assert!(t.in_lockout, "two wrong PINs of two: {t:?}");

    let e = unlock(&mut vault, PIN).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_TPM", "{}", e.message());
    let m = e.message();
    assert!(m.contains("lock-out"), "{m}");
    assert!(m.contains("tpm2_dictionarylockout --clear-lockout"), "{m}");
    assert!(
        m.contains("backup"),
        "no PIN slot: a backup is the way back: {m}"
    );
    // Not the PIN's fault: our own counter did not count it.
    assert_eq!(vault_status(&mut vault).await.failed_attempts, 2);

    // The owner resets the lock-out; the same vault opens.
    tpm.tool("tpm2_dictionarylockout", &["--clear-lockout"]);
    unlock(&mut vault, PIN).await.unwrap();
    assert_code_is_right(&d).await;
}

#[tokio::test]
async fn a_copy_of_the_vault_does_not_open_on_another_tpm() {
    let home = Swtpm::start();
    let other = Swtpm::start();
    let mut d = Daemon::start(&config("tpm", &home.tcti(), &[]));
    activate_payload(&d, URI, PIN).await;
    let vault_file = std::fs::read(d.data_dir().join("vault")).unwrap();

    // Another machine: the same file, another TPM.
    d.write_config(&config("tpm", &other.tcti(), &[]));
    d.restart();
    let mut vault = d.vault().await;
    let e = unlock(&mut vault, PIN).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_TPM", "{}", e.message());
    assert!(
        e.message().contains("sealed by another TPM"),
        "{}",
        e.message()
    );
    assert_eq!(
        std::fs::read(d.data_dir().join("vault")).unwrap(),
        vault_file,
        "the vault file is left as it was"
    );

    // Back on its own TPM it opens.
    d.write_config(&config("tpm", &home.tcti(), &[]));
    d.restart();
    let mut vault = d.vault().await;
    unlock(&mut vault, PIN).await.unwrap();
    assert_code_is_right(&d).await;
}

/// The regression a policy computed but not enforced would pass: after
/// PCR 7 is extended the TPM refuses to unseal, the error names PCR 7 and
/// the way back, and a power cycle (PCRs reset, the state kept) brings the
/// same master key back.
#[tokio::test]
async fn a_pcr_extended_after_sealing_stops_the_slot_and_a_reboot_brings_it_back() {
    let tpm = Swtpm::start();
    let mut d = Daemon::start(&config("tpm", &tpm.tcti(), &[7]));
    activate_payload(&d, URI, PIN).await;
    let mut vault = d.vault().await;
    lock(&mut vault).await;

    tpm.extend_pcr(7, 0x5a);
    let t = tpm_status(&mut vault).await;
    assert_eq!(t.changed_pcrs, [7], "{t:?}");
    let e = unlock(&mut vault, PIN).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_TPM", "{}", e.message());
    let m = e.message();
    assert!(m.contains("PCR 7 changed"), "{m}");
    assert!(m.contains("tessera backup restore"), "{m}");
    assert_eq!(vault_status(&mut vault).await.failed_attempts, 0);

    let tpm = tpm.reboot();
    d.write_config(&config("tpm", &tpm.tcti(), &[7]));
    d.restart();
    let mut vault = d.vault().await;
    assert!(tpm_status(&mut vault).await.changed_pcrs.is_empty());
    unlock(&mut vault, PIN).await.unwrap();
    assert_code_is_right(&d).await;
}

/// Under "tpm+pin" the PIN slot stays: a changed PCR or a cleared TPM (its
/// sealed object no longer loads) opens through it with a warning that
/// says what happened, and enrolling again seals to the TPM as it is now.
#[tokio::test]
async fn with_the_pin_slot_kept_a_changed_pcr_or_a_cleared_tpm_falls_back_with_a_warning() {
    let tpm = Swtpm::start();
    let d = Daemon::start(&config("tpm+pin", &tpm.tcti(), &[7]));
    activate_payload(&d, URI, PIN).await;
    assert_eq!(slot_kinds(&d), ["pin", "tpm"]);
    let mut vault = d.vault().await;
    lock(&mut vault).await;

    tpm.extend_pcr(7, 0x01);
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(s.tpm_warning.contains("PCR 7 changed"), "{s:?}");
    assert!(s.tpm_warning.contains("tessera tpm enroll"), "{s:?}");
    assert_code_is_right(&d).await;

    // Sealed again to the PCRs as they are now: no warning any more.
    let t = vault
        .enroll_tpm(pb::EnrollTpmRequest { pin: PIN.into() })
        .await
        .unwrap()
        .into_inner();
    assert!(t.enrolled && t.pin_slot && t.warning.is_empty(), "{t:?}");
    assert!(t.changed_pcrs.is_empty(), "{t:?}");
    lock(&mut vault).await;
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(s.tpm_warning.is_empty(), "{s:?}");

    // The TPM is cleared (new seeds): the sealed object cannot load.
    tpm.tool("tpm2_clear", &[]);
    lock(&mut vault).await;
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(
        s.tpm_warning.contains("cannot load the sealed key"),
        "{s:?}"
    );
    assert_code_is_right(&d).await;
    // A wrong PIN is still wrong through the PIN slot.
    lock(&mut vault).await;
    let e = unlock(&mut vault, "000000").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN", "{}", e.message());
}

#[tokio::test]
async fn enroll_and_remove_on_a_pin_vault_and_policy_keeps_the_slot() {
    let tpm = Swtpm::start();
    let mut d = Daemon::start(&config("pin", &tpm.tcti(), &[]));
    activate_payload(&d, URI, PIN).await;
    let mut vault = d.vault().await;
    let t = tpm_status(&mut vault).await;
    assert!(t.present && !t.enrolled && t.pin_slot, "{t:?}");
    assert_eq!(t.manufacturer, "IBM", "swtpm reports IBM: {t:?}");

    let e = vault
        .enroll_tpm(pb::EnrollTpmRequest {
            pin: "000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN", "{}", e.message());
    assert_eq!(slot_kinds(&d), ["pin"], "nothing sealed with a wrong PIN");

    let t = vault
        .enroll_tpm(pb::EnrollTpmRequest { pin: PIN.into() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        t.enrolled && t.pin_slot,
        "protection \"pin\" keeps the PIN slot: {t:?}"
    );
    assert_eq!(slot_kinds(&d), ["pin", "tpm"]);
    lock(&mut vault).await;
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(s.tpm_slot && s.tpm_warning.is_empty(), "{s:?}");
    // It was the TPM slot that opened it: with the TPM gone it warns.
    drop(tpm);
    lock(&mut vault).await;
    let s = unlock(&mut vault, PIN).await.unwrap();
    assert!(s.tpm_warning.contains("no TPM answers"), "{s:?}");

    let tpm = Swtpm::start();
    d.write_config(&config("pin", &tpm.tcti(), &[]));
    d.restart();
    let mut vault = d.vault().await;
    let t = vault
        .remove_tpm(pb::RemoveTpmRequest { pin: PIN.into() })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.enrolled && t.pin_slot, "{t:?}");
    assert_eq!(slot_kinds(&d), ["pin"]);
    assert!(
        vault_status(&mut vault).await.locked,
        "left locked as it was"
    );
    unlock(&mut vault, PIN).await.unwrap();
    let e = vault
        .remove_tpm(pb::RemoveTpmRequest { pin: PIN.into() })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_NOT_FOUND", "{}", e.message());

    // Policy "tpm": enrolling drops the PIN slot, and removal is refused.
    d.write_config(&config("tpm", &tpm.tcti(), &[]));
    d.restart();
    let mut vault = d.vault().await;
    let t = vault
        .enroll_tpm(pb::EnrollTpmRequest { pin: PIN.into() })
        .await
        .unwrap()
        .into_inner();
    assert!(t.enrolled && !t.pin_slot, "{t:?}");
    assert_eq!(slot_kinds(&d), ["tpm"]);
    let e = vault
        .remove_tpm(pb::RemoveTpmRequest { pin: PIN.into() })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_POLICY", "{}", e.message());
    unlock(&mut vault, PIN).await.unwrap();
    assert_code_is_right(&d).await;
}

#[tokio::test]
async fn no_tpm_or_an_owner_password_fails_the_activation_clearly_and_writes_nothing() {
    // No TPM: swtpm started and stopped, so nothing listens on its port.
    let gone = Swtpm::start().tcti();
    let d = Daemon::start(&config("tpm", &gone, &[]));
    let mut vault = d.vault().await;
    let t = tpm_status(&mut vault).await;
    assert!(t.built && !t.present, "{t:?}");
    assert!(t.unavailable_reason.contains("no TPM answers"), "{t:?}");
    let f = failure(&activation_end(&d, URI, PIN).await);
    assert_eq!(f.code, "ERROR_CODE_TPM", "{f:?}");
    assert!(f.message.contains("no TPM answers"), "{f:?}");
    assert!(!d.data_dir().join("vault").exists(), "no vault written");
    drop(d);

    let tpm = Swtpm::start();
    tpm.set_owner_password("owner-secret");
    let d = Daemon::start(&config("tpm", &tpm.tcti(), &[]));
    let mut vault = d.vault().await;
    assert!(tpm_status(&mut vault).await.owner_password);
    let f = failure(&activation_end(&d, URI, PIN).await);
    assert_eq!(f.code, "ERROR_CODE_TPM", "{f:?}");
    assert!(
        f.message.contains("owner hierarchy has a password"),
        "{f:?}"
    );
    assert!(!d.data_dir().join("vault").exists(), "no vault written");
    // The daemon is still there and says why.
    assert!(!vault_status(&mut vault).await.exists);
}

/// Changes one character of the TPM slot's sealed private part in the
/// vault file (still valid base64) and writes the file's checksum again, as
/// a tool that rewrote the file would.
fn damage_sealed_blob(d: &Daemon) -> Vec<u8> {
    let path = d.data_dir().join("vault");
    let mut bytes = std::fs::read(&path).unwrap();
    let key = b"\"private\":\"";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len() + 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let body_end = bytes.len() - 32;
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&bytes[..body_end]);
    bytes[body_end..].copy_from_slice(&sum);
    std::fs::write(&path, &bytes).unwrap();
    bytes
}

/// A sealed blob damaged in the vault file: the TPM refuses to load it,
/// which is said as such with the way back; nothing is written, the daemon
/// keeps answering. With the PIN slot beside it the PIN slot opens the key,
/// but the header is the accounts' associated data, so the file is
/// reported damaged with the newest automatic backup named (which opens).
#[tokio::test]
async fn a_damaged_sealed_blob_is_a_clear_error_and_the_file_is_left_as_it_is() {
    let tpm = Swtpm::start();
    for protection in ["tpm", "tpm+pin"] {
        let mut d = Daemon::start(&config(protection, &tpm.tcti(), &[]));
        activate_payload(&d, URI, PIN).await;
        d.stop();
        let damaged = damage_sealed_blob(&d);
        d.restart();
        let mut vault = d.vault().await;
        let e = unlock(&mut vault, PIN).await.unwrap_err();
        let m = e.message().to_owned();
        if protection == "tpm" {
            assert_eq!(error_code(&e), "ERROR_CODE_TPM", "{m}");
            assert!(m.contains("cannot load the sealed key"), "{m}");
            assert!(m.contains("tessera backup restore"), "{m}");
        } else {
            assert_eq!(error_code(&e), "ERROR_CODE_VAULT_UNUSABLE", "{m}");
            assert!(m.contains("backups"), "names the newest backup: {m}");
        }
        assert_eq!(
            vault_status(&mut vault).await.failed_attempts,
            0,
            "not a wrong PIN"
        );
        assert_eq!(std::fs::read(d.data_dir().join("vault")).unwrap(), damaged);
        assert!(
            tpm_status(&mut vault).await.present,
            "the daemon still answers"
        );
    }
}
