//! Account operations. Every one needs the vault unlocked; each first
//! calls `Service::ensure_unlocked`, which opens a keyring vault on demand.

use tessera_core::otp::{Encoding, OcraInput, OcraSuite, OtpKind};

use super::{Service, unix_now};
use crate::account::{Account, AccountId, AccountInfo};
use crate::error::{ErrorCode, ServiceError, ServiceResult};

/// A code and when it is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// The digits, for scripts and JSON.
    pub code: String,
    /// The digits grouped for people ([`display_code`]); what every
    /// interface shows (CLI text, D-Bus, search results, notifications).
    pub display: String,
    /// TOTP: the window of validity (unix seconds).
    pub valid_from: Option<u64>,
    pub valid_until: Option<u64>,
    /// HOTP: the counter the code was made with (in [`Service::list_codes`],
    /// which makes no HOTP code, the next counter).
    pub counter: Option<u64>,
    pub account: AccountInfo,
}

/// Longest label accepted by rename, in characters (as the payload limit).
const MAX_LABEL_CHARS: usize = 64;

/// At most this many accounts are listed in an "ambiguous" error.
const MAX_LISTED: usize = 10;

/// The one way a code is shown to a person (one-time codes, the
/// activation's device and finalize codes): up to 8 digits, two groups split
/// by a space, the shorter first (6 digits → `123 456`, 8 → `1234 5678`,
/// 7 → `123 4567`, 5 → `12 345`); 4 digits or fewer stay whole; longer
/// codes in blocks of 4 (the 12-digit device code → `0123 4567 8998`).
pub fn display_code(code: &str) -> String {
    let n = code.chars().count();
    if n <= 4 {
        return code.to_owned();
    }
    if n > 8 {
        return tessera_core::activation::group_digits(code, 4, ' ');
    }
    let (first, second): (String, String) = {
        let mut chars = code.chars();
        let first = chars.by_ref().take(n / 2).collect();
        (first, chars.collect())
    };
    format!("{first} {second}")
}

/// How an account is named in lists and queries: `issuer:label`, or the
/// label alone without an issuer (as ykman does), in the escaped form
/// clients see.
pub fn display_name(account: &AccountInfo) -> String {
    match account.issuer.as_deref() {
        Some(issuer) if !issuer.is_empty() => format!("{issuer}:{}", account.label),
        _ => account.label.clone(),
    }
}

/// The first 8 characters of an id, as `tessera list` prints them.
pub fn short_id(id: &AccountId) -> &str {
    id.as_str().get(..8).unwrap_or(id.as_str())
}

/// What a query found: the account, and whether the query named it
/// exactly (its id or short id, `issuer:label`, or label) rather than by
/// a part of `issuer:label`.
pub struct Found<'a> {
    pub account: &'a Account,
    pub exact: bool,
}

/// Finds the account a query names. One rule for every interface:
///
/// 1. exact, case-insensitive: the id, the 8-character short id,
///    `issuer:label`, or the label;
/// 2. otherwise a case-insensitive substring of `issuer:label` (of the
///    label alone when there is no issuer).
///
/// An exact match wins over substring matches. Several matches at the
/// deciding step are [`ErrorCode::Ambiguous`], listing them; none is
/// [`ErrorCode::NotFound`]. Names are compared in their escaped form (what
/// `tessera list` shows).
pub fn lookup<'a>(accounts: &'a [Account], query: &str) -> ServiceResult<Found<'a>> {
    let query = query.trim();
    if query.is_empty() {
        return Err(ServiceError::invalid_argument(
            "name an account by its id, issuer:label or label (`tessera list` shows them)",
        ));
    }
    let q = query.to_lowercase();
    let named: Vec<(&Account, AccountInfo)> =
        accounts.iter().map(|a| (a, AccountInfo::from(a))).collect();
    let exact: Vec<_> = named
        .iter()
        .filter(|(a, info)| {
            a.id.as_str() == q
                || short_id(&a.id) == q
                || display_name(info).to_lowercase() == q
                || info.label.to_lowercase() == q
        })
        .collect();
    let (candidates, exact) = if exact.is_empty() {
        let partial: Vec<_> = named
            .iter()
            .filter(|(_, info)| display_name(info).to_lowercase().contains(&q))
            .collect();
        (partial, false)
    } else {
        (exact, true)
    };
    match candidates.as_slice() {
        [(one, _)] => Ok(Found {
            account: one,
            exact,
        }),
        [] => Err(ServiceError::not_found(format!(
            "no account matches {:?}; `tessera list` shows them",
            crate::error::truncate_for_echo(query)
        ))),
        many => {
            let mut lines: Vec<String> = many
                .iter()
                .take(MAX_LISTED)
                .map(|(a, info)| format!("  {}  (id {})", display_name(info), short_id(&a.id)))
                .collect();
            if many.len() > MAX_LISTED {
                lines.push(format!("  … and {} more", many.len() - MAX_LISTED));
            }
            Err(ServiceError::new(
                ErrorCode::Ambiguous,
                format!(
                    "{:?} matches {} accounts; name one by its issuer:label or id:\n{}",
                    crate::error::truncate_for_echo(query),
                    many.len(),
                    lines.join("\n")
                ),
            ))
        }
    }
}

/// [`lookup`]'s account.
pub fn find<'a>(accounts: &'a [Account], query: &str) -> ServiceResult<&'a Account> {
    lookup(accounts, query).map(|f| f.account)
}

/// A label or issuer checked with the one name rule
/// ([`crate::account::check_name`]), as an invalid argument.
pub fn check_name(field: &'static str, text: &str) -> ServiceResult<()> {
    crate::account::check_name(field, text).map_err(ServiceError::invalid_argument)
}

/// The current code of a TOTP account at `now`; `None` for HOTP (making
/// one uses up a counter value).
pub fn current_code(a: &Account, now: u64) -> Option<CodeInfo> {
    match a.params.kind() {
        OtpKind::Totp { period } => {
            let from = now - now % u64::from(period);
            let code = a.code(now).to_string();
            // Steam Guard, mOTP and Yandex codes are shown whole, as their
            // apps do.
            let display = match a.params.encoding() {
                Encoding::Steam | Encoding::Motp | Encoding::Yandex => code.clone(),
                Encoding::Decimal => display_code(&code),
            };
            Some(CodeInfo {
                display,
                code,
                valid_from: Some(from),
                valid_until: Some(from + u64::from(period)),
                counter: None,
                account: a.into(),
            })
        }
        OtpKind::Hotp { .. } => None,
    }
}

/// The code of an HOTP account at its stored counter (not advanced).
fn hotp_code(a: &Account, counter: u64) -> CodeInfo {
    let code = a.code(0).to_string();
    CodeInfo {
        display: display_code(&code),
        code,
        valid_from: None,
        valid_until: None,
        counter: Some(counter),
        account: a.into(),
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

    /// Every account with its current code: TOTP codes now, HOTP accounts
    /// without a code (their `counter` is the next one; nothing advances).
    pub async fn list_codes(&self) -> ServiceResult<Vec<CodeInfo>> {
        let now = unix_now();
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        self.touch();
        Ok(vault
            .accounts()?
            .iter()
            .map(|a| {
                current_code(a, now).unwrap_or_else(|| {
                    let counter = match a.params.kind() {
                        OtpKind::Hotp { counter } => Some(counter),
                        OtpKind::Totp { .. } => None,
                    };
                    CodeInfo {
                        code: String::new(),
                        display: String::new(),
                        valid_from: None,
                        valid_until: None,
                        counter,
                        account: a.into(),
                    }
                })
            })
            .collect())
    }

    pub async fn rename_account(&self, reference: &str, label: &str) -> ServiceResult<AccountInfo> {
        let label = label.trim().to_owned();
        if label.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
            return Err(ServiceError::invalid_argument(format!(
                "a label must be 1 to {MAX_LABEL_CHARS} characters"
            )));
        }
        check_name("label", &label)?;
        let wanted = label.to_lowercase();
        self.update_checked(
            reference,
            move |accounts, a| {
                let issuer = |x: &Account| x.issuer.as_deref().unwrap_or("").to_lowercase();
                match accounts.iter().find(|o| {
                    o.id != a.id && o.label.to_lowercase() == wanted && issuer(o) == issuer(a)
                }) {
                    Some(other) => Err(ServiceError::new(
                        ErrorCode::AlreadyExists,
                        format!(
                            "an account named {} already exists (id {}); choose another label",
                            display_name(&AccountInfo::from(other)),
                            short_id(&other.id)
                        ),
                    )),
                    None => Ok(()),
                }
            },
            move |a| a.label = label,
        )
        .await
    }

    /// Changes the account `reference` with `change` and writes the vault
    /// (atomically; nothing changes when the write fails).
    pub(crate) async fn update_account(
        &self,
        reference: &str,
        change: impl FnOnce(&mut Account) + Send + 'static,
    ) -> ServiceResult<AccountInfo> {
        self.update_checked(reference, |_, _| Ok(()), change).await
    }

    /// [`Service::update_account`], after `check` (given every account and
    /// the one found) allowed it, under the same vault lock.
    async fn update_checked(
        &self,
        reference: &str,
        check: impl FnOnce(&[Account], &Account) -> ServiceResult<()> + Send + 'static,
        change: impl FnOnce(&mut Account) + Send + 'static,
    ) -> ServiceResult<AccountInfo> {
        let reference = reference.to_owned();
        self.ensure_unlocked().await?;
        self.with_vault(move |v| {
            let accounts = v.accounts()?;
            let found = find(accounts, &reference)?;
            check(accounts, found)?;
            let id = found.id.clone();
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

    /// Deletes the account `reference` names exactly (its id or short id,
    /// `issuer:label`, or label): a part of a name never deletes anything.
    pub async fn delete_account(&self, reference: &str) -> ServiceResult<AccountInfo> {
        let reference = reference.to_owned();
        self.ensure_unlocked().await?;
        let deleted = self
            .with_vault(move |v| {
                let found = lookup(v.accounts()?, &reference)?;
                if !found.exact {
                    let info = AccountInfo::from(found.account);
                    return Err(ServiceError::invalid_argument(format!(
                        "{reference:?} is only part of the name of {} (id {}): to delete it \
                         without asking, give its exact issuer:label, label or id",
                        display_name(&info),
                        short_id(&info.id)
                    )));
                }
                let id = found.account.id.clone();
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
        self.code_with(reference, Use::Next).await
    }

    /// The current TOTP code, or the next HOTP code without advancing the
    /// counter (`tessera code --peek`; a client that copies the code commits
    /// it with [`Service::commit_code`] once the copy worked).
    pub async fn peek_code(&self, reference: &str) -> ServiceResult<CodeInfo> {
        self.code_with(reference, Use::Peek).await
    }

    /// Marks the HOTP code made with `counter` as used: the counter goes
    /// from `counter` to `counter + 1`, only if it is still `counter` (so a
    /// peeked code is committed at most once and no counter is skipped).
    pub async fn commit_code(&self, reference: &str, counter: u64) -> ServiceResult<CodeInfo> {
        self.code_with(reference, Use::Commit(counter)).await
    }

    async fn code_with(&self, reference: &str, how: Use) -> ServiceResult<CodeInfo> {
        let now = unix_now();
        self.ensure_unlocked().await?;
        let vault = self.vault().lock().await;
        self.touch();
        let account = find(vault.accounts()?, reference)?;
        match (account.params.kind(), how) {
            (OtpKind::Totp { .. }, Use::Commit(_)) => Err(ServiceError::invalid_argument(format!(
                "{} is a TOTP account: its codes have no counter to commit",
                display_name(&account.into())
            ))),
            (OtpKind::Totp { .. }, _) => Ok(current_code(account, now).expect("a TOTP account")),
            (OtpKind::Hotp { counter }, Use::Peek) => Ok(hotp_code(account, counter)),
            (OtpKind::Hotp { .. }, how) => {
                let id = account.id.to_string();
                drop(vault);
                self.with_vault(move |v| {
                    let found = find(v.accounts()?, &id)?;
                    let OtpKind::Hotp { counter } = found.params.kind() else {
                        unreachable!("checked above")
                    };
                    if let Use::Commit(expected) = how
                        && expected != counter
                    {
                        return Err(ServiceError::invalid_argument(format!(
                            "the counter of {} is {counter}, not {expected}: the code made \
                             with {expected} was already used or never made; ask for a new one",
                            display_name(&found.into())
                        )));
                    }
                    let id = found.id.clone();
                    v.update(|accounts| {
                        let a = accounts
                            .iter_mut()
                            .find(|a| a.id == id)
                            .expect("found under the same lock");
                        let code = hotp_code(a, counter);
                        a.params = a.params.with_counter(counter + 1);
                        Ok(CodeInfo {
                            account: AccountInfo::from(&*a),
                            ..code
                        })
                    })
                    .map_err(ServiceError::from)
                })
                .await?
            }
        }
    }
}

/// How [`Service::code_with`] treats an HOTP counter.
#[derive(Clone, Copy)]
enum Use {
    /// Make the code and advance.
    Next,
    /// Make the code, advance nothing.
    Peek,
    /// Advance from this counter (the peeked code is used).
    Commit(u64),
}

impl Service {
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
            pin: None,
        }
    }

    fn with_issuer(issuer: &str, label: &str) -> Account {
        Account {
            issuer: Some(issuer.into()),
            ..account(label)
        }
    }

    #[test]
    fn find_by_id_short_id_issuer_label_and_substring() {
        let accounts = vec![
            with_issuer("GitHub", "alice"),
            with_issuer("GitLab", "alice"),
            account("Bank"),
        ];
        // A substring of issuer:label, any case.
        assert_eq!(find(&accounts, "bank").unwrap().label, "Bank");
        let f = lookup(&accounts, "githu").unwrap();
        assert_eq!(f.account.issuer.as_deref(), Some("GitHub"));
        assert!(!f.exact);
        // The full id and the short id, exactly.
        let id = accounts[1].id.to_string();
        assert!(lookup(&accounts, &id).unwrap().exact);
        let f = lookup(&accounts, &id[..8].to_uppercase()).unwrap();
        assert_eq!(f.account.id, accounts[1].id);
        assert!(f.exact);
        // The same label under two issuers: issuer:label names each.
        let f = lookup(&accounts, "gitlab:ALICE").unwrap();
        assert_eq!(f.account.id, accounts[1].id);
        assert!(f.exact);
        for query in ["alice", "git"] {
            let e = find(&accounts, query).unwrap_err();
            assert_eq!(e.code, ErrorCode::Ambiguous, "{query}");
            for a in &accounts[..2] {
                let line = format!(
                    "{}:alice  (id {})",
                    a.issuer.as_deref().unwrap(),
                    &a.id.as_str()[..8]
                );
                assert!(e.message.contains(&line), "{}", e.message);
            }
            assert!(!e.message.contains("Bank"), "{}", e.message);
        }
        assert_eq!(
            find(&accounts, "mail").unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(
            find(&accounts, " ").unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn an_exact_label_wins_over_substrings() {
        let accounts = vec![account("Git"), account("GitHub"), account("legit")];
        let f = lookup(&accounts, "git").unwrap();
        assert_eq!(f.account.label, "Git");
        assert!(f.exact);
    }

    #[test]
    fn stored_names_with_spoofing_characters_are_found_as_shown() {
        let accounts = vec![account("pay\u{202E}lapyap")];
        let f = lookup(&accounts, "pay<U+202E>lapyap").unwrap();
        assert!(f.exact);
        assert_eq!(AccountInfo::from(f.account).label, "pay<U+202E>lapyap");
    }

    #[test]
    fn codes_are_shown_in_two_groups() {
        assert_eq!(display_code("123456"), "123 456");
        assert_eq!(display_code("12345678"), "1234 5678");
        assert_eq!(display_code("1234567"), "123 4567");
        assert_eq!(display_code("12345"), "12 345");
        assert_eq!(display_code("1234"), "1234");
        assert_eq!(display_code("012345678998"), "0123 4567 8998");
        assert_eq!(display_code("123456789"), "1234 5678 9");
        assert_eq!(display_code(""), "");
    }
}
