//! What an activation will store, made from a decoded payload: the accounts
//! with their secrets derived, and the codes to show (PROTOCOL.md §3–§5).

use std::time::{SystemTime, UNIX_EPOCH};

use tessera_core::activation::{self, DeviceCode};
use tessera_core::otp::{Code, OCRA_DEFAULT_SUITE, OtpKind};
use tessera_core::payload::{OtpAuthAccount, Payload, TesseraPayload};
use tessera_core::signature::{self, IssuerPublicKey, SignatureError};

use crate::account::{Account, AccountId, AccountInfo, AccountKind};
use crate::error::{ErrorCode, ServiceError};

/// The finalize step's code.
#[derive(Clone, Debug)]
pub enum Finalize {
    /// Tessera: the finalize code of §5.
    Code(Code),
    /// otpauth: the first account's current code, computed when shown.
    CurrentCode,
}

/// A decoded activation, held by the daemon until it is stored or dropped.
#[derive(Clone, Debug)]
pub struct Plan {
    pub accounts: Vec<Account>,
    pub device_code: Option<DeviceCode>,
    pub finalize: Finalize,
}

/// Issuer-signature policy applied to Tessera payloads.
#[derive(Clone, Debug, Default)]
pub struct SignaturePolicy {
    pub trusted: Vec<IssuerPublicKey>,
    pub require_signature: bool,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Plan {
    /// Builds the plan; `nonce` is the fresh instance nonce of §3.
    pub fn new(
        payload: Payload,
        nonce: u32,
        policy: &SignaturePolicy,
    ) -> Result<Plan, ServiceError> {
        let plan = match payload {
            Payload::Tessera(p) => Self::tessera(&p, nonce, policy)?,
            Payload::OtpAuth(a) => Self::otpauth(vec![a]),
            Payload::Migration(batch) => Self::otpauth(batch.accounts),
        };
        // Names that could pass for another account's are refused here,
        // before anything is shown or stored (the one rule: account.rs).
        for a in &plan.accounts {
            crate::account::check_names(a)
                .map_err(|e| ServiceError::new(ErrorCode::InvalidPayload, e))?;
        }
        // An export that lists one account twice would store it twice.
        for (i, a) in plan.accounts.iter().enumerate() {
            if plan.accounts[..i].iter().any(|b| same_account(a, b)) {
                return Err(ServiceError::new(
                    ErrorCode::InvalidPayload,
                    format!(
                        "the payload holds the account {} twice; nothing was changed",
                        describe(a)
                    ),
                ));
            }
        }
        Ok(plan)
    }

    fn tessera(
        p: &TesseraPayload,
        nonce: u32,
        policy: &SignaturePolicy,
    ) -> Result<Plan, ServiceError> {
        let issuer_verified = match signature::verify(p, &policy.trusted) {
            Ok(_) => true,
            Err(SignatureError::Unsigned) if !policy.require_signature => false,
            Err(SignatureError::Unsigned) => {
                return Err(ServiceError::new(
                    ErrorCode::InvalidPayload,
                    "SIG: this payload is not signed, and policy accepts only payloads signed by a trusted issuer",
                ));
            }
            // A signature we cannot check (no trusted keys configured) is not an error.
            Err(SignatureError::NotTrusted) if policy.trusted.is_empty() => false,
            Err(e) => return Err(ServiceError::new(ErrorCode::InvalidPayload, e)),
        };
        let key = p.activation_code.key();
        let params = p.otp_params();
        let secret = activation::instance_key(&key, &p.serial, nonce, params.algorithm());
        let finalize = activation::finalize_code(&secret, &p.serial, p.challenge.as_ref());
        let label = p
            .label
            .clone()
            .or_else(|| p.user_id.clone())
            .unwrap_or_else(|| p.serial.to_string());
        let account = Account {
            id: AccountId::random(),
            label,
            issuer: p.issuer.clone(),
            kind: AccountKind::Tessera {
                serial: p.serial.clone(),
                nonce,
                user_id: p.user_id.clone(),
                issuer_verified,
            },
            secret,
            params,
            ocra_suite: OCRA_DEFAULT_SUITE.to_owned(),
            created_unix: now_unix(),
            extra: p
                .extra
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            notifications: false,
            pin: None,
        };
        Ok(Plan {
            accounts: vec![account],
            device_code: Some(DeviceCode::new(&key, &p.serial, nonce)),
            finalize: Finalize::Code(finalize),
        })
    }

    fn otpauth(accounts: Vec<OtpAuthAccount>) -> Plan {
        Plan {
            accounts: otpauth_accounts(accounts),
            device_code: None,
            finalize: Finalize::CurrentCode,
        }
    }

    /// The code the finalize step shows at `unix_time`.
    pub fn finalize_code(&self, unix_time: u64) -> Option<Code> {
        match &self.finalize {
            Finalize::Code(c) => Some(c.clone()),
            Finalize::CurrentCode => self.accounts.first().map(|a| a.code(unix_time)),
        }
    }

    /// When the finalize step's code stops being valid: a TOTP account's
    /// current code, at the end of its period. `None` for codes that do not
    /// expire (Tessera's finalize code, an HOTP code).
    pub fn finalize_valid_until(&self, unix_time: u64) -> Option<u64> {
        let Finalize::CurrentCode = self.finalize else {
            return None;
        };
        match self.accounts.first()?.params.kind() {
            OtpKind::Totp { period } => {
                let period = u64::from(period);
                Some(unix_time - unix_time % period + period)
            }
            OtpKind::Hotp { .. } => None,
        }
    }

    /// Refuses a plan holding an account the vault has already (`existing`):
    /// the same Tessera serial, or the same otpauth secret, label and issuer.
    /// Checked right after decoding when the vault can be read, else right
    /// after the vault PIN, and once more when storing.
    pub fn check_not_stored(&self, existing: &[Account]) -> Result<(), ServiceError> {
        check_not_stored(&self.accounts, existing)
    }

    /// The accounts as they are stored. An HOTP code shown at the finalize
    /// step counts as used: that account is stored with the next counter,
    /// so its first `code` is a new one.
    pub fn accounts_to_store(&self) -> Vec<Account> {
        let mut accounts = self.accounts.clone();
        if let (Finalize::CurrentCode, Some(first)) = (&self.finalize, accounts.first_mut())
            && let OtpKind::Hotp { counter } = first.params.kind()
        {
            first.params = first.params.with_counter(counter.saturating_add(1));
        }
        accounts
    }

    pub fn account_infos(&self) -> Vec<AccountInfo> {
        self.accounts.iter().map(AccountInfo::from).collect()
    }
}

/// [`Plan::check_not_stored`] for accounts about to be stored.
pub fn check_not_stored(accounts: &[Account], existing: &[Account]) -> Result<(), ServiceError> {
    for new in accounts {
        let clash = existing.iter().find(|old| same_account(old, new));
        if let Some(old) = clash {
            return Err(ServiceError::new(
                ErrorCode::AlreadyExists,
                format!(
                    "the account {} is already in the vault; nothing was changed. Delete it \
                     first to activate it again",
                    describe(old)
                ),
            ));
        }
    }
    Ok(())
}

/// The accounts an otpauth payload (or an imported file) stores: new ids,
/// created now, as the payload gives them.
pub(crate) fn otpauth_accounts(accounts: Vec<OtpAuthAccount>) -> Vec<Account> {
    let created = now_unix();
    accounts
        .into_iter()
        .map(|a| Account {
            id: AccountId::random(),
            label: a.account.clone(),
            issuer: a.issuer.clone(),
            kind: AccountKind::OtpAuth,
            secret: a.secret.clone(),
            params: a.params,
            ocra_suite: OCRA_DEFAULT_SUITE.to_owned(),
            created_unix: created,
            extra: Vec::new(),
            notifications: false,
            pin: a.pin.clone(),
        })
        .collect()
}

/// What makes an account the one it is: its Tessera serial, or its
/// otpauth secret, label and issuer. Hashable, so that an import of
/// thousands of accounts looks each one up rather than comparing pairs.
#[derive(PartialEq, Eq, Hash)]
pub(crate) enum Identity<'a> {
    Tessera(&'a tessera_core::activation::Serial),
    OtpAuth {
        secret: &'a [u8],
        label: &'a str,
        issuer: Option<&'a str>,
    },
}

pub(crate) fn identity(a: &Account) -> Identity<'_> {
    match &a.kind {
        AccountKind::Tessera { serial, .. } => Identity::Tessera(serial),
        AccountKind::OtpAuth => Identity::OtpAuth {
            secret: a.secret.expose(),
            label: &a.label,
            issuer: a.issuer.as_deref(),
        },
    }
}

/// Whether `a` and `b` are one account ([`identity`]).
fn same_account(a: &Account, b: &Account) -> bool {
    identity(a) == identity(b)
}

/// `issuer: label` (or the label), escaped as clients show names.
fn describe(a: &Account) -> String {
    let info = AccountInfo::from(a);
    match &info.issuer {
        Some(issuer) => format!("{:?} ({issuer})", info.label),
        None => format!("{:?}", info.label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::payload;

    const TAG: &str = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC><LBL>alice@example.com</LBL></QRCode>";

    #[test]
    fn tessera_plan_matches_the_protocol_vectors() {
        let p = payload::parse(TAG).unwrap();
        let plan = Plan::new(p, 123_456_789, &SignaturePolicy::default()).unwrap();
        assert_eq!(plan.device_code.unwrap().to_string(), "012345678998");
        assert_eq!(plan.finalize_code(0).unwrap().as_str(), "35535829");
        let a = &plan.accounts[0];
        assert_eq!(a.label, "alice@example.com");
        assert_eq!(a.code(59).as_str().len(), 6);
        assert!(matches!(
            &a.kind,
            AccountKind::Tessera {
                nonce: 123_456_789,
                issuer_verified: false,
                ..
            }
        ));
    }

    #[test]
    fn unsigned_payloads_are_refused_when_policy_requires_a_signature() {
        let p = payload::parse(TAG).unwrap();
        let policy = SignaturePolicy {
            trusted: vec![],
            require_signature: true,
        };
        let e = Plan::new(p, 1, &policy).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidPayload);
        assert!(e.message.starts_with("SIG:"));
    }

    #[test]
    fn otpauth_plan_shows_the_current_code() {
        let p = payload::parse("otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example&digits=8").unwrap();
        let plan = Plan::new(p, 1, &SignaturePolicy::default()).unwrap();
        assert!(plan.device_code.is_none());
        // RFC 6238's SHA1 seed at t=59.
        assert_eq!(plan.finalize_code(59).unwrap().as_str(), "94287082");
        assert_eq!(plan.accounts[0].issuer.as_deref(), Some("Example"));
        assert_eq!(plan.finalize_valid_until(59), Some(60));
        assert_eq!(plan.finalize_valid_until(60), Some(90));
    }

    #[test]
    fn an_export_listing_one_account_twice_is_refused() {
        let account = |name: &str| payload::OtpAuthAccount {
            issuer: Some("Mail".into()),
            account: name.into(),
            secret: tessera_core::SecretBytes::from(&b"12345678901234567890"[..]),
            params: "totp:SHA1:6:30".parse().unwrap(),
            pin: None,
        };
        let batch = |names: &[&str]| {
            Payload::Migration(payload::MigrationBatch {
                accounts: names.iter().map(|n| account(n)).collect(),
                version: 1,
                batch_size: 1,
                batch_index: 0,
                batch_id: 1,
            })
        };
        let policy = SignaturePolicy::default();
        let plan = Plan::new(batch(&["a", "b"]), 1, &policy).unwrap();
        assert_eq!(plan.accounts.len(), 2);
        let e = Plan::new(batch(&["a", "b", "a"]), 1, &policy).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidPayload);
        assert_eq!(
            e.message,
            "the payload holds the account \"a\" (Mail) twice; nothing was changed"
        );
    }

    #[test]
    fn an_hotp_code_shown_at_finalize_is_stored_as_used() {
        let p = payload::parse(
            "otpauth://hotp/Example:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=7",
        )
        .unwrap();
        let plan = Plan::new(p, 1, &SignaturePolicy::default()).unwrap();
        let shown = plan.finalize_code(0).unwrap();
        assert_eq!(plan.finalize_valid_until(0), None);
        let stored = plan.accounts_to_store();
        assert_eq!(stored[0].params.kind(), OtpKind::Hotp { counter: 8 });
        assert_ne!(
            stored[0].code(0),
            shown,
            "the first code after is the next one"
        );
        // A Tessera account's finalize code is not one of its codes.
        let t = Plan::new(payload::parse(TAG).unwrap(), 1, &SignaturePolicy::default()).unwrap();
        assert_eq!(t.accounts_to_store()[0].params, t.accounts[0].params);
    }
}
