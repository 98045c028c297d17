//! The layers, read in order (a later layer wins for each key it sets):
//!
//! 1. built-in defaults ([`Config::default`]);
//! 2. vendor: `/usr/share/tessera/tessera.toml`;
//! 3. admin: `/etc/tessera/tessera.toml`, then `/etc/tessera/tessera.d/*.toml`
//!    in name order;
//! 4. user: `$XDG_CONFIG_HOME/tessera/tessera.toml` (`~/.config/…`).
//!
//! Vendor and admin files may lock keys (`locked = ["pin.min_length"]`): a
//! user value for a locked key is refused with a warning naming the file
//! that locked it. A vendor or admin file that is not valid stops loading
//! ([`ConfigError`]); a user file that is not valid is ignored whole, with a
//! warning. Every problem names the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{
    AccountsConfig, ActivationConfig, BiometricsConfig, Config, IssuersConfig, KEYS,
    NotificationsConfig, PinConfig, PluginsConfig, SECTIONS, ScannerConfig, VaultConfig, key_info,
};

/// Where a layer's files come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Default,
    Vendor,
    Admin,
    User,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Default => "default",
            Layer::Vendor => "vendor",
            Layer::Admin => "admin",
            Layer::User => "user",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a value (or a lock) was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub layer: Layer,
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// What loading found besides the values: the files, where each key came
/// from, the locks and the warnings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provenance {
    /// The files read, in order (missing ones are not listed).
    pub files: Vec<(Layer, PathBuf)>,
    /// Keys set by a file; a key not here has its built-in default.
    pub origins: BTreeMap<String, Origin>,
    /// Locked keys and the file (and line) that locked each.
    pub locks: BTreeMap<String, Origin>,
    /// What did not stop loading: an ignored user file, refused user values.
    pub warnings: Vec<Problem>,
    /// The values (TOML text; `None` unset) of the keys that take effect at
    /// restart only, as the daemon started with them; kept by the daemon
    /// across reloads. Empty elsewhere.
    pub at_start: BTreeMap<String, Option<String>>,
}

/// A problem in a file: where, and what is wrong or allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file; `None` for text checked on its own.
    pub path: Option<PathBuf>,
    /// 1-based; 0 when the problem has no place in the file.
    pub line: usize,
    pub column: usize,
    /// The key concerned, when there is one (`section.key`).
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        if self.line > 0 {
            write!(f, "line {}, column {}: ", self.line, self.column)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

/// Why the settings cannot be loaded (the daemon refuses to start, or
/// keeps its settings on reload).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Problem),
}

impl ConfigError {
    /// The file concerned.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::Read { path, .. } => Some(path),
            ConfigError::Invalid(p) => p.path.as_deref(),
        }
    }
}

/// The files of each layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub vendor: Option<PathBuf>,
    pub admin: Option<PathBuf>,
    /// Drop-in folder: every `*.toml` in it, in name order.
    pub admin_dir: Option<PathBuf>,
    pub user: Option<PathBuf>,
    /// Whether a missing admin file is an error (`--config FILE`).
    pub admin_required: bool,
}

/// The environment variable that moves `/usr/share` and `/etc` under a
/// folder (tests, images being built): `$TESSERA_CONFIG_ROOT/etc/tessera/…`.
pub const ROOT_ENV: &str = "TESSERA_CONFIG_ROOT";

impl Paths {
    /// The standard layers with `/usr/share` and `/etc` under `root` (`/`
    /// normally), and the user file under `config_home`
    /// (`$XDG_CONFIG_HOME`, or `~/.config`).
    pub fn under(root: &Path, config_home: Option<&Path>) -> Paths {
        Paths {
            vendor: Some(root.join("usr/share/tessera/tessera.toml")),
            admin: Some(root.join("etc/tessera/tessera.toml")),
            admin_dir: Some(root.join("etc/tessera/tessera.d")),
            user: config_home.map(|h| h.join("tessera/tessera.toml")),
            admin_required: false,
        }
    }

    /// The standard layers of this machine and user: the root from `root`,
    /// else `$TESSERA_CONFIG_ROOT`, else `/`; the user file from
    /// `$XDG_CONFIG_HOME`, else `$HOME/.config`.
    pub fn standard(root: Option<&Path>) -> Paths {
        let env_root = std::env::var_os(ROOT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let root = root
            .map(Path::to_owned)
            .or(env_root)
            .unwrap_or_else(|| PathBuf::from("/"));
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            });
        Paths::under(&root, config_home.as_deref())
    }

    /// Exactly one file, read as the admin layer; no other layer
    /// (`tesserad --config FILE`).
    pub fn single(file: &Path) -> Paths {
        Paths {
            vendor: None,
            admin: Some(file.to_owned()),
            admin_dir: None,
            user: None,
            admin_required: true,
        }
    }

    /// The folders the files live in (what to watch for changes).
    pub fn folders(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = [&self.vendor, &self.admin, &self.user]
            .into_iter()
            .flatten()
            .filter_map(|f| f.parent().map(Path::to_owned))
            .collect();
        out.extend(self.admin_dir.clone());
        out.dedup();
        out
    }

    /// The existing files of every layer, in reading order.
    pub fn files(&self) -> Result<Vec<(Layer, PathBuf)>, ConfigError> {
        let mut out = Vec::new();
        if let Some(f) = &self.vendor
            && f.exists()
        {
            out.push((Layer::Vendor, f.clone()));
        }
        if let Some(f) = &self.admin
            && (self.admin_required || f.exists())
        {
            out.push((Layer::Admin, f.clone()));
        }
        if let Some(dir) = &self.admin_dir {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    let mut names: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
                        .collect();
                    names.sort();
                    out.extend(names.into_iter().map(|p| (Layer::Admin, p)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: dir.clone(),
                        source,
                    });
                }
            }
        }
        if let Some(f) = &self.user
            && f.exists()
        {
            out.push((Layer::User, f.clone()));
        }
        Ok(out)
    }
}

/// One file's shape: the sections, plus `locked`. Sections take their
/// defaults where the file is silent (only to check types and ranges).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileView {
    #[serde(default)]
    locked: Vec<String>,
    #[serde(default)]
    vault: VaultConfig,
    #[serde(default)]
    pin: PinConfig,
    #[serde(default)]
    activation: ActivationConfig,
    #[serde(default)]
    issuers: IssuersConfig,
    #[serde(default)]
    accounts: AccountsConfig,
    #[serde(default)]
    scanner: ScannerConfig,
    #[serde(default)]
    plugins: PluginsConfig,
    #[serde(default)]
    biometrics: BiometricsConfig,
    #[serde(default)]
    notifications: NotificationsConfig,
}

impl FileView {
    fn config(self) -> Config {
        Config {
            vault: self.vault,
            pin: self.pin,
            activation: self.activation,
            issuers: self.issuers,
            accounts: self.accounts,
            scanner: self.scanner,
            plugins: self.plugins,
            biometrics: self.biometrics,
            notifications: self.notifications,
            provenance: Provenance::default(),
        }
    }
}

/// One file, read and checked on its own.
#[derive(Debug)]
struct ParsedFile {
    layer: Layer,
    path: PathBuf,
    /// section → key → value.
    values: BTreeMap<String, toml::Table>,
    /// `section.key` → line.
    lines: BTreeMap<String, usize>,
    /// Locked keys → line.
    locked: Vec<(String, usize)>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

struct Located<'a> {
    path: Option<&'a Path>,
    text: &'a str,
    doc: toml_edit::ImDocument<&'a str>,
}

impl Located<'_> {
    fn problem(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Problem {
        let (line, column) = span.map_or((0, 0), |s| line_col(self.text, s.start));
        Problem {
            path: self.path.map(Path::to_owned),
            line,
            column,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }

    /// The key `section.key`'s own span, and its value's.
    fn spans(
        &self,
        key: &str,
    ) -> (
        Option<std::ops::Range<usize>>,
        Option<std::ops::Range<usize>>,
    ) {
        let root = self.doc.as_table();
        let (section, name) = match key.split_once('.') {
            Some(pair) => pair,
            None => {
                return root
                    .get_key_value(key)
                    .map_or((None, None), |(k, v)| (k.span(), v.span()));
            }
        };
        let Some(table) = root.get(section).and_then(|i| i.as_table_like()) else {
            return (None, None);
        };
        table
            .get_key_value(name)
            .map_or((None, None), |(k, v)| (k.span(), v.span()))
    }

    fn line_of(&self, key: &str) -> usize {
        let (k, v) = self.spans(key);
        k.or(v).map_or(0, |s| line_col(self.text, s.start).0)
    }

    fn at_value(&self, key: &str, message: impl Into<String>) -> Problem {
        let (k, v) = self.spans(key);
        self.problem(v.or(k), Some(key), message)
    }
}

fn parse_text(path: Option<&Path>, text: &str, layer: Layer) -> Result<ParsedFile, Problem> {
    let doc = match toml_edit::ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            return Err(Problem {
                path: path.map(Path::to_owned),
                line,
                column,
                key: None,
                message: format!("not valid TOML: {}", e.message().trim()),
            });
        }
    };
    let here = Located { path, text, doc };
    let view: FileView = toml::from_str(text).map_err(|e| {
        let mut message = e.message().trim().to_owned();
        if message.starts_with("unknown field") && !here_has_section_context(&message) {
            message.push_str(&format!(
                " (top-level keys: locked, {})",
                SECTIONS.join(", ")
            ));
        }
        here.problem(e.span(), None, message)
    })?;
    let mut locked = Vec::new();
    if !view.locked.is_empty() {
        if layer == Layer::User {
            return Err(here.at_value(
                "locked",
                "only administrator (and vendor) files may lock keys; remove `locked` from this user file",
            ));
        }
        let line = here.line_of("locked");
        for key in &view.locked {
            if key_info(key).is_none() {
                return Err(here.at_value(
                    "locked",
                    format!(
                        "locked: {key:?} is not a key; write section.key, e.g. \"pin.min_length\" (`tessera config show` lists them)"
                    ),
                ));
            }
            locked.push((key.clone(), line));
        }
    }
    let config = view.config();
    if let Some(bad) = config.check_keys().into_iter().next() {
        return Err(here.at_value(&bad.key, bad.message));
    }
    let raw: toml::Table =
        toml::from_str(text).map_err(|e| here.problem(e.span(), None, e.message()))?;
    let mut values = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (section, value) in raw {
        if section == "locked" {
            continue;
        }
        let toml::Value::Table(table) = value else {
            // The typed read above refuses a section that is not a table.
            continue;
        };
        for key in table.keys() {
            let full = format!("{section}.{key}");
            lines.insert(full.clone(), here.line_of(&full));
        }
        values.insert(section, table);
    }
    Ok(ParsedFile {
        layer,
        path: path.map(Path::to_owned).unwrap_or_default(),
        values,
        lines,
        locked,
    })
}

fn here_has_section_context(message: &str) -> bool {
    // serde names the expected fields ("expected one of `a`, `b`").
    message.contains("expected")
}

/// Checks one file's text on its own (defaults for everything else).
pub(crate) fn parse_single(text: &str) -> Result<Config, Problem> {
    let parsed = parse_text(None, text, Layer::Admin)?;
    let (config, _) = merge(&[parsed], &mut Vec::new())?;
    Ok(config)
}

/// Checks the file at `path` as a file of `layer` would be checked when
/// loading, on its own (defaults for everything else): what `tessera config
/// check FILE` does before an administrator rolls a file out.
pub fn check_file(path: &Path, layer: Layer) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parsed = parse_text(Some(path), &text, layer).map_err(ConfigError::Invalid)?;
    let mut warnings = Vec::new();
    let (mut config, provenance) = merge(&[parsed], &mut warnings).map_err(ConfigError::Invalid)?;
    config.provenance = provenance;
    Ok(config)
}

/// Reads every layer of the standard paths (see [`Paths::standard`]).
pub fn load(root: Option<&Path>) -> Result<Config, ConfigError> {
    load_paths(&Paths::standard(root))
}

/// Reads and merges the layers of `paths`. The result's
/// [`Config::provenance`] says where each value came from and what was
/// refused.
pub fn load_paths(paths: &Paths) -> Result<Config, ConfigError> {
    let mut warnings = Vec::new();
    let mut parsed = Vec::new();
    for (layer, path) in paths.files()? {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(source) if layer == Layer::User => {
                warnings.push(Problem {
                    path: Some(path.clone()),
                    line: 0,
                    column: 0,
                    key: None,
                    message: format!("cannot be read ({source}); ignored"),
                });
                continue;
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        match parse_text(Some(&path), &text, layer) {
            Ok(p) => parsed.push(p),
            Err(mut problem) if layer == Layer::User => {
                problem.message.push_str("; the whole user file is ignored");
                warnings.push(problem);
            }
            Err(problem) => return Err(ConfigError::Invalid(problem)),
        }
    }
    let result = match merge(&parsed, &mut warnings) {
        Err(mut problem)
            if parsed.last().is_some_and(|p| p.layer == Layer::User)
                && problem.path.as_deref() == parsed.last().map(|p| p.path.as_path()) =>
        {
            // The user's values do not combine with the others': drop them.
            problem.message.push_str("; the whole user file is ignored");
            warnings.push(problem);
            parsed.pop();
            merge(&parsed, &mut warnings)
        }
        other => other,
    };
    let (mut config, mut provenance) = result.map_err(ConfigError::Invalid)?;
    provenance.warnings = warnings;
    config.provenance = provenance;
    Ok(config)
}

/// Merges checked files in order; refuses user values for locked keys (a
/// warning each) and checks the combination.
fn merge(
    files: &[ParsedFile],
    warnings: &mut Vec<Problem>,
) -> Result<(Config, Provenance), Problem> {
    let mut merged: BTreeMap<String, toml::Table> = BTreeMap::new();
    let mut provenance = Provenance::default();
    for file in files {
        provenance.files.push((file.layer, file.path.clone()));
        for (key, line) in &file.locked {
            provenance.locks.entry(key.clone()).or_insert(Origin {
                layer: file.layer,
                path: file.path.clone(),
                line: *line,
            });
        }
        for (section, table) in &file.values {
            for (name, value) in table {
                let key = format!("{section}.{name}");
                let line = file.lines.get(&key).copied().unwrap_or(0);
                if file.layer == Layer::User
                    && let Some(lock) = provenance.locks.get(&key)
                {
                    warnings.push(Problem {
                        path: Some(file.path.clone()),
                        line,
                        column: 1,
                        key: Some(key.clone()),
                        message: format!(
                            "{key} is locked by {} (line {}); this value is refused and the administrator's applies",
                            lock.path.display(),
                            lock.line
                        ),
                    });
                    continue;
                }
                merged
                    .entry(section.clone())
                    .or_default()
                    .insert(name.clone(), value.clone());
                provenance.origins.insert(
                    key,
                    Origin {
                        layer: file.layer,
                        path: file.path.clone(),
                        line,
                    },
                );
            }
        }
    }
    let table: toml::Table = merged
        .into_iter()
        .map(|(k, v)| (k, toml::Value::Table(v)))
        .collect();
    let config = Config::deserialize(toml::Value::Table(table)).map_err(|e| Problem {
        path: files
            .last()
            .map(|f| f.path.clone())
            .filter(|p| !p.as_os_str().is_empty()),
        line: 0,
        column: 0,
        key: None,
        message: e.to_string(),
    })?;
    let combined = config.check_combined();
    if let Some((keys, message)) = combined.into_iter().next() {
        // Report it where the most recent of the keys involved was set.
        let origin = keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| provenance.origins.get(*k).map(|o| (i, k, o)))
            .max_by_key(|(i, _, o)| {
                (
                    files.iter().position(|f| f.path == o.path),
                    std::cmp::Reverse(*i),
                )
            })
            .map(|(_, k, o)| (k, o));
        return Err(match origin {
            Some((key, o)) => Problem {
                path: Some(o.path.clone()).filter(|p| !p.as_os_str().is_empty()),
                line: o.line,
                column: 1,
                key: Some((*key).to_owned()),
                message,
            },
            None => Problem {
                path: None,
                line: 0,
                column: 0,
                key: Some(keys[0].to_owned()),
                message,
            },
        });
    }
    debug_assert!(
        provenance
            .origins
            .keys()
            .all(|k| KEYS.iter().any(|i| i.key == k))
    );
    Ok((config, provenance))
}
