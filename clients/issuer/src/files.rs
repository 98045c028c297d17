//! Writing files that hold secrets: created with mode 0600 from the start
//! (never widened then narrowed), written whole or not at all.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rand::rngs::OsRng;

use crate::error::{Error, Result};

/// Only the owner may read or write.
pub const PRIVATE_MODE: u32 = 0o600;

/// Creates `path` with mode 0600; fails if it exists.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .open(path)
}

/// Writes `bytes` to a new file `path` (mode 0600). With `replace`, an
/// existing file is replaced atomically (write a temporary file beside it,
/// then rename); without, an existing file is an error and is left alone.
pub fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    if !replace {
        let mut file = create_private(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::input(format!(
                    "{}: already exists (use --force to replace it)",
                    path.display()
                ))
            } else {
                Error::file(path, e)
            }
        })?;
        return finish(&mut file, bytes).map_err(|e| {
            let _ = fs::remove_file(path);
            Error::file(path, e)
        });
    }
    let temp = temp_beside(path);
    let written = create_private(&temp)
        .and_then(|mut file| finish(&mut file, bytes))
        .and_then(|()| fs::rename(&temp, path));
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::file(path, e)
    })
}

fn finish(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

/// `DIR/.NAME.tmp-XXXXXXXX` beside `path`.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{:08x}", OsRng.next_u32()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_are_0600_and_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_private(&path, b"one", false).unwrap();
        assert_eq!(mode(&path), 0o600);
        let err = write_private(&path, b"two", false).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_private(&path, b"three", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.png");
        assert!(matches!(
            write_private(&path, b"x", true),
            Err(Error::File { .. })
        ));
        assert!(matches!(
            write_private(&path, b"x", false),
            Err(Error::File { .. })
        ));
    }
}
