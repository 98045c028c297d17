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
}

impl Account {
    /// The code at `unix_time` (TOTP) or at the stored counter (HOTP).
    pub fn code(&self, unix_time: u64) -> Code {
        self.params.code(self.secret.expose(), unix_time)
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

impl From<&Account> for AccountInfo {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            label: a.label.clone(),
            issuer: a.issuer.clone(),
            kind: a.kind.clone(),
            params: a.params,
            ocra_suite: a.ocra_suite.clone(),
            created_unix: a.created_unix,
            extra: a.extra.clone(),
            notifications: a.notifications,
        }
    }
}
