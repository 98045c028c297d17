//! Helpers shared by the host's tests: where cargo put the plugin libraries,
//! and building C plugins with the system C compiler.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// cargo's output folder (`target/debug`): the test binary is in its `deps/`.
pub fn build_output() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Copies cargo's `lib<crate>.so` into `dir` as `file`.
pub fn copy_plugin(crate_lib: &str, dir: &Path, file: &str) -> PathBuf {
    let from = build_output().join(format!("lib{crate_lib}.so"));
    let to = dir.join(file);
    std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    set_mode(&to, 0o755);
    to
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles `source` into `dir/file` as a shared library with the system C
/// compiler (`$CC`, else `cc`), warnings as errors, against the checked-in header.
pub fn build_c(source: &Path, dir: &Path, file: &str, defines: &[&str]) -> PathBuf {
    let out = dir.join(file);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let include = repo_root().join("plugins/api/include");
    let status = Command::new(&cc)
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
        ])
        .arg("-I")
        .arg(&include)
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-o")
        .arg(&out)
        .arg(source)
        .status()
        .unwrap_or_else(|e| panic!("run the C compiler {cc}: {e}"));
    assert!(status.success(), "{cc} failed on {}", source.display());
    set_mode(&out, 0o755);
    out
}

/// Builds `tests/c/bad_plugin.c` as plugin `name` with one `BAD_*` behaviour.
pub fn build_bad(dir: &Path, name: &str, behaviour: Option<&str>) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/bad_plugin.c");
    let name_define = format!("PLUGIN_NAME=\"{name}\"");
    let mut defines = vec![name_define.as_str()];
    defines.extend(behaviour);
    build_c(
        &source,
        dir,
        &format!("lib{}.so", name.replace('-', "_")),
        &defines,
    )
}

/// A private folder (mode 0700) for plugins.
pub fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o700);
    dir
}
