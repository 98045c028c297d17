//! `tessera export` (docs/import.md, "Export"): the accounts written to a
//! file another authenticator reads, or as a Tessera backup. The daemon
//! makes the file once the vault's PIN confirmed it; the CLI writes it as a
//! new file readable by the user alone (0600), never over another.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::json;
use tessera_proto::v1::backup_client::BackupClient;
use tessera_proto::v1::{CreateBackupRequest, ExportRequest};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::backup::{ask_new_password, write_new_private};
use crate::commands::{Mode, vault_pin};
use crate::error::{CliError, Result};
use crate::out::{errln, outln};
use crate::prompt::{confirm, read_secret_file};
use crate::render::describe_account;

/// The formats `--format` takes: the daemon's export formats, and a
/// Tessera backup (`tessera backup create`).
pub const FORMATS: [&str; 7] = [
    "aegis",
    "aegis-encrypted",
    "uri-list",
    "pskc",
    "pskc-encrypted",
    "otpauth-migration",
    "tessera-backup",
];

/// Google Authenticator's export links: what `--qr` shows.
const MIGRATION: &str = "otpauth-migration";

/// Where an export goes.
#[derive(Debug)]
pub enum Target {
    File {
        format: String,
        out: PathBuf,
    },
    /// The terminal, as QR codes (`--qr`).
    Qr,
}

/// What `tessera export` was asked.
#[derive(Debug)]
pub struct Args {
    pub target: Target,
    pub pin_file: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub yes: bool,
}

/// A file's export, as [`run`] takes it apart.
struct FileArgs {
    format: String,
    out: PathBuf,
    pin_file: Option<PathBuf>,
    password_file: Option<PathBuf>,
    yes: bool,
}

pub async fn run(ch: Channel, mode: Mode, args: Args) -> Result<()> {
    let (format, out) = match args.target {
        Target::Qr => return qr(ch, mode, args.pin_file, args.password_file, args.yes).await,
        Target::File { format, out } => (format, out),
    };
    let args = FileArgs {
        format,
        out,
        pin_file: args.pin_file,
        password_file: args.password_file,
        yes: args.yes,
    };
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
    let pin = vault_pin(&ch, mode, args.pin_file.as_deref(), "the export")
        .await?
        .unwrap_or_default();
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

/// `tessera export --qr`: the accounts as Google Authenticator's export
/// codes, one page per code, at the terminal only (a person scans them).
async fn qr(
    ch: Channel,
    mode: Mode,
    pin_file: Option<PathBuf>,
    password_file: Option<PathBuf>,
    yes: bool,
) -> Result<()> {
    if password_file.is_some() {
        return Err(CliError::usage(
            "--qr codes have no password; --password-file is for encrypted files",
        ));
    }
    if !mode.interactive || !std::io::stdout().is_terminal() {
        return Err(CliError::usage(
            "--qr shows QR codes for a person to scan, at a terminal; to write the same \
             links to a file, use --format otpauth-migration --out FILE",
        ));
    }
    if !yes {
        errln!(
            "The codes hold every secret: anyone who sees or photographs the screen can make \
             your codes."
        );
        if !confirm("Show them? [y/N] ")? {
            return Err(CliError::cancelled("nothing was shown"));
        }
    }
    let pin = vault_pin(&ch, mode, pin_file.as_deref(), "the export")
        .await?
        .unwrap_or_default();
    let made = BackupClient::new(ch)
        .export(ExportRequest {
            format: MIGRATION.into(),
            pin: pin.as_str().to_owned(),
            password: String::new(),
        })
        .await?
        .into_inner();
    let text = Zeroizing::new(String::from_utf8(made.file).map_err(|_| {
        CliError::usage("the daemon's export is not text (a daemon of another version?)")
    })?);
    let links: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    for s in &made.left_out {
        outln!("  left out  {}: {}", s.name, s.reason);
    }
    if links.is_empty() {
        outln!("No account can be shown as a QR code.");
        return Ok(());
    }
    for (i, link) in links.iter().enumerate() {
        let names = match tessera_core::payload::migration::parse(link) {
            Ok(batch) => batch
                .accounts
                .iter()
                .map(|a| describe_account(&a.account, a.issuer.as_deref().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => return Err(CliError::usage(format!("the daemon's export code: {e}"))),
        };
        outln!("Code {} of {}: {names}", i + 1, links.len());
        outln!("{}", terminal_qr(link)?);
        if i + 1 < links.len() {
            match crate::term::read_line("Enter: the next code, q: stop. ", true)
                .map_err(|e| CliError::io("reading the terminal", e))?
            {
                crate::term::Input::Line(l) if l.trim().eq_ignore_ascii_case("q") => {
                    return Err(CliError::cancelled("stopped before the last code"));
                }
                crate::term::Input::Line(_) => {}
                _ => return Err(CliError::cancelled("stopped before the last code")),
            }
        }
    }
    let n = made.exported.len();
    outln!(
        "Shown: {n} account{} in {} code{}.",
        if n == 1 { "" } else { "s" },
        links.len(),
        if links.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// `text` as a QR code in Unicode half blocks, two modules a character,
/// with its quiet zone. As `qrencode -t UTF8` draws it, the light modules
/// are the blocks, for the usual light-on-dark terminal.
fn terminal_qr(text: &str) -> Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L)
        .map_err(|e| CliError::usage(format!("the code does not fit a QR code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
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
