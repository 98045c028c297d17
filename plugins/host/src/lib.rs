//! Tessera's plugin host: finds plugins in configured folders, refuses the
//! ones others could have written, loads the rest with libloading, checks
//! their ABI version and descriptor, and calls them off the async runtime
//! with a timeout. Plugins are untrusted: their output is copied and
//! checked, and a plugin that panics, hangs, sends garbage or fails to load
//! is marked failed with its reason while the host keeps serving the others.
//!
//! What cannot be contained: a plugin that crashes the process (a segfault
//! in C, an abort) takes the daemon down with it, and a hung call's thread
//! cannot be killed: it is abandoned (it keeps its memory and CPU) and the
//! plugin is called no more. Libraries are never unloaded.
//!
//! See `docs/plugins.md` for the ABI and the rules.

mod biometric;
mod call;
mod load;
mod trust;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_plugin_api::abi::*;
use tokio::sync::Semaphore;

use crate::load::{BiometricFns, ScanFn};

pub use biometric::{BiometricAvailability, BiometricProgress, ProgressKind};

pub use tessera_plugin_api::abi::TESSERA_PLUGIN_ABI_VERSION as ABI_VERSION;

/// One frame of a capture scanner's live preview: grey, one byte per
/// pixel, row after row. It may show a QR code, so it is treated as a
/// secret: never printed (its `Debug` gives the size only) and wiped when
/// dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct PreviewFrame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl fmt::Debug for PreviewFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PreviewFrame({}×{})", self.width, self.height)
    }
}

impl Drop for PreviewFrame {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pixels);
    }
}

/// Where a scan's preview frames go, as the plugin sends them (on the
/// call's thread). Answers whether it wants more, or the scan to stop.
pub type PreviewSink = Arc<dyn Fn(PreviewFrame) -> FrameReply + Send + Sync>;

pub use tessera_plugin_api::FrameReply;

/// The system-wide plugin folder.
pub const SYSTEM_FOLDER: &str = "/usr/lib/tessera/plugins";
/// The per-user plugin folder, under the home folder.
pub const USER_FOLDER: &str = ".local/lib/tessera/plugins";
/// How long a library may take to load and answer its entry function.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest plugin file read (for its SHA-256) and loaded.
pub const MAX_PLUGIN_BYTES: u64 = tessera_files::Kind::Plugin.limit();

/// File-name prefixes loaded from a build output folder (which also holds
/// test plugins that must not be loaded).
const BUILD_OUTPUT_PREFIXES: &[&str] = &["libtessera_scanner_", "libtessera_biometric_"];

/// A folder to load plugins from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFolder {
    pub path: PathBuf,
    /// A cargo build output folder: only `libtessera_scanner_*.so` and
    /// `libtessera_biometric_*.so` are loaded from it.
    pub build_output: bool,
}

impl PluginFolder {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PluginFolder {
            path: path.into(),
            build_output: false,
        }
    }

    pub fn build_output(path: impl Into<PathBuf>) -> Self {
        PluginFolder {
            path: path.into(),
            build_output: true,
        }
    }
}

impl From<PathBuf> for PluginFolder {
    fn from(path: PathBuf) -> Self {
        PluginFolder::new(path)
    }
}

/// The default folders, in the order searched (the first plugin of a name
/// wins): `/usr/lib/tessera/plugins`, `~/.local/lib/tessera/plugins`, and
/// the folder of the running executable when it is a cargo build output
/// (`target/debug`, `target/release`: where the workspace's plugins are
/// built, so `./target/release/tesserad` finds them) or with
/// `development` (debug builds).
pub fn default_folders(development: bool) -> Vec<PluginFolder> {
    let mut folders = vec![PluginFolder::new(SYSTEM_FOLDER)];
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        folders.push(PluginFolder::new(Path::new(&home).join(USER_FOLDER)));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        && (development || is_cargo_build_output(&dir))
    {
        folders.push(PluginFolder::build_output(dir));
    }
    folders
}

/// Cargo's tag in its target folder (`CACHEDIR.TAG`, the cache directory
/// tag standard): its first line.
const CARGO_TAG_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// Whether `dir` is a cargo build output folder: `target/<profile>` or
/// `target/<triple>/<profile>`, recognised by the `CACHEDIR.TAG` cargo
/// writes in `target` (an installed binary's folder, `/usr/bin`, has none).
/// Not `…/deps`, where test executables run (no plugin is loaded there).
pub fn is_cargo_build_output(dir: &Path) -> bool {
    use std::io::Read;
    if dir.file_name().is_some_and(|n| n == "deps") {
        return false;
    }
    dir.ancestors().skip(1).take(2).any(|folder| {
        let mut head = Vec::new();
        std::fs::File::open(folder.join("CACHEDIR.TAG"))
            .and_then(|f| f.take(256).read_to_end(&mut head))
            .is_ok()
            && head.starts_with(CARGO_TAG_SIGNATURE)
            && head
                .windows(b"created by cargo".len())
                .any(|w| w == b"created by cargo")
    })
}

/// Fleet policy's allow-list: when given, only files whose SHA-256 is listed
/// are loaded, and each must carry the name listed with its hash. A
/// name-only entry ([`AllowList::allow_name`]) admits any file that declares
/// that name (the file is loaded to learn its name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<(String, [u8; 32])>,
    names: Vec<String>,
}

impl AllowList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the plugin `name` with the SHA-256 `sha256_hex` (64 hex digits).
    pub fn allow(mut self, name: &str, sha256_hex: &str) -> Result<Self, String> {
        let mut hash = [0u8; 32];
        hex::decode_to_slice(sha256_hex.trim(), &mut hash)
            .map_err(|_| format!("{sha256_hex:?} is not a SHA-256 in hex (64 digits)"))?;
        self.entries.push((name.to_owned(), hash));
        Ok(self)
    }

    /// Allows the plugin `name` whatever its file's SHA-256.
    pub fn allow_name(mut self, name: &str) -> Self {
        self.names.push(name.to_owned());
        self
    }

    fn name_for(&self, hash: &[u8; 32]) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, h)| h == hash)
            .map(|(n, _)| n.as_str())
    }
}

/// Options of [`PluginHost::load_with`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// How long one library may take to load and answer its entry function.
    pub load_timeout: Duration,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            load_timeout: DEFAULT_LOAD_TIMEOUT,
        }
    }
}

/// The kind of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Scanner,
    Biometric,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Scanner => "scanner",
            PluginKind::Biometric => "biometric",
        })
    }
}

/// Where a scanner's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScannerInput {
    /// It decodes image bytes passed to [`PluginHost::scan`].
    Image,
    /// It captures its own input (camera, screen); pass no image.
    Capture,
}

/// Whether a plugin can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "lowercase")]
pub enum PluginStatus {
    Loaded,
    /// Refused, failed to load, or disabled after misbehaving; the reason
    /// names the file and says what happened.
    Failed(String),
}

impl fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginStatus::Loaded => f.write_str("loaded"),
            PluginStatus::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

/// One plugin file as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// The plugin's own name, or the file's name without `lib` and `.so`
    /// when it never told one.
    pub name: String,
    /// `None` when the plugin never loaded.
    pub kind: Option<PluginKind>,
    pub version: Option<String>,
    /// A scanner's input.
    pub input: Option<ScannerInput>,
    pub path: PathBuf,
    pub status: PluginStatus,
}

/// Why a plugin call gave no result. The first group means the plugin is
/// unusable (now or from now on); the second is an answer of a working
/// plugin, whose message is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("no plugin is named {0:?}")]
    NotFound(String),
    #[error("plugin {0} is not a scanner")]
    NotAScanner(String),
    #[error("plugin {0} is not a biometric plugin")]
    NotABiometric(String),
    #[error("plugin {name} is not available: {reason}")]
    Unavailable { name: String, reason: String },
    #[error("plugin {name} is busy; try again")]
    Busy { name: String },
    #[error("plugin {name} did not answer within {} ms and has been disabled", after.as_millis())]
    TimedOut { name: String, after: Duration },
    #[error("plugin {name} misbehaved and has been disabled: {reason}")]
    Misbehaved { name: String, reason: String },
    #[error("{message}")]
    NoCode { name: String, message: String },
    #[error("{message}")]
    BadInput { name: String, message: String },
    #[error("{message}")]
    SourceUnavailable { name: String, message: String },
    #[error("plugin {name} failed: {message}")]
    Failed { name: String, message: String },
    /// A biometric verify read a sample that does not match.
    #[error("{message}")]
    NoMatch { name: String, message: String },
    /// A biometric call stopped because it was cancelled.
    #[error("plugin {name}: cancelled")]
    Cancelled { name: String },
    /// A biometric call got no sample from the user in time.
    #[error("{message}")]
    NoSample { name: String, message: String },
}

struct Slot {
    info: PluginInfo,
    status: Mutex<PluginStatus>,
    scan: Option<ScanFn>,
    biometric: Option<BiometricFns>,
    /// One call at a time per plugin; closed when the plugin is disabled.
    gate: Arc<Semaphore>,
}

impl Slot {
    fn status(&self) -> PluginStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Disables the plugin for breaking the rules of the ABI; the error its
    /// call answers with.
    fn misbehaved(&self, reason: String) -> PluginError {
        self.fail(format!("it misbehaved: {reason}"));
        PluginError::Misbehaved {
            name: self.info.name.clone(),
            reason,
        }
    }

    fn usable(&self) -> Result<(), PluginError> {
        match self.status() {
            PluginStatus::Loaded => Ok(()),
            PluginStatus::Failed(reason) => Err(PluginError::Unavailable {
                name: self.info.name.clone(),
                reason,
            }),
        }
    }

    /// Disables the plugin for good; the first reason is kept.
    fn fail(&self, reason: String) {
        tracing::warn!(plugin = %self.info.name, path = %self.info.path.display(), %reason, "plugin disabled");
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if *status == PluginStatus::Loaded {
            *status = PluginStatus::Failed(reason);
        }
        self.gate.close();
    }
}

/// The loaded plugins.
pub struct PluginHost {
    slots: Vec<Arc<Slot>>,
}

impl fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginHost")
            .field("plugins", &self.plugins())
            .finish()
    }
}

impl PluginHost {
    /// A host with no plugins.
    pub fn empty() -> Self {
        PluginHost { slots: Vec::new() }
    }

    /// Loads every `*.so` in `folders`, in order. A missing folder is
    /// skipped; every file found is listed by [`plugins`](Self::plugins),
    /// loaded or failed with its reason. Blocks while libraries load (call
    /// it from `spawn_blocking` on a runtime).
    pub fn load(folders: &[PluginFolder], allow: Option<&AllowList>) -> Self {
        Self::load_with(folders, allow, &LoadOptions::default())
    }

    /// [`load`](Self::load) with options.
    pub fn load_with(
        folders: &[PluginFolder],
        allow: Option<&AllowList>,
        options: &LoadOptions,
    ) -> Self {
        let mut host = PluginHost::empty();
        for folder in folders {
            for file in plugin_files(folder) {
                let slot = host.load_file(&folder.path, &file, allow, options);
                match &slot.info.status {
                    PluginStatus::Loaded => tracing::info!(
                        plugin = %slot.info.name,
                        version = slot.info.version.as_deref().unwrap_or("?"),
                        path = %file.display(),
                        "plugin loaded"
                    ),
                    PluginStatus::Failed(reason) => {
                        tracing::warn!(path = %file.display(), %reason, "plugin not loaded")
                    }
                }
                host.slots.push(Arc::new(slot));
            }
        }
        host
    }

    fn load_file(
        &self,
        folder: &Path,
        file: &Path,
        allow: Option<&AllowList>,
        options: &LoadOptions,
    ) -> Slot {
        let fallback_name = file
            .file_name()
            .map(|n| n.to_string_lossy())
            .map(|n| {
                let n = n.strip_suffix(".so").unwrap_or(&n);
                n.strip_prefix("lib").unwrap_or(n).to_owned()
            })
            .unwrap_or_default();
        let failed = |reason: String| Slot {
            info: PluginInfo {
                name: fallback_name.clone(),
                kind: None,
                version: None,
                input: None,
                path: file.to_owned(),
                status: PluginStatus::Failed(reason.clone()),
            },
            status: Mutex::new(PluginStatus::Failed(reason)),
            scan: None,
            biometric: None,
            gate: Arc::new(Semaphore::new(0)),
        };
        let refused = |why: String| failed(format!("refused {}: {why}", file.display()));
        if let Err(why) = trust::check_folder(folder) {
            return refused(why);
        }
        if let Err(why) = trust::check_file(file) {
            return refused(why);
        }
        let allowed_name = match allow {
            None => None,
            Some(list) => match sha256_of(file) {
                Err(why) => return refused(why),
                Ok(hash) => match list.name_for(&hash) {
                    Some(name) => Some(name.to_owned()),
                    // Name-only entries: the name is checked once loaded.
                    None if !list.names.is_empty() => None,
                    None => {
                        return refused(format!(
                            "its SHA-256 {} is not in the plugin allow-list",
                            hex::encode(hash)
                        ));
                    }
                },
            },
        };
        let loaded = match load::load(file, options.load_timeout) {
            Ok(loaded) => loaded,
            Err(why) => return failed(format!("{}: {why}", file.display())),
        };
        if let Some(list) = allow
            && allowed_name.is_none()
            && !list.names.contains(&loaded.name)
        {
            return refused(format!(
                "neither its name {:?} nor its SHA-256 is in the plugin allow-list",
                loaded.name
            ));
        }
        if let Some(allowed) = allowed_name
            && allowed != loaded.name
        {
            return refused(format!(
                "the allow-list lists its SHA-256 for {allowed:?}, but it is named {:?}",
                loaded.name
            ));
        }
        let (input, scan) = match loaded.scanner {
            Some((input, scan)) => (Some(input), Some(scan)),
            None => (None, None),
        };
        let mut info = PluginInfo {
            name: loaded.name.clone(),
            kind: Some(loaded.kind),
            version: Some(loaded.version.clone()),
            input,
            path: file.to_owned(),
            status: PluginStatus::Loaded,
        };
        if let Some(first) = self
            .slots
            .iter()
            .find(|s| s.info.name == loaded.name && (s.scan.is_some() || s.biometric.is_some()))
        {
            let reason = format!(
                "{}: a plugin named {:?} is already loaded from {}",
                file.display(),
                loaded.name,
                first.info.path.display()
            );
            info.status = PluginStatus::Failed(reason.clone());
            return Slot {
                info,
                status: Mutex::new(PluginStatus::Failed(reason)),
                scan: None,
                biometric: None,
                gate: Arc::new(Semaphore::new(0)),
            };
        }
        Slot {
            info,
            status: Mutex::new(PluginStatus::Loaded),
            scan,
            biometric: loaded.biometric,
            gate: Arc::new(Semaphore::new(1)),
        }
    }

    /// Every plugin file found, loaded or not, with its current status.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.slots
            .iter()
            .map(|slot| PluginInfo {
                status: slot.status(),
                ..slot.info.clone()
            })
            .collect()
    }

    /// The scanners that can be used now.
    pub fn scanners(&self) -> Vec<PluginInfo> {
        self.plugins()
            .into_iter()
            .filter(|p| p.kind == Some(PluginKind::Scanner) && p.status == PluginStatus::Loaded)
            .collect()
    }

    /// Runs the scanner `plugin` on `image` (empty for a capture scanner)
    /// on a thread of its own, and waits at most `timeout`. Returns every
    /// text it found (at most 16, each valid UTF-8 of at most 4096 bytes).
    /// A capture scanner's preview frames go to `preview`, checked, while
    /// it scans; `None` asks for none.
    ///
    /// A plugin that runs over the timeout, panics or breaks the output
    /// rules is disabled: its status becomes failed with the reason, and a
    /// hung call's thread is abandoned (it cannot be stopped; it is not
    /// waited for at exit).
    pub async fn scan(
        &self,
        plugin: &str,
        image: Vec<u8>,
        timeout: Duration,
        preview: Option<PreviewSink>,
    ) -> Result<Vec<String>, PluginError> {
        let (
            Turn {
                slot,
                permit,
                remaining,
                timeout_ms,
            },
            scan,
        ) = self
            .turn(plugin, timeout, |s| s.scan, PluginError::NotAScanner)
            .await?;
        let name = slot.info.name.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("tessera-plugin-{name}"))
            .spawn(move || {
                let outcome = call::call_scan(scan, &image, timeout_ms, preview);
                drop(permit);
                let _ = tx.send(outcome);
            })
            .map_err(|e| PluginError::Failed {
                name: name.clone(),
                message: format!("cannot start a thread for the call: {e}"),
            })?;
        let outcome = match tokio::time::timeout(remaining, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => {
                let reason = "its call's thread died".to_owned();
                slot.fail(reason.clone());
                return Err(PluginError::Misbehaved { name, reason });
            }
            Err(_elapsed) => {
                slot.fail(format!(
                    "it did not answer within {} ms; the call was abandoned",
                    timeout.as_millis()
                ));
                return Err(PluginError::TimedOut {
                    name,
                    after: timeout,
                });
            }
        };
        judge(&slot, outcome)
    }
}

/// A call's turn at a plugin: the plugin, the permit that keeps its other
/// calls out until this one ends, and what is left of the call's timeout.
struct Turn {
    slot: Arc<Slot>,
    permit: tokio::sync::OwnedSemaphorePermit,
    remaining: Duration,
    timeout_ms: u32,
}

impl PluginHost {
    /// Finds the plugin named `plugin` with the entry points `pick` takes
    /// (`wrong_kind` when the plugin of that name has none) and waits,
    /// within `timeout`, for its turn: plugins take one call at a time.
    async fn turn<T>(
        &self,
        plugin: &str,
        timeout: Duration,
        pick: impl Fn(&Slot) -> Option<T>,
        wrong_kind: fn(String) -> PluginError,
    ) -> Result<(Turn, T), PluginError> {
        let deadline = Instant::now() + timeout;
        let slot = self
            .slots
            .iter()
            .filter(|s| s.info.name == plugin)
            .find(|s| pick(s).is_some())
            .or_else(|| self.slots.iter().find(|s| s.info.name == plugin))
            .ok_or_else(|| PluginError::NotFound(plugin.to_owned()))?
            .clone();
        slot.usable()?;
        let name = slot.info.name.clone();
        let entry = pick(&slot).ok_or_else(|| wrong_kind(name.clone()))?;
        let permit = match tokio::time::timeout(timeout, slot.gate.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => {
                return Err(slot.usable().err().unwrap_or(PluginError::Busy { name }));
            }
            Err(_elapsed) => return Err(PluginError::Busy { name }),
        };
        slot.usable()?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout_ms = u32::try_from(remaining.as_millis()).unwrap_or(u32::MAX);
        let turn = Turn {
            slot,
            permit,
            remaining,
            timeout_ms,
        };
        Ok((turn, entry))
    }
}

/// Turns a finished call into the answer, disabling a plugin that broke the rules.
fn judge(slot: &Slot, outcome: call::Outcome) -> Result<Vec<String>, PluginError> {
    let name = slot.info.name.clone();
    let misbehaved = |reason: String| Err(slot.misbehaved(reason));
    if let Some(violation) = outcome.violation {
        return misbehaved(violation);
    }
    let message = |default: &str| {
        outcome
            .message
            .clone()
            .unwrap_or_else(|| default.to_owned())
    };
    match outcome.status {
        TESSERA_STATUS_OK if !outcome.texts.is_empty() => Ok(outcome.texts),
        TESSERA_STATUS_OK | TESSERA_STATUS_NOT_FOUND => Err(PluginError::NoCode {
            name: name.clone(),
            message: message("no code found"),
        }),
        TESSERA_STATUS_BAD_INPUT => Err(PluginError::BadInput {
            name: name.clone(),
            message: message("the input cannot be used"),
        }),
        TESSERA_STATUS_UNAVAILABLE => Err(PluginError::SourceUnavailable {
            name: name.clone(),
            message: message("the source is not available"),
        }),
        TESSERA_STATUS_FAILED => Err(PluginError::Failed {
            name: name.clone(),
            message: message("no reason given"),
        }),
        TESSERA_STATUS_PANICKED => misbehaved(message("it panicked")),
        other => misbehaved(format!("it returned the unknown status {other}")),
    }
}

/// The `*.so` files of a folder, sorted; nothing when it does not exist.
fn plugin_files(folder: &PluginFolder) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(&folder.path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(folder = %folder.path.display(), error = %e, "cannot read the plugin folder");
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".so")
                && !name.starts_with('.')
                && (!folder.build_output
                    || BUILD_OUTPUT_PREFIXES.iter().any(|p| name.starts_with(p)))
                && e.file_type().map(|t| !t.is_dir()).unwrap_or(false)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// The SHA-256 of a plugin file, read through `tessera-files` (a regular
/// file, never a blocking open, at most [`MAX_PLUGIN_BYTES`]).
fn sha256_of(file: &Path) -> Result<[u8; 32], String> {
    use std::io::Read;
    let mut opened = tessera_files::open(file, tessera_files::Kind::Plugin)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = opened
            .reader()
            .read(&mut buf)
            .map_err(|e| format!("cannot be read: {e}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        opened
            .check_read(total)
            .map_err(|e| format!("cannot be read: {e}"))?;
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}
