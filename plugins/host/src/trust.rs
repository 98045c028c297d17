//! Which files may be loaded: a plugin, its folder and every folder above
//! them must be owned by the user running the host or by root, and writable
//! by nobody else. Otherwise another user could replace the code the daemon
//! runs with the user's keys in memory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn owner_ok(uid: u32) -> bool {
    uid == 0 || uid == euid()
}

/// Checks the plugin folder itself: a refusal names the folder.
pub(crate) fn check_folder(folder: &Path) -> Result<(), String> {
    let canonical = folder
        .canonicalize()
        .map_err(|e| format!("its folder {} cannot be read: {e}", folder.display()))?;
    let meta = std::fs::metadata(&canonical)
        .map_err(|e| format!("its folder {} cannot be read: {e}", canonical.display()))?;
    check_entry(&canonical, &meta, "its folder", false)?;
    check_ancestors(&canonical)
}

/// Checks one plugin file (following a symbolic link to its target, whose
/// folders are checked too). A refusal says what is wrong and how to fix it.
pub(crate) fn check_file(file: &Path) -> Result<(), String> {
    let canonical = file
        .canonicalize()
        .map_err(|e| format!("cannot be read: {e}"))?;
    let meta = std::fs::metadata(&canonical).map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("is not a regular file".to_owned());
    }
    let what = if canonical == file {
        "it".to_owned()
    } else {
        format!("its target {}", canonical.display())
    };
    check_entry(&canonical, &meta, &what, false)?;
    if let Some(parent) = canonical.parent() {
        let meta = std::fs::metadata(parent)
            .map_err(|e| format!("its folder {} cannot be read: {e}", parent.display()))?;
        check_entry(parent, &meta, "its folder", false)?;
        check_ancestors(parent)?;
    }
    Ok(())
}

/// The folders above `dir`: a world-writable one is accepted only with the
/// sticky bit (like `/tmp`), where nobody can rename what others own.
fn check_ancestors(dir: &Path) -> Result<(), String> {
    for ancestor in dir.ancestors().skip(1) {
        let meta = std::fs::metadata(ancestor)
            .map_err(|e| format!("the folder {} cannot be read: {e}", ancestor.display()))?;
        check_entry(ancestor, &meta, "the folder", true)?;
    }
    Ok(())
}

fn check_entry(
    path: &Path,
    meta: &std::fs::Metadata,
    what: &str,
    sticky_ok: bool,
) -> Result<(), String> {
    let shown = if what == "it" {
        "it".to_owned()
    } else {
        format!("{what} {}", path.display())
    };
    if !owner_ok(meta.uid()) {
        return Err(format!(
            "{shown} is owned by user {}, not by you (user {}) or root",
            meta.uid(),
            euid()
        ));
    }
    let mode = meta.permissions().mode();
    if mode & GROUP_OR_OTHER_WRITE != 0 && !(sticky_ok && mode & STICKY != 0) {
        return Err(format!(
            "{shown} is writable by others (mode {:04o}); run `chmod go-w {}`",
            mode & 0o7777,
            path.display()
        ));
    }
    Ok(())
}
