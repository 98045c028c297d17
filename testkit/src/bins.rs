//! Where a test finds the workspace's other binaries (`tesserad`,
//! `tessera`, `tessera-issuer`): cargo's `CARGO_BIN_EXE_*` names only the
//! test's own package's binaries.

use std::path::PathBuf;

/// The binary `name`: `$VAR` when set (`TESSERAD_BIN` for `tesserad`:
/// the name upper-cased, `-` as `_`, with `_BIN`), else the one in the
/// folder above this test executable's `deps` folder (`target/debug/NAME`).
/// Panics, saying how to build it, when it is missing.
pub fn workspace_bin(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    let path = match std::env::var_os(&var) {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().expect("the test executable's path");
            // target/debug/deps/test-<hash> -> target/debug/NAME
            let deps = exe.parent().expect("the test executable's folder");
            deps.parent().unwrap_or(deps).join(name)
        }
    };
    if !path.is_file() {
        panic!(
            "{name} is not built: run `cargo build --workspace` (cargo test --workspace \
             builds it); looked for {} (or set {var})",
            path.display()
        );
    }
    path
}
