//! The commands other than `activate`: one call each, printed as text or JSON.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;
use tessera_proto::v1::{
    AccountRef, ChangePinRequest, CommitCodeRequest, ListAccountsRequest, ListCodesRequest,
    ListPluginsRequest, LockRequest, RenameAccountRequest, RespondRequest, ScanRequest,
    SetNotificationsRequest, UnlockRequest, VaultStatus, VaultStatusRequest,
    accounts_client::AccountsClient, plugins_client::PluginsClient, scan_request,
    scanner_client::ScannerClient, vault_client::VaultClient,
};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::error::{CliError, Result, code, exit};
use crate::out::{errln, outln};
use crate::prompt::{ask_pin, confirm, read_secret_file};
use crate::render::{self, Json};

/// How output and questions go for this run.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub json: bool,
    /// A person can be asked on the terminal.
    pub interactive: bool,
}

/// The vault's PIN that confirms `purpose` ("the export", "the payment"):
/// from `file`, or asked at the terminal; `None` for a vault that has no
/// PIN (keyring protection).
pub async fn vault_pin(
    ch: &Channel,
    mode: Mode,
    file: Option<&Path>,
    purpose: &str,
) -> Result<Option<Zeroizing<String>>> {
    if let Some(f) = file {
        return read_secret_file(f).map(Some);
    }
    let status = tessera_proto::v1::vault_client::VaultClient::new(ch.clone())
        .status(tessera_proto::v1::VaultStatusRequest {})
        .await?
        .into_inner();
    if status.protection == tessera_proto::v1::Protection::Keyring as i32 {
        return Ok(None);
    }
    if mode.interactive {
        return ask_pin(&format!("The vault's PIN, to confirm {purpose}: ")).map(Some);
    }
    Err(CliError::missing_flag(
        "--pin-file FILE",
        &format!("{purpose} is confirmed with the vault's PIN"),
    ))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn print_json(value: &Json) {
    outln!("{value}");
}

fn wrap(key: &str, value: Json) -> Json {
    let mut m = Json::object();
    m.set(key, value);
    m
}

pub async fn list(ch: Channel, mode: Mode) -> Result<()> {
    let accounts = AccountsClient::new(ch)
        .list(ListAccountsRequest {})
        .await?
        .into_inner()
        .accounts;
    if mode.json {
        print_json(&render::list_json(&accounts));
    } else {
        outln!("{}", render::accounts_table(&accounts));
    }
    Ok(())
}

/// `tessera code [QUERY] [--copy] [--peek]`; without a query (or with
/// `--all`), every account's current code.
pub async fn code(
    ch: Channel,
    mode: Mode,
    name: Option<String>,
    copy: bool,
    peek: bool,
) -> Result<()> {
    let Some(name) = name else {
        return all_codes(ch, mode).await;
    };
    let mut client = AccountsClient::new(ch);
    // A copy that fails must not use up an HOTP code: peek, copy, and only
    // then commit (the daemon advances the counter only from the peeked
    // value, so nothing is skipped or given twice).
    let response = if copy || peek {
        client.peek_code(AccountRef { account: name }).await?
    } else {
        client.code(AccountRef { account: name }).await?
    }
    .into_inner();
    if copy {
        copy_to_clipboard(&response.code)?;
    }
    let commit = response
        .account
        .as_ref()
        .filter(|_| copy && !peek && render::is_hotp(&response))
        .map(|a| CommitCodeRequest {
            account: a.id.clone(),
            counter: response.counter,
        });
    let response = match commit {
        Some(request) => client
            .commit_code(request)
            .await
            .map_err(|e| {
                let mut e = CliError::from(e);
                e.message = format!(
                    "the code on the clipboard was not marked as used: {}",
                    e.message
                );
                e
            })?
            .into_inner(),
        None => response,
    };
    let now = now_unix();
    let peeked = peek && render::is_hotp(&response);
    if mode.json {
        let mut value = render::code_json(&response, now);
        if copy {
            value.set("copied", json!(true));
        }
        if peeked {
            value.set("peeked", json!(true));
        }
        print_json(&value);
        return Ok(());
    }
    let hint = if peeked {
        format!(
            "counter {}, not used: `tessera code` without --peek uses it",
            response.counter
        )
    } else {
        render::code_hint(&response, now)
    };
    if copy {
        let label = response
            .account
            .as_ref()
            .map(|a| a.label.as_str())
            .unwrap_or("the account");
        outln!("Copied the code for {label} to the clipboard ({hint}).");
    } else if std::io::stdout().is_terminal() {
        outln!("{}  ({hint})", render::shown_code(&response));
    } else {
        // Piped: the code alone, for `$(tessera code NAME)`.
        outln!("{}", response.code);
    }
    Ok(())
}

/// Every account's current code; HOTP accounts are listed without one
/// (nothing advances).
async fn all_codes(ch: Channel, mode: Mode) -> Result<()> {
    let codes = AccountsClient::new(ch)
        .list_codes(ListCodesRequest {})
        .await?
        .into_inner()
        .codes;
    let now = now_unix();
    if mode.json {
        print_json(&render::codes_json(&codes, now));
    } else {
        let terminal = std::io::stdout().is_terminal();
        outln!("{}", render::codes_table(&codes, now, terminal));
    }
    Ok(())
}

pub async fn respond(ch: Channel, mode: Mode, name: String, challenge: String) -> Result<()> {
    let r = AccountsClient::new(ch)
        .respond(RespondRequest {
            account: name,
            challenge,
        })
        .await?
        .into_inner();
    if mode.json {
        let mut m = Json::object();
        m.set("response", json!(r.response));
        m.set("suite", json!(r.suite));
        print_json(&m);
    } else {
        outln!("{}", r.response);
    }
    Ok(())
}

pub async fn rename(ch: Channel, mode: Mode, name: String, label: String) -> Result<()> {
    let account = AccountsClient::new(ch)
        .rename(RenameAccountRequest {
            account: name,
            label,
        })
        .await?
        .into_inner();
    if mode.json {
        print_json(&wrap("account", render::account_json(&account)));
    } else {
        outln!("Renamed to {}.", account.label);
    }
    Ok(())
}

pub async fn set_approvals(ch: Channel, mode: Mode, name: String, allowed: bool) -> Result<()> {
    let account = AccountsClient::new(ch)
        .set_notifications(SetNotificationsRequest {
            account: name,
            allowed,
        })
        .await?
        .into_inner();
    if mode.json {
        print_json(&wrap("account", render::account_json(&account)));
    } else if allowed {
        outln!(
            "Approvals through notifications allowed for {}.",
            account.label
        );
    } else {
        outln!(
            "Approvals through notifications refused for {}.",
            account.label
        );
    }
    Ok(())
}

/// `tessera delete QUERY`: names the account and asks; `--yes` deletes
/// without asking, and then the daemon takes only an exact name or id (a
/// part of a name never deletes anything unasked).
pub async fn delete(ch: Channel, mode: Mode, name: String, yes: bool) -> Result<()> {
    let mut client = AccountsClient::new(ch);
    let reference = if yes {
        name
    } else {
        let account = client.get(AccountRef { account: name }).await?.into_inner();
        if !mode.interactive {
            return Err(CliError::missing_flag(
                "--yes (with the exact name or id)",
                &format!(
                    "deleting {} (id {}) asks to confirm",
                    render::query_name(&account),
                    render::short_id(&account.id)
                ),
            ));
        }
        let what = if account.issuer.is_empty() {
            account.label.clone()
        } else {
            format!("{} ({})", account.label, account.issuer)
        };
        if !confirm(&format!("Delete account {what}? [y/N] "))? {
            return Err(CliError::cancelled("nothing was deleted"));
        }
        account.id
    };
    let deleted = client
        .delete(AccountRef { account: reference })
        .await?
        .into_inner()
        .deleted
        .unwrap_or_default();
    if mode.json {
        print_json(&wrap("deleted", render::account_json(&deleted)));
    } else {
        outln!("Deleted {}.", deleted.label);
    }
    Ok(())
}

pub async fn status(ch: Channel, mode: Mode) -> Result<()> {
    let mut vault = VaultClient::new(ch);
    let s = vault.status(VaultStatusRequest {}).await?.into_inner();
    // An older tesserad has no TpmStatus: no TPM line then.
    let tpm = vault
        .tpm_status(tessera_proto::v1::TpmStatusRequest {})
        .await
        .ok()
        .map(tonic::Response::into_inner);
    if mode.json {
        let mut json = render::status_json(&s);
        if let Some(t) = &tpm {
            json.set("tpm", crate::tpm::status_json(t)["tpm"].clone());
        }
        if !s.log_destination.is_empty() {
            json.set("log_destination", serde_json::json!(s.log_destination));
        }
        json.set("settings_warnings", serde_json::json!(s.settings_warnings));
        print_json(&json);
    } else {
        outln!("{}", render::status_text(&s));
        if let Some(t) = &tpm {
            outln!("{}", crate::tpm::summary_line(t));
        }
        if !s.log_destination.is_empty() {
            outln!("Daemon logs: {}", s.log_destination);
        }
        if !s.settings_warnings.is_empty() {
            outln!("Settings: problems in your files (`tessera config check` checks them):");
            for w in &s.settings_warnings {
                outln!("  {w}");
            }
        }
    }
    Ok(())
}

pub async fn lock(ch: Channel, mode: Mode) -> Result<()> {
    let s = VaultClient::new(ch)
        .lock(LockRequest {})
        .await?
        .into_inner();
    if mode.json {
        print_json(&render::status_json(&s));
    } else {
        outln!("Vault locked.");
    }
    Ok(())
}

pub async fn plugins(ch: Channel, mode: Mode) -> Result<()> {
    let plugins = PluginsClient::new(ch)
        .list(ListPluginsRequest {})
        .await?
        .into_inner()
        .plugins;
    if mode.json {
        print_json(&render::plugins_json(&plugins));
    } else {
        outln!("{}", render::plugins_table(&plugins));
    }
    Ok(())
}

/// `tessera scan`: the codes' kinds and fields, or with `raw` their texts
/// exactly (each followed by one newline, nothing else).
pub async fn scan(ch: Channel, mode: Mode, source: scan_request::Source, raw: bool) -> Result<()> {
    let codes = ScannerClient::new(ch)
        .scan(ScanRequest {
            source: Some(source),
            raw,
        })
        .await?
        .into_inner()
        .codes;
    if mode.json {
        print_json(&render::scan_json(&codes, raw));
    } else if raw {
        for code in &codes {
            outln!("{}", code.text);
        }
    } else {
        outln!("{}", render::scan_text(&codes));
    }
    Ok(())
}

/// A PIN from `--pin-file`, or asked without echo.
fn pin_from(
    file: Option<&Path>,
    mode: Mode,
    prompt: &str,
    flag: &str,
    what: &str,
) -> Result<Zeroizing<String>> {
    match file {
        Some(f) => read_secret_file(f),
        None if mode.interactive => ask_pin(prompt),
        None => Err(CliError::missing_flag(flag, what)),
    }
}

pub async fn unlock(
    ch: Channel,
    mode: Mode,
    pin_file: Option<PathBuf>,
    force_pin: bool,
) -> Result<()> {
    let mut vault = VaultClient::new(ch);
    let s = unlock_vault(&mut vault, mode, pin_file.as_deref(), force_pin).await?;
    print_unlocked(&s, mode);
    Ok(())
}

/// Opens the vault: a finger when biometrics are on (unless `force_pin` or
/// a PIN file), the login keyring for a keyring vault, else the PIN. At a
/// terminal a wrong PIN is asked again, with the daemon's word on the tries
/// left, until a delay or the lock-out stops it.
async fn unlock_vault(
    vault: &mut VaultClient<Channel>,
    mode: Mode,
    pin_file: Option<&Path>,
    force_pin: bool,
) -> Result<VaultStatus> {
    if !force_pin
        && pin_file.is_none()
        && let Some(s) = crate::biometrics::try_unlock(vault, mode).await?
    {
        return Ok(s);
    }
    // A vault protected by the login keyring opens without a PIN.
    let keyring = !force_pin
        && pin_file.is_none()
        && vault
            .status(VaultStatusRequest {})
            .await?
            .into_inner()
            .protection
            == tessera_proto::v1::Protection::Keyring as i32;
    if keyring || pin_file.is_some() || !mode.interactive {
        let pin = if keyring {
            Zeroizing::new(String::new())
        } else {
            pin_from(
                pin_file,
                mode,
                "Vault PIN: ",
                "--pin-file FILE",
                "unlocking needs the PIN",
            )?
        };
        return unlock_with_pin(vault, &pin).await;
    }
    loop {
        let pin = ask_pin("Vault PIN: ")?;
        match unlock_with_pin(vault, &pin).await {
            Ok(s) => return Ok(s),
            Err(e) => again_after_wrong_pin(vault, e).await?,
        }
    }
}

async fn unlock_with_pin(vault: &mut VaultClient<Channel>, pin: &str) -> Result<VaultStatus> {
    Ok(vault
        .unlock(UnlockRequest {
            pin: pin.to_owned(),
            ..Default::default()
        })
        .await?
        .into_inner())
}

/// At a terminal, a locked PIN vault offers to unlock before a command that
/// needs the accounts (then the command carries on). Without a terminal
/// nothing is asked: the command fails with ERROR_CODE_VAULT_LOCKED.
pub async fn offer_unlock(ch: &Channel, mode: Mode) -> Result<()> {
    if !mode.interactive {
        return Ok(());
    }
    let mut vault = VaultClient::new(ch.clone());
    let s = vault.status(VaultStatusRequest {}).await?.into_inner();
    // A keyring vault opens by itself; no vault: the command says so.
    if !s.exists || !s.locked || s.protection != tessera_proto::v1::Protection::Pin as i32 {
        return Ok(());
    }
    errln!("The vault is locked.");
    let s = unlock_vault(&mut vault, mode, None, false).await?;
    warn_counter(&s);
    Ok(())
}

/// The daemon could not write the wrong-PIN counter (a full disk).
fn warn_counter(s: &VaultStatus) {
    if !s.pin_counter_warning.is_empty() {
        errln!("tessera: warning: {}", s.pin_counter_warning);
    }
}

fn print_unlocked(s: &VaultStatus, mode: Mode) {
    if mode.json {
        print_json(&render::status_json(s));
        return;
    }
    warn_counter(s);
    let accounts = format!(
        "{} account{}",
        s.account_count,
        if s.account_count == 1 { "" } else { "s" }
    );
    if !s.already_unlocked {
        outln!("Vault unlocked, {accounts}.");
    } else if s.protection == tessera_proto::v1::Protection::Keyring as i32 {
        outln!("The vault is already unlocked (it opens from the login keyring), {accounts}.");
    } else {
        outln!("The vault was already unlocked; the PIN is right. {accounts}.");
    }
}

/// Both PINs from standard input: the old on the first line, the new on the
/// second.
fn two_pins_from_stdin() -> Result<(Zeroizing<String>, Zeroizing<String>)> {
    let mut text = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::io("reading the PINs from standard input", e))?;
    let mut lines = text.lines();
    let mut next = |which: &str| {
        lines
            .next()
            .filter(|l| !l.is_empty())
            .map(|l| Zeroizing::new(l.to_owned()))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "standard input has no {which} PIN (old PIN on the first line, new on the second)"
                ))
            })
    };
    let old = next("old")?;
    let new = next("new")?;
    Ok((old, new))
}

/// `tessera change-pin`. At a terminal the current PIN is checked first
/// (asked again after a wrong one, as `unlock` does); only then is the new
/// PIN asked, twice, and asked again when the daemon refuses it (the same
/// PIN, or not within policy).
pub async fn change_pin(
    ch: Channel,
    mode: Mode,
    pin_file: Option<PathBuf>,
    new_pin_file: Option<PathBuf>,
) -> Result<()> {
    let mut vault = VaultClient::new(ch);
    let dash = Path::new("-");
    let (old, new) = if pin_file.as_deref() == Some(dash) && new_pin_file.as_deref() == Some(dash) {
        let (old, new) = two_pins_from_stdin()?;
        (old, Some(new))
    } else {
        let new = new_pin_file.as_deref().map(read_secret_file).transpose()?;
        if new.is_none() && !mode.interactive {
            return Err(CliError::missing_flag(
                "--new-pin-file FILE",
                "changing the PIN needs the new PIN",
            ));
        }
        let old = match pin_file.as_deref() {
            Some(f) => read_secret_file(f)?,
            None if mode.interactive => loop {
                let old = ask_pin("Current PIN: ")?;
                match check_pin(&mut vault, &old).await {
                    Ok(()) => break old,
                    Err(e) => again_after_wrong_pin(&mut vault, e).await?,
                }
            },
            None => {
                return Err(CliError::missing_flag(
                    "--pin-file FILE",
                    "changing the PIN needs the current PIN",
                ));
            }
        };
        if new.is_none() && pin_file.is_some() {
            // From a file: checked before the new PIN is asked all the same.
            check_pin(&mut vault, &old).await?;
        }
        (old, new)
    };
    let s = loop {
        let (new, asked) = match &new {
            Some(n) => (n.clone(), false),
            None => (ask_new_pin()?, true),
        };
        let answer = vault
            .change_pin(ChangePinRequest {
                old_pin: old.as_str().to_owned(),
                new_pin: new.as_str().to_owned(),
                check_only: false,
            })
            .await;
        match answer {
            Ok(s) => break s.into_inner(),
            Err(status) => {
                let e = CliError::from_status(&status);
                if asked && e.code == "ERROR_CODE_PIN_POLICY" {
                    errln!("tessera: {}", e.message);
                    continue;
                }
                return Err(e);
            }
        }
    };
    if mode.json {
        print_json(&render::status_json(&s));
    } else {
        outln!("PIN changed.");
    }
    Ok(())
}

/// The new PIN, typed twice until both agree.
pub(crate) fn ask_new_pin() -> Result<Zeroizing<String>> {
    loop {
        let first = ask_pin("New PIN: ")?;
        let again = ask_pin("Repeat the new PIN: ")?;
        if first == again {
            return Ok(first);
        }
        errln!("The PINs did not match; try again.");
    }
}

/// Checks the current PIN without changing anything (counted as any PIN
/// check).
async fn check_pin(vault: &mut VaultClient<Channel>, pin: &str) -> Result<()> {
    vault
        .change_pin(ChangePinRequest {
            old_pin: pin.to_owned(),
            new_pin: String::new(),
            check_only: true,
        })
        .await?;
    Ok(())
}

/// After a refused PIN at a terminal: `Ok` to ask again (a wrong PIN while
/// tries are free: its message is shown), else the error (a delay runs, the
/// lock-out, anything else).
async fn again_after_wrong_pin(vault: &mut VaultClient<Channel>, e: CliError) -> Result<()> {
    if e.code != "ERROR_CODE_WRONG_PIN" {
        return Err(e);
    }
    let s = vault.status(VaultStatusRequest {}).await?.into_inner();
    if s.retry_after_seconds > 0 {
        return Err(e);
    }
    errln!("tessera: {}", e.message);
    Ok(())
}

/// Finds an executable in `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// The clipboard tools to try, best first for the session type.
pub fn clipboard_tools(wayland: bool) -> Vec<(&'static str, &'static [&'static str])> {
    let wl: (&str, &[&str]) = ("wl-copy", &[]);
    let x: (&str, &[&str]) = ("xclip", &["-selection", "clipboard"]);
    if wayland { vec![wl, x] } else { vec![x, wl] }
}

/// Puts `text` on the clipboard with `wl-copy` or `xclip`.
pub fn copy_to_clipboard(text: &str) -> Result<()> {
    let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty());
    for (tool, args) in clipboard_tools(wayland) {
        let Some(program) = find_in_path(tool) else {
            continue;
        };
        // The tools stay in the background to serve the clipboard: give them
        // no stdout/stderr of ours, or `$(tessera code --copy)` would wait.
        let mut child = Command::new(&program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| CliError::io(format!("running {tool}"), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| CliError::io(format!("writing to {tool}"), e))?;
        }
        let status = child
            .wait()
            .map_err(|e| CliError::io(format!("running {tool}"), e))?;
        if status.success() {
            return Ok(());
        }
        return Err(CliError::new(
            code::CLIPBOARD,
            format!("{tool} failed ({status}); is a graphical session running?"),
            exit::REFUSED,
        ));
    }
    Err(CliError::new(
        code::CLIPBOARD,
        "cannot copy: neither wl-copy nor xclip was found; install wl-clipboard (Wayland) \
         or xclip (X11), or run without --copy",
        exit::REFUSED,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipboard_order_follows_the_session() {
        assert_eq!(clipboard_tools(true)[0].0, "wl-copy");
        assert_eq!(clipboard_tools(false)[0].0, "xclip");
        assert_eq!(clipboard_tools(false)[0].1, ["-selection", "clipboard"]);
    }
}
