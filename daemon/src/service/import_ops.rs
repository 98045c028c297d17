//! Importing another authenticator's backup file (docs/import.md): the
//! file read by `tessera-import`, then previewed here against the vault and
//! policy (what is new, what the vault has already, what cannot be used and
//! why), and, when asked, stored in one save.

use std::collections::HashSet;

use tessera_core::SecretString;
use tessera_import::ImportError;

use super::Service;
use super::plan::{identity, otpauth_accounts};
use crate::account::{Account, AccountInfo, AccountKind, check_names};
use crate::config::{Config, PinConfigExt, VaultConfigExt};
use crate::error::{ErrorCode, ServiceError, ServiceResult};

/// An entry of the file that is not stored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The entry as the file names it (issuer and name).
    pub name: String,
    pub reason: String,
}

/// What importing a file stores (or stored, when `applied`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// The format read (`--format`'s name).
    pub format: &'static str,
    /// The accounts the vault gains, in the file's order.
    pub added: Vec<AccountInfo>,
    /// Accounts the vault holds already (the same secret, label and
    /// issuer), or that the file lists twice: not stored again.
    pub duplicates: Vec<AccountInfo>,
    /// Entries that cannot be used: the file's own (a kind Tessera lacks,
    /// a bad secret) and policy's (an algorithm it does not allow, a name
    /// that could pass for another account's).
    pub skipped: Vec<SkippedEntry>,
    /// Whether this call stored `added` (in one save; with no vault yet,
    /// the new vault under `new_pin`).
    pub applied: bool,
}

/// What a file asks of the vault.
pub struct ImportRequest {
    /// The format's name; `None`: detected from the file.
    pub format: Option<String>,
    pub bytes: Vec<u8>,
    /// The file's own password, for an encrypted one.
    pub password: Option<SecretString>,
    /// With no vault yet: the PIN of the vault the import creates.
    pub new_pin: Option<SecretString>,
    /// False: only say what would be stored.
    pub apply: bool,
}

impl Service {
    /// Reads `request.bytes` as another app's backup and says what storing
    /// it changes; with `apply`, stores the new accounts in one save, all
    /// or nothing. Nothing is stored from a file that could not be read, a
    /// wrong password ([`ErrorCode::WrongPassword`], never counted as a
    /// wrong PIN) or one over `accounts.max`. The vault must be unlocked;
    /// with none yet, `new_pin` (within the PIN rules) makes one.
    pub async fn import_file(&self, request: ImportRequest) -> ServiceResult<ImportPlan> {
        let ImportRequest {
            format,
            bytes,
            password,
            new_pin,
            apply,
        } = request;
        let (format, imported) = tokio::task::spawn_blocking(move || {
            tessera_import::import(format.as_deref(), &bytes, password.as_ref())
        })
        .await
        .map_err(|e| ServiceError::internal(format!("reading the file failed: {e}")))?
        .map_err(import_error)?;

        let config = self.config();
        if !config.accounts.otpauth && !imported.accounts.is_empty() {
            return Err(ServiceError::new(
                ErrorCode::Policy,
                "imported accounts are otpauth accounts, which policy turns off \
                 (accounts.otpauth = false); nothing was imported",
            ));
        }
        let mut plan = ImportPlan {
            format,
            skipped: imported
                .skipped
                .into_iter()
                .map(|s| SkippedEntry {
                    name: s.name,
                    reason: s.reason,
                })
                .collect(),
            ..ImportPlan::default()
        };
        let candidates = usable(&config, otpauth_accounts(imported.accounts), &mut plan);

        self.ensure_unlocked().await?;
        let rules = config.pin.rules();
        let kdf = config.vault.kdf();
        let max = config.accounts.max as usize;
        let plan = self
            .with_vault(move |vault| -> ServiceResult<ImportPlan> {
                let current: &[Account] = if vault.exists() {
                    vault.accounts()?
                } else {
                    &[]
                };
                let mut plan = plan;
                let new = deduplicate(current, candidates, &mut plan);
                let after = current.len() + new.len();
                if max > 0 && after > max && !new.is_empty() {
                    return Err(ServiceError::new(
                        ErrorCode::Policy,
                        format!(
                            "the vault would hold {after} accounts; policy allows at most {max} \
                             (accounts.max); nothing was imported"
                        ),
                    ));
                }
                if vault.exists() && new_pin.is_some() {
                    return Err(ServiceError::invalid_argument(
                        "the vault exists already; a new PIN is only for the first vault \
                         (unlock the vault instead)",
                    ));
                }
                if !apply || new.is_empty() {
                    return Ok(plan);
                }
                if vault.exists() {
                    vault.update(move |accounts| {
                        accounts.extend(new);
                        Ok(())
                    })?;
                } else {
                    let Some(pin) = new_pin else {
                        return Err(ServiceError::new(
                            ErrorCode::NoVault,
                            "there is no vault yet: choose a PIN for it (the CLI asks for one) \
                             and import again",
                        ));
                    };
                    rules
                        .check(pin.expose())
                        .map_err(|reason| ServiceError::new(ErrorCode::PinPolicy, reason))?;
                    vault.create_with_pin(&pin, kdf, new)?;
                }
                plan.applied = true;
                Ok(plan)
            })
            .await??;
        if plan.applied {
            tracing::info!(
                format = plan.format,
                added = plan.added.len(),
                duplicates = plan.duplicates.len(),
                skipped = plan.skipped.len(),
                "accounts imported"
            );
        }
        Ok(plan)
    }
}

/// The accounts policy and the naming rule let in; the rest go to
/// `plan.skipped` with the reason.
fn usable(config: &Config, accounts: Vec<Account>, plan: &mut ImportPlan) -> Vec<Account> {
    let policy = &config.accounts;
    let mut kept = Vec::with_capacity(accounts.len());
    for a in accounts {
        debug_assert_eq!(a.kind, AccountKind::OtpAuth);
        let algorithm = a.params.algorithm().name();
        let refused = if !policy.allows_algorithm(algorithm) {
            Some(format!(
                "it uses {algorithm}, which policy does not allow (accounts.algorithms = [{}])",
                policy.algorithms.join(", ")
            ))
        } else {
            check_names(&a).err().map(|e| e.to_string())
        };
        match refused {
            Some(reason) => plan.skipped.push(SkippedEntry {
                name: entry_name(&a),
                reason,
            }),
            None => kept.push(a),
        }
    }
    kept
}

/// The accounts of `candidates` that neither `current` nor an earlier
/// candidate holds; the others go to `plan.duplicates`. `plan.added` lists
/// the ones returned.
fn deduplicate(
    current: &[Account],
    candidates: Vec<Account>,
    plan: &mut ImportPlan,
) -> Vec<Account> {
    let known: HashSet<_> = current.iter().map(identity).collect();
    let mut first = HashSet::new();
    let is_new: Vec<bool> = candidates
        .iter()
        .map(|a| !known.contains(&identity(a)) && first.insert(identity(a)))
        .collect();
    drop(first);
    let mut new = Vec::with_capacity(candidates.len());
    for (a, is_new) in candidates.into_iter().zip(is_new) {
        if is_new {
            plan.added.push((&a).into());
            new.push(a);
        } else {
            plan.duplicates.push((&a).into());
        }
    }
    new
}

/// `issuer: label`, or the label, as the importers name entries.
fn entry_name(a: &Account) -> String {
    match a.issuer.as_deref().filter(|i| !i.is_empty()) {
        Some(issuer) => format!("{issuer}: {}", a.label),
        None => a.label.clone(),
    }
}

/// A file that cannot be read is the caller's file at fault; a missing or
/// wrong password has a code of its own, so that a client can ask for it.
fn import_error(e: ImportError) -> ServiceError {
    match e {
        ImportError::NeedsPassword(_)
        | ImportError::WrongPassword(_)
        | ImportError::NeedsKey(_) => ServiceError::new(ErrorCode::WrongPassword, e),
        ImportError::Unsupported { .. } => ServiceError::new(ErrorCode::Unsupported, e),
        ImportError::TooLarge(_)
        | ImportError::Malformed { .. }
        | ImportError::Unsafe { .. }
        | ImportError::Unknown
        | ImportError::NoSuchFormat { .. } => ServiceError::new(ErrorCode::InvalidArgument, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::payload::{self, Payload};

    fn accounts(uris: &[&str]) -> Vec<Account> {
        otpauth_accounts(
            uris.iter()
                .map(|u| match payload::parse(u).unwrap() {
                    Payload::OtpAuth(a) => a,
                    other => panic!("{other:?}"),
                })
                .collect(),
        )
    }

    const MAIL: &str = "otpauth://totp/Mail:me?secret=JBSWY3DPEHPK3PXP&issuer=Mail";
    const BANK: &str = "otpauth://totp/Bank:me?secret=GEZDGNBVGY3TQOJQ&issuer=Bank";
    const STRONG: &str =
        "otpauth://totp/Work:me?secret=GEZDGNBVGY3TQOJQ&issuer=Work&algorithm=SHA512";

    #[test]
    fn duplicates_of_the_vault_and_of_the_file_are_reported_once_and_not_stored() {
        let current = accounts(&[MAIL]);
        let mut plan = ImportPlan::default();
        let new = deduplicate(&current, accounts(&[MAIL, BANK, BANK]), &mut plan);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].label, "me");
        assert_eq!(new[0].issuer.as_deref(), Some("Bank"));
        let dups: Vec<_> = plan.duplicates.iter().map(|d| d.issuer.clone()).collect();
        assert_eq!(dups, [Some("Mail".into()), Some("Bank".into())]);
        assert_eq!(plan.added.len(), 1);
    }

    #[test]
    fn an_algorithm_policy_refuses_is_skipped_with_the_key_named() {
        let mut config = Config::default();
        config.accounts.algorithms = vec!["SHA1".into(), "SHA256".into()];
        let mut plan = ImportPlan::default();
        let kept = usable(&config, accounts(&[MAIL, STRONG]), &mut plan);
        assert_eq!(kept.len(), 1);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].name, "Work: me");
        assert!(
            plan.skipped[0].reason.contains("SHA512")
                && plan.skipped[0].reason.contains("accounts.algorithms"),
            "{:?}",
            plan.skipped[0]
        );
    }

    #[test]
    fn the_client_reads_what_the_importers_take() {
        assert_eq!(
            tessera_files::Kind::Import.limit() as usize,
            tessera_import::MAX_FILE_BYTES
        );
    }

    #[test]
    fn a_wrong_password_is_not_a_damaged_file() {
        assert_eq!(
            import_error(ImportError::WrongPassword("aegis")).code,
            ErrorCode::WrongPassword
        );
        let damaged = ImportError::Malformed {
            format: "aegis",
            reason: "x".into(),
        };
        assert_eq!(import_error(damaged).code, ErrorCode::InvalidArgument);
    }
}
