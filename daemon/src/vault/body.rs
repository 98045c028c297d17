//! The encrypted body: the accounts as JSON, `{"accounts":[...]}`.
//!
//! One account:
//!
//! ```json
//! {"id":"<32 hex>","label":"alice","issuer":"Bank","kind":{"type":"tessera","serial":"TSR0000001",
//!  "nonce":7,"user_id":"u1","issuer_verified":true},"secret":"<base64>","otp":"totp:SHA1:6:30",
//!  "ocra_suite":"OCRA-1:HOTP-SHA1-6:QN08","created_unix":1700000000,"extra":[["k","v"]]}
//! ```
//!
//! `kind` is `{"type":"otpauth"}` for plain otpauth accounts; an HOTP account
//! adds `"counter":N` (the next counter); an account that allows approvals
//! through notifications adds `"notifications":true` (absent means false,
//! as in vaults written before approvals existed). This JSON only ever exists in
//! zeroizing buffers: serialization writes into one that wipes each buffer it
//! outgrows, and secrets are decoded straight into `SecretBytes`.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tessera_core::SecretBytes;
use tessera_core::otp::{OtpKind, OtpParams};
use zeroize::Zeroizing;

use super::VaultError;
use crate::account::{Account, AccountId, AccountKind};

#[derive(Serialize)]
struct BodyOut<'a> {
    accounts: Vec<AccountOut<'a>>,
}

#[derive(Serialize)]
struct AccountOut<'a> {
    id: &'a str,
    label: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
    kind: KindRecord,
    #[serde(serialize_with = "serialize_secret")]
    secret: &'a SecretBytes,
    otp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    counter: Option<u64>,
    ocra_suite: &'a str,
    created_unix: i64,
    extra: &'a [(String, String)],
    /// Written only when set, so bodies without approvals stay as before.
    #[serde(skip_serializing_if = "is_false")]
    notifications: bool,
    /// A Mobile-OTP account's PIN; absent for every other kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pin: Option<&'a str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Deserialize)]
struct BodyIn {
    accounts: Vec<AccountIn>,
}

#[derive(Deserialize)]
struct AccountIn {
    id: String,
    label: String,
    #[serde(default)]
    issuer: Option<String>,
    kind: KindRecord,
    #[serde(deserialize_with = "deserialize_secret")]
    secret: SecretBytes,
    otp: String,
    #[serde(default)]
    counter: Option<u64>,
    ocra_suite: String,
    created_unix: i64,
    #[serde(default)]
    extra: Vec<(String, String)>,
    /// Absent in vaults written before approvals existed.
    #[serde(default)]
    notifications: bool,
    /// Moved into a `SecretString` (wiped on drop) straight away.
    #[serde(default)]
    pin: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum KindRecord {
    Tessera {
        serial: String,
        nonce: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        issuer_verified: bool,
    },
    Otpauth,
}

/// The accounts as the body's plaintext JSON, in a zeroizing buffer.
pub(crate) fn encode(accounts: &[Account]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    check(accounts)?;
    let body = BodyOut {
        accounts: accounts.iter().map(AccountOut::from).collect(),
    };
    let mut out = ZeroizingWriter(Zeroizing::new(Vec::with_capacity(
        64 + 400 * accounts.len(),
    )));
    serde_json::to_writer(&mut out, &body)
        .map_err(|e| VaultError::InvalidAccounts(format!("cannot encode them: {e}")))?;
    Ok(out.0)
}

/// The accounts from the body's plaintext. Errors name the account by its
/// position and never quote its contents.
pub(crate) fn decode(path: &Path, plain: &[u8]) -> Result<Vec<Account>, VaultError> {
    let corrupt = |reason: String| VaultError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let body: BodyIn = serde_json::from_slice(plain).map_err(|e| {
        corrupt(format!(
            "its accounts are not valid ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    let accounts = body
        .accounts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            a.into_account()
                .map_err(|r| corrupt(format!("account {}: {r}", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check(&accounts).map_err(|e| match e {
        VaultError::InvalidAccounts(r) => corrupt(r),
        other => other,
    })?;
    Ok(accounts)
}

/// Ids are 32 lower-case hex digits and unique.
fn check(accounts: &[Account]) -> Result<(), VaultError> {
    let mut seen = HashSet::with_capacity(accounts.len());
    for a in accounts {
        let id = a.id.as_str();
        if !valid_id(id) {
            return Err(VaultError::InvalidAccounts(format!(
                "account id {id:?} is not 32 lower-case hex digits"
            )));
        }
        if !seen.insert(id) {
            return Err(VaultError::InvalidAccounts(format!(
                "two accounts have the id {id}"
            )));
        }
    }
    Ok(())
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl<'a> From<&'a Account> for AccountOut<'a> {
    fn from(a: &'a Account) -> Self {
        let kind = match &a.kind {
            AccountKind::Tessera {
                serial,
                nonce,
                user_id,
                issuer_verified,
            } => KindRecord::Tessera {
                serial: serial.to_string(),
                nonce: *nonce,
                user_id: user_id.clone(),
                issuer_verified: *issuer_verified,
            },
            AccountKind::OtpAuth => KindRecord::Otpauth,
        };
        let counter = match a.params.kind() {
            OtpKind::Hotp { counter } => Some(counter),
            OtpKind::Totp { .. } => None,
        };
        Self {
            id: a.id.as_str(),
            label: &a.label,
            issuer: a.issuer.as_deref(),
            kind,
            secret: &a.secret,
            otp: a.params.to_string(),
            counter,
            ocra_suite: &a.ocra_suite,
            created_unix: a.created_unix,
            extra: &a.extra,
            notifications: a.notifications,
            pin: a.pin.as_ref().map(|p| p.expose()),
        }
    }
}

impl AccountIn {
    fn into_account(self) -> Result<Account, String> {
        let params: OtpParams = self.otp.parse().map_err(|e| format!("{e}"))?;
        let params = match (params.kind(), self.counter) {
            (OtpKind::Hotp { .. }, Some(c)) => params.with_counter(c),
            (OtpKind::Hotp { .. }, None) => return Err("an HOTP account has no counter".into()),
            (OtpKind::Totp { .. }, None) => params,
            (OtpKind::Totp { .. }, Some(_)) => return Err("a TOTP account has a counter".into()),
        };
        let kind = match self.kind {
            KindRecord::Tessera {
                serial,
                nonce,
                user_id,
                issuer_verified,
            } => AccountKind::Tessera {
                serial: serial.parse().map_err(|e| format!("bad serial: {e}"))?,
                nonce,
                user_id,
                issuer_verified,
            },
            KindRecord::Otpauth => AccountKind::OtpAuth,
        };
        Ok(Account {
            id: AccountId::from_stored(self.id),
            label: self.label,
            issuer: self.issuer,
            kind,
            secret: self.secret,
            params,
            ocra_suite: self.ocra_suite,
            created_unix: self.created_unix,
            extra: self.extra,
            notifications: self.notifications,
            pin: self.pin.map(tessera_core::SecretString::from),
        })
    }
}

fn serialize_secret<S: Serializer>(secret: &&SecretBytes, s: S) -> Result<S::Ok, S::Error> {
    let text = Zeroizing::new(B64.encode(secret.expose()));
    s.serialize_str(&text)
}

fn deserialize_secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretBytes, D::Error> {
    struct SecretVisitor;
    impl Visitor<'_> for SecretVisitor {
        type Value = SecretBytes;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a base64 secret")
        }
        // serde_json hands base64 (which needs no escapes) over borrowed from
        // the zeroizing plaintext, so it is decoded without another copy.
        fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretBytes, E> {
            B64.decode(v)
                .map(SecretBytes::new)
                .map_err(|_| E::custom("the secret is not valid base64"))
        }
    }
    d.deserialize_str(SecretVisitor)
}

/// An `io::Write` into a zeroizing buffer that wipes every buffer it
/// outgrows, so no plaintext is left in freed memory.
struct ZeroizingWriter(Zeroizing<Vec<u8>>);

impl io::Write for ZeroizingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let needed = self.0.len() + data.len();
        if needed > self.0.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.0.capacity())));
            bigger.extend_from_slice(&self.0);
            // The old buffer is zeroized as it drops.
            self.0 = bigger;
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn the_writer_keeps_everything_across_growth() {
        let mut w = ZeroizingWriter(Zeroizing::new(Vec::with_capacity(1)));
        for i in 0..1000u32 {
            w.write_all(&i.to_le_bytes()).unwrap();
        }
        assert_eq!(w.0.len(), 4000);
        assert_eq!(&w.0[4..8], &1u32.to_le_bytes());
    }

    #[test]
    fn notifications_default_to_off_and_round_trip() {
        let old = br#"{"accounts":[{"id":"0123456789abcdef0123456789abcdef","label":"a","kind":{"type":"otpauth"},
            "secret":"MTIz","otp":"totp:SHA1:6:30","ocra_suite":"","created_unix":0}]}"#;
        let mut accounts = decode(Path::new("vault"), old).unwrap();
        assert!(!accounts[0].notifications, "a body from before approvals");
        assert!(!String::from_utf8_lossy(&encode(&accounts).unwrap()).contains("notifications"));
        accounts[0].notifications = true;
        let again = decode(Path::new("vault"), &encode(&accounts).unwrap()).unwrap();
        assert!(again[0].notifications);
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid_id(AccountId::random().as_str()));
        assert!(!valid_id("ABCDEF0123456789abcdef0123456789"));
        assert!(!valid_id("abc"));
    }
}
