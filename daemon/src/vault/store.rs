//! Files on disk: the vault folder (0700, ours), its lock, atomic writes
//! (temp file 0600, write, fsync, rename, fsync the folder) and capped reads.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tessera_files::{FileError, Kind};

use super::VaultError;

pub(crate) const DIR_MODE: u32 = 0o700;
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (0700) if missing; if it exists, checks it is a folder owned
/// by this user and tightens its mode to 0700.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), VaultError> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(|e| VaultError::io("create the folder", dir, e))?;
        }
        Err(e) => return Err(VaultError::io("read", dir, e)),
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(VaultError::Unsafe {
                    path: dir.to_owned(),
                    reason: "is not a folder".into(),
                });
            }
            check_owner(dir, &meta)?;
        }
    }
    // Also corrects a umask that took bits away or a folder others could read.
    let meta = fs::metadata(dir).map_err(|e| VaultError::io("read", dir, e))?;
    if meta.mode() & 0o777 != DIR_MODE {
        if meta.mode() & 0o077 != 0 {
            tracing::warn!(folder = %dir.display(), mode = format!("{:o}", meta.mode() & 0o777),
                "the vault folder was open to others; setting it to 0700");
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
            .map_err(|e| VaultError::io("set permissions on", dir, e))?;
    }
    Ok(())
}

fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<(), VaultError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(VaultError::Unsafe {
            path: path.to_owned(),
            reason: format!("is owned by uid {}, not by you (uid {me})", meta.uid()),
        });
    }
    Ok(())
}

/// Holds an exclusive `flock` on `<dir>/vault.lock` for as long as it lives;
/// the file records the holder's pid for the message another daemon shows.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path, lock_path: &Path) -> Result<Self, VaultError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(lock_path)
            .map_err(|e| VaultError::io("open the lock file", lock_path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| VaultError::io("read", lock_path, e))?;
        if !meta.is_file() {
            return Err(VaultError::Unsafe {
                path: lock_path.to_owned(),
                reason: "is not a regular file".into(),
            });
        }
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let pid = (&mut file)
                    .take(Kind::Counter.limit())
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(VaultError::Busy {
                    path: dir.to_owned(),
                    pid,
                });
            }
            return Err(VaultError::io("lock", lock_path, err));
        }
        let record = |file: &mut File| -> io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        };
        record(&mut file).map_err(|e| VaultError::io("write", lock_path, e))?;
        Ok(Self { _file: file })
    }
}

/// What [`read_capped`] found.
pub(crate) enum Contents {
    Missing,
    /// Larger than the kind's limit (at least this size); not kept.
    TooLarge(u64),
    Bytes(Vec<u8>),
}

/// Reads a whole file of at most `kind`'s limit through `tessera-files`
/// (never blocks on a FIFO or device; a larger file is not kept). Checks the
/// file is a regular file owned by this user, and tightens a mode open to
/// others to 0600.
pub(crate) fn read_capped(path: &Path, kind: Kind) -> Result<Contents, VaultError> {
    let opened = match tessera_files::open(path, kind) {
        Ok(o) => o,
        Err(FileError::NotFound { .. }) => return Ok(Contents::Missing),
        Err(FileError::TooLarge { size, .. }) => return Ok(Contents::TooLarge(size)),
        Err(FileError::NotRegular { what, .. }) => {
            return Err(VaultError::Unsafe {
                path: path.to_owned(),
                reason: format!("is {what}, not a regular file"),
            });
        }
        Err(FileError::Io { source, .. }) => return Err(VaultError::io("open", path, source)),
    };
    check_owner(path, &opened.meta)?;
    if opened.meta.mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "the file was open to others; setting it to 0600");
        opened
            .file
            .set_permissions(fs::Permissions::from_mode(FILE_MODE))
            .map_err(|e| VaultError::io("set permissions on", path, e))?;
    }
    match opened.read_all() {
        Ok(bytes) => Ok(Contents::Bytes(bytes)),
        Err(FileError::TooLarge { size, .. }) => Ok(Contents::TooLarge(size)),
        Err(FileError::Io { source, .. }) => Err(VaultError::io("read", path, source)),
        Err(e) => Err(VaultError::Unsafe {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// A small file (the counter): `None` if missing; an oversized one reads as
/// empty (so as damaged).
pub(crate) fn read_small(path: &Path, kind: Kind) -> Result<Option<Vec<u8>>, VaultError> {
    Ok(match read_capped(path, kind)? {
        Contents::Missing => None,
        Contents::TooLarge(_) => Some(Vec::new()),
        Contents::Bytes(b) => Some(b),
    })
}

/// `<name>.tmp` beside `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().expect("a file path").to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `bytes` so that a crash or an error at any point
/// leaves either the old file or the new one, whole: write `<name>.tmp`
/// (0600), fsync it, rename it over `path`, fsync the folder. On an error
/// before the rename the old file is untouched and the temp file removed.
///
/// A failing folder fsync after the rename is logged, not returned: the new
/// file is already in place and is the state in effect.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let tmp = temp_path(path);
    let result = write_temp(&tmp, bytes).and_then(|()| {
        fail_point(Step::Rename).map_err(|e| VaultError::io("rename into place", path, e))?;
        fs::rename(&tmp, path).map_err(|e| VaultError::io("rename into place", path, e))
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let dir = parent(path);
    if let Err(e) = fail_point(Step::SyncDir).and_then(|()| sync_dir(dir)) {
        tracing::warn!(folder = %dir.display(), error = %e,
            "saved, but syncing the folder failed; the change may not survive a power loss");
    }
    Ok(())
}

fn write_temp(tmp: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    // A temp file left by a crash is ours (we hold the lock): replace it.
    match fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(VaultError::io("remove", tmp, e)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(tmp)
        .map_err(|e| VaultError::io("create", tmp, e))?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .map_err(|e| VaultError::io("set permissions on", tmp, e))?;
    fail_point(Step::Write)
        .and_then(|()| file.write_all(bytes))
        .map_err(|e| VaultError::io("write", tmp, e))?;
    fail_point(Step::Sync)
        .and_then(|()| file.sync_all())
        .map_err(|e| VaultError::io("sync", tmp, e))?;
    Ok(())
}

/// Removes `path` (if present) and syncs the folder.
pub(crate) fn remove_durable(path: &Path) -> Result<(), VaultError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(VaultError::io("remove", path, e)),
    }
    let dir = parent(path);
    sync_dir(dir).map_err(|e| VaultError::io("sync the folder", dir, e))
}

/// Removes a temp file a crash may have left (we hold the lock).
pub(crate) fn remove_stale_temp(path: &Path) {
    let tmp = temp_path(path);
    match fs::remove_file(&tmp) {
        Ok(()) => {
            tracing::info!(file = %tmp.display(), "removed a temp file left by an interrupted save")
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %tmp.display(), error = %e, "cannot remove a stale temp file")
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Where a test can make a save fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Step {
    Write,
    Sync,
    Rename,
    SyncDir,
}

#[cfg(test)]
thread_local! {
    static FAIL_AT: std::cell::Cell<Option<Step>> = const { std::cell::Cell::new(None) };
}

/// Test hook: the next save on this thread fails at `step`.
#[cfg(test)]
pub(crate) fn fail_next_save_at(step: Option<Step>) {
    FAIL_AT.with(|f| f.set(step));
}

#[cfg(test)]
fn fail_point(step: Step) -> io::Result<()> {
    if FAIL_AT.with(|f| f.get()) == Some(step) {
        FAIL_AT.with(|f| f.set(None));
        return Err(io::Error::other(format!("injected failure at {step:?}")));
    }
    Ok(())
}

#[cfg(not(test))]
#[inline(always)]
fn fail_point(_step: Step) -> io::Result<()> {
    Ok(())
}
