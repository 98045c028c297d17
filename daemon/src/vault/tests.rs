//! Vault tests: small Argon2 parameters keep them fast (one test uses the
//! defaults); a fake `now` drives the wrong-PIN delays.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_core::SecretBytes;
use tessera_core::otp::OtpParams;

use super::store::{Step, fail_next_save_at};
use super::*;
use crate::account::{Account, AccountId, AccountKind};

fn small() -> KdfParams {
    KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    }
}

fn pin(s: &str) -> SecretString {
    SecretString::from(s)
}

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn otp_account(label: &str, params: &str, counter: Option<u64>) -> Account {
    let mut p: OtpParams = params.parse().unwrap();
    if let Some(c) = counter {
        p = p.with_counter(c);
    }
    Account {
        id: AccountId::random(),
        label: label.into(),
        issuer: Some("Example \"Co\"\n".into()),
        kind: AccountKind::OtpAuth,
        secret: SecretBytes::from(&b"12345678901234567890"[..]),
        params: p,
        ocra_suite: String::new(),
        created_unix: 1_700_000_000,
        extra: vec![("period".into(), "30".into())],
        notifications: false,
        pin: None,
    }
}

fn tessera_account() -> Account {
    Account {
        id: AccountId::random(),
        label: "Bank ✓".into(),
        issuer: None,
        kind: AccountKind::Tessera {
            serial: "TSR0000001".parse().unwrap(),
            nonce: 7,
            user_id: Some("u-1".into()),
            issuer_verified: true,
        },
        secret: SecretBytes::from(&[0u8, 1, 2, 255, 254][..]),
        params: OtpParams::default(),
        ocra_suite: "OCRA-1:HOTP-SHA1-6:QN08".into(),
        created_unix: -5,
        extra: vec![],
        notifications: true,
        pin: None,
    }
}

fn sample() -> Vec<Account> {
    vec![
        otp_account("alice@example.com", "totp:SHA256:8:60", None),
        otp_account("counter", "hotp:SHA512:10", Some(42)),
        tessera_account(),
    ]
}

/// A temp folder with a vault created with PIN "1234"; the vault is dropped
/// (unlocked) so the folder is free.
fn with_pin_vault(accounts: Vec<Account>) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    v.create_with_pin(&pin("1234"), small(), accounts).unwrap();
    tmp
}

fn read(v: &Vault) -> Vec<u8> {
    fs::read(v.path()).unwrap()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---- create, reopen, unlock ----

#[test]
fn create_reopen_unlock_gives_the_same_accounts() {
    let accounts = sample();
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut v = Vault::open(tmp.path()).unwrap();
        assert!(!v.exists());
        assert_eq!(v.protection(), None);
        assert!(matches!(v.accounts(), Err(VaultError::NoVault)));
        v.create_with_pin(&pin("1234"), small(), accounts.clone())
            .unwrap();
        assert!(v.is_unlocked(), "a new vault is left unlocked");
        assert_eq!(v.accounts().unwrap(), &accounts[..]);
    }
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(v.exists());
    assert!(!v.is_unlocked());
    assert_eq!(v.protection(), Some(Protection::Pin));
    assert_eq!(v.slots(), [SlotKind::Pin]);
    assert!(matches!(v.accounts(), Err(VaultError::Locked)));
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
    assert_eq!(v.pin_status(t0()).failed_attempts, 0);

    v.lock();
    assert!(!v.is_unlocked());
    assert!(matches!(v.accounts(), Err(VaultError::Locked)));
    assert_eq!(
        VaultError::Locked.to_string(),
        "the vault is locked; unlock it with your PIN"
    );
}

/// The kinds only the peer apps' files carry: a Steam Guard account, and a
/// Mobile-OTP one whose PIN is part of its codes, survive a save and a
/// reopen with the same codes; the PIN is in the encrypted body, not the
/// file's clear text.
#[test]
fn steam_and_mobile_otp_accounts_keep_their_kind_and_pin() {
    let steam = otp_account("gamer", "steam:SHA1:5", None);
    let mut motp = otp_account("mobile", "motp:MD5:6:10", None);
    motp.pin = Some(pin("8642"));
    let tmp = with_pin_vault(vec![steam.clone(), motp.clone()]);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    let back = v.accounts().unwrap();
    assert_eq!(back, &[steam.clone(), motp.clone()][..]);
    assert_eq!(back[1].pin.as_ref().map(|p| p.expose()), Some("8642"));
    let t = 1_700_000_000;
    assert_eq!(back[0].code(t).as_str().len(), 5);
    assert_eq!(
        back[1].code(t).as_str(),
        tessera_core::otp::motp(b"12345678901234567890", "8642", t).as_str()
    );
    assert_ne!(
        back[1].code(t),
        otp_account("x", "motp:MD5:6:10", None).code(t)
    );
    let text = String::from_utf8_lossy(&read(&v)).into_owned();
    assert!(!text.contains("8642"), "the PIN is not in the clear");
}

#[test]
fn an_empty_vault_works() {
    let tmp = with_pin_vault(vec![]);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert!(v.accounts().unwrap().is_empty());
}

#[test]
fn creating_over_an_existing_vault_is_refused() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    let before = read(&v);
    let e = v
        .create_with_pin(&pin("9999"), small(), vec![])
        .unwrap_err();
    assert!(matches!(e, VaultError::AlreadyExists), "{e}");
    let e = v
        .create_with_slot_key(SlotKind::Keyring, &new_slot_key(), vec![])
        .unwrap_err();
    assert!(matches!(e, VaultError::AlreadyExists), "{e}");
    assert_eq!(read(&v), before);
}

#[test]
fn the_file_shows_its_header_and_no_secrets() {
    let tmp = with_pin_vault(sample());
    let bytes = fs::read(tmp.path().join(VAULT_FILE)).unwrap();
    assert!(bytes.starts_with(b"TESSERA-VAULT\n{\"format\":2,"));
    let header_end = bytes[14..].iter().position(|&b| b == b'\n').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes[14..14 + header_end]).unwrap();
    assert_eq!(header["cipher"], "xchacha20poly1305");
    assert_eq!(header["slots"][0]["kind"], "pin");
    assert_eq!(header["slots"][0]["kdf"]["algorithm"], "argon2id");
    assert_eq!(header["slots"][0]["kdf"]["memory_kib"], 64);
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("alice@example.com"), "labels are encrypted");
    assert!(
        !text.contains("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"),
        "secrets are encrypted"
    );
}

#[test]
fn default_argon2_parameters_work() {
    assert_eq!(
        KdfParams::default(),
        KdfParams {
            memory_kib: 65536,
            iterations: 3,
            parallelism: 1
        }
    );
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut v = Vault::open(tmp.path()).unwrap();
        v.create_with_pin(&pin("246810"), KdfParams::default(), sample())
            .unwrap();
    }
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("246810"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap().len(), 3);
}

#[test]
fn bad_kdf_parameters_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    let bad = KdfParams {
        memory_kib: 1,
        ..small()
    };
    let e = v.create_with_pin(&pin("1234"), bad, vec![]).unwrap_err();
    assert!(matches!(e, VaultError::InvalidKdf(_)), "{e}");
    assert!(!v.exists());
}

// ---- wrong PINs ----

#[test]
fn wrong_pins_are_counted_and_delayed_after_five() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    let mut now = t0();
    for n in 1..=4 {
        let e = v.unlock_with_pin(&pin("0000"), now).unwrap_err();
        match e {
            VaultError::WrongPin {
                failed_attempts,
                retry_after,
            } => {
                assert_eq!(failed_attempts, n);
                assert_eq!(retry_after, Duration::ZERO);
            }
            other => panic!("{other}"),
        }
        assert!(
            !e.to_string().contains("0000"),
            "the PIN is never in a message"
        );
        assert_eq!(v.pin_status(now).attempts_before_delay, 5 - n);
        now += secs(1);
    }
    // The fifth failure starts a 30 s delay.
    let e = v.unlock_with_pin(&pin("0000"), now).unwrap_err();
    assert!(
        matches!(e, VaultError::WrongPin { failed_attempts: 5, retry_after } if retry_after == secs(30)),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "wrong PIN (5 failed tries); try again in 30 s"
    );
    let failed_at = now;

    // During the delay even the right PIN is refused, and not counted.
    now = failed_at + secs(10);
    let e = v.unlock_with_pin(&pin("1234"), now).unwrap_err();
    assert!(
        matches!(e, VaultError::PinDelayed { retry_after } if retry_after == secs(20)),
        "{e}"
    );
    assert_eq!(e.to_string(), "too many wrong PINs; try again in 20 s");
    assert!(matches!(
        v.verify_pin(&pin("1234"), now),
        Err(VaultError::PinDelayed { .. })
    ));
    let status = v.pin_status(now);
    assert_eq!(status.failed_attempts, 5);
    assert_eq!(status.retry_after, secs(20));
    assert_eq!(status.attempts_before_delay, 0);
    assert!(!status.locked_out);

    // After it, a wrong PIN doubles the delay.
    now = failed_at + secs(30);
    let e = v.unlock_with_pin(&pin("0000"), now).unwrap_err();
    assert!(
        matches!(e, VaultError::WrongPin { failed_attempts: 6, retry_after } if retry_after == secs(60)),
        "{e}"
    );
    now += secs(59);
    assert!(matches!(
        v.unlock_with_pin(&pin("1234"), now),
        Err(VaultError::PinDelayed { .. })
    ));

    // The right PIN after the delay unlocks and resets the counter.
    now += secs(1);
    v.unlock_with_pin(&pin("1234"), now).unwrap();
    assert_eq!(v.pin_status(now).failed_attempts, 0);
    assert!(!tmp.path().join(PIN_ATTEMPTS_FILE).exists());
}

#[test]
fn the_counter_survives_a_restart() {
    let tmp = with_pin_vault(sample());
    {
        let mut v = Vault::open(tmp.path()).unwrap();
        for _ in 0..5 {
            let _ = v.unlock_with_pin(&pin("9999"), t0());
        }
        assert_eq!(v.pin_status(t0()).failed_attempts, 5);
    }
    let attempts = tmp.path().join(PIN_ATTEMPTS_FILE);
    assert_eq!(mode(&attempts), 0o600);
    let mut v = Vault::open(tmp.path()).unwrap();
    let status = v.pin_status(t0() + secs(5));
    assert_eq!(status.failed_attempts, 5);
    assert_eq!(status.retry_after, secs(25));
    assert!(matches!(
        v.unlock_with_pin(&pin("1234"), t0() + secs(5)),
        Err(VaultError::PinDelayed { .. })
    ));
    v.unlock_with_pin(&pin("1234"), t0() + secs(30)).unwrap();
    drop(v);
    let v = Vault::open(tmp.path()).unwrap();
    assert_eq!(v.pin_status(t0()).failed_attempts, 0);
}

#[test]
fn a_right_pin_resets_the_counter_before_any_delay() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    for _ in 0..3 {
        let _ = v.unlock_with_pin(&pin("1111"), t0());
    }
    v.verify_pin(&pin("1234"), t0()).unwrap();
    assert!(!v.is_unlocked(), "verify_pin does not unlock");
    assert_eq!(v.pin_status(t0()).failed_attempts, 0);
    // verify_pin counts like unlocking.
    let e = v.verify_pin(&pin("1111"), t0()).unwrap_err();
    assert!(
        matches!(
            e,
            VaultError::WrongPin {
                failed_attempts: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn policy_can_lock_out_the_pin() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    v.set_pin_delay_policy(PinDelayPolicy {
        free_attempts: 2,
        base_delay: secs(2000),
        lockout_after: Some(4),
    });
    let mut now = t0();
    let mut errors = vec![];
    for _ in 0..4 {
        errors.push(v.unlock_with_pin(&pin("0"), now).unwrap_err());
        now += secs(3600);
    }
    assert!(
        matches!(errors[1], VaultError::WrongPin { failed_attempts: 2, retry_after } if retry_after == secs(2000))
    );
    assert!(
        matches!(errors[2], VaultError::WrongPin { failed_attempts: 3, retry_after } if retry_after == secs(3600)),
        "capped at 1 h"
    );
    assert!(matches!(errors[3], VaultError::LockedOut));
    let e = v.unlock_with_pin(&pin("1234"), now).unwrap_err();
    assert!(matches!(e, VaultError::LockedOut), "{e}");
    assert!(
        e.to_string()
            .starts_with("too many wrong PINs; PIN unlocking is disabled by policy")
    );
    assert!(e.to_string().contains(PIN_ATTEMPTS_FILE));
    let status = v.pin_status(now);
    assert!(status.locked_out);
    assert_eq!(status.failed_attempts, 4);
}

#[test]
fn a_damaged_counter_file_costs_one_delay() {
    let tmp = with_pin_vault(sample());
    fs::write(tmp.path().join(PIN_ATTEMPTS_FILE), b"{not json").unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    let now = SystemTime::now();
    let status = v.pin_status(now);
    assert_eq!(status.failed_attempts, 5);
    assert!(status.retry_after > secs(25));
    v.unlock_with_pin(&pin("1234"), now + secs(31)).unwrap();
    assert_eq!(v.pin_status(now).failed_attempts, 0);
}

// ---- changing the PIN ----

#[test]
fn change_pin_replaces_the_pin() {
    let accounts = sample();
    let tmp = with_pin_vault(accounts.clone());
    {
        let mut v = Vault::open(tmp.path()).unwrap();
        // Locked: works and stays locked.
        let stronger = KdfParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        };
        v.change_pin(&pin("1234"), &pin("567890"), stronger, t0())
            .unwrap();
        assert!(!v.is_unlocked());
        // A wrong old PIN is counted and changes nothing.
        let before = read(&v);
        let e = v
            .change_pin(&pin("1234"), &pin("1"), small(), t0())
            .unwrap_err();
        assert!(
            matches!(
                e,
                VaultError::WrongPin {
                    failed_attempts: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(read(&v), before);
    }
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(matches!(
        v.unlock_with_pin(&pin("1234"), t0()),
        Err(VaultError::WrongPin { .. })
    ));
    v.unlock_with_pin(&pin("567890"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
    // Unlocked: works and stays unlocked.
    v.change_pin(&pin("567890"), &pin("4321"), small(), t0())
        .unwrap();
    assert!(v.is_unlocked());
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("4321"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
}

// ---- keyring and biometric slots ----

#[test]
fn the_vault_id_is_known_before_creation_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let id = {
        let mut v = Vault::open(tmp.path()).unwrap();
        assert_eq!(v.id(), None, "no vault, no id");
        let id = v.next_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        v.create_with_slot_key(SlotKind::Keyring, &new_slot_key(), vec![])
            .unwrap();
        assert_eq!(v.id().as_deref(), Some(id.as_str()));
        id
    };
    let v = Vault::open(tmp.path()).unwrap();
    assert_eq!(v.id(), Some(id), "the id is in the file's header");
    let tmp2 = tempfile::tempdir().unwrap();
    let other = Vault::open(tmp2.path()).unwrap();
    assert_ne!(other.next_id(), v.id().unwrap(), "ids are random");
}

#[test]
fn a_keyring_vault_opens_with_its_key_only() {
    let key = new_slot_key();
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut v = Vault::open(tmp.path()).unwrap();
        v.create_with_slot_key(SlotKind::Keyring, &key, sample())
            .unwrap();
        assert_eq!(v.protection(), Some(Protection::Keyring));
    }
    let mut v = Vault::open(tmp.path()).unwrap();
    assert_eq!(v.protection(), Some(Protection::Keyring));
    let e = v
        .unlock_with_slot_key(SlotKind::Keyring, &new_slot_key())
        .unwrap_err();
    assert!(matches!(e, VaultError::WrongKey(SlotKind::Keyring)), "{e}");
    assert_eq!(e.to_string(), "the keyring key does not open this vault");
    let e = v.unlock_with_slot_key(SlotKind::Keyring, &SecretBytes::from(&[7u8; 16][..]));
    assert!(matches!(e, Err(VaultError::InvalidSlot { .. })));
    let e = v.unlock_with_pin(&pin("1234"), t0()).unwrap_err();
    assert!(matches!(e, VaultError::SlotMissing(SlotKind::Pin)), "{e}");
    assert_eq!(
        v.pin_status(t0()).failed_attempts,
        0,
        "no PIN slot, nothing counted"
    );
    let e = v
        .unlock_with_slot_key(SlotKind::Biometric, &key)
        .unwrap_err();
    assert!(
        matches!(e, VaultError::SlotMissing(SlotKind::Biometric)),
        "{e}"
    );
    v.unlock_with_slot_key(SlotKind::Keyring, &key).unwrap();
    assert_eq!(v.accounts().unwrap().len(), 3);
}

#[test]
fn a_new_vault_cannot_be_biometric_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    let e = v
        .create_with_slot_key(SlotKind::Biometric, &new_slot_key(), vec![])
        .unwrap_err();
    assert!(matches!(e, VaultError::InvalidSlot { .. }), "{e}");
    assert!(!v.exists());
}

#[test]
fn biometric_slot_added_used_and_removed() {
    let accounts = sample();
    let tmp = with_pin_vault(accounts.clone());
    let bio = new_slot_key();
    {
        let mut v = Vault::open(tmp.path()).unwrap();
        assert!(matches!(
            v.add_slot(SlotKind::Biometric, &bio),
            Err(VaultError::Locked)
        ));
        v.unlock_with_pin(&pin("1234"), t0()).unwrap();
        assert!(matches!(
            v.add_slot(SlotKind::Pin, &bio),
            Err(VaultError::InvalidSlot { .. })
        ));
        v.add_slot(SlotKind::Biometric, &bio).unwrap();
        assert_eq!(v.slots(), [SlotKind::Pin, SlotKind::Biometric]);
        assert_eq!(v.protection(), Some(Protection::Pin));
    }
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_slot_key(SlotKind::Biometric, &bio).unwrap();
    assert_eq!(v.accounts().unwrap(), &accounts[..]);

    // Re-enrolling replaces the key.
    let bio2 = new_slot_key();
    v.add_slot(SlotKind::Biometric, &bio2).unwrap();
    v.lock();
    assert!(matches!(
        v.unlock_with_slot_key(SlotKind::Biometric, &bio),
        Err(VaultError::WrongKey(_))
    ));
    v.unlock_with_slot_key(SlotKind::Biometric, &bio2).unwrap();

    // The PIN slot cannot go while it is the only PIN/keyring slot.
    let e = v.remove_slot(SlotKind::Pin).unwrap_err();
    assert!(matches!(e, VaultError::LastSlot(SlotKind::Pin)), "{e}");
    v.remove_slot(SlotKind::Biometric).unwrap();
    assert_eq!(v.slots(), [SlotKind::Pin]);
    assert!(matches!(
        v.remove_slot(SlotKind::Biometric),
        Err(VaultError::SlotMissing(SlotKind::Biometric))
    ));
    v.lock();
    assert!(matches!(
        v.unlock_with_slot_key(SlotKind::Biometric, &bio2),
        Err(VaultError::SlotMissing(_))
    ));
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
}

#[test]
fn turning_protection_on_and_off() {
    let keyring = new_slot_key();
    let tmp = tempfile::tempdir().unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    v.create_with_slot_key(SlotKind::Keyring, &keyring, sample())
        .unwrap();
    // On: set a PIN, drop the keyring slot.
    v.set_pin(&pin("1234"), small()).unwrap();
    assert_eq!(
        v.protection(),
        Some(Protection::Keyring),
        "the weakest slot decides"
    );
    v.remove_slot(SlotKind::Keyring).unwrap();
    assert_eq!(v.protection(), Some(Protection::Pin));
    let e = v.set_pin(&pin("5555"), small()).unwrap_err();
    assert!(
        matches!(
            e,
            VaultError::InvalidSlot {
                kind: SlotKind::Pin,
                ..
            }
        ),
        "{e}"
    );
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(matches!(
        v.unlock_with_slot_key(SlotKind::Keyring, &keyring),
        Err(VaultError::SlotMissing(_))
    ));
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    // Off again: add a keyring slot, drop the PIN slot.
    let keyring2 = new_slot_key();
    v.add_slot(SlotKind::Keyring, &keyring2).unwrap();
    v.remove_slot(SlotKind::Pin).unwrap();
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    assert_eq!(v.slots(), [SlotKind::Keyring]);
    v.unlock_with_slot_key(SlotKind::Keyring, &keyring2)
        .unwrap();
}

// ---- damaged and foreign files ----

/// Flips one byte of the vault file and recomputes nothing.
fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

/// Recomputes the trailing checksum after a deliberate change, as an
/// attacker would.
fn fix_checksum(path: &Path) {
    use sha2::{Digest, Sha256};
    let mut bytes = fs::read(path).unwrap();
    let n = bytes.len() - 32;
    let sum = Sha256::digest(&bytes[..n]);
    bytes[n..].copy_from_slice(&sum);
    fs::write(path, bytes).unwrap();
}

fn header_end(bytes: &[u8]) -> usize {
    14 + bytes[14..].iter().position(|&b| b == b'\n').unwrap()
}

fn assert_open_fails_untouched(dir: &Path, want: &str) -> VaultError {
    let path = dir.join(VAULT_FILE);
    let before = fs::read(&path).unwrap();
    let e = Vault::open(dir).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "names the file: {msg}"
    );
    assert!(msg.contains(want), "{msg}");
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "the file was left as it was"
    );
    e
}

#[test]
fn a_changed_header_byte_is_detected() {
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    // Inside the vault id's hex digits.
    let at = bytes
        .windows(11)
        .position(|w| w == b"\"vault_id\":")
        .unwrap()
        + 12;
    flip(&path, at);
    let e = assert_open_fails_untouched(tmp.path(), "is damaged: its checksum does not match");
    assert!(matches!(e, VaultError::Corrupt { .. }));
}

#[test]
fn a_changed_body_byte_is_detected() {
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    flip(&path, header_end(&bytes) + 10);
    let e = assert_open_fails_untouched(tmp.path(), "checksum does not match");
    assert!(matches!(e, VaultError::Corrupt { .. }));
}

#[test]
fn deliberate_changes_with_a_fixed_checksum_still_fail_to_open() {
    // Body: the PIN opens the slot, the AEAD refuses the contents.
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    flip(&path, header_end(&bytes) + 10);
    fix_checksum(&path);
    let before = fs::read(&path).unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    let e = v.unlock_with_pin(&pin("1234"), t0()).unwrap_err();
    assert!(matches!(e, VaultError::BodyDamaged { .. }), "{e}");
    assert!(e.to_string().contains("fail authentication"), "{e}");
    assert!(!v.is_unlocked());
    assert_eq!(v.pin_status(t0()).failed_attempts, 0, "the PIN was right");
    assert_eq!(fs::read(&path).unwrap(), before);
    drop(v);

    // Header outside the slot (the body nonce): the header is the body's
    // associated data.
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"\"body_nonce\":")
        .unwrap()
        + 15;
    let mut changed = bytes.clone();
    changed[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    fs::write(&path, &changed).unwrap();
    fix_checksum(&path);
    let mut v = Vault::open(tmp.path()).unwrap();
    let e = v.unlock_with_pin(&pin("1234"), t0()).unwrap_err();
    assert!(matches!(e, VaultError::BodyDamaged { .. }), "{e}");

    // A slot's salt: the PIN no longer opens it.
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    let at = bytes.windows(7).position(|w| w == b"\"salt\":").unwrap() + 8;
    let mut changed = bytes.clone();
    changed[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    fs::write(&path, &changed).unwrap();
    fix_checksum(&path);
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(matches!(
        v.unlock_with_pin(&pin("1234"), t0()),
        Err(VaultError::WrongPin { .. })
    ));
}

#[test]
fn a_changed_keyring_slot_gives_wrong_key() {
    let key = new_slot_key();
    let tmp = tempfile::tempdir().unwrap();
    Vault::open(tmp.path())
        .unwrap()
        .create_with_slot_key(SlotKind::Keyring, &key, sample())
        .unwrap();
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"\"wrapped_key\":")
        .unwrap()
        + 16;
    let mut changed = bytes.clone();
    changed[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    fs::write(&path, &changed).unwrap();
    fix_checksum(&path);
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(matches!(
        v.unlock_with_slot_key(SlotKind::Keyring, &key),
        Err(VaultError::WrongKey(SlotKind::Keyring))
    ));
}

#[test]
fn cut_short_files_are_reported_as_damaged() {
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let whole = fs::read(&path).unwrap();
    let end = header_end(&whole);
    let cases = [
        (0, "the file is empty"),
        (5, "cut short (5 bytes, inside the signature)"),
        (40, "header line ends early: the file was cut short"),
        (end + 1, "cut short: its"),
        (end + 60, "checksum does not match"),
        (whole.len() - 1, "checksum does not match"),
    ];
    for (len, want) in cases {
        fs::write(&path, &whole[..len]).unwrap();
        let e = assert_open_fails_untouched(tmp.path(), want);
        assert!(matches!(e, VaultError::Corrupt { .. }), "{len}: {e}");
    }
}

#[test]
fn a_file_that_is_not_a_vault_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(VAULT_FILE);
    fs::write(&path, b"my shopping list\n").unwrap();
    let e = assert_open_fails_untouched(tmp.path(), "is not a Tessera vault");
    assert!(matches!(e, VaultError::NotAVault { .. }));
}

#[test]
fn a_bad_header_is_reported() {
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let bytes = fs::read(&path).unwrap();
    let end = header_end(&bytes);
    let header = String::from_utf8(bytes[14..end].to_vec()).unwrap();
    let replace = |from: &str, to: &str| {
        let mut out = b"TESSERA-VAULT\n".to_vec();
        out.extend_from_slice(header.replacen(from, to, 1).as_bytes());
        out.extend_from_slice(&bytes[end..]);
        fs::write(&path, out).unwrap();
        fix_checksum(&path);
    };
    replace("\"pin\"", "\"retina\"");
    assert_open_fails_untouched(tmp.path(), "slot 0 has an unknown kind \"retina\"");
    replace("\"memory_kib\":64", "\"memory_kib\":4294967295");
    assert_open_fails_untouched(tmp.path(), "Argon2 parameters are out of range");
    replace("\"cipher\":", "\"cypher\":");
    assert_open_fails_untouched(
        tmp.path(),
        "its header is not valid: missing field `cipher`",
    );
    replace("\"format\":2", "\"format\":3");
    let e =
        assert_open_fails_untouched(tmp.path(), "was written by a newer Tessera (vault format 3");
    assert!(matches!(
        e,
        VaultError::NewerVersion {
            found: 3,
            supported: 2,
            ..
        }
    ));
}

/// A version 1 vault (PIN "1234", the three accounts of [`sample`]),
/// written by Tessera before the TPM slot: `Vault::create_with_pin` at
/// commit 564cfd5 (testdata/README.md says how).
const FORMAT_1_VAULT: &[u8] = include_bytes!("testdata/vault-format-1");

#[test]
fn a_version_1_vault_opens_and_is_written_as_version_2_at_its_next_save() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(VAULT_FILE);
    fs::write(&path, FORMAT_1_VAULT).unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(matches!(
        v.unlock_with_pin(&pin("0000"), t0()),
        Err(VaultError::WrongPin { .. })
    ));
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    let labels = |v: &Vault| -> Vec<String> {
        v.accounts()
            .unwrap()
            .iter()
            .map(|a| a.label.clone())
            .collect()
    };
    assert_eq!(labels(&v), ["alice@example.com", "counter", "Bank ✓"]);
    let want: Vec<_> = sample().into_iter().map(|a| (a.secret, a.params)).collect();
    let got: Vec<_> = v
        .accounts()
        .unwrap()
        .iter()
        .map(|a| (a.secret.clone(), a.params))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        fs::read(&path).unwrap(),
        FORMAT_1_VAULT,
        "reading writes nothing"
    );

    v.update(|accounts| {
        accounts[0].label = "renamed".into();
        Ok(())
    })
    .unwrap();
    assert!(
        fs::read(&path)
            .unwrap()
            .starts_with(b"TESSERA-VAULT\n{\"format\":2,")
    );
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(labels(&v), ["renamed", "counter", "Bank ✓"]);
}

#[test]
fn a_tpm_slot_in_a_version_1_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(VAULT_FILE);
    let at = FORMAT_1_VAULT
        .windows(12)
        .position(|w| w == b"\"kind\":\"pin\"")
        .unwrap();
    let mut bytes = FORMAT_1_VAULT.to_vec();
    bytes[at + 8..at + 11].copy_from_slice(b"tpm");
    fs::write(&path, bytes).unwrap();
    fix_checksum(&path);
    assert_open_fails_untouched(tmp.path(), "a TPM slot needs vault format 2");
}

#[test]
fn stale_temp_files_are_cleaned_up() {
    let tmp = with_pin_vault(sample());
    fs::write(tmp.path().join("vault.tmp"), b"half a vault").unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(!tmp.path().join("vault.tmp").exists());
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
}

// ---- one daemon per vault, modes ----

#[test]
fn a_second_open_of_the_same_folder_is_busy() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Vault::open(tmp.path()).unwrap();
    let e = Vault::open(tmp.path()).unwrap_err();
    assert!(
        matches!(e, VaultError::Busy { pid: Some(p), .. } if p == std::process::id()),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "another tesserad is already using {} (pid {})",
            tmp.path().display(),
            std::process::id()
        )
    );
    drop(first);
    Vault::open(tmp.path()).unwrap();
}

#[test]
fn files_are_0600_and_the_folder_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data/tessera");
    let mut v = Vault::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    v.create_with_pin(&pin("1234"), small(), sample()).unwrap();
    let _ = v.verify_pin(&pin("0"), t0());
    for name in [VAULT_FILE, LOCK_FILE, PIN_ATTEMPTS_FILE] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    drop(v);

    // Looser modes found on disk are tightened.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.join(VAULT_FILE), fs::Permissions::from_mode(0o644)).unwrap();
    let _v = Vault::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(VAULT_FILE)), 0o600);
}

#[test]
fn a_file_where_the_folder_should_be_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let not_dir = tmp.path().join("tessera");
    fs::write(&not_dir, b"x").unwrap();
    let e = Vault::open(&not_dir).unwrap_err();
    assert!(matches!(e, VaultError::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("is not a folder"));
}

// ---- update ----

#[test]
fn update_saves_and_returns_the_result() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    assert!(matches!(v.update(|_| Ok(())), Err(VaultError::Locked)));
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    let added = otp_account("new", "totp:SHA1:6:30", None);
    let id = v
        .update(|accounts| {
            accounts.push(added.clone());
            accounts[1].params = accounts[1].params.with_counter(43);
            Ok(added.id.clone())
        })
        .unwrap();
    assert_eq!(id, added.id);
    let expected = v.accounts().unwrap().to_vec();
    assert_eq!(expected.len(), 4);
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap(), &expected[..]);
    assert_eq!(
        v.accounts().unwrap()[1].params.kind(),
        tessera_core::otp::OtpKind::Hotp { counter: 43 }
    );
}

#[test]
fn a_failed_update_changes_nothing() {
    let accounts = sample();
    let tmp = with_pin_vault(accounts.clone());
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    let on_disk = read(&v);

    // The closure fails.
    let e = v
        .update(|a| {
            a.clear();
            Err::<(), _>(VaultError::InvalidAccounts("no".into()))
        })
        .unwrap_err();
    assert!(matches!(e, VaultError::InvalidAccounts(_)));
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
    assert_eq!(read(&v), on_disk);

    // The result cannot be stored: duplicate or malformed ids.
    let e = v
        .update(|a| {
            let copy = a[0].clone();
            a.push(copy);
            Ok(())
        })
        .unwrap_err();
    assert!(e.to_string().contains("two accounts have the id"), "{e}");
    let e = v
        .update(|a| {
            a[0].id = AccountId::from_stored("Not-An-Id".into());
            Ok(())
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("is not 32 lower-case hex digits"),
        "{e}"
    );
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
    assert_eq!(read(&v), on_disk);

    // The save fails at each step before the rename.
    for step in [Step::Write, Step::Sync, Step::Rename] {
        fail_next_save_at(Some(step));
        let e = v
            .update(|a| {
                a.remove(0);
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(e, VaultError::Io { .. }), "{step:?}: {e}");
        assert!(e.to_string().contains("injected failure"), "{e}");
        assert_eq!(v.accounts().unwrap(), &accounts[..], "{step:?}");
        assert_eq!(read(&v), on_disk, "{step:?}");
        assert!(
            !tmp.path().join("vault.tmp").exists(),
            "{step:?}: temp file removed"
        );
    }
    // Other operations that save fail the same way.
    fail_next_save_at(Some(Step::Rename));
    assert!(v.add_slot(SlotKind::Biometric, &new_slot_key()).is_err());
    assert_eq!(v.slots(), [SlotKind::Pin]);
    // (The wrong-PIN counter is written first and its failure does not stop
    // a PIN check: make it fail on its own so the vault's write is the one
    // that meets the injected failure.)
    let blocker = tmp.path().join("pin-attempts.tmp");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("x"), b"x").unwrap();
    fail_next_save_at(Some(Step::Write));
    assert!(
        v.change_pin(&pin("1234"), &pin("5678"), small(), t0())
            .is_err()
    );
    fail_next_save_at(None);
    std::fs::remove_dir_all(&blocker).unwrap();
    assert_eq!(read(&v), on_disk);
    drop(v);

    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap(), &accounts[..]);
}

#[test]
fn a_failed_folder_sync_after_the_rename_still_saves() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    fail_next_save_at(Some(Step::SyncDir));
    v.update(|a| {
        a.truncate(1);
        Ok(())
    })
    .unwrap();
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap().len(), 1);
}

#[test]
fn ten_thousand_accounts_save_in_one_pass() {
    let tmp = with_pin_vault(vec![]);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    v.update(|a| {
        a.extend((0..10_000).map(|i| otp_account(&format!("user{i}"), "totp:SHA1:6:30", None)));
        Ok(())
    })
    .unwrap();
    let len = fs::metadata(v.path()).unwrap().len();
    assert!(len < 8 << 20, "{len} bytes");
    drop(v);
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(v.accounts().unwrap().len(), 10_000);
}

// ---- secrets stay secret ----

#[test]
fn debug_output_holds_no_secrets() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    v.unlock_with_pin(&pin("1234"), t0()).unwrap();
    let shown = format!("{v:?} {v:#?}");
    let master = &v.unlocked.as_ref().unwrap().master;
    assert!(!shown.contains(&hex::encode(&master[..])));
    assert!(!shown.contains(&format!("{:?}", &master[..])));
    assert!(
        !shown.contains(
            &format!("{:?}", &master[..4])
                .trim_end_matches(']')
                .to_owned()
        )
    );
    assert!(
        !shown.contains("alice@example.com"),
        "no account data either: {shown}"
    );
    assert!(shown.contains("unlocked: true"), "{shown}");

    let p = pin("1234");
    assert_eq!(format!("{p:?}"), "SecretString(<redacted>)");
}

/// A wrong-PIN counter that cannot be written (docs/security.md): the check
/// goes on, the count is kept in memory with its delays, the failure is
/// reported, and the right PIN still unlocks.
#[test]
fn a_pin_counter_that_cannot_be_written_is_kept_in_memory() {
    let tmp = with_pin_vault(sample());
    let mut v = Vault::open(tmp.path()).unwrap();
    v.set_pin_delay_policy(PinDelayPolicy {
        free_attempts: 1,
        base_delay: Duration::from_secs(30),
        lockout_after: None,
    });
    // A folder with something in it where the counter file would be
    // renamed to: the write fails for real.
    let counter = tmp.path().join(PIN_ATTEMPTS_FILE);
    std::fs::create_dir(&counter).unwrap();
    std::fs::write(counter.join("x"), b"x").unwrap();

    assert!(matches!(
        v.unlock_with_pin(&pin("9999"), t0()),
        Err(VaultError::WrongPin {
            failed_attempts: 1,
            ..
        })
    ));
    let status = v.pin_status(t0());
    assert_eq!(status.failed_attempts, 1);
    assert!(
        status
            .counter_warning
            .as_deref()
            .is_some_and(|w| w.contains("could not be saved")),
        "{status:?}"
    );
    // The delay applies from memory, even to the right PIN.
    assert!(matches!(
        v.unlock_with_pin(&pin("1234"), t0() + Duration::from_secs(1)),
        Err(VaultError::PinDelayed { .. })
    ));
    // After it, the right PIN unlocks; the count is reset in memory.
    v.unlock_with_pin(&pin("1234"), t0() + Duration::from_secs(31))
        .unwrap();
    assert!(v.is_unlocked());
    let status = v.pin_status(t0() + Duration::from_secs(31));
    assert_eq!(status.failed_attempts, 0);
    assert!(status.counter_warning.is_some(), "still reported");
}

#[test]
fn a_header_asking_for_more_argon2_memory_than_allowed_is_damaged_not_a_wrong_pin() {
    // 2 GiB: within the old 4 GiB bound, beyond the settings' 1 GiB. An
    // attacker who rewrites the header (and its checksum) must not make each
    // PIN try cost 2 GiB, nor pass the change off as a wrong PIN.
    let tmp = with_pin_vault(sample());
    let path = tmp.path().join(VAULT_FILE);
    let text = fs::read(&path).unwrap();
    let from = b"\"memory_kib\":64";
    let at = text
        .windows(from.len())
        .position(|w| w == from)
        .expect("the header names the slot's memory");
    let mut changed = text[..at].to_vec();
    changed.extend_from_slice(b"\"memory_kib\":2097152");
    changed.extend_from_slice(&text[at + from.len()..]);
    fs::write(&path, &changed).unwrap();
    fix_checksum(&path);
    let e = assert_open_fails_untouched(tmp.path(), "damaged or tampered with");
    assert!(matches!(e, VaultError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("Argon2"), "{e}");
}

// ---- backups made by export_copy ----

#[test]
fn a_password_backup_shares_no_key_with_the_vault_and_a_pin_one_does() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = Vault::open(tmp.path()).unwrap();
    v.create_with_pin(
        &pin("1234"),
        small(),
        vec![otp_account("mail", "totp:SHA1:6:30", None)],
    )
    .unwrap();
    let name = Path::new("copy");
    let password = pin("correct horse battery");
    let vault_id = v.id().unwrap();

    let alone = v.export_copy(Some(&password), small(), false).unwrap();
    let header = VaultFile::parse(name, alone.clone()).unwrap().header;
    assert_eq!(header.kinds(), [SlotKind::Password]);
    assert_ne!(
        hex::encode(header.vault_id),
        vault_id,
        "a vault id of its own"
    );
    let opened = read_copy(name, alone.clone(), &password).unwrap();
    assert_eq!(opened.accounts, v.accounts().unwrap());
    assert!(matches!(
        read_copy(name, alone, &pin("1234")),
        Err(VaultError::CopyWrongPin { .. })
    ));

    let with_pin = v.export_copy(Some(&password), small(), true).unwrap();
    let header = VaultFile::parse(name, with_pin.clone()).unwrap().header;
    assert_eq!(header.kinds(), [SlotKind::Pin, SlotKind::Password]);
    assert_eq!(hex::encode(header.vault_id), vault_id);
    assert!(read_copy(name, with_pin.clone(), &pin("1234")).is_ok());

    // Installed on a fresh machine, the password slot is left out.
    let fresh = tempfile::tempdir().unwrap();
    let mut f = Vault::open(fresh.path()).unwrap();
    f.install_copy(name, read_copy(name, with_pin, &password).unwrap())
        .unwrap();
    assert_eq!(f.slots(), [SlotKind::Pin]);
    f.unlock_with_pin(&pin("1234"), t0()).unwrap();
    assert_eq!(f.accounts().unwrap(), v.accounts().unwrap());

    // Neither a password nor the PIN: refused.
    assert!(v.export_copy(None, small(), false).is_err());
}
