//! The daemon's settings, read from one TOML file (`--config`). Unknown keys
//! and bad values are errors naming the file, line and column. The fleet
//! policy issue layers several files over these same settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tessera_core::signature::IssuerPublicKey;
use tessera_plugin_host::{AllowList, PluginFolder};

use crate::activation::PinRules;
use crate::vault::{KdfParams, PinDelayPolicy};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub vault: VaultConfig,
    pub pin: PinConfig,
    pub activation: ActivationConfig,
    pub issuers: IssuersConfig,
    pub plugins: PluginsConfig,
    pub biometrics: BiometricsConfig,
    pub notifications: NotificationsConfig,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProtectionConfig {
    /// A PIN protects the vault (Argon2id).
    #[default]
    Pin,
    /// No PIN; the master key is kept in the login keyring (Secret Service).
    Keyring,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    pub protection: ProtectionConfig,
    /// Lock after this many idle minutes; 0 never.
    pub auto_lock_minutes: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

impl Default for VaultConfig {
    fn default() -> Self {
        let kdf = KdfParams::default();
        Self {
            protection: ProtectionConfig::Pin,
            auto_lock_minutes: 5,
            argon2_memory_kib: kdf.memory_kib,
            argon2_iterations: kdf.iterations,
            argon2_parallelism: kdf.parallelism,
        }
    }
}

impl VaultConfig {
    pub fn kdf(&self) -> KdfParams {
        KdfParams {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PinConfig {
    pub min_length: u32,
    pub digits_only: bool,
    pub refuse_trivial: bool,
    /// Wrong PINs allowed before delays start.
    pub free_attempts: u32,
    /// The first delay, doubling with each further wrong PIN.
    pub delay_seconds: u64,
    /// Refuse every PIN after this many wrong ones; 0 never.
    pub lockout_after: u32,
}

impl Default for PinConfig {
    fn default() -> Self {
        let rules = PinRules::default();
        Self {
            min_length: rules.min_length,
            digits_only: rules.digits_only,
            refuse_trivial: rules.refuse_trivial,
            free_attempts: 5,
            delay_seconds: 30,
            lockout_after: 0,
        }
    }
}

impl PinConfig {
    pub fn rules(&self) -> PinRules {
        PinRules {
            min_length: self.min_length,
            digits_only: self.digits_only,
            refuse_trivial: self.refuse_trivial,
        }
    }

    pub fn delay_policy(&self) -> PinDelayPolicy {
        PinDelayPolicy {
            free_attempts: self.free_attempts,
            base_delay: std::time::Duration::from_secs(self.delay_seconds),
            lockout_after: (self.lockout_after > 0).then_some(self.lockout_after),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ActivationConfig {
    /// An activation with no event for this long fails.
    pub timeout_minutes: u32,
    /// Ask for notification permission at the end of an activation.
    pub notifications: bool,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        Self {
            timeout_minutes: 10,
            notifications: false,
        }
    }
}

/// Biometric unlock through a biometric plugin (docs/security.md).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BiometricsConfig {
    /// Whether users may protect the vault with biometrics at all.
    pub allowed: bool,
    /// No-matches in a row before an unlock falls back to the PIN.
    pub max_failures: u32,
    /// How long one enroll or verify may take.
    pub timeout_seconds: u32,
}

impl Default for BiometricsConfig {
    fn default() -> Self {
        Self {
            allowed: true,
            max_failures: 5,
            timeout_seconds: 30,
        }
    }
}

/// What the user must do to approve a request shown as a notification.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalVerify {
    /// Clicking Approve is enough (the vault must be unlocked).
    #[default]
    None,
    /// Approve, then a biometric verify (falls back to refusing when
    /// biometrics are not enabled).
    Biometrics,
}

/// Notifications and the approvals they carry (`RequestApproval`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Whether approvals through notifications may be used at all; when
    /// false the activation never asks, and `RequestApproval` is refused.
    pub allowed: bool,
    /// How long an approval notification waits for an answer.
    pub approval_timeout_seconds: u32,
    pub approval_verify: ApprovalVerify,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            allowed: true,
            approval_timeout_seconds: 60,
            approval_verify: ApprovalVerify::None,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IssuersConfig {
    /// Trusted issuer keys, `ed25519:<base64url>` (tessera-issuer keygen prints them).
    pub trusted: Vec<String>,
    /// Refuse Tessera payloads without a signature from a trusted key.
    pub require_signature: bool,
}

/// Where plugins come from and how long they may take (docs/plugins.md).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Folders to load plugins from, in order (the first plugin of a name
    /// wins); absolute, or `~/…` under the home folder. Unset: the host's
    /// defaults (`/usr/lib/tessera/plugins`, `~/.local/lib/tessera/plugins`,
    /// and in development builds the folder of `tesserad`).
    pub folders: Option<Vec<String>>,
    /// Fleet policy's allow-list: when set, only plugin files whose SHA-256
    /// is listed load, each under the name listed with its hash.
    pub allow: Option<Vec<AllowedPlugin>>,
    /// How long the image scanner may take for one image.
    pub image_timeout_seconds: u32,
    /// How long a capture scanner (camera, screen) may take for one scan.
    pub capture_timeout_seconds: u32,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            folders: None,
            allow: None,
            image_timeout_seconds: 10,
            capture_timeout_seconds: 60,
        }
    }
}

/// One entry of `plugins.allow`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AllowedPlugin {
    /// The name the plugin declares (`image`, `camera`, …).
    pub name: String,
    /// The plugin file's SHA-256, 64 hex digits (`sha256sum libx.so`).
    pub sha256: String,
}

impl PluginsConfig {
    /// The folders to load from: the configured ones, or the host's defaults
    /// (with the build output folder in debug builds).
    pub fn folders(&self) -> Result<Vec<PluginFolder>, String> {
        let Some(folders) = &self.folders else {
            return Ok(tessera_plugin_host::default_folders(cfg!(debug_assertions)));
        };
        folders
            .iter()
            .map(|f| expand_folder(f).map(PluginFolder::new))
            .collect()
    }

    /// The allow-list, when one is configured.
    pub fn allow_list(&self) -> Result<Option<AllowList>, String> {
        let Some(entries) = &self.allow else {
            return Ok(None);
        };
        let mut list = AllowList::new();
        for (i, entry) in entries.iter().enumerate() {
            let valid_name = (1..=64).contains(&entry.name.len())
                && entry
                    .name
                    .bytes()
                    .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'));
            if !valid_name {
                return Err(format!(
                    "plugins.allow[{i}].name {:?} is not a plugin name (1 to 64 of a-z 0-9 . _ -)",
                    entry.name
                ));
            }
            if entry.sha256.len() != 64 || !entry.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "plugins.allow[{i}].sha256 must be the file's SHA-256 in 64 hex digits (sha256sum prints it)"
                ));
            }
            list = list
                .allow(&entry.name, &entry.sha256)
                .map_err(|e| format!("plugins.allow[{i}].sha256: {e}"))?;
        }
        Ok(Some(list))
    }

    pub fn image_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.image_timeout_seconds))
    }

    pub fn capture_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.capture_timeout_seconds))
    }

    fn check(&self) -> Result<(), String> {
        self.folders()?;
        self.allow_list()?;
        if !(1..=600).contains(&self.image_timeout_seconds) {
            return Err("plugins.image_timeout_seconds must be 1 to 600".into());
        }
        if !(1..=600).contains(&self.capture_timeout_seconds) {
            return Err("plugins.capture_timeout_seconds must be 1 to 600".into());
        }
        Ok(())
    }
}

/// A configured plugin folder: absolute, or `~/…` under `$HOME`.
fn expand_folder(folder: &str) -> Result<PathBuf, String> {
    let path = if let Some(rest) = folder.strip_prefix("~/") {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("plugins.folders: {folder:?} needs $HOME, which is not set"))?;
        Path::new(&home).join(rest)
    } else {
        PathBuf::from(folder)
    };
    if !path.is_absolute() {
        return Err(format!(
            "plugins.folders: {folder:?} is not an absolute path (or ~/…)"
        ));
    }
    Ok(path)
}

impl Config {
    /// Reads and checks one file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses and checks TOML text; the error names line and column.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            format!("line {line}, column {col}: {}", e.message())
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let v = &self.vault;
        if v.argon2_memory_kib < 8 * v.argon2_parallelism.max(1) {
            return Err("vault.argon2_memory_kib must be at least 8 × parallelism".into());
        }
        if v.argon2_iterations == 0 || v.argon2_parallelism == 0 {
            return Err("vault.argon2_iterations and argon2_parallelism must be at least 1".into());
        }
        if !(1..=64).contains(&self.pin.min_length) {
            return Err("pin.min_length must be 1 to 64".into());
        }
        if self.activation.timeout_minutes == 0 {
            return Err("activation.timeout_minutes must be at least 1".into());
        }
        self.trusted_issuers()?;
        self.plugins.check()?;
        if !(1..=600).contains(&self.biometrics.timeout_seconds) {
            return Err("biometrics.timeout_seconds must be 1 to 600".into());
        }
        if self.biometrics.max_failures == 0 {
            return Err("biometrics.max_failures must be at least 1".into());
        }
        if !(5..=3600).contains(&self.notifications.approval_timeout_seconds) {
            return Err("notifications.approval_timeout_seconds must be 5 to 3600".into());
        }
        Ok(())
    }

    pub fn trusted_issuers(&self) -> Result<Vec<IssuerPublicKey>, String> {
        self.issuers
            .trusted
            .iter()
            .map(|k| k.parse().map_err(|e| format!("issuers.trusted: {e}")))
            .collect()
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.vault.auto_lock_minutes, 5);
        assert_eq!(c.vault.kdf(), KdfParams::default());
        assert_eq!(c.pin.free_attempts, 5);
        assert_eq!(c.pin.delay_seconds, 30);
        assert_eq!(c.activation.timeout_minutes, 10);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_place() {
        let e = Config::parse("[vault]\nauto_lock_minutes = 3\nfoo = 1\n").unwrap_err();
        assert!(
            e.starts_with("line 3, column 1: unknown field `foo`"),
            "{e}"
        );
        let e = Config::parse("[pin]\nmin_length = \"six\"\n").unwrap_err();
        assert!(e.starts_with("line 2, column 14:"), "{e}");
        let e = Config::parse("[pin]\nmin_length = 0\n").unwrap_err();
        assert_eq!(e, "pin.min_length must be 1 to 64");
        let e = Config::parse("[issuers]\ntrusted = [\"ed25519:xx\"]\n").unwrap_err();
        assert!(e.starts_with("issuers.trusted: issuer key"), "{e}");
    }

    #[test]
    fn plugin_folders_default_to_the_hosts() {
        let c = Config::parse("").unwrap();
        let folders = c.plugins.folders().unwrap();
        assert_eq!(
            folders,
            tessera_plugin_host::default_folders(cfg!(debug_assertions))
        );
        assert_eq!(folders[0].path, Path::new("/usr/lib/tessera/plugins"));
        assert!(c.plugins.allow_list().unwrap().is_none());
        assert_eq!(c.plugins.image_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn plugin_settings_are_checked() {
        let c = Config::parse(
            "[plugins]\nfolders = [\"/opt/tessera/plugins\"]\n\
             allow = [{ name = \"image\", sha256 = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\" }]\n",
        )
        .unwrap();
        assert_eq!(
            c.plugins.folders().unwrap(),
            vec![PluginFolder::new("/opt/tessera/plugins")]
        );
        assert!(c.plugins.allow_list().unwrap().is_some());
        // An empty allow-list is a list: nothing loads.
        let c = Config::parse("[plugins]\nallow = []\n").unwrap();
        assert_eq!(c.plugins.allow_list().unwrap(), Some(AllowList::new()));

        let e = Config::parse("[plugins]\nfolders = [\"plugins\"]\n").unwrap_err();
        assert!(e.contains("not an absolute path"), "{e}");
        let e = Config::parse("[plugins]\nallow = [{ name = \"Image\", sha256 = \"00\" }]\n")
            .unwrap_err();
        assert!(e.starts_with("plugins.allow[0].name \"Image\""), "{e}");
        let e = Config::parse("[plugins]\nallow = [{ name = \"image\", sha256 = \"00\" }]\n")
            .unwrap_err();
        assert!(e.starts_with("plugins.allow[0].sha256 must be"), "{e}");
        let e = Config::parse("[plugins]\nallow = [{ name = \"image\" }]\n").unwrap_err();
        assert!(e.contains("missing field `sha256`"), "{e}");
        let e = Config::parse("[plugins]\nimage_timeout_seconds = 0\n").unwrap_err();
        assert_eq!(e, "plugins.image_timeout_seconds must be 1 to 600");
    }
}
