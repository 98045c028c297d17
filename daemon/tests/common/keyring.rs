//! The real Secret Service of the test's session bus (gnome-keyring under
//! `dbus-run-session`, as `scripts/test` starts it), looked at and spoiled
//! with `secret-tool`; and the vault's id, which names its keyring items.

use std::process::{Command, Stdio};

use super::Daemon;

/// Fails (never skips) when there is no Secret Service to test against;
/// `suite` is the test file, for the command that runs it by hand.
pub fn require_secret_service(suite: &str) {
    let how = format!(
        "run them with scripts/test, which starts them inside `dbus-run-session` \
         with `gnome-keyring-daemon --unlock --components=secrets`; by hand: \
         dbus-run-session -- sh -c 'echo -n pw | XDG_DATA_HOME=$(mktemp -d) \
         gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
         exec cargo test -p tessera-daemon --test {suite}'"
    );
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "the {suite} tests need a D-Bus session bus with a Secret Service \
         (DBUS_SESSION_BUS_ADDRESS is unset): {how}"
    );
    let found = Command::new("secret-tool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok(),
        "the {suite} tests need `secret-tool` (package libsecret-tools): {how}"
    );
}

/// Runs `secret-tool` with `args` (and `stdin`); its stdout and stderr.
pub fn secret_tool(args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("secret-tool runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "secret-tool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `search` prints the attributes on stderr, the rest on stdout.
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// How many items `secret-tool search --all` finds for the vault
/// `vault_id`: of every slot kind, or of `slot` (`keyring`, `biometric`).
pub fn keyring_items_for(vault_id: &str, slot: Option<&str>) -> usize {
    let mut args = vec!["search", "--all", "application", "tessera"];
    if let Some(slot) = slot {
        args.extend(["tessera-vault", vault_id, "tessera-slot", slot]);
    }
    secret_tool(&args, None)
        .lines()
        .filter(|l| l.trim() == format!("attribute.tessera-vault = {vault_id}"))
        .count()
}

/// The vault id from the file's public header (its second line).
pub fn vault_id(d: &Daemon) -> String {
    let bytes = std::fs::read(d.data_dir().join("vault")).unwrap();
    let header = bytes.split(|b| *b == b'\n').nth(1).unwrap();
    let header: serde_json::Value = serde_json::from_slice(header).unwrap();
    header["vault_id"].as_str().unwrap().to_owned()
}
