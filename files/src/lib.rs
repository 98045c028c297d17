//! Bounded reads of regular files, the one way Tessera opens a file it
//! reads whole: settings, the vault and its counter, plugin files, images
//! given by path.
//!
//! Every open is `O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, so a FIFO, a device or
//! a terminal planted where a file is expected cannot block the caller or
//! become its terminal; the opened descriptor is then checked with `fstat`
//! (so a symbolic link is judged by what it points to, and nothing can be
//! swapped in between) and anything but a regular file is refused. The size
//! limit of each [`Kind`] is checked on `fstat` and enforced again while
//! reading (at most limit + 1 bytes are read: the file may grow).
//!
//! Hand-written on purpose: it is a few dozen lines over `std` and `libc`,
//! and no crate does exactly this (the `fs-err`, `same-file` and `cap-std`
//! families open blocking and read without a cap).

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// What a file is, and so how large it may be (docs/security.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A settings file (`tessera.toml`, drop-ins): 1 MiB.
    Settings,
    /// The vault file (or its temp file): 64 MiB (10,000 accounts take
    /// about 3 MiB).
    Vault,
    /// The wrong-PIN counter and the lock file: 4 KiB.
    Counter,
    /// A plugin file, read for its SHA-256: 256 MiB.
    Plugin,
    /// An activation image given by path: 20 MiB (`tessera-scan`'s limit).
    Image,
    /// A payload text (`tessera activate --uri @FILE`): 64 KiB.
    Payload,
    /// Another authenticator's backup file (`tessera import`): 16 MiB, as
    /// `tessera_import::MAX_FILE_BYTES`.
    Import,
}

impl Kind {
    /// The largest file of this kind, in bytes.
    pub const fn limit(self) -> u64 {
        match self {
            Kind::Settings => 1 << 20,
            Kind::Vault => 64 << 20,
            Kind::Counter => 4 << 10,
            Kind::Plugin => 256 << 20,
            Kind::Image => 20 << 20,
            Kind::Payload => 64 << 10,
            Kind::Import => 16 << 20,
        }
    }

    /// What the file is, in words.
    pub const fn what(self) -> &'static str {
        match self {
            Kind::Settings => "settings file",
            Kind::Vault => "vault file",
            Kind::Counter => "counter file",
            Kind::Plugin => "plugin file",
            Kind::Image => "image",
            Kind::Payload => "payload text",
            Kind::Import => "file to import",
        }
    }
}

/// Why a file was not read. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },
    /// A FIFO, a device, a socket or a folder (or a link to one).
    #[error("{}: is {what}, not a regular file; refusing to read it", path.display())]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{}: is larger than the limit of {} for a {} ({} bytes at least)",
        path.display(), human(*limit), kind.what(), size)]
    TooLarge {
        path: PathBuf,
        kind: Kind,
        limit: u64,
        /// The size seen (at least this).
        size: u64,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl FileError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            FileError::NotFound { path }
            | FileError::NotRegular { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::Io { path, .. } => path,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::NotFound { .. })
    }
}

/// `1 MiB`, `4 KiB`, `512 bytes`.
pub fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn kind_name(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// An opened regular file within its kind's limit, with its `fstat`.
#[derive(Debug)]
pub struct Opened {
    pub file: File,
    pub meta: Metadata,
    path: PathBuf,
    kind: Kind,
}

/// Opens `path` for reading without blocking and checks, on the opened
/// descriptor, that it is a regular file of at most `kind`'s limit.
pub fn open(path: &Path, kind: Kind) -> Result<Opened, FileError> {
    open_with(path, kind, 0)
}

/// [`open`] with extra `open(2)` flags (e.g. `O_NOFOLLOW`).
pub fn open_with(path: &Path, kind: Kind, extra_flags: i32) -> Result<Opened, FileError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | extra_flags)
        .open(path)
        .map_err(|source| io_error(path, source))?;
    let meta = file.metadata().map_err(|source| io_error(path, source))?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_owned(),
            what: kind_name(&meta),
        });
    }
    let opened = Opened {
        file,
        meta,
        path: path.to_owned(),
        kind,
    };
    opened.check_size(opened.meta.len())?;
    Ok(opened)
}

fn io_error(path: &Path, source: io::Error) -> FileError {
    if source.kind() == io::ErrorKind::NotFound {
        FileError::NotFound {
            path: path.to_owned(),
        }
    } else {
        FileError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

impl Opened {
    fn check_size(&self, size: u64) -> Result<(), FileError> {
        let limit = self.kind.limit();
        if size > limit {
            return Err(FileError::TooLarge {
                path: self.path.clone(),
                kind: self.kind,
                limit,
                size,
            });
        }
        Ok(())
    }

    /// The whole file (at most the limit; a file that grew past it since
    /// `fstat` is refused, having read limit + 1 bytes).
    pub fn read_all(mut self) -> Result<Vec<u8>, FileError> {
        let limit = self.kind.limit();
        let mut bytes = Vec::with_capacity(self.meta.len().min(limit) as usize);
        (&mut self.file)
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| io_error(&self.path, source))?;
        self.check_size(bytes.len() as u64)?;
        Ok(bytes)
    }

    /// The file as a reader that stops after limit + 1 bytes; feed what it
    /// gives to [`Opened::check_read`] to refuse a file that grew.
    pub fn reader(&mut self) -> impl Read + '_ {
        let limit = self.kind.limit();
        (&mut self.file).take(limit + 1)
    }

    /// Refuses `total` bytes read when that is past the limit.
    pub fn check_read(&self, total: u64) -> Result<(), FileError> {
        self.check_size(total)
    }

    /// An I/O error while reading, naming the file.
    pub fn io_error(&self, source: io::Error) -> FileError {
        io_error(&self.path, source)
    }
}

/// Reads the whole regular file at `path`, at most `kind`'s limit.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, FileError> {
    open(path, kind)?.read_all()
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, kind: Kind) -> Result<String, FileError> {
    let bytes = read(path, kind)?;
    String::from_utf8(bytes).map_err(|_| FileError::Io {
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, "is not valid UTF-8 text"),
    })
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Runs `f` on a thread and fails the test if it takes over 20 s (the
    /// old code blocked forever on a FIFO: this turns a hang into a failure).
    fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the read hung (still blocked after 20 s)")
    }

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn reads_a_regular_file_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(&p, b"12").unwrap();
        assert_eq!(read(&p, Kind::Counter).unwrap(), b"12");
        std::fs::write(&p, vec![b'x'; 4097]).unwrap();
        let e = read(&p, Kind::Counter).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { limit: 4096, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: is larger than the limit of 4 KiB for a counter file (4097 bytes at least)",
                p.display()
            )
        );
        assert!(
            read(&dir.path().join("none"), Kind::Counter)
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        mkfifo(&p);
        let e = within_20s(move || read(&p, Kind::Vault).unwrap_err());
        assert!(
            e.to_string()
                .contains("is a FIFO (named pipe), not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn a_link_to_dev_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tessera.toml");
        std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
        let e = within_20s(move || read(&p, Kind::Settings).unwrap_err());
        assert!(e.to_string().contains("is a character device"), "{e}");
        let e = read(dir.path(), Kind::Settings).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
    }
}
