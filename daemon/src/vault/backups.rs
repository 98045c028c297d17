//! Automatic backups (docs/backup.md): after every save, the vault file as
//! written (encrypted and authenticated as the vault is, openable with the
//! vault's own slots) is copied into the backup folder, and the oldest
//! copies beyond `keep` are removed.
//!
//! The copies are written on a thread of their own, so a save (an HOTP
//! code, a rename) never waits for the backup disk, which may be slow or
//! a network share. Saves in quick succession are coalesced: only the
//! newest waiting copy is written. A copy is written as the vault is
//! (temporary file 0600, fsync, rename, fsync the folder), so a crash
//! leaves either the old set or the new one, never a torn file. A backup
//! that fails is logged and retried with the next change; it never fails
//! the save.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};

use super::{VaultError, store};

/// File names of backups: `vault-<UTC time>-<count>.tessera`; sorting them
/// by name sorts them by time.
const PREFIX: &str = "vault-";
const SUFFIX: &str = ".tessera";

/// Where and how many.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupPolicy {
    pub folder: PathBuf,
    pub keep: u32,
}

enum Job {
    Copy {
        bytes: Vec<u8>,
        policy: BackupPolicy,
    },
    /// Answers once every copy queued before it is written.
    Flush(mpsc::SyncSender<()>),
}

/// The backup writer: a queue to its thread.
#[derive(Debug)]
pub(crate) struct Backups {
    jobs: Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Copy { bytes, policy } => write!(f, "Copy({} bytes to {:?})", bytes.len(), policy),
            Job::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Backups {
    /// Starts the writer thread.
    pub fn start() -> Backups {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("tessera-backups".into())
            .spawn(move || run(&queue))
            .expect("a thread for the backups");
        Backups { jobs }
    }

    /// Queues a copy of `bytes` (a vault file as saved).
    pub fn queue(&self, bytes: Vec<u8>, policy: BackupPolicy) {
        let _ = self.jobs.send(Job::Copy { bytes, policy });
    }

    /// Waits until every copy queued so far is written (or failed).
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.jobs.send(Job::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn run(queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        // Coalesce: of the copies waiting, only the newest is written; the
        // flushes waiting are answered after it.
        let mut newest = None;
        let mut flushes = Vec::new();
        for job in std::iter::once(first).chain(queue.try_iter()) {
            match job {
                Job::Copy { bytes, policy } => newest = Some((bytes, policy)),
                Job::Flush(done) => flushes.push(done),
            }
        }
        if let Some((bytes, policy)) = newest {
            match write(&bytes, &policy) {
                Ok(path) => tracing::info!(backup = %path.display(), "vault backed up"),
                Err(e) => tracing::warn!(
                    "the automatic backup failed (tried again at the next change): {e}"
                ),
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Writes one copy and prunes the folder to `keep`. Returns the new file.
pub fn write(bytes: &[u8], policy: &BackupPolicy) -> Result<PathBuf, VaultError> {
    store::ensure_dir(&policy.folder)?;
    // A fixed-width count keeps copies of the same millisecond in order.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let name = |n: u32| {
        policy
            .folder
            .join(format!("{PREFIX}{stamp}-{n:03}{SUFFIX}"))
    };
    let mut n = 1;
    let mut path = name(n);
    while path.exists() {
        n += 1;
        path = name(n);
    }
    store::write_atomic(&path, bytes)?;
    let all = list(&policy.folder);
    let extra = all.len().saturating_sub(policy.keep as usize);
    for old in &all[..extra] {
        store::remove_durable(old)?;
    }
    Ok(path)
}

/// The backups in `folder`, oldest first (none when it does not exist).
pub fn list(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    files.sort();
    files
}

/// The newest backup in `folder`, if any.
pub fn newest(folder: &Path) -> Option<PathBuf> {
    list(folder).pop()
}

/// The way back from the damaged vault file `vault`, with `newest` (the
/// newest automatic backup, if any): the sentence that ends both the
/// start-up refusal and a failed unlock.
pub fn restore_hint(vault: &Path, newest: Option<&Path>) -> String {
    match newest {
        Some(backup) => format!(
            "The newest automatic backup is {}: to use it, stop tesserad, move {} away and \
             copy the backup in its place (docs/backup.md)",
            backup.display(),
            vault.display()
        ),
        None => "No automatic backup was found".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn keeps_the_newest_copies_only_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let policy = BackupPolicy {
            folder: dir.path().join("backups"),
            keep: 3,
        };
        std::fs::create_dir(&policy.folder).unwrap();
        std::fs::write(policy.folder.join("notes.txt"), b"mine").unwrap();
        let written: Vec<PathBuf> = (0..5u8).map(|i| write(&[i; 4], &policy).unwrap()).collect();
        let kept = list(&policy.folder);
        assert_eq!(kept, written[2..], "the three newest, oldest first");
        assert_eq!(std::fs::read(&kept[2]).unwrap(), [4; 4]);
        assert_eq!(newest(&policy.folder).as_ref(), Some(&written[4]));
        assert!(policy.folder.join("notes.txt").exists());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&kept[0]), 0o600);
        assert_eq!(mode(&policy.folder), 0o700);
        assert_eq!(newest(&dir.path().join("none")), None);
    }

    #[test]
    fn the_writer_thread_writes_the_newest_of_a_burst() {
        let dir = tempfile::tempdir().unwrap();
        let policy = BackupPolicy {
            folder: dir.path().join("b"),
            keep: 100,
        };
        let backups = Backups::start();
        for i in 0..20u8 {
            backups.queue(vec![i], policy.clone());
        }
        backups.flush();
        let files = list(&policy.folder);
        assert!(!files.is_empty() && files.len() <= 20, "{files:?}");
        assert_eq!(std::fs::read(files.last().unwrap()).unwrap(), [19]);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        let policy = BackupPolicy {
            folder: dir.path().join("file"),
            keep: 1,
        };
        let e = write(b"x", &policy).unwrap_err().to_string();
        assert!(e.contains("is not a folder"), "{e}");
    }
}
