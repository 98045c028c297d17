//! The daemon's settings, read from one TOML file (`--config`). Unknown keys
//! and bad values are errors naming the file, line and column. The fleet
//! policy issue layers several files over these same settings.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_core::signature::IssuerPublicKey;

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

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IssuersConfig {
    /// Trusted issuer keys, `ed25519:<base64url>` (tessera-issuer keygen prints them).
    pub trusted: Vec<String>,
    /// Refuse Tessera payloads without a signature from a trusted key.
    pub require_signature: bool,
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
}
