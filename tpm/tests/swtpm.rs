//! The sealed secret against a real software TPM (swtpm, one per test, on
//! loopback TCP), with tpm2-tools as an independent reader of what was
//! sealed.
#![cfg(feature = "tpm")]

use tessera_testkit::swtpm::Swtpm;
use tessera_tpm::{Pcrs, Secret, Tpm, TpmError};

fn secret(byte: u8) -> Secret {
    Secret::new([byte; 32])
}

fn pcrs(n: &[u32]) -> Pcrs {
    Pcrs::new(n).unwrap()
}

#[test]
fn sealed_secret_unseals_only_with_its_auth() {
    let sw = Swtpm::start();
    let tpm = Tpm::new(sw.tcti());
    let sealed = tpm.seal(&secret(7), &secret(1), &pcrs(&[])).unwrap();
    assert_eq!(*tpm.unseal(&sealed, &secret(1)).unwrap(), [7; 32]);

    let err = tpm.unseal(&sealed, &secret(2)).unwrap_err();
    assert_eq!(
        err,
        TpmError::WrongAuth {
            failed_tries: Some(1),
            max_tries: Some(3)
        },
        "a wrong authValue is counted by the TPM's lock-out"
    );
    assert_eq!(tpm.status().unwrap().failed_tries, 1);
    // The right one still works while tries remain.
    assert_eq!(*tpm.unseal(&sealed, &secret(1)).unwrap(), [7; 32]);
}

#[test]
fn a_pcr_extended_after_sealing_makes_unsealing_fail() {
    let sw = Swtpm::start();
    let tpm = Tpm::new(sw.tcti());
    let sealed = tpm.seal(&secret(9), &secret(1), &pcrs(&[7, 16])).unwrap();
    assert_eq!(sealed.pcr_values.len(), 2);
    // A PCR outside the selection changes nothing.
    sw.extend_pcr(8, 0xaa);
    assert_eq!(*tpm.unseal(&sealed, &secret(1)).unwrap(), [9; 32]);

    sw.extend_pcr(7, 0xbb);
    let err = tpm.unseal(&sealed, &secret(1)).unwrap_err();
    assert_eq!(err, TpmError::PcrChanged { pcrs: vec![7] });
    assert_eq!(tpm.changed_pcrs(&sealed).unwrap(), vec![7]);
    // A policy failure is not a wrong PIN: nothing was counted.
    assert_eq!(tpm.status().unwrap().failed_tries, 0);
}

#[test]
fn the_lockout_is_reported_as_such() {
    let sw = Swtpm::start();
    sw.set_lockout(2, 1000);
    let tpm = Tpm::new(sw.tcti());
    let sealed = tpm.seal(&secret(3), &secret(1), &pcrs(&[])).unwrap();
    for n in 1..=2 {
        assert_eq!(
            tpm.unseal(&sealed, &secret(0)).unwrap_err(),
            TpmError::WrongAuth {
                failed_tries: Some(n),
                max_tries: Some(2)
            }
        );
    }
    let status = tpm.status().unwrap();
    assert!(status.in_lockout, "{status:?}");
    // Even the right authValue is refused now.
    let err = tpm.unseal(&sealed, &secret(1)).unwrap_err();
    assert_eq!(
        err,
        TpmError::Lockout {
            recovery_seconds: Some(1000)
        }
    );
    assert!(err.to_string().contains("dictionary-attack lock-out"));
}

#[test]
fn the_secret_survives_a_reboot_and_no_other_tpm_opens_it() {
    let sw = Swtpm::start();
    let tpm = Tpm::new(sw.tcti());
    let sealed = tpm.seal(&secret(5), &secret(1), &pcrs(&[7])).unwrap();
    let sw = sw.reboot();
    let tpm = Tpm::new(sw.tcti());
    assert_eq!(*tpm.unseal(&sealed, &secret(1)).unwrap(), [5; 32]);

    // Another machine: another TPM's storage key does not load the blob.
    let other = Swtpm::start();
    let err = Tpm::new(other.tcti())
        .unseal(&sealed, &secret(1))
        .unwrap_err();
    assert!(matches!(err, TpmError::NotLoadable(_)), "{err:?}");
}

#[test]
fn a_damaged_blob_and_a_missing_tpm_are_clear_errors() {
    let sw = Swtpm::start();
    let tpm = Tpm::new(sw.tcti());
    let sealed = tpm.seal(&secret(5), &secret(1), &pcrs(&[])).unwrap();
    let mut damaged = sealed.clone();
    let mid = damaged.private.len() / 2;
    damaged.private[mid] ^= 1;
    let err = tpm.unseal(&damaged, &secret(1)).unwrap_err();
    assert!(matches!(err, TpmError::NotLoadable(_)), "{err:?}");
    let mut cut = sealed.clone();
    cut.public.truncate(10);
    let err = tpm.unseal(&cut, &secret(1)).unwrap_err();
    assert!(matches!(err, TpmError::NotLoadable(_)), "{err:?}");

    let tcti = sw.tcti();
    drop(sw);
    let err = Tpm::new(tcti.clone()).status().unwrap_err();
    assert!(
        matches!(&err, TpmError::Unavailable { tcti: t, .. } if *t == tcti),
        "{err:?}"
    );
    let err = Tpm::new("device:/nonexistent/tpmrm0").status().unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/tpmrm0 does not exist"),
        "{err}"
    );
}

#[test]
fn an_owner_password_is_named() {
    let sw = Swtpm::start();
    sw.set_owner_password("admin-secret");
    let tpm = Tpm::new(sw.tcti());
    assert!(tpm.status().unwrap().owner_password);
    let err = tpm.seal(&secret(1), &secret(1), &pcrs(&[])).unwrap_err();
    assert_eq!(err, TpmError::OwnerPassword);
    assert!(!err.to_string().contains("admin-secret"));
}

/// tpm2-tools reads the sealed object's public part back: its attributes
/// (no `userwithauth`, no `noda`) and its policy, which tpm2-tools computes
/// itself from PolicyPCR and PolicyAuthValue in a trial session.
#[test]
fn tpm2_tools_confirm_the_attributes_and_the_policy() {
    let sw = Swtpm::start();
    sw.extend_pcr(7, 0x42);
    let tpm = Tpm::new(sw.tcti());
    let sealed = tpm.seal(&secret(5), &secret(1), &pcrs(&[7])).unwrap();

    let public = sw.scratch("sealed.pub");
    let mut tpm2b = (sealed.public.len() as u16).to_be_bytes().to_vec();
    tpm2b.extend_from_slice(&sealed.public);
    std::fs::write(&public, tpm2b).unwrap();
    let printed = sw.tool(
        "tpm2_print",
        &["-t", "TPM2B_PUBLIC", public.to_str().unwrap()],
    );
    let printed = String::from_utf8_lossy(&printed.stdout).to_lowercase();
    let attributes = printed
        .lines()
        .find(|l| l.trim_start().starts_with("value:") && printed.contains("attributes"))
        .unwrap_or_default()
        .to_owned();
    assert!(printed.contains("fixedtpm"), "{printed}");
    assert!(printed.contains("fixedparent"), "{printed}");
    assert!(printed.contains("adminwithpolicy"), "{printed}");
    assert!(!printed.contains("userwithauth"), "{printed}");
    assert!(!printed.contains("noda"), "{printed}");
    assert!(printed.contains("keyedhash"), "{printed} {attributes}");

    let session = sw.scratch("trial.ctx");
    let pcr_policy = sw.scratch("pcr.policy");
    let policy = sw.scratch("full.policy");
    let s = session.to_str().unwrap();
    sw.tool("tpm2_startauthsession", &["-S", s]);
    sw.tool(
        "tpm2_policypcr",
        &[
            "-S",
            s,
            "-l",
            "sha256:7",
            "-L",
            pcr_policy.to_str().unwrap(),
        ],
    );
    sw.tool(
        "tpm2_policyauthvalue",
        &["-S", s, "-L", policy.to_str().unwrap()],
    );
    sw.tool("tpm2_flushcontext", &[s]);
    let expected = std::fs::read(&policy).unwrap();
    assert_eq!(
        expected, sealed.policy,
        "tpm2-tools computes the same policy"
    );
    let shown = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("authorization policy:"))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        shown,
        hex(&sealed.policy),
        "the object's authPolicy: {printed}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
