//! `tessera import FILE` (docs/import.md): another authenticator's backup
//! file moved into the vault. The CLI reads the file and sends its bytes;
//! the daemon reads the format, says what it would store, and, once the
//! user agreed, stores it in one save.

use std::path::{Path, PathBuf};

use serde_json::json;
use tessera_proto::v1::backup_client::BackupClient;
use tessera_proto::v1::vault_client::VaultClient;
use tessera_proto::v1::{ImportRequest, ImportResponse, PendingAccount, VaultStatusRequest};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::commands::{Mode, ask_new_pin};
use crate::error::{CliError, Result};
use crate::out::outln;
use crate::prompt::{ask_pin, confirm, read_secret_file};
use crate::render::{describe_account, kind_label};

/// What `tessera import` was asked.
#[derive(Debug)]
pub struct Args {
    pub file: PathBuf,
    pub format: Option<String>,
    pub password_file: Option<PathBuf>,
    pub new_pin_file: Option<PathBuf>,
    pub dry_run: bool,
    pub yes: bool,
}

pub async fn run(ch: Channel, mode: Mode, args: Args) -> Result<()> {
    let bytes = tessera_files::read(&args.file, tessera_files::Kind::Import)
        .map_err(|e| CliError::usage(format!("cannot read the {e}")))?;
    let mut request = ImportRequest {
        format: args.format.clone().unwrap_or_default(),
        file: bytes,
        password: match &args.password_file {
            Some(f) => read_secret_file(f)?.as_str().to_owned(),
            None => String::new(),
        },
        new_pin: String::new(),
        apply: false,
    };
    let mut client = BackupClient::new(ch.clone());
    let plan = match client.import(request.clone()).await {
        Ok(plan) => plan.into_inner(),
        // An encrypted file and no password yet: ask for it, once.
        Err(status)
            if args.password_file.is_none()
                && mode.interactive
                && CliError::from(status.clone()).code == "ERROR_CODE_WRONG_PASSWORD" =>
        {
            crate::out::errln!("{}", status.message());
            request.password = ask_pin("The file's password: ")?.as_str().to_owned();
            client.import(request.clone()).await?.into_inner()
        }
        Err(status) => return Err(status.into()),
    };
    show(mode, &args.file, &plan, args.dry_run);
    if args.dry_run || plan.added.is_empty() {
        if !mode.json && plan.added.is_empty() {
            outln!("Nothing to import.");
        }
        return Ok(());
    }
    let status = VaultClient::new(ch)
        .status(VaultStatusRequest {})
        .await?
        .into_inner();
    if !status.exists {
        request.new_pin = first_vault_pin(mode, args.new_pin_file.as_deref())?
            .as_str()
            .to_owned();
    }
    if !args.yes {
        if !mode.interactive {
            return Err(CliError::missing_flag(
                "--yes",
                "importing asks to confirm (--dry-run only shows what it would store)",
            ));
        }
        let n = plan.added.len();
        let question = format!("Import {n} account{}? [y/N] ", plural(n));
        if !confirm(&question)? {
            return Err(CliError::cancelled("nothing was imported"));
        }
    }
    request.apply = true;
    let done = client.import(request).await?.into_inner();
    if mode.json {
        outln!("{}", plan_json(&args.file, &done));
    } else {
        outln!(
            "Imported {} account{}.",
            done.added.len(),
            plural(done.added.len())
        );
    }
    Ok(())
}

/// The PIN of the vault an import onto a fresh machine makes.
fn first_vault_pin(mode: Mode, file: Option<&Path>) -> Result<Zeroizing<String>> {
    match file {
        Some(f) => read_secret_file(f),
        None if mode.interactive => {
            outln!("There is no vault yet: choose the PIN that will open it.");
            ask_new_pin()
        }
        None => Err(CliError::missing_flag(
            "--new-pin-file FILE",
            "there is no vault yet, and importing makes one under a PIN",
        )),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn name(a: &PendingAccount) -> String {
    describe_account(&a.label, &a.issuer)
}

fn plan_json(file: &Path, p: &ImportResponse) -> serde_json::Value {
    let list = |l: &[PendingAccount]| -> Vec<_> {
        l.iter()
            .map(|a| json!({"label": a.label, "issuer": a.issuer, "kind": kind_label(a.kind)}))
            .collect()
    };
    let skipped: Vec<_> = p
        .skipped
        .iter()
        .map(|s| json!({"name": s.name, "reason": s.reason}))
        .collect();
    json!({
        "file": file.display().to_string(),
        "format": p.format,
        "added": list(&p.added),
        "duplicates": list(&p.duplicates),
        "skipped": skipped,
        "applied": p.applied,
    })
}

/// Every entry of the file, before anything is stored: what is new, what
/// the vault holds already, what cannot be imported and why.
fn show(mode: Mode, file: &Path, p: &ImportResponse, dry_run: bool) {
    if mode.json {
        // A dry run's answer is the plan; otherwise the applied one follows.
        if dry_run || p.added.is_empty() {
            outln!("{}", plan_json(file, p));
        }
        return;
    }
    let total = p.added.len() + p.duplicates.len() + p.skipped.len();
    outln!(
        "{} ({}): {total} entr{}.",
        file.display(),
        p.format,
        if total == 1 { "y" } else { "ies" }
    );
    if !p.added.is_empty() {
        outln!("New ({}):", p.added.len());
        for a in &p.added {
            outln!("  {} [{}]", name(a), kind_label(a.kind));
        }
    }
    if !p.duplicates.is_empty() {
        outln!(
            "Already in the vault, not imported again ({}):",
            p.duplicates.len()
        );
        for a in &p.duplicates {
            outln!("  {}", name(a));
        }
    }
    if !p.skipped.is_empty() {
        outln!("Cannot be imported ({}):", p.skipped.len());
        for s in &p.skipped {
            outln!("  {}: {}", s.name, s.reason);
        }
    }
}
