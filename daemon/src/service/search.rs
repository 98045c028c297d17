//! Search for the desktop shells (GNOME Shell's search provider, KRunner):
//! accounts whose label or issuer holds every typed term, with their
//! current code. One rule for both shells.

use super::accounts::current_code;
use super::{CodeInfo, Service, unix_now};
use crate::account::{Account, AccountInfo};
use crate::error::{ErrorCode, ServiceResult};

/// At most this many results go to a shell.
pub const MAX_RESULTS: usize = 20;

/// What a search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchResults {
    /// The vault is locked: the shells offer one result, "Unlock Tessera".
    Locked,
    /// Matching accounts, with the current code of TOTP accounts (an HOTP
    /// code is made only when asked for: it uses up a counter value).
    Accounts(Vec<(AccountInfo, Option<CodeInfo>)>),
}

/// Whether `account` matches every term (case-insensitive substrings of
/// its label or issuer, in the escaped form clients see). No terms match
/// nothing.
pub fn matches(account: &Account, terms: &[String]) -> bool {
    let shown = AccountInfo::from(account);
    let label = shown.label.to_lowercase();
    let issuer = shown.issuer.as_deref().unwrap_or("").to_lowercase();
    let mut any = false;
    for term in terms.iter().map(|t| t.trim().to_lowercase()) {
        if term.is_empty() {
            continue;
        }
        if !label.contains(&term) && !issuer.contains(&term) {
            return false;
        }
        any = true;
    }
    any
}

impl Service {
    /// The accounts matching `terms`; `Locked` while the vault is locked
    /// (and an empty list before the first activation).
    pub async fn search(&self, terms: &[String]) -> ServiceResult<SearchResults> {
        self.found(|a| matches(a, terms)).await
    }

    /// The accounts with these ids (the shells ask for results they were
    /// given), with codes as [`Service::search`].
    pub async fn accounts_by_id(&self, ids: &[String]) -> ServiceResult<SearchResults> {
        self.found(|a| ids.iter().any(|id| id == a.id.as_str()))
            .await
    }

    async fn found(&self, wanted: impl Fn(&Account) -> bool) -> ServiceResult<SearchResults> {
        match self.ensure_unlocked().await {
            Err(e) if e.code == ErrorCode::VaultLocked => return Ok(SearchResults::Locked),
            other => other?,
        }
        let vault = self.vault().lock().await;
        let accounts = match vault.accounts() {
            Ok(a) => a,
            Err(crate::vault::VaultError::NoVault) => return Ok(SearchResults::Accounts(vec![])),
            Err(crate::vault::VaultError::Locked) => return Ok(SearchResults::Locked),
            Err(e) => return Err(e.into()),
        };
        self.touch();
        let now = unix_now();
        let found = accounts
            .iter()
            .filter(|a| wanted(a))
            .take(MAX_RESULTS)
            .map(|a| (AccountInfo::from(a), current_code(a, now)))
            .collect();
        Ok(SearchResults::Accounts(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{AccountId, AccountKind};

    #[test]
    fn every_term_must_match_label_or_issuer() {
        let a = Account {
            id: AccountId::random(),
            label: "alice@example.com".into(),
            issuer: Some("GitHub".into()),
            kind: AccountKind::OtpAuth,
            secret: tessera_core::SecretBytes::from(&b"k"[..]),
            params: Default::default(),
            ocra_suite: String::new(),
            created_unix: 0,
            extra: vec![],
            notifications: false,
            pin: None,
        };
        let t = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches(&a, &t(&["ALI"])));
        assert!(matches(&a, &t(&["git", "alice"])));
        assert!(!matches(&a, &t(&["git", "bob"])));
        assert!(!matches(&a, &t(&[])));
        assert!(!matches(&a, &t(&[" "])));
    }
}
