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
//! that locked it. A vendor or admin file with any problem stops loading
//! ([`ConfigError`], listing every problem); in a user file a bad key (an
//! unknown key, a wrong type, a value out of range) is dropped with a
//! warning and the rest of the file applies (only a file that is not TOML
//! at all is ignored whole). Every problem names the file, line and column,
//! and says what the key allows ([`crate::Allowed`]).
//!
//! Files are read through `tessera-files`: regular files only, at most
//! 1 MiB, never a blocking open.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_files::{FileError, Kind};

use crate::{Config, KEYS, SECTIONS, key_info};

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
    /// A folder of drop-ins cannot be listed.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file cannot be read: missing (`--config FILE`), not a regular
    /// file, over 1 MiB, unreadable.
    #[error("{0}")]
    File(FileError),
    /// Every problem of the first file that is not valid, in file order.
    #[error("{}", join(.0))]
    Invalid(Vec<Problem>),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The file concerned.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::Read { path, .. } => Some(path),
            ConfigError::File(e) => Some(e.path()),
            ConfigError::Invalid(p) => p.first().and_then(|p| p.path.as_deref()),
        }
    }

    /// The problems found (one for a file that cannot be read).
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(p) => p.iter().map(Problem::to_string).collect(),
            other => vec![other.to_string()],
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
    /// What is wrong in it, in file order; the keys concerned are not in
    /// `values`.
    problems: Vec<Problem>,
}

impl ParsedFile {
    /// Drops `key` (a user value that does not combine with the others').
    fn drop_key(&mut self, key: &str) {
        if let Some((section, name)) = key.split_once('.')
            && let Some(t) = self.values.get_mut(section)
        {
            t.remove(name);
        }
    }
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

    fn at_key(&self, key: &str, message: impl Into<String>) -> Problem {
        let (k, v) = self.spans(key);
        self.problem(k.or(v), Some(key), message)
    }

    fn at_value(&self, key: &str, message: impl Into<String>) -> Problem {
        let (k, v) = self.spans(key);
        self.problem(v.or(k), Some(key), message)
    }
}

/// Reads one file's text: every top-level item and key checked on its own
/// against the schema ([`KEYS`]); each problem is recorded and its key left
/// out, the rest kept. `Err` only for text that is not TOML at all.
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
    let raw: toml::Table =
        toml::from_str(text).map_err(|e| here.problem(e.span(), None, e.message().trim()))?;
    let mut problems = Vec::new();
    let mut locked = Vec::new();
    let mut values = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (section, value) in raw {
        if section == "locked" {
            if layer == Layer::User {
                problems.push(here.at_value(
                    "locked",
                    "only administrator (and vendor) files may lock keys; remove `locked` from this user file",
                ));
                continue;
            }
            let line = here.line_of("locked");
            let toml::Value::Array(items) = value else {
                problems.push(here.at_value(
                    "locked",
                    "locked must be a list of keys, e.g. [\"pin.min_length\"]",
                ));
                continue;
            };
            for item in items {
                match item.as_str() {
                    Some(key) if key_info(key).is_some() => locked.push((key.to_owned(), line)),
                    _ => problems.push(here.at_value(
                        "locked",
                        format!(
                            "locked: {} is not a key{}; write section.key, e.g. \"pin.min_length\" \
                             (`tessera config show` lists them)",
                            crate::value_to_text(&item),
                            item.as_str()
                                .and_then(|k| closest(k, KEYS.iter().map(|k| k.key)))
                                .map(|k| format!(" (did you mean \"{k}\"?)"))
                                .unwrap_or_default(),
                        ),
                    )),
                }
            }
            continue;
        }
        if !SECTIONS.contains(&section.as_str()) {
            let hint = closest(&section, SECTIONS.iter().copied())
                .map(|s| format!(" (did you mean [{s}]?)"))
                .unwrap_or_default();
            problems.push(here.at_key(
                &section,
                format!(
                    "`{section}` is not a section{hint}; the sections are: {}{}",
                    SECTIONS.join(", "),
                    if layer == Layer::User {
                        ""
                    } else {
                        ", and the list `locked`"
                    }
                ),
            ));
            continue;
        }
        let toml::Value::Table(table) = value else {
            problems.push(here.at_value(
                &section,
                format!("`{section}` must be a section, written [{section}] on a line of its own"),
            ));
            continue;
        };
        let mut good = toml::Table::new();
        for (name, value) in table {
            let full = format!("{section}.{name}");
            let Some(info) = key_info(&full) else {
                let prefix = format!("{section}.");
                let names: Vec<&str> = KEYS
                    .iter()
                    .filter_map(|k| k.key.strip_prefix(prefix.as_str()))
                    .collect();
                let hint = closest(&name, names.iter().copied())
                    .map(|k| format!(" (did you mean {k}?)"))
                    .unwrap_or_default();
                problems.push(here.at_key(
                    &full,
                    format!(
                        "`{name}` is not a key of [{section}]{hint}; its keys are: {}",
                        names.join(", ")
                    ),
                ));
                continue;
            };
            if let Err(message) = info.check(&value) {
                problems.push(here.at_value(&full, message));
                continue;
            }
            lines.insert(full.clone(), here.line_of(&full));
            good.insert(name, value);
        }
        values.insert(section, good);
    }
    problems.sort_by_key(|p| (p.line, p.column));
    Ok(ParsedFile {
        layer,
        path: path.map(Path::to_owned).unwrap_or_default(),
        values,
        lines,
        locked,
        problems,
    })
}

/// The candidate nearest to `word` when it is a likely typo of it (at most
/// two letters changed, added or removed).
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let here = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb))
                    .min(row[j] + 1)
                    .min(here + 1);
                prev = here;
            }
        }
        row[b.len()]
    }
    let word = word.to_ascii_lowercase();
    candidates
        .map(|c| (distance(&word, c), c))
        .filter(|(d, c)| *d > 0 && *d <= 2 && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Reads a settings file (a regular file, at most 1 MiB, never a blocking
/// open).
fn read_settings(path: &Path) -> Result<String, FileError> {
    tessera_files::read_to_string(path, Kind::Settings)
}

/// Checks one file's text on its own (defaults for everything else).
pub(crate) fn parse_single(text: &str) -> Result<Config, Vec<Problem>> {
    let parsed = parse_text(None, text, Layer::Admin).map_err(|p| vec![p])?;
    if !parsed.problems.is_empty() {
        return Err(parsed.problems);
    }
    let (config, _) = merge(&[parsed], &mut Vec::new()).map_err(|p| vec![p])?;
    Ok(config)
}

/// Checks the file at `path` as a file of `layer` would be checked when
/// loading, on its own (defaults for everything else): what `tessera config
/// check FILE` does before an administrator rolls a file out. Every problem
/// is an error here, also in a user file (where loading would drop the keys
/// concerned with a warning each).
pub fn check_file(path: &Path, layer: Layer) -> Result<Config, ConfigError> {
    let text = read_settings(path).map_err(ConfigError::File)?;
    let parsed = parse_text(Some(path), &text, layer).map_err(|p| ConfigError::Invalid(vec![p]))?;
    if !parsed.problems.is_empty() {
        return Err(ConfigError::Invalid(parsed.problems));
    }
    let mut warnings = Vec::new();
    let (mut config, provenance) =
        merge(&[parsed], &mut warnings).map_err(|p| ConfigError::Invalid(vec![p]))?;
    config.provenance = provenance;
    Ok(config)
}

/// Reads every layer of the standard paths (see [`Paths::standard`]).
pub fn load(root: Option<&Path>) -> Result<Config, ConfigError> {
    load_paths(&Paths::standard(root))
}

/// What a user value that was dropped says after its problem.
const DROPPED: &str = "this key is ignored; the rest of the file applies";

/// In the warning about a refused locked value.
const LOCKED_MARK: &str = " is locked by ";

/// Reads and merges the layers of `paths`. The result's
/// [`Config::provenance`] says where each value came from and what was
/// refused.
pub fn load_paths(paths: &Paths) -> Result<Config, ConfigError> {
    let mut warnings = Vec::new();
    let mut parsed = Vec::new();
    for (layer, path) in paths.files()? {
        let text = match read_settings(&path) {
            Ok(text) => text,
            Err(e) if layer == Layer::User => {
                let text = e.to_string();
                let why = text
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&text);
                warnings.push(Problem {
                    path: Some(path.clone()),
                    line: 0,
                    column: 0,
                    key: None,
                    message: format!("cannot be read ({why}); the whole user file is ignored"),
                });
                continue;
            }
            Err(e) => return Err(ConfigError::File(e)),
        };
        match parse_text(Some(&path), &text, layer) {
            Ok(mut p) if layer == Layer::User => {
                for mut problem in std::mem::take(&mut p.problems) {
                    problem.message.push_str(&format!("; {DROPPED}"));
                    warnings.push(problem);
                }
                parsed.push(p);
            }
            Ok(p) if !p.problems.is_empty() => return Err(ConfigError::Invalid(p.problems)),
            Ok(p) => parsed.push(p),
            Err(mut problem) if layer == Layer::User => {
                problem.message.push_str("; the whole user file is ignored");
                warnings.push(problem);
            }
            Err(problem) => return Err(ConfigError::Invalid(vec![problem])),
        }
    }
    let result = loop {
        let before = warnings.len();
        match merge(&parsed, &mut warnings) {
            Err(mut problem)
                if parsed.last().is_some_and(|p| p.layer == Layer::User)
                    && problem.path.as_deref() == parsed.last().map(|p| p.path.as_path())
                    && problem.key.is_some() =>
            {
                // A user value that does not combine with the others': drop
                // that key, keep the rest of the user file. (The warnings
                // of this merge are made again by the next one.)
                warnings.truncate(before);
                let key = problem.key.clone().expect("checked");
                problem.message.push_str(&format!("; {DROPPED}"));
                warnings.push(problem);
                parsed.last_mut().expect("checked").drop_key(&key);
            }
            other => break other,
        }
    };
    let (mut config, mut provenance) = result.map_err(|p| ConfigError::Invalid(vec![p]))?;
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
                            "{key}{LOCKED_MARK}{} (line {}); this value is refused and the administrator's applies",
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
