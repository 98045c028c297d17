//! `tessera backup list|verify|restore` (docs/backup.md): the daemon's
//! automatic backups. The CLI reads the backup file and sends its bytes;
//! the daemon opens it with the PIN it was made with, says what restoring
//! it changes, and, once the user agreed, changes it in one save.

use std::path::{Path, PathBuf};

use serde_json::json;
use tessera_proto::v1::backup_client::BackupClient;
use tessera_proto::v1::{
    CreateBackupRequest, ListBackupsRequest, PendingAccount, RestoreBackupRequest,
    RestoreBackupResponse, RestoreMode,
};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::commands::Mode;
use crate::error::{CliError, Result};
use crate::out::outln;
use crate::prompt::{ask_choice, ask_pin, confirm, read_secret_file};
use crate::render::describe_account;
use crate::term::{Input, read_line};

/// What `tessera backup` was asked.
#[derive(Debug)]
pub enum Action {
    List,
    Create {
        out: Option<PathBuf>,
        password_file: Option<PathBuf>,
        with_pin: bool,
    },
    Verify {
        file: PathBuf,
    },
    Restore {
        file: PathBuf,
        /// `None`: ask at the terminal.
        mode: Option<RestoreMode>,
        yes: bool,
    },
}

/// A backup file read, with the PIN that opens it.
struct Backup {
    name: String,
    bytes: Vec<u8>,
    pin: Zeroizing<String>,
}

impl Backup {
    fn read(file: &Path, mode: Mode, pin_file: Option<&Path>) -> Result<Backup> {
        let bytes = tessera_files::read(file, tessera_files::Kind::Vault)
            .map_err(|e| CliError::usage(format!("cannot read the backup {e}")))?;
        Ok(Backup {
            name: file.display().to_string(),
            bytes,
            pin: backup_pin(mode, pin_file)?,
        })
    }

    fn request(&self, mode: RestoreMode, apply: bool) -> RestoreBackupRequest {
        RestoreBackupRequest {
            name: self.name.clone(),
            file: self.bytes.clone(),
            pin: self.pin.as_str().to_owned(),
            mode: mode as i32,
            apply,
        }
    }
}

pub async fn run(ch: Channel, mode: Mode, action: Action, pin_file: Option<PathBuf>) -> Result<()> {
    let mut client = BackupClient::new(ch);
    let pin_file = pin_file.as_deref();
    match action {
        Action::List => list(&mut client, mode).await,
        Action::Create {
            out,
            password_file,
            with_pin,
        } => create(&mut client, mode, out, password_file.as_deref(), with_pin).await,
        Action::Verify { file } => {
            let backup = Backup::read(&file, mode, pin_file)?;
            let merge = client
                .restore(backup.request(RestoreMode::Merge, false))
                .await?;
            let replace = client
                .restore(backup.request(RestoreMode::Replace, false))
                .await?;
            show_verified(mode, &file, &merge.into_inner(), &replace.into_inner());
            Ok(())
        }
        Action::Restore {
            file,
            mode: restore,
            yes,
        } => {
            let backup = Backup::read(&file, mode, pin_file)?;
            let restore = match restore {
                Some(r) => r,
                None => {
                    // The secret is checked (and the file read) before the
                    // question.
                    client
                        .restore(backup.request(RestoreMode::Merge, false))
                        .await?;
                    choose_mode(mode)?
                }
            };
            let plan = client
                .restore(backup.request(restore, false))
                .await?
                .into_inner();
            if plan.added.is_empty() && plan.removed.is_empty() && plan.changed.is_empty() {
                show_plan(mode, restore, &plan, true);
                if !mode.json {
                    outln!("Nothing to restore: the vault already holds what the backup does.");
                }
                return Ok(());
            }
            show_plan(mode, restore, &plan, false);
            if !yes {
                if !mode.interactive {
                    return Err(CliError::missing_flag(
                        "--yes",
                        "restoring a backup asks to confirm",
                    ));
                }
                if !confirm("Restore? [y/N] ")? {
                    return Err(CliError::cancelled("nothing was restored"));
                }
            }
            let done = client
                .restore(backup.request(restore, true))
                .await?
                .into_inner();
            show_plan(mode, restore, &done, true);
            Ok(())
        }
    }
}

/// The restore mode a person chooses when no flag gave it.
fn choose_mode(mode: Mode) -> Result<RestoreMode> {
    if !mode.interactive {
        return Err(CliError::missing_flag(
            "--merge or --replace",
            "restoring a backup needs to know whether to add what the vault lacks or to replace its accounts",
        ));
    }
    let answer = ask_choice(
        "Merge (add the backup's accounts the vault lacks) or replace (the vault's accounts become the backup's)? [m/r] ",
        &["m", "r"],
    )?;
    Ok(if answer == "m" {
        RestoreMode::Merge
    } else {
        RestoreMode::Replace
    })
}

fn backup_pin(mode: Mode, pin_file: Option<&Path>) -> Result<Zeroizing<String>> {
    match pin_file {
        Some(f) => read_secret_file(f),
        None if mode.interactive => {
            ask_pin("The backup's password, or the vault's PIN when it was made: ")
        }
        None => Err(CliError::missing_flag(
            "--pin-file FILE",
            "a backup opens with its password or the PIN it was made with",
        )),
    }
}

async fn list(client: &mut BackupClient<Channel>, mode: Mode) -> Result<()> {
    let list = client.list(ListBackupsRequest {}).await?.into_inner();
    if mode.json {
        let backups: Vec<_> = list
            .backups
            .iter()
            .map(|b| json!({"path": b.path, "bytes": b.bytes, "modified_unix": b.modified_unix}))
            .collect();
        outln!("{}", json!({"folder": list.folder, "backups": backups}));
        return Ok(());
    }
    if list.backups.is_empty() {
        outln!("No automatic backups in {} yet.", list.folder);
        return Ok(());
    }
    outln!("Automatic backups in {} (oldest first):", list.folder);
    for b in &list.backups {
        let when = chrono::DateTime::from_timestamp(b.modified_unix, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let name = Path::new(&b.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| b.path.clone());
        outln!("  {when}  {:>9}  {name}", tessera_files::human(b.bytes));
    }
    Ok(())
}

/// `tessera backup create`: the daemon makes the backup's bytes; the file
/// is written here, 0600, never over an existing one.
async fn create(
    client: &mut BackupClient<Channel>,
    mode: Mode,
    out: Option<PathBuf>,
    password_file: Option<&Path>,
    with_pin: bool,
) -> Result<()> {
    let password = match password_file {
        Some(f) => Some(read_secret_file(f)?),
        None if mode.interactive => Some(ask_new_password("the backup")?),
        None => None,
    };
    if password.is_none() && !with_pin {
        return Err(CliError::missing_flag(
            "--password-file FILE (or --with-pin)",
            "a backup needs a password of its own, the vault's PIN, or both",
        ));
    }
    let out = match out {
        Some(out) => out,
        None => {
            let folder = client
                .list(ListBackupsRequest {})
                .await?
                .into_inner()
                .folder;
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            Path::new(&folder).join(format!("backup-{stamp}.tessera"))
        }
    };
    let made = client
        .create(CreateBackupRequest {
            password: password
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            with_pin,
        })
        .await?
        .into_inner();
    write_new_private(&out, &made.file)?;
    if mode.json {
        outln!(
            "{}",
            json!({"file": out.display().to_string(), "accounts": made.accounts,
                   "password": password.is_some(), "with_pin": with_pin})
        );
    } else {
        let opens = match (password.is_some(), with_pin) {
            (true, true) => "its password or the vault's PIN",
            (true, false) => "its password",
            _ => "the vault's PIN",
        };
        outln!(
            "Wrote {} ({} account{}); it opens with {opens}.",
            out.display(),
            made.accounts,
            if made.accounts == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// A new password for `what` (a backup, an export), typed twice without
/// echo.
pub(crate) fn ask_new_password(what: &str) -> Result<Zeroizing<String>> {
    loop {
        let first = ask_pin(&format!("A password for {what} (10 characters or more): "))?;
        let again = match read_line("The same password again: ", false)
            .map_err(|e| CliError::io("reading the terminal", e))?
        {
            Input::Line(l) => l,
            Input::Interrupted | Input::Eof => {
                return Err(CliError::cancelled(format!(
                    "nothing was written for {what}"
                )));
            }
        };
        if *first == *again {
            return Ok(first);
        }
        crate::out::errln!("The two passwords differ; again.");
    }
}

/// Writes `bytes` to a new file `path` (0600); an existing file is an
/// error.
pub(crate) fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))?;
    // A file that could not be written whole (a full disk) is removed, so
    // that no half file passes for a backup or an export.
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| {
        let _ = std::fs::remove_file(path);
        CliError::io(format!("writing {}", path.display()), e)
    })
}

fn names(accounts: &[PendingAccount]) -> String {
    accounts
        .iter()
        .map(|a| describe_account(&a.label, &a.issuer))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plan_json(p: &RestoreBackupResponse) -> serde_json::Value {
    let list = |l: &[PendingAccount]| -> Vec<_> {
        l.iter()
            .map(|a| json!({"label": a.label, "issuer": a.issuer}))
            .collect()
    };
    json!({
        "in_backup": p.in_backup,
        "added": list(&p.added),
        "removed": list(&p.removed),
        "changed": list(&p.changed),
        "unchanged": p.unchanged,
        "applied": p.applied,
    })
}

fn show_verified(
    mode: Mode,
    file: &Path,
    merge: &RestoreBackupResponse,
    replace: &RestoreBackupResponse,
) {
    if mode.json {
        outln!(
            "{}",
            json!({"file": file.display().to_string(), "in_backup": merge.in_backup,
                   "merge": plan_json(merge), "replace": plan_json(replace)})
        );
        return;
    }
    outln!(
        "{} opens with that PIN and holds {} account{}.",
        file.display(),
        merge.in_backup,
        if merge.in_backup == 1 { "" } else { "s" }
    );
    outln!("Merging it would add {}.", count_and_names(&merge.added));
    outln!(
        "Replacing with it would add {}, remove {} and change {}.",
        count_and_names(&replace.added),
        count_and_names(&replace.removed),
        count_and_names(&replace.changed)
    );
}

fn count_and_names(l: &[PendingAccount]) -> String {
    match l.len() {
        0 => "none".to_owned(),
        n => format!("{n} ({})", names(l)),
    }
}

fn show_plan(mode: Mode, restore: RestoreMode, p: &RestoreBackupResponse, done: bool) {
    if mode.json {
        if done {
            outln!("{}", plan_json(p));
        }
        return;
    }
    let verb = |future: &'static str, past: &'static str| if done { past } else { future };
    outln!(
        "The backup holds {} account{}.",
        p.in_backup,
        if p.in_backup == 1 { "" } else { "s" }
    );
    outln!(
        "  {} {}",
        verb("Will add:", "Added:"),
        count_and_names(&p.added)
    );
    if restore == RestoreMode::Replace {
        outln!(
            "  {} {}",
            verb("Will remove:", "Removed:"),
            count_and_names(&p.removed)
        );
        outln!(
            "  {} {}",
            verb("Will change (the backup's version wins):", "Changed:"),
            count_and_names(&p.changed)
        );
    }
    outln!("  Unchanged: {}", p.unchanged);
}
