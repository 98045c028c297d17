//! Reloading the settings: on SIGHUP, and when a file of a layer changes
//! (its folders are looked at every [`POLL`]; a file appearing, changing,
//! being replaced or removed counts). Every layer is read again; a new
//! vendor or admin file that is not valid keeps the settings in force and
//! logs why. Clients stay connected throughout.
//!
//! Polling, not inotify: the layer folders (`/etc/tessera/tessera.d`, the
//! user's `~/.config/tessera`) often do not exist yet when the daemon
//! starts, and configuration management replaces files by renaming; a few
//! `stat` calls every two seconds see all of it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tessera_config::{ConfigError, Paths};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::service::Service;

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// What a file looked like: enough to see any change.
type Stamp = Vec<(PathBuf, u64, Option<SystemTime>, u64)>;

fn stamp(paths: &Paths) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let mut files: Vec<PathBuf> = [&paths.vendor, &paths.admin, &paths.user]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if let Some(dir) = &paths.admin_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        files.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let m = std::fs::metadata(&f).ok()?;
            Some((f, m.len(), m.modified().ok(), m.ino()))
        })
        .collect()
}

/// Reads every layer again (see `tessera_config::load_paths`).
pub fn load(paths: &Paths) -> Result<tessera_config::Config, ConfigError> {
    tessera_config::load_paths(paths)
}

/// Logs the warnings of loading (ignored user file, refused values).
pub fn log_warnings(config: &tessera_config::Config) {
    for w in &config.provenance.warnings {
        tracing::warn!("configuration: {w}");
    }
}

/// Watches for SIGHUP and changed files. Created before the daemon serves,
/// so that a SIGHUP is never fatal (its default action ends the process).
pub struct Reloader {
    paths: Paths,
    hangup: Signal,
    last: Stamp,
}

impl Reloader {
    pub fn new(paths: Paths) -> std::io::Result<Self> {
        let last = stamp(&paths);
        Ok(Self {
            hangup: signal(SignalKind::hangup())?,
            paths,
            last,
        })
    }

    /// Runs for the life of the daemon.
    pub async fn run(mut self, service: Service) {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                _ = self.hangup.recv() => "SIGHUP",
                _ = tick.tick() => {
                    let now = stamp(&self.paths);
                    if now == self.last {
                        continue;
                    }
                    "a configuration file changed"
                }
            };
            self.last = stamp(&self.paths);
            match load(&self.paths) {
                Ok(config) => {
                    tracing::info!("{why}: configuration reloaded");
                    log_warnings(&config);
                    service.apply_config(config).await;
                }
                Err(e) => tracing::error!(
                    "{why}: configuration not reloaded, the previous settings stay in force: {e}"
                ),
            }
        }
    }
}
