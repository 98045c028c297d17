//! What an activation will store, made from a decoded payload: the accounts
//! with their secrets derived, and the codes to show (PROTOCOL.md §3–§5).

use std::time::{SystemTime, UNIX_EPOCH};

use tessera_core::activation::{self, DeviceCode};
use tessera_core::otp::{Code, OCRA_DEFAULT_SUITE};
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
        match payload {
            Payload::Tessera(p) => Self::tessera(&p, nonce, policy),
            Payload::OtpAuth(a) => Ok(Self::otpauth(vec![a])),
            Payload::Migration(batch) => Ok(Self::otpauth(batch.accounts)),
        }
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
        };
        Ok(Plan {
            accounts: vec![account],
            device_code: Some(DeviceCode::new(&key, &p.serial, nonce)),
            finalize: Finalize::Code(finalize),
        })
    }

    fn otpauth(accounts: Vec<OtpAuthAccount>) -> Plan {
        let created = now_unix();
        let accounts = accounts
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
            })
            .collect();
        Plan {
            accounts,
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

    pub fn account_infos(&self) -> Vec<AccountInfo> {
        self.accounts.iter().map(AccountInfo::from).collect()
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
    }
}
