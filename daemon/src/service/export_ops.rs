//! Exporting the accounts to a file another authenticator reads
//! (docs/import.md, "Export"): Aegis's JSON (plain or under a password) or
//! a list of `otpauth://` links. Every secret leaves in the file, so an
//! export asks for the vault's PIN (counted as any wrong PIN) and policy
//! can forbid it (`accounts.export`). Tessera accounts stay: their issuer
//! bound them to this device, and the files of other apps cannot carry
//! their activation anyway.

use tessera_core::SecretString;
use tessera_core::payload::OtpAuthAccount;
use tessera_import::ExportFormat;
use zeroize::Zeroizing;

use super::Service;
use super::backup_ops::MIN_PASSWORD_CHARS;
use super::import_ops::SkippedEntry;
use crate::account::{Account, AccountInfo, AccountKind};
use crate::error::{ErrorCode, ServiceError, ServiceResult};

/// An export's file and what went into it.
pub struct Export {
    /// The file's bytes, wiped when dropped (a plain export holds every
    /// secret in the clear).
    pub file: Zeroizing<Vec<u8>>,
    pub exported: Vec<AccountInfo>,
    /// Accounts the file does not carry, and why.
    pub left_out: Vec<SkippedEntry>,
}

impl Service {
    /// The vault's otpauth accounts in `format`. `pin` confirms it (the
    /// vault's PIN, counted as a wrong PIN when wrong; not asked of a vault
    /// without a PIN slot); `password`, for an encrypted format, at least
    /// [`MIN_PASSWORD_CHARS`] characters. Refused when policy turns exports
    /// off. The vault must be unlocked.
    pub async fn export(
        &self,
        format: &str,
        pin: Option<SecretString>,
        password: Option<SecretString>,
    ) -> ServiceResult<Export> {
        let format = ExportFormat::from_name(format).ok_or_else(|| {
            let names: Vec<_> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
            ServiceError::invalid_argument(format!(
                "unknown export format {format:?}: use one of {}",
                names.join(", ")
            ))
        })?;
        if !self.config().accounts.export {
            return Err(ServiceError::new(
                ErrorCode::Policy,
                "policy does not allow exporting the accounts (accounts.export = false); \
                 an encrypted backup (tessera backup create) is still possible",
            ));
        }
        let password = match (format.encrypted(), password) {
            (false, Some(_)) => {
                return Err(ServiceError::invalid_argument(format!(
                    "the {} format has no password; choose aegis-encrypted to export under one",
                    format.name()
                )));
            }
            (false, None) => None,
            (true, None) => {
                return Err(ServiceError::invalid_argument(format!(
                    "the {} format needs a password for the file",
                    format.name()
                )));
            }
            (true, Some(p)) if p.expose().chars().count() < MIN_PASSWORD_CHARS => {
                return Err(ServiceError::invalid_argument(format!(
                    "the export password is too short: use at least {MIN_PASSWORD_CHARS} \
                     characters (a passphrase of a few words is best)"
                )));
            }
            (true, Some(p)) => Some(p),
        };
        self.ensure_unlocked().await?;
        let (accounts, left_out, exported) = self
            .with_vault(move |v| -> ServiceResult<_> {
                if v.has_pin() {
                    let Some(pin) = pin else {
                        return Err(ServiceError::new(
                            ErrorCode::WrongPin,
                            "an export needs the vault's PIN to confirm it",
                        ));
                    };
                    v.verify_pin(&pin, std::time::SystemTime::now())
                        .map_err(|e| super::vault_ops::pin_error(v, e))?;
                }
                Ok(portable(v.accounts()?, format))
            })
            .await??;
        let file = tokio::task::spawn_blocking(move || format.write(&accounts, password.as_ref()))
            .await
            .map_err(|e| ServiceError::internal(format!("writing the export failed: {e}")))?
            .map_err(|e| ServiceError::internal(e.to_string()))?;
        tracing::info!(
            format = format.name(),
            exported = exported.len(),
            left_out = left_out.len(),
            "accounts exported"
        );
        Ok(Export {
            file,
            exported,
            left_out,
        })
    }
}

/// The accounts `format` can take, and those it cannot with the reason.
fn portable(
    accounts: &[Account],
    format: ExportFormat,
) -> (Vec<OtpAuthAccount>, Vec<SkippedEntry>, Vec<AccountInfo>) {
    let mut out = Vec::new();
    let mut left_out = Vec::new();
    let mut exported = Vec::new();
    for a in accounts {
        let leave = |reason: &str| SkippedEntry {
            name: match &a.issuer {
                Some(i) => format!("{i}: {}", a.label),
                None => a.label.clone(),
            },
            reason: reason.to_owned(),
        };
        if !matches!(a.kind, AccountKind::OtpAuth) {
            left_out.push(leave(
                "a Tessera account, bound to this device by its issuer: activate it again on \
                 the new device (a Tessera backup carries it)",
            ));
            continue;
        }
        let account = OtpAuthAccount {
            issuer: a.issuer.clone().filter(|i| !i.is_empty()),
            account: a.label.clone(),
            secret: a.secret.clone(),
            params: a.params,
            pin: a.pin.clone(),
        };
        match format.carries(&account) {
            Ok(()) => {
                out.push(account);
                exported.push(a.into());
            }
            Err(reason) => left_out.push(leave(&reason)),
        }
    }
    (out, left_out, exported)
}
