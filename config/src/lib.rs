//! Tessera's settings and fleet policy (docs/admin.md).
//!
//! - [`Config`]: every section and key, with its default and the values
//!   allowed ([`Config::check_keys`], [`Config::check_combined`]).
//! - [`KEYS`]: the list of keys (`section.key`), and whether a change takes
//!   effect on reload or only at restart.
//! - [`load`]: the layers (built-in defaults < vendor < admin < user), locks,
//!   where each value came from, and problems with file, line and column.
//!
//! No I/O but reading the configuration files; depended on by the daemon
//! (which maps the sections to its own types) and by the CLI (`tessera
//! config check` works without a daemon).

pub mod load;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::signature::IssuerPublicKey;

pub use load::{
    ConfigError, Layer, Origin, Paths, Problem, Provenance, check_file, load, load_paths,
};

/// The effective settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub vault: VaultConfig,
    pub pin: PinConfig,
    pub activation: ActivationConfig,
    pub issuers: IssuersConfig,
    pub accounts: AccountsConfig,
    pub scanner: ScannerConfig,
    pub plugins: PluginsConfig,
    pub biometrics: BiometricsConfig,
    pub notifications: NotificationsConfig,
    pub clients: ClientsConfig,
    pub backup: BackupConfig,
    pub tpm: TpmConfig,
    /// Where each value came from, the locks and the warnings of loading;
    /// empty for settings not read by [`load`].
    #[serde(skip)]
    pub provenance: Provenance,
}

/// Whether a change to a key takes effect when the daemon reloads its
/// settings, or only when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// On reload (SIGHUP, or a changed file).
    Reload,
    /// At the next start of the daemon.
    Restart,
}

/// One key of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// `section.key`.
    pub key: &'static str,
    pub applies: Applies,
    /// The values allowed: the one description that checks a value and
    /// words every message about it.
    pub allowed: Allowed,
}

/// The values a key allows, described once: [`Allowed::check`] checks a
/// value against it and [`Allowed::describe`] says it in words a user
/// understands ("a whole number from 1 to 1440", "one of: pin, keyring").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// `true` or `false`.
    Bool,
    /// A whole number in `min..=max`.
    Int { min: i64, max: i64 },
    /// A text, one of these.
    OneOf(&'static [&'static str]),
    /// A list of texts, each one of these.
    ListOf(&'static [&'static str]),
    /// A list of issuer keys, `ed25519:<base64url>`.
    IssuerKeys,
    /// A list of folders: absolute paths or `~/…`.
    Folders,
    /// One folder: an absolute path or `~/…`.
    Folder,
    /// A list of `{ name = "…", sha256 = "…" }` (sha256 optional).
    PluginAllowList,
    /// A list of PCR numbers, 0 to 23, each once (may be empty).
    Pcrs,
    /// A TPM's TCTI: `device:PATH`, `swtpm:host=H,port=P`, `mssim:…` or `tabrmd:…`.
    Tcti,
}

impl Allowed {
    /// What the key takes, in words.
    pub fn describe(&self) -> String {
        match self {
            Allowed::Bool => "true or false".to_owned(),
            Allowed::Int { min, max } => format!("a whole number from {min} to {max}"),
            Allowed::OneOf(names) => format!("one of: {}", names.join(", ")),
            Allowed::ListOf(names) => format!(
                "a list of names from: {} (e.g. [\"{}\"])",
                names.join(", "),
                names[0]
            ),
            Allowed::IssuerKeys => {
                "a list of issuer keys, \"ed25519:…\" as `tessera-issuer keygen` prints them"
                    .to_owned()
            }
            Allowed::Folders => {
                "a list of folders, each an absolute path or ~/… (e.g. [\"/opt/tessera/plugins\"])"
                    .to_owned()
            }
            Allowed::Folder => {
                "a folder: an absolute path or ~/… (e.g. \"/media/backup/tessera\")".to_owned()
            }
            Allowed::Pcrs => {
                "a list of PCR numbers from 0 to 23, each once (e.g. [7]; [] binds none)".to_owned()
            }
            Allowed::Tcti => "a TCTI: \"device:/dev/tpmrm0\", \"swtpm:host=127.0.0.1,port=2321\", \
                 \"mssim:…\" or \"tabrmd:…\""
                .to_owned(),
            Allowed::PluginAllowList => "a list of { name = \"…\" } or { name = \"…\", sha256 = \"…\" } \
                 (a plugin name: 1 to 64 of a-z 0-9 . _ -; sha256: the file's SHA-256 in 64 hex digits)"
                .to_owned(),
        }
    }

    /// Checks `value`; the error says what is wrong with it (the caller
    /// names the key and adds [`Allowed::describe`]).
    pub fn check(&self, value: &toml::Value) -> Result<(), String> {
        use toml::Value as V;
        let strings = |value: &V| -> Result<Vec<String>, String> {
            match value {
                V::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        V::String(s) => Ok(s.clone()),
                        other => Err(format!("the list holds {}", shown(other))),
                    })
                    .collect(),
                other => Err(format!("not {}", shown(other))),
            }
        };
        match (self, value) {
            (Allowed::Bool, V::Boolean(_)) => Ok(()),
            (Allowed::Int { min, max }, V::Integer(n)) => {
                if (*min..=*max).contains(n) {
                    Ok(())
                } else {
                    Err(format!("not {n}"))
                }
            }
            (Allowed::OneOf(names), V::String(s)) => {
                if names.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(format!("not {s:?}"))
                }
            }
            (Allowed::ListOf(names), v) => {
                for s in strings(v)? {
                    if !names.contains(&s.as_str()) {
                        return Err(format!("{s:?} is not one of them"));
                    }
                }
                Ok(())
            }
            (Allowed::IssuerKeys, v) => {
                for s in strings(v)? {
                    s.parse::<IssuerPublicKey>()
                        .map_err(|e| format!("{s:?} is not an issuer key ({e})"))?;
                }
                Ok(())
            }
            (Allowed::Folders, v) => {
                for f in strings(v)? {
                    if !(f.starts_with('/') || f.starts_with("~/")) {
                        return Err(format!("{f:?} is not an absolute path (or ~/…)"));
                    }
                }
                Ok(())
            }
            (Allowed::Pcrs, V::Array(items)) => {
                let mut seen = Vec::new();
                for item in items {
                    match item {
                        V::Integer(n) if (0..24).contains(n) && !seen.contains(n) => seen.push(*n),
                        V::Integer(n) if seen.contains(n) => {
                            return Err(format!("PCR {n} is named twice"));
                        }
                        other => return Err(format!("the list holds {}", shown(other))),
                    }
                }
                Ok(())
            }
            (Allowed::Tcti, V::String(t))
                if ["device:", "swtpm:", "mssim:", "tabrmd:"]
                    .iter()
                    .any(|p| t.starts_with(p)) =>
            {
                Ok(())
            }
            (Allowed::Folder, V::String(f)) if f.starts_with('/') || f.starts_with("~/") => Ok(()),
            (Allowed::Folder, V::String(f)) => {
                Err(format!("{f:?} is not an absolute path (or ~/…)"))
            }
            (Allowed::PluginAllowList, V::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let V::Table(t) = item else {
                        return Err(format!("entry {i} is {}", shown(item)));
                    };
                    for (k, v) in t {
                        match (k.as_str(), v) {
                            ("name", V::String(n)) if is_plugin_name(n) => {}
                            ("name", V::String(n)) => {
                                return Err(format!("entry {i}: name {n:?} is not a plugin name"));
                            }
                            ("sha256", V::String(h))
                                if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {}
                            ("sha256", _) => {
                                return Err(format!(
                                    "entry {i}: sha256 is not the file's SHA-256 in 64 hex digits \
                                     (sha256sum prints it)"
                                ));
                            }
                            ("name", other) => {
                                return Err(format!("entry {i}: name is {}", shown(other)));
                            }
                            (other, _) => {
                                return Err(format!(
                                    "entry {i} has the unknown field `{other}` (only name and sha256)"
                                ));
                            }
                        }
                    }
                    if !t.contains_key("name") {
                        return Err(format!("entry {i} has no name"));
                    }
                }
                Ok(())
            }
            (_, other) => Err(format!("not {}", shown(other))),
        }
    }
}

/// A value as a user would call it: "the text \"six\"", "the number 3".
fn shown(value: &toml::Value) -> String {
    use toml::Value as V;
    match value {
        V::String(s) => format!("the text {s:?}"),
        V::Integer(n) => format!("the number {n}"),
        V::Float(f) => format!("the number {f} (not a whole number)"),
        V::Boolean(b) => format!("{b}"),
        V::Datetime(d) => format!("the date {d}"),
        V::Array(_) => format!("a list ({})", value_to_text(value)),
        V::Table(_) => format!("a table ({})", value_to_text(value)),
    }
}

const fn live(key: &'static str, allowed: Allowed) -> KeyInfo {
    KeyInfo {
        key,
        applies: Applies::Reload,
        allowed,
    }
}

const fn restart(key: &'static str, allowed: Allowed) -> KeyInfo {
    KeyInfo {
        key,
        applies: Applies::Restart,
        allowed,
    }
}

const BOOL: Allowed = Allowed::Bool;

const fn int(min: i64, max: i64) -> Allowed {
    Allowed::Int { min, max }
}

/// The most memory `vault.argon2_memory_kib` allows, 1 GiB: also the most a
/// vault header may ask for before Argon2 runs (a tampered header must not
/// cost more per try than this product ever writes).
pub const ARGON2_MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// The most `vault.argon2_iterations` allows (and a vault header may ask).
pub const ARGON2_MAX_ITERATIONS: u32 = 100;
/// The most `vault.argon2_parallelism` allows (and a vault header may ask).
pub const ARGON2_MAX_PARALLELISM: u32 = 64;

/// Every key, section by section, in the order `tessera config show` lists
/// them, with the values each allows. docs/admin.md documents each (a test
/// checks).
pub const KEYS: &[KeyInfo] = &[
    live(
        "vault.protection",
        Allowed::OneOf(&["pin", "keyring", "tpm", "tpm+pin"]),
    ),
    live("vault.allow_keyring", BOOL),
    live("vault.auto_lock_minutes", int(0, 24 * 60)),
    live(
        "vault.argon2_memory_kib",
        int(8, ARGON2_MAX_MEMORY_KIB as i64),
    ),
    live(
        "vault.argon2_iterations",
        int(1, ARGON2_MAX_ITERATIONS as i64),
    ),
    live(
        "vault.argon2_parallelism",
        int(1, ARGON2_MAX_PARALLELISM as i64),
    ),
    live("pin.min_length", int(1, 64)),
    live("pin.digits_only", BOOL),
    live("pin.refuse_trivial", BOOL),
    live("pin.free_attempts", int(0, 100)),
    live("pin.delay_seconds", int(0, 3600)),
    live("pin.lockout_after", int(0, 1000)),
    live("activation.timeout_minutes", int(1, 24 * 60)),
    live("activation.notifications", BOOL),
    live("issuers.trusted", Allowed::IssuerKeys),
    live("issuers.require_signature", BOOL),
    live("accounts.otpauth", BOOL),
    live("accounts.algorithms", Allowed::ListOf(ALGORITHMS)),
    live("accounts.max", int(0, 100_000)),
    live("accounts.export", BOOL),
    live("scanner.sources", Allowed::ListOf(SCANNER_SOURCES)),
    restart("plugins.folders", Allowed::Folders),
    restart("plugins.allow", Allowed::PluginAllowList),
    live("plugins.image_timeout_seconds", int(1, 600)),
    live("plugins.capture_timeout_seconds", int(1, 600)),
    live("biometrics.allowed", BOOL),
    live("biometrics.max_failures", int(1, 100)),
    live("biometrics.timeout_seconds", int(1, 600)),
    live("notifications.allowed", BOOL),
    live("notifications.approval_timeout_seconds", int(5, 3600)),
    live(
        "notifications.approval_verify",
        Allowed::OneOf(&["none", "biometrics"]),
    ),
    live("clients.clipboard_clear_seconds", int(0, 3600)),
    live("backup.automatic", BOOL),
    live("backup.folder", Allowed::Folder),
    live("backup.keep", int(1, 1000)),
    live("tpm.tcti", Allowed::Tcti),
    live("tpm.pcrs", Allowed::Pcrs),
];

impl KeyInfo {
    /// Checks `value` for this key: the message names the key, what it
    /// allows and what was found ("pin.min_length must be a whole number
    /// from 1 to 64, not 0").
    pub fn check(&self, value: &toml::Value) -> Result<(), String> {
        self.allowed
            .check(value)
            .map_err(|found| format!("{} must be {}; {found}", self.key, self.allowed.describe()))
    }
}

/// The schema entry of `key` (`section.key`).
pub fn key_info(key: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.key == key)
}

/// The sections, in order.
pub const SECTIONS: &[&str] = &[
    "vault",
    "pin",
    "activation",
    "issuers",
    "accounts",
    "scanner",
    "plugins",
    "biometrics",
    "notifications",
    "clients",
    "backup",
    "tpm",
];

/// A value out of range: the key (`section.key`) and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    pub message: String,
}

impl Invalid {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProtectionConfig {
    /// A PIN protects the vault (Argon2id).
    #[default]
    Pin,
    /// No PIN; the master key is kept in the login keyring (Secret Service).
    Keyring,
    /// The PIN through the TPM only: the vault key is sealed to this
    /// machine's TPM (`[tpm]`), and there is no PIN slot a copied file could
    /// be attacked through offline.
    Tpm,
    /// The TPM slot and the PIN slot beside it: the PIN slot is the way
    /// back when the PCRs change or the TPM is gone.
    #[serde(rename = "tpm+pin")]
    TpmPin,
}

impl ProtectionConfig {
    /// The value as the settings files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pin => "pin",
            Self::Keyring => "keyring",
            Self::Tpm => "tpm",
            Self::TpmPin => "tpm+pin",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// How a new vault is protected.
    pub protection: ProtectionConfig,
    /// Whether `protection = "keyring"` (no PIN) is permitted at all; false
    /// makes the PIN required.
    pub allow_keyring: bool,
    /// Lock after this many idle minutes; 0 never.
    pub auto_lock_minutes: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            protection: ProtectionConfig::Pin,
            allow_keyring: true,
            auto_lock_minutes: 5,
            argon2_memory_kib: 64 * 1024,
            argon2_iterations: 3,
            argon2_parallelism: 1,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
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
        Self {
            min_length: 4,
            digits_only: false,
            refuse_trivial: true,
            free_attempts: 5,
            delay_seconds: 30,
            lockout_after: 0,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
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

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IssuersConfig {
    /// Trusted issuer keys, `ed25519:<base64url>` (tessera-issuer keygen prints them).
    pub trusted: Vec<String>,
    /// Refuse Tessera payloads without a signature from a trusted key.
    pub require_signature: bool,
}

/// The OTP hash algorithms by name.
pub const ALGORITHMS: &[&str] = &["SHA1", "SHA256", "SHA512"];

/// Which accounts may be activated.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// Whether `otpauth://` and `otpauth-migration://` payloads are accepted.
    pub otpauth: bool,
    /// The OTP algorithms accepted (`SHA1`, `SHA256`, `SHA512`).
    pub algorithms: Vec<String>,
    /// The most accounts the vault may hold; 0 no limit.
    pub max: u32,
    /// Whether `tessera export` may write the accounts' secrets to a file.
    pub export: bool,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            otpauth: true,
            algorithms: ALGORITHMS.iter().map(|a| (*a).to_owned()).collect(),
            max: 0,
            export: true,
        }
    }
}

impl AccountsConfig {
    /// Whether the algorithm named `name` (`SHA1`, …) is accepted.
    pub fn allows_algorithm(&self, name: &str) -> bool {
        self.algorithms.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The scanner sources by name.
pub const SCANNER_SOURCES: &[&str] = &["image", "camera", "screen"];

/// Where activation images may come from.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerConfig {
    /// The sources allowed: `image` (a file's bytes), `camera`, `screen`.
    pub sources: Vec<String>,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        Self {
            sources: SCANNER_SOURCES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl ScannerConfig {
    /// Whether the source named `name` (`image`, `camera`, `screen`) is allowed.
    pub fn allows(&self, name: &str) -> bool {
        self.sources.iter().any(|s| s == name)
    }
}

/// Where plugins come from and how long they may take (docs/plugins.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Folders to load plugins from, in order (the first plugin of a name
    /// wins); absolute, or `~/…` under the home folder. Unset: the host's
    /// defaults (`/usr/lib/tessera/plugins`, `~/.local/lib/tessera/plugins`,
    /// and in development builds the folder of `tesserad`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folders: Option<Vec<String>>,
    /// Fleet policy's allow-list: when set, only the plugins listed load;
    /// an entry with a `sha256` admits only that file.
    #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AllowedPlugin {
    /// The name the plugin declares (`image`, `camera`, …).
    pub name: String,
    /// The plugin file's SHA-256, 64 hex digits (`sha256sum libx.so`);
    /// absent: any file that declares this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl PluginsConfig {
    pub fn image_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.image_timeout_seconds))
    }

    pub fn capture_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.capture_timeout_seconds))
    }
}

/// Whether `name` is a plugin name (1 to 64 of a-z 0-9 . _ -).
pub fn is_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

/// Biometric unlock through a biometric plugin (docs/security.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
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
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
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
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
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

/// What the clients (the desktop app) do with codes; they read these
/// through `ShowConfig`, so an administrator sets and locks them as any key.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClientsConfig {
    /// Seconds after which a copied code is taken off the clipboard (if it
    /// is still there); 0 leaves it.
    pub clipboard_clear_seconds: u32,
}

impl Default for ClientsConfig {
    fn default() -> Self {
        Self {
            clipboard_clear_seconds: 30,
        }
    }
}

/// Automatic backups of the vault file (docs/backup.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// After every change, a copy of the vault file (encrypted as the vault
    /// is) goes to `folder`.
    pub automatic: bool,
    /// Where the copies go: absolute, or `~/…`; unset: `backups/` in the
    /// daemon's data folder. Another disk keeps them from dying with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// How many copies are kept; the oldest go first.
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            automatic: true,
            folder: None,
            keep: 10,
        }
    }
}

/// The TPM the vault's TPM slot is sealed to (`vault.protection = "tpm"`
/// or `"tpm+pin"`, `tessera tpm enroll`; docs/security.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TpmConfig {
    /// How to reach it (tss-esapi's TCTI string).
    pub tcti: String,
    /// The SHA-256 PCRs the sealing policy binds; empty binds the TPM and
    /// the PIN only. A change of a bound PCR (firmware, Secure Boot) stops
    /// the TPM slot from opening until it is sealed again.
    pub pcrs: Vec<u32>,
}

impl Default for TpmConfig {
    fn default() -> Self {
        Self {
            tcti: "device:/dev/tpmrm0".into(),
            pcrs: Vec::new(),
        }
    }
}

impl Config {
    /// Parses and checks one file's TOML text on its own (defaults for the
    /// rest); the error names line and column. For layered files see [`load`].
    pub fn parse(text: &str) -> Result<Config, String> {
        load::parse_single(text).map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// The values that are not allowed on their own, each with its key;
    /// checked against [`KEYS`] (the one description of each key).
    pub fn check_keys(&self) -> Vec<Invalid> {
        let Ok(toml::Value::Table(table)) = toml::Value::try_from(self) else {
            return vec![Invalid::new("", "the settings cannot be written as TOML")];
        };
        let mut out = Vec::new();
        for k in KEYS {
            let (section, name) = k.key.split_once('.').expect("section.key");
            if let Some(value) = table.get(section).and_then(|s| s.get(name))
                && let Err(message) = k.check(value)
            {
                out.push(Invalid::new(k.key, message));
            }
        }
        out
    }

    /// The combinations of values that are not allowed: each names the keys
    /// involved (the first is reported where it was set).
    pub fn check_combined(&self) -> Vec<(Vec<&'static str>, String)> {
        let mut out = Vec::new();
        let v = &self.vault;
        if u64::from(v.argon2_memory_kib) < 8 * u64::from(v.argon2_parallelism) {
            out.push((
                vec!["vault.argon2_memory_kib", "vault.argon2_parallelism"],
                format!(
                    "vault.argon2_memory_kib must be at least 8 × argon2_parallelism ({})",
                    8 * u64::from(v.argon2_parallelism)
                ),
            ));
        }
        if v.protection == ProtectionConfig::Keyring && !v.allow_keyring {
            out.push((
                vec!["vault.protection", "vault.allow_keyring"],
                "vault.protection = \"keyring\" is not allowed: vault.allow_keyring is false (a PIN is required)"
                    .to_owned(),
            ));
        }
        out
    }

    /// The trusted issuer keys, parsed.
    pub fn trusted_issuers(&self) -> Result<Vec<IssuerPublicKey>, String> {
        self.issuers
            .trusted
            .iter()
            .map(|k| k.parse().map_err(|e| format!("issuers.trusted: {e}")))
            .collect()
    }

    /// The value of `key` (`section.key`) as TOML text; `None` for an unset
    /// optional key (`plugins.folders`, `plugins.allow`) or an unknown key.
    pub fn value_text(&self, key: &str) -> Option<String> {
        let (section, name) = key.split_once('.')?;
        let table = toml::Value::try_from(self).ok()?;
        let value = table.get(section)?.get(name)?;
        Some(value_to_text(value))
    }
}

/// A value as TOML text, on one line.
pub fn value_to_text(value: &toml::Value) -> String {
    match value {
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value_to_text).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", value_to_text(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
