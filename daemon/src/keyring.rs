//! The user's login keyring, through the Secret Service API (gnome-keyring,
//! KWallet, oo7…): where the keys of the vault's keyring slot (and later its
//! biometric slot) are kept.
//!
//! One item per vault and slot kind, in the default collection, with the
//! attributes `application = tessera`, `tessera-vault = <vault id>`,
//! `tessera-slot = keyring | biometric`. Every call opens its own
//! connection (they are rare: creating or unlocking the vault), never
//! prompts (a locked keyring is reported, not unlocked) and gives up after
//! [`TIMEOUT`]. Keys are `SecretBytes` (zeroized on drop) and never logged.

use std::collections::HashMap;
use std::time::Duration;

use secret_service::{Collection, EncryptionType, SecretService};
use tessera_core::SecretBytes;

use crate::vault::SlotKind;

/// The `application` attribute of our items.
pub const APPLICATION: &str = "tessera";
/// The attribute naming the vault (its id, 32 hex digits).
pub const VAULT_ATTRIBUTE: &str = "tessera-vault";
/// The attribute naming the slot kind (`keyring`, `biometric`).
pub const SLOT_ATTRIBUTE: &str = "tessera-slot";
/// How long one keyring operation may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

const CONTENT_TYPE: &str = "application/octet-stream";

/// What can go wrong with the login keyring. Never contains a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No session bus, no Secret Service on it, no default collection, or
    /// the collection is locked.
    #[error(
        "the login keyring (Secret Service) is not available: {0}; set vault.protection = \
         \"pin\" to use a PIN instead"
    )]
    Unavailable(String),

    /// The Secret Service answered, but the operation failed.
    #[error("the login keyring (Secret Service) could not {op} the vault key: {reason}")]
    Failed { op: &'static str, reason: String },
}

/// Keys of vault slots in the login keyring. Holds no connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyStore;

impl KeyStore {
    pub fn new() -> Self {
        Self
    }

    /// Whether the login keyring can be used now: a Secret Service with an
    /// unlocked default collection.
    pub async fn check(&self) -> Result<(), KeyringError> {
        bounded("reach", async {
            let service = connect().await?;
            default_collection(&service).await.map(drop)
        })
        .await
    }

    /// Stores `key` for the vault `vault_id`'s slot `kind`, replacing an
    /// item that has the same attributes.
    pub async fn store(
        &self,
        vault_id: &str,
        kind: SlotKind,
        key: &SecretBytes,
    ) -> Result<(), KeyringError> {
        bounded("store", async {
            let service = connect().await?;
            let collection = default_collection(&service).await?;
            collection
                .create_item(
                    &label(kind),
                    attributes(vault_id, kind),
                    key.expose(),
                    true,
                    CONTENT_TYPE,
                )
                .await
                .map_err(|e| failed("store", e))?;
            tracing::info!(
                vault = vault_id,
                slot = kind.as_str(),
                "vault key stored in the login keyring"
            );
            Ok(())
        })
        .await
    }

    /// The key for the vault `vault_id`'s slot `kind`; `None` if there is no
    /// such item.
    pub async fn load(
        &self,
        vault_id: &str,
        kind: SlotKind,
    ) -> Result<Option<SecretBytes>, KeyringError> {
        bounded("read", async {
            let service = connect().await?;
            let collection = default_collection(&service).await?;
            let items = collection
                .search_items(attributes(vault_id, kind))
                .await
                .map_err(|e| failed("find", e))?;
            let Some(item) = items.first() else {
                return Ok(None);
            };
            if items.len() > 1 {
                tracing::warn!(
                    vault = vault_id,
                    slot = kind.as_str(),
                    items = items.len(),
                    "several keyring items for one vault slot; using the first"
                );
            }
            if item.is_locked().await.map_err(|e| failed("read", e))? {
                return Err(KeyringError::Unavailable(
                    "the vault key's item is locked".into(),
                ));
            }
            let secret = item.get_secret().await.map_err(|e| failed("read", e))?;
            Ok(Some(SecretBytes::new(secret)))
        })
        .await
    }

    /// Deletes the items for the vault `vault_id`'s slot `kind` (none is not
    /// an error).
    pub async fn delete(&self, vault_id: &str, kind: SlotKind) -> Result<(), KeyringError> {
        bounded("delete", async {
            let service = connect().await?;
            let collection = default_collection(&service).await?;
            let items = collection
                .search_items(attributes(vault_id, kind))
                .await
                .map_err(|e| failed("find", e))?;
            for item in &items {
                item.delete().await.map_err(|e| failed("delete", e))?;
            }
            if !items.is_empty() {
                tracing::info!(
                    vault = vault_id,
                    slot = kind.as_str(),
                    "vault key deleted from the login keyring"
                );
            }
            Ok(())
        })
        .await
    }
}

/// The item's label, as keyring managers (Seahorse) show it.
fn label(kind: SlotKind) -> String {
    match kind {
        SlotKind::Keyring => "Tessera vault key".to_owned(),
        other => format!("Tessera vault key ({other})"),
    }
}

fn attributes(vault_id: &str, kind: SlotKind) -> HashMap<&str, &str> {
    HashMap::from([
        ("application", APPLICATION),
        (VAULT_ATTRIBUTE, vault_id),
        (SLOT_ATTRIBUTE, kind.as_str()),
    ])
}

async fn bounded<T>(
    op: &'static str,
    f: impl Future<Output = Result<T, KeyringError>>,
) -> Result<T, KeyringError> {
    tokio::time::timeout(TIMEOUT, f).await.unwrap_or_else(|_| {
        Err(KeyringError::Unavailable(format!(
            "no answer within {} s while trying to {op} the vault key",
            TIMEOUT.as_secs()
        )))
    })
}

async fn connect() -> Result<SecretService<'static>, KeyringError> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
    {
        return Err(KeyringError::Unavailable(
            "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset)"
                .into(),
        ));
    }
    SecretService::connect(EncryptionType::Dh)
        .await
        .map_err(|e| KeyringError::Unavailable(describe(&e)))
}

async fn default_collection<'a>(
    service: &'a SecretService<'a>,
) -> Result<Collection<'a>, KeyringError> {
    let collection = service
        .get_default_collection()
        .await
        .map_err(|e| match e {
            secret_service::Error::NoResult => {
                KeyringError::Unavailable("it has no default collection".into())
            }
            e => KeyringError::Unavailable(describe(&e)),
        })?;
    if collection
        .is_locked()
        .await
        .map_err(|e| KeyringError::Unavailable(describe(&e)))?
    {
        return Err(KeyringError::Unavailable(
            "its default collection is locked (log in to the desktop session, or unlock the \
             login keyring)"
                .into(),
        ));
    }
    Ok(collection)
}

fn failed(op: &'static str, e: secret_service::Error) -> KeyringError {
    match e {
        secret_service::Error::Locked => {
            KeyringError::Unavailable("the login keyring is locked".into())
        }
        e => KeyringError::Failed {
            op,
            reason: describe(&e),
        },
    }
}

/// The crate's messages are terse ("SS error: …"); say it plainly.
fn describe(e: &secret_service::Error) -> String {
    match e {
        secret_service::Error::Unavailable => {
            "no Secret Service is running on the session bus".to_owned()
        }
        secret_service::Error::Locked => "it is locked".to_owned(),
        secret_service::Error::Prompt | secret_service::Error::PromptDisconnected => {
            "it asked for confirmation, which was refused".to_owned()
        }
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_named_for_the_vault_and_slot() {
        let a = attributes("00ff", SlotKind::Keyring);
        assert_eq!(a["application"], "tessera");
        assert_eq!(a["tessera-vault"], "00ff");
        assert_eq!(a["tessera-slot"], "keyring");
        assert_eq!(label(SlotKind::Keyring), "Tessera vault key");
        assert_eq!(label(SlotKind::Biometric), "Tessera vault key (biometric)");
    }

    #[test]
    fn unavailable_says_what_to_do() {
        let e = KeyringError::Unavailable("no bus".into());
        assert_eq!(
            e.to_string(),
            "the login keyring (Secret Service) is not available: no bus; set \
             vault.protection = \"pin\" to use a PIN instead"
        );
    }
}
