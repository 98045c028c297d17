//! The daemon's settings: the schema, the layered files, locks and
//! validation live in `tessera-config` (re-exported here); this module maps
//! the sections to the daemon's own types (PIN rules, KDF parameters, the
//! wrong-PIN delays, plugin folders and allow-list, the backup folder) and watches the files
//! for a reload (SIGHUP, or a changed file).

use std::path::{Path, PathBuf};

use tessera_plugin_host::{AllowList, PluginFolder};

pub use tessera_config::*;

use crate::activation::PinRules;
use crate::vault::{BackupPolicy, KdfParams, PinDelayPolicy, TpmBinding};

/// `[vault]` as the vault takes it.
pub trait VaultConfigExt {
    fn kdf(&self) -> KdfParams;
}

impl VaultConfigExt for VaultConfig {
    fn kdf(&self) -> KdfParams {
        KdfParams {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

/// `[tpm]` and `vault.protection` as the vault's TPM slot takes them.
pub trait TpmConfigExt {
    /// The TPM at `tpm.tcti`.
    fn tpm(&self) -> tessera_tpm::Tpm;
    /// How a vault is bound to the TPM under this policy: the PCRs of
    /// `tpm.pcrs`, and the PIN slot kept unless `vault.protection = "tpm"`.
    /// `tpm.pcrs` is checked when the settings load, so it always parses.
    fn tpm_binding(&self) -> TpmBinding;
    /// Whether policy wants new vaults sealed to the TPM.
    fn wants_tpm(&self) -> bool;
}

impl TpmConfigExt for Config {
    fn tpm(&self) -> tessera_tpm::Tpm {
        tessera_tpm::Tpm::new(self.tpm.tcti.clone())
    }

    fn tpm_binding(&self) -> TpmBinding {
        TpmBinding {
            pcrs: tessera_tpm::Pcrs::new(&self.tpm.pcrs).unwrap_or_default(),
            keep_pin_slot: self.vault.protection != ProtectionConfig::Tpm,
        }
    }

    fn wants_tpm(&self) -> bool {
        matches!(
            self.vault.protection,
            ProtectionConfig::Tpm | ProtectionConfig::TpmPin
        )
    }
}

/// `[pin]` as the activation machine and the vault take it.
pub trait PinConfigExt {
    fn rules(&self) -> PinRules;
    fn delay_policy(&self) -> PinDelayPolicy;
}

impl PinConfigExt for PinConfig {
    fn rules(&self) -> PinRules {
        PinRules {
            min_length: self.min_length,
            digits_only: self.digits_only,
            refuse_trivial: self.refuse_trivial,
        }
    }

    fn delay_policy(&self) -> PinDelayPolicy {
        PinDelayPolicy {
            free_attempts: self.free_attempts,
            base_delay: std::time::Duration::from_secs(self.delay_seconds),
            lockout_after: (self.lockout_after > 0).then_some(self.lockout_after),
        }
    }
}

/// `[plugins]` as the plugin host takes it.
pub trait PluginsConfigExt {
    /// The folders to load from: the configured ones, or the host's
    /// defaults (with the binary's own folder in debug builds, and in any
    /// build when that folder is cargo's build output:
    /// `tessera_plugin_host::default_folders`).
    fn folders(&self) -> Result<Vec<PluginFolder>, String>;
    /// The allow-list, when one is configured.
    fn allow_list(&self) -> Result<Option<AllowList>, String>;
}

impl PluginsConfigExt for PluginsConfig {
    fn folders(&self) -> Result<Vec<PluginFolder>, String> {
        let Some(folders) = &self.folders else {
            return Ok(tessera_plugin_host::default_folders(cfg!(debug_assertions)));
        };
        folders
            .iter()
            .map(|f| expand_folder("plugins.folders", f).map(PluginFolder::new))
            .collect()
    }

    fn allow_list(&self) -> Result<Option<AllowList>, String> {
        let Some(entries) = &self.allow else {
            return Ok(None);
        };
        let mut list = AllowList::new();
        for (i, entry) in entries.iter().enumerate() {
            list = match &entry.sha256 {
                Some(sha) => list
                    .allow(&entry.name, sha)
                    .map_err(|e| format!("plugins.allow[{i}].sha256: {e}"))?,
                None => list.allow_name(&entry.name),
            };
        }
        Ok(Some(list))
    }
}

/// `[backup]` as the vault takes it.
pub trait BackupConfigExt {
    /// Where automatic backups go and how many are kept; `None` when they
    /// are off. The folder defaults to `backups/` in `data_dir`.
    fn policy(&self, data_dir: &Path) -> Result<Option<BackupPolicy>, String>;
    /// The backup folder, whether automatic backups are on or not.
    fn folder_in(&self, data_dir: &Path) -> Result<PathBuf, String>;
}

impl BackupConfigExt for BackupConfig {
    fn policy(&self, data_dir: &Path) -> Result<Option<BackupPolicy>, String> {
        if !self.automatic {
            return Ok(None);
        }
        Ok(Some(BackupPolicy {
            folder: self.folder_in(data_dir)?,
            keep: self.keep,
        }))
    }

    fn folder_in(&self, data_dir: &Path) -> Result<PathBuf, String> {
        match &self.folder {
            Some(f) => expand_folder("backup.folder", f),
            None => Ok(data_dir.join("backups")),
        }
    }
}

/// A configured folder (of the key `key`): absolute, or `~/…` under `$HOME`.
fn expand_folder(key: &str, folder: &str) -> Result<PathBuf, String> {
    let path = if let Some(rest) = folder.strip_prefix("~/") {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{key}: {folder:?} needs $HOME, which is not set"))?;
        Path::new(&home).join(rest)
    } else {
        PathBuf::from(folder)
    };
    if !path.is_absolute() {
        return Err(format!(
            "{key}: {folder:?} is not an absolute path (or ~/…)"
        ));
    }
    Ok(path)
}

pub mod watch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_daemons_types() {
        let c = Config::default();
        assert_eq!(c.vault.kdf(), KdfParams::default());
        assert_eq!(c.pin.rules(), PinRules::default());
    }

    #[test]
    fn plugin_folders_default_to_the_hosts() {
        let c = Config::default();
        let folders = c.plugins.folders().unwrap();
        assert_eq!(
            folders,
            tessera_plugin_host::default_folders(cfg!(debug_assertions))
        );
        assert_eq!(folders[0].path, Path::new("/usr/lib/tessera/plugins"));
        assert!(c.plugins.allow_list().unwrap().is_none());
    }

    #[test]
    fn plugin_allow_list_takes_hashes_and_names() {
        let c = Config::parse(
            "[plugins]\nfolders = [\"/opt/tessera/plugins\"]\n\
             allow = [{ name = \"image\", sha256 = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\" }, { name = \"camera\" }]\n",
        )
        .unwrap();
        assert_eq!(
            c.plugins.folders().unwrap(),
            vec![PluginFolder::new("/opt/tessera/plugins")]
        );
        let expected = AllowList::new()
            .allow(
                "image",
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
            )
            .unwrap()
            .allow_name("camera");
        assert_eq!(c.plugins.allow_list().unwrap(), Some(expected));
        // An empty allow-list is a list: nothing loads.
        let c = Config::parse("[plugins]\nallow = []\n").unwrap();
        assert_eq!(c.plugins.allow_list().unwrap(), Some(AllowList::new()));
    }
}
