//! The built plugin library and a plugin host that loaded it, for the
//! tests that load the plugin as the daemon does.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use tessera_plugin_host::{PluginFolder, PluginHost};

/// The plugin library cargo built for these tests: in `target/<profile>/deps/`
/// next to the test binary (or in `target/<profile>/` when another crate's
/// dev-dependency built it).
pub fn built_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .iter()
        .map(|dir| dir.join("libtessera_scanner_camera.so"))
        .find(|path| path.exists())
        .expect("cargo built libtessera_scanner_camera.so")
}

/// A host that loaded a copy of the library from a private folder.
pub fn load() -> (tempfile::TempDir, PluginHost) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let to = dir.path().join("libtessera_scanner_camera.so");
    std::fs::copy(built_library(), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], None);
    (dir, host)
}
