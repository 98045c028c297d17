//! Account operations. Every one needs the vault unlocked; each first
//! calls `Service::ensure_unlocked`, which opens a keyring vault on demand.

use tessera_core::otp::{OcraInput, OcraSuite, OtpKind};

use super::{Service, unix_now};
use crate::account::{Account, AccountInfo};
use crate::error::{ErrorCode, ServiceError, ServiceResult};

/// A code and when it is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: String,
    /// TOTP: the window of validity (unix seconds).
    pub valid_from: Option<u64>,
    pub valid_until: Option<u64>,
    /// HOTP: the counter the code was made with.
    pub counter: Option<u64>,
    pub account: AccountInfo,
}

/// Longest label accepted by rename, in characters (as the payload limit).
const MAX_LABEL_CHARS: usize = 64;

/// Finds an account by id, by label (case-insensitive), or by a unique
/// label prefix. One rule for every interface.
pub fn find<'a>(accounts: &'a [Account], reference: &str) -> ServiceResult<&'a Account> {
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(ServiceError::invalid_argument(
            "name an account by its id or label",
        ));
    }
    if let Some(a) = accounts.iter().find(|a| a.id.as_str() == reference) {
        return Ok(a);
    }
    let lower = reference.to_lowercase();
    let exact: Vec<_> = accounts
        .iter()
        .filter(|a| a.label.to_lowercase() == lower)
        .collect();
    let candidates = if exact.is_empty() {
        accounts
            .iter()
            .filter(|a| a.label.to_lowercase().starts_with(&lower))
            .collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(ServiceError::not_found(format!(
            "no account matches {reference:?}; `tessera list` shows them"
        ))),
        many => Err(ServiceError::invalid_argument(format!(
            "{reference:?} matches {} accounts ({}); use more of the label or the id",
            many.len(),
            many.iter()
                .map(|a| a.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

impl Service {
    pub async fn list_accounts(&self) -> ServiceResult<Vec<AccountInfo>> {
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        self.touch();
        Ok(vault.accounts()?.iter().map(AccountInfo::from).collect())
    }

    pub async fn get_account(&self, reference: &str) -> ServiceResult<AccountInfo> {
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        self.touch();
        Ok(find(vault.accounts()?, reference)?.into())
    }

    pub async fn rename_account(&self, reference: &str, label: &str) -> ServiceResult<AccountInfo> {
        let label = label.trim().to_owned();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
            return Err(ServiceError::invalid_argument(format!(
                "a label must be 1 to {MAX_LABEL_CHARS} characters"
            )));
        }
        if label.chars().any(char::is_control) {
            return Err(ServiceError::invalid_argument(
                "a label cannot contain control characters",
            ));
        }
        self.update_account(reference, move |a| a.label = label)
            .await
    }

    /// Changes the account `reference` with `change` and writes the vault
    /// (atomically; nothing changes when the write fails).
    pub(crate) async fn update_account(
        &self,
        reference: &str,
        change: impl FnOnce(&mut Account) + Send + 'static,
    ) -> ServiceResult<AccountInfo> {
        let reference = reference.to_owned();
        self.ensure_unlocked().await?;
        self.with_vault(move |v| {
            let id = find(v.accounts()?, &reference)?.id.clone();
            v.update(|accounts| {
                let a = accounts
                    .iter_mut()
                    .find(|a| a.id == id)
                    .expect("found above");
                change(a);
                Ok(AccountInfo::from(&*a))
            })
            .map_err(ServiceError::from)
        })
        .await?
    }

    pub async fn delete_account(&self, reference: &str) -> ServiceResult<AccountInfo> {
        let reference = reference.to_owned();
        self.ensure_unlocked().await?;
        let deleted = self
            .with_vault(move |v| {
                let id = find(v.accounts()?, &reference)?.id.clone();
                v.update(|accounts| {
                    let i = accounts
                        .iter()
                        .position(|a| a.id == id)
                        .expect("found above");
                    Ok(AccountInfo::from(&accounts.remove(i)))
                })
                .map_err(ServiceError::from)
            })
            .await??;
        tracing::info!(id = %deleted.id, "account deleted");
        Ok(deleted)
    }

    /// The current TOTP code, or the next HOTP code (the counter advances and
    /// is saved before the code is returned, so a code is never given twice).
    pub async fn code(&self, reference: &str) -> ServiceResult<CodeInfo> {
        let now = unix_now();
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        self.touch();
        let account = find(vault.accounts()?, reference)?;
        match account.params.kind() {
            OtpKind::Totp { period } => {
                let from = now - now % u64::from(period);
                Ok(CodeInfo {
                    code: account.code(now).to_string(),
                    valid_from: Some(from),
                    valid_until: Some(from + u64::from(period)),
                    counter: None,
                    account: account.into(),
                })
            }
            OtpKind::Hotp { .. } => {
                let id = account.id.to_string();
                drop(vault);
                self.with_vault(move |v| {
                    let id = find(v.accounts()?, &id)?.id.clone();
                    v.update(|accounts| {
                        let a = accounts
                            .iter_mut()
                            .find(|a| a.id == id)
                            .expect("found under the same lock");
                        let OtpKind::Hotp { counter } = a.params.kind() else {
                            unreachable!("checked above")
                        };
                        let code = a.code(now).to_string();
                        a.params = a.params.with_counter(counter + 1);
                        Ok(CodeInfo {
                            code,
                            valid_from: None,
                            valid_until: None,
                            counter: Some(counter),
                            account: AccountInfo::from(&*a),
                        })
                    })
                    .map_err(ServiceError::from)
                })
                .await?
            }
        }
    }

    /// An OCRA response to `challenge` with the account's suite.
    pub async fn respond(
        &self,
        reference: &str,
        challenge: &str,
    ) -> ServiceResult<(String, String)> {
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        self.touch();
        let account = find(vault.accounts()?, reference)?;
        let suite: OcraSuite = account
            .ocra_suite
            .parse()
            .map_err(|e| ServiceError::internal(format!("account {}: {e}", account.id)))?;
        if suite.uses_counter()
            || suite.password_algorithm().is_some()
            || suite.session_len().is_some()
        {
            return Err(ServiceError::new(
                ErrorCode::Unsupported,
                format!(
                    "the suite {suite} needs inputs Tessera does not keep (counter, PIN hash or session)"
                ),
            ));
        }
        let mut input = OcraInput::new(challenge);
        input.timestamp = suite.timestamp_at(unix_now());
        let response = suite
            .respond(account.secret.expose(), &input)
            .map_err(ServiceError::invalid_argument)?;
        Ok((response.to_string(), suite.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountId, AccountKind};
    use tessera_core::otp::OtpParams;

    fn account(label: &str) -> Account {
        Account {
            id: AccountId::random(),
            label: label.into(),
            issuer: None,
            kind: AccountKind::OtpAuth,
            secret: tessera_core::SecretBytes::from(&b"k"[..]),
            params: OtpParams::default(),
            ocra_suite: String::new(),
            created_unix: 0,
            extra: vec![],
            notifications: false,
        }
    }

    #[test]
    fn find_by_id_label_and_unique_prefix() {
        let accounts = vec![account("GitHub"), account("GitLab"), account("Bank")];
        assert_eq!(find(&accounts, "bank").unwrap().label, "Bank");
        assert_eq!(find(&accounts, "githu").unwrap().label, "GitHub");
        let id = accounts[1].id.to_string();
        assert_eq!(find(&accounts, &id).unwrap().label, "GitLab");
        let e = find(&accounts, "git").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("GitHub, GitLab"), "{}", e.message);
        assert_eq!(
            find(&accounts, "mail").unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(
            find(&accounts, " ").unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
