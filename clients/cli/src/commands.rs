//! The commands other than `activate`: one call each, printed as text or JSON.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;
use tessera_proto::v1::{
    AccountRef, ChangePinRequest, ListAccountsRequest, ListPluginsRequest, LockRequest,
    RenameAccountRequest, RespondRequest, ScanRequest, SetNotificationsRequest, UnlockRequest,
    VaultStatusRequest, accounts_client::AccountsClient, plugins_client::PluginsClient,
    scan_request, scanner_client::ScannerClient, vault_client::VaultClient,
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

pub async fn code(ch: Channel, mode: Mode, name: String, copy: bool) -> Result<()> {
    let response = AccountsClient::new(ch)
        .code(AccountRef { account: name })
        .await?
        .into_inner();
    let now = now_unix();
    if copy {
        copy_to_clipboard(&response.code)?;
    }
    if mode.json {
        let mut value = render::code_json(&response, now);
        if copy {
            value.set("copied", json!(true));
        }
        print_json(&value);
    } else if copy {
        let label = response
            .account
            .as_ref()
            .map(|a| a.label.as_str())
            .unwrap_or("the account");
        outln!(
            "Copied the code for {label} to the clipboard ({}).",
            render::code_hint(&response, now)
        );
    } else if std::io::stdout().is_terminal() {
        outln!("{}  ({})", response.code, render::code_hint(&response, now));
    } else {
        // Piped: the code alone, for `$(tessera code NAME)`.
        outln!("{}", response.code);
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

pub async fn delete(ch: Channel, mode: Mode, name: String, yes: bool) -> Result<()> {
    let mut client = AccountsClient::new(ch);
    let account = client.get(AccountRef { account: name }).await?.into_inner();
    if !yes {
        if !mode.interactive {
            return Err(CliError::missing_flag(
                "--yes",
                &format!("deleting {} asks to confirm", account.label),
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
    }
    let deleted = client
        .delete(AccountRef {
            account: account.id.clone(),
        })
        .await?
        .into_inner()
        .deleted
        .unwrap_or(account);
    if mode.json {
        print_json(&wrap("deleted", render::account_json(&deleted)));
    } else {
        outln!("Deleted {}.", deleted.label);
    }
    Ok(())
}

pub async fn status(ch: Channel, mode: Mode) -> Result<()> {
    let s = VaultClient::new(ch)
        .status(VaultStatusRequest {})
        .await?
        .into_inner();
    if mode.json {
        let mut json = render::status_json(&s);
        if !s.log_destination.is_empty() {
            json.set("log_destination", serde_json::json!(s.log_destination));
        }
        print_json(&json);
    } else {
        outln!("{}", render::status_text(&s));
        if !s.log_destination.is_empty() {
            outln!("Daemon logs: {}", s.log_destination);
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
    // Biometrics when enabled, unless the PIN is asked for or given.
    if !force_pin
        && pin_file.is_none()
        && let Some(s) = crate::biometrics::try_unlock(&mut vault, mode).await?
    {
        print_unlocked(&s, mode);
        return Ok(());
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
    let pin = if keyring {
        Zeroizing::new(String::new())
    } else {
        pin_from(
            pin_file.as_deref(),
            mode,
            "Vault PIN: ",
            "--pin-file FILE",
            "unlocking needs the PIN",
        )?
    };
    let s = vault
        .unlock(UnlockRequest {
            pin: pin.as_str().to_owned(),
            ..Default::default()
        })
        .await?
        .into_inner();
    print_unlocked(&s, mode);
    Ok(())
}

fn print_unlocked(s: &tessera_proto::v1::VaultStatus, mode: Mode) {
    if mode.json {
        print_json(&render::status_json(s));
    } else {
        outln!(
            "Vault unlocked, {} account{}.",
            s.account_count,
            if s.account_count == 1 { "" } else { "s" }
        );
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

pub async fn change_pin(
    ch: Channel,
    mode: Mode,
    pin_file: Option<PathBuf>,
    new_pin_file: Option<PathBuf>,
) -> Result<()> {
    let dash = Path::new("-");
    let (old, new) = if pin_file.as_deref() == Some(dash) && new_pin_file.as_deref() == Some(dash) {
        two_pins_from_stdin()?
    } else {
        let old = pin_from(
            pin_file.as_deref(),
            mode,
            "Current PIN: ",
            "--pin-file FILE",
            "changing the PIN needs the current PIN",
        )?;
        let new = match new_pin_file.as_deref() {
            Some(f) => read_secret_file(f)?,
            None if mode.interactive => loop {
                let first = ask_pin("New PIN: ")?;
                let again = ask_pin("Repeat the new PIN: ")?;
                if first == again {
                    break first;
                }
                errln!("The PINs did not match; try again.");
            },
            None => {
                return Err(CliError::missing_flag(
                    "--new-pin-file FILE",
                    "changing the PIN needs the new PIN",
                ));
            }
        };
        (old, new)
    };
    let s = VaultClient::new(ch)
        .change_pin(ChangePinRequest {
            old_pin: old.as_str().to_owned(),
            new_pin: new.as_str().to_owned(),
        })
        .await?
        .into_inner();
    if mode.json {
        print_json(&render::status_json(&s));
    } else {
        outln!("PIN changed.");
    }
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
