//! `tessera export` (docs/import.md, "Export"): the accounts written to a
//! file another authenticator reads, or as a Tessera backup. The daemon
//! makes the file once the vault's PIN confirmed it; the CLI writes it as a
//! new file readable by the user alone (0600), never over another.

use std::path::{Path, PathBuf};

use serde_json::json;
use tessera_proto::v1::backup_client::BackupClient;
use tessera_proto::v1::{CreateBackupRequest, ExportRequest, VaultStatusRequest};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::backup::{ask_new_password, write_new_private};
use crate::commands::Mode;
use crate::error::{CliError, Result};
use crate::out::{errln, outln};
use crate::prompt::{ask_pin, confirm, read_secret_file};
use crate::render::describe_account;

/// The formats `--format` takes: the daemon's export formats, and a
/// Tessera backup (`tessera backup create`).
pub const FORMATS: [&str; 6] = [
    "aegis",
    "aegis-encrypted",
    "uri-list",
    "pskc",
    "pskc-encrypted",
    "tessera-backup",
];

/// What `tessera export` was asked.
#[derive(Debug)]
pub struct Args {
    pub format: String,
    pub out: PathBuf,
    pub pin_file: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub yes: bool,
}

pub async fn run(ch: Channel, mode: Mode, args: Args) -> Result<()> {
    if !FORMATS.contains(&args.format.as_str()) {
        return Err(CliError::usage(format!(
            "unknown export format {:?}: use one of {}",
            args.format,
            FORMATS.join(", ")
        )));
    }
    // Refused before any question: the file must not exist yet.
    if args.out.exists() {
        return Err(CliError::usage(format!(
            "{} exists already; an export never writes over a file",
            args.out.display()
        )));
    }
    let encrypted = matches!(
        args.format.as_str(),
        "aegis-encrypted" | "pskc-encrypted" | "tessera-backup"
    );
    if !encrypted && args.password_file.is_some() {
        return Err(CliError::usage(format!(
            "the {} format has no password; use aegis-encrypted, pskc-encrypted or tessera-backup",
            args.format
        )));
    }
    if !args.yes {
        if !mode.interactive {
            return Err(CliError::missing_flag(
                "--yes",
                "an export writes the accounts' secrets to a file and asks to confirm",
            ));
        }
        let warning = if encrypted {
            "The file opens with the password you choose next."
        } else {
            "The file holds every secret in the clear: anyone who reads it can make your codes."
        };
        errln!("{warning}");
        let question = format!("Export the accounts to {}? [y/N] ", args.out.display());
        if !confirm(&question)? {
            return Err(CliError::cancelled("nothing was exported"));
        }
    }
    let password = match &args.password_file {
        Some(f) => Some(read_secret_file(f)?),
        None if encrypted && mode.interactive => Some(ask_new_password("the export")?),
        None if encrypted => {
            return Err(CliError::missing_flag(
                "--password-file FILE",
                "an encrypted export needs a password of its own",
            ));
        }
        None => None,
    };
    let mut client = BackupClient::new(ch.clone());
    if args.format == "tessera-backup" {
        return backup(&mut client, mode, &args.out, password).await;
    }
    let pin = vault_pin(&ch, mode, args.pin_file.as_deref()).await?;
    let made = client
        .export(ExportRequest {
            format: args.format.clone(),
            pin: pin.as_str().to_owned(),
            password: password.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        })
        .await?
        .into_inner();
    let file = Zeroizing::new(made.file);
    write_new_private(&args.out, &file)?;
    let left_out: Vec<_> = made
        .left_out
        .iter()
        .map(|s| json!({"name": s.name, "reason": s.reason}))
        .collect();
    if mode.json {
        let exported: Vec<_> = made
            .exported
            .iter()
            .map(|a| json!({"label": a.label, "issuer": a.issuer}))
            .collect();
        outln!(
            "{}",
            json!({"file": args.out.display().to_string(), "format": args.format,
                   "exported": exported, "left_out": left_out})
        );
        return Ok(());
    }
    for a in &made.exported {
        outln!("  exported  {}", describe_account(&a.label, &a.issuer));
    }
    for s in &made.left_out {
        outln!("  left out  {}: {}", s.name, s.reason);
    }
    let n = made.exported.len();
    outln!(
        "Wrote {} ({n} account{}, {}).",
        args.out.display(),
        if n == 1 { "" } else { "s" },
        args.format
    );
    Ok(())
}

/// The vault's PIN that confirms the export; nothing for a vault that has
/// none (protection off).
async fn vault_pin(ch: &Channel, mode: Mode, file: Option<&Path>) -> Result<Zeroizing<String>> {
    if let Some(f) = file {
        return read_secret_file(f);
    }
    let status = tessera_proto::v1::vault_client::VaultClient::new(ch.clone())
        .status(VaultStatusRequest {})
        .await?
        .into_inner();
    if status.protection == tessera_proto::v1::Protection::Keyring as i32 {
        return Ok(Zeroizing::new(String::new()));
    }
    if mode.interactive {
        return ask_pin("The vault's PIN, to confirm the export: ");
    }
    Err(CliError::missing_flag(
        "--pin-file FILE",
        "an export is confirmed with the vault's PIN",
    ))
}

/// `--format tessera-backup`: the vault's own backup under a password.
async fn backup(
    client: &mut BackupClient<Channel>,
    mode: Mode,
    out: &Path,
    password: Option<Zeroizing<String>>,
) -> Result<()> {
    let password = password.expect("asked above for an encrypted format");
    let made = client
        .create(CreateBackupRequest {
            password: password.as_str().to_owned(),
            with_pin: false,
        })
        .await?
        .into_inner();
    write_new_private(out, &made.file)?;
    if mode.json {
        outln!(
            "{}",
            json!({"file": out.display().to_string(), "format": "tessera-backup",
                   "accounts": made.accounts})
        );
    } else {
        outln!(
            "Wrote {} ({} account{}, a Tessera backup: `tessera backup restore` reads it).",
            out.display(),
            made.accounts,
            if made.accounts == 1 { "" } else { "s" }
        );
    }
    Ok(())
}
