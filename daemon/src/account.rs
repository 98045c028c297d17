//! An account in the vault: what it is, its secret and how its codes are made.

use std::fmt;

use tessera_core::SecretBytes;
use tessera_core::activation::Serial;
use tessera_core::otp::{Code, OtpParams};

/// A random identifier (16 bytes, lower-case hex), stable for the account's life.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    pub fn random() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(hex::encode(bytes))
    }

    /// Wraps a stored id (the vault checks the form when it reads).
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the account came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// A Tessera activation bound to this device (PROTOCOL.md §3–§4).
    Tessera {
        serial: Serial,
        /// The instance nonce of the device code.
        nonce: u32,
        user_id: Option<String>,
        /// The issuer's signature was verified against a trusted key.
        issuer_verified: bool,
    },
    /// A standard otpauth:// account (TOTP or HOTP per `params`).
    OtpAuth,
}

/// One account. `secret` is the instance key (Tessera) or the otpauth secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub label: String,
    pub issuer: Option<String>,
    pub kind: AccountKind,
    pub secret: SecretBytes,
    /// Code parameters; for HOTP the counter is the next one to use.
    pub params: OtpParams,
    /// The OCRA suite for challenge/response.
    pub ocra_suite: String,
    pub created_unix: i64,
    /// Unknown payload fields, kept as given.
    pub extra: Vec<(String, String)>,
    /// The user allowed approvals through notifications for this account
    /// (the activation's notification step; `RequestApproval`).
    pub notifications: bool,
    /// A Mobile-OTP account's PIN, part of what its codes hash; `None` for
    /// every other kind. Never leaves the daemon.
    pub pin: Option<tessera_core::SecretString>,
}

impl Account {
    /// The code at `unix_time` (TOTP) or at the stored counter (HOTP).
    pub fn code(&self, unix_time: u64) -> Code {
        let pin = self.pin.as_ref().map(|p| p.expose());
        self.params
            .code_with_pin(self.secret.expose(), pin, unix_time)
    }
}

/// An account as clients see it: everything but the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInfo {
    pub id: AccountId,
    pub label: String,
    pub issuer: Option<String>,
    pub kind: AccountKind,
    pub params: OtpParams,
    pub ocra_suite: String,
    pub created_unix: i64,
    pub extra: Vec<(String, String)>,
    pub notifications: bool,
}

/// An account as clients see it: the label and issuer are shown escaped
/// ([`escape_name`]), so an account stored before names were checked
/// cannot pass for another.
impl From<&Account> for AccountInfo {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            label: escape_name(&a.label).into_owned(),
            issuer: a.issuer.as_deref().map(|i| escape_name(i).into_owned()),
            kind: a.kind.clone(),
            params: a.params,
            ocra_suite: a.ocra_suite.clone(),
            created_unix: a.created_unix,
            extra: a.extra.clone(),
            notifications: a.notifications,
        }
    }
}

/// Why a character may not be in a label or issuer: it can make a name
/// look like another (bidi overrides and isolates, zero-width characters)
/// or break the line it is shown on (control characters, line and
/// paragraph separators). `None` for every other character.
///
/// The one rule for names (ARCHITECTURE.md): [`check_name`] refuses them at
/// every entry (activation plans, rename), [`escape_name`] shows them as
/// `<U+XXXX>` in what clients get (accounts stored before the check).
pub use tessera_core::text::unsafe_char;

/// The error for the first unsafe character of `text`, which is the
/// account's `field` ("label", "issuer").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {field} contains {what} (U+{code:04X}), which can make one account look like another; \
     remove it"
)]
pub struct UnsafeName {
    pub field: &'static str,
    pub what: &'static str,
    pub code: u32,
}

/// Refuses a label or issuer with a character [`unsafe_char`] names.
pub fn check_name(field: &'static str, text: &str) -> Result<(), UnsafeName> {
    match text.chars().find_map(|c| unsafe_char(c).map(|w| (c, w))) {
        Some((c, what)) => Err(UnsafeName {
            field,
            what,
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// Checks an account's label and issuer (an activation's plan calls this
/// before anything is stored).
pub fn check_names(account: &Account) -> Result<(), UnsafeName> {
    check_name("label", &account.label)?;
    if let Some(issuer) = &account.issuer {
        check_name("issuer", issuer)?;
    }
    Ok(())
}

/// `text` with every character [`unsafe_char`] names written `<U+XXXX>`
/// (borrowed when there is none).
pub fn escape_name(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| unsafe_char(c).is_none()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c).is_some() {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofing_characters_are_named_and_escaped() {
        for (text, code, what) in [
            ("pay\u{202E}lapyap", 0x202E, "bidirectional"),
            ("a\u{2066}b", 0x2066, "bidirectional"),
            ("git\u{200B}hub", 0x200B, "zero-width"),
            ("\u{FEFF}bank", 0xFEFF, "zero-width"),
            ("x\u{2060}", 0x2060, "zero-width"),
            ("bell\u{7}", 0x7, "control"),
            ("two\nlines", 0xA, "control"),
            ("c1\u{85}", 0x85, "control"),
        ] {
            let e = check_name("label", text).unwrap_err();
            assert_eq!(e.code, code, "{text:?}");
            let message = e.to_string();
            assert!(message.contains("label"), "{message}");
            assert!(message.contains(what), "{message}");
            assert!(message.contains(&format!("U+{code:04X}")), "{message}");
            let escaped = escape_name(text);
            assert!(escaped.contains(&format!("<U+{code:04X}>")), "{escaped}");
            assert!(check_name("label", &escaped).is_ok(), "{escaped}");
        }
        for fine in ["alice@example.com", "Ärzte-Bank", "Пётр", "山田", "a b"] {
            assert!(check_name("issuer", fine).is_ok(), "{fine}");
            assert!(matches!(escape_name(fine), std::borrow::Cow::Borrowed(_)));
        }
    }
}
