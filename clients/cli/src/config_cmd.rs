//! `tessera config show` (asks the running daemon) and `tessera config
//! check` (reads the files itself with `tessera-config`, so an
//! administrator can check a file before rolling it out, with no daemon).

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};
use tessera_config::{ConfigError, Layer, Paths, Problem};
use tessera_proto::v1::{ShowConfigRequest, ShowConfigResponse, config_client::ConfigClient};

use crate::commands::Mode;
use crate::error::{CliError, Result, exit};
use crate::out::{errln, outln};

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Show every setting in force, with --origin the file and line it came
    /// from (asks tesserad)
    #[command(after_help = "\
Each line is `key = value` (TOML). With --origin each line starts with where
the value came from: `default`, or FILE:LINE of the vendor, admin or user
file; `locked by FILE:LINE` marks a key users cannot change, and a key that
takes effect at restart only says so when its file value is not yet in
force. Warnings (an ignored user file, refused values) and what in the vault
does not comply with the policy follow.")]
    Show {
        /// Say where each value came from
        #[arg(long)]
        origin: bool,
    },
    /// Check settings files: FILE on its own (as an admin file), or every
    /// layer on this machine; needs no daemon
    #[command(after_help = "\
Exit codes: 0 every file is valid; 2 a file is not valid (the message names
the file, line and column); 1 the files are valid but values of the user file
are refused (locked keys) or the user file would be ignored.")]
    Check {
        /// The file to check [default: every layer: /usr/share/tessera,
        /// /etc/tessera, ~/.config/tessera]
        file: Option<PathBuf>,
        /// Check FILE as a user file (no `locked`)
        #[arg(long, requires = "file")]
        user: bool,
        /// Look for the vendor and admin files under DIR [default:
        /// $TESSERA_CONFIG_ROOT, else /]
        #[arg(long, value_name = "DIR", conflicts_with = "file")]
        root: Option<PathBuf>,
    },
}

const INVALID: &str = "CONFIG_INVALID";
const REFUSED: &str = "CONFIG_REFUSED";

pub async fn run(cmd: ConfigCmd, socket: &std::path::Path, mode: Mode) -> Result<()> {
    match cmd {
        ConfigCmd::Show { origin } => {
            let ch = crate::connect::connect(socket).await?;
            let r = ConfigClient::new(ch)
                .show(ShowConfigRequest {})
                .await?
                .into_inner();
            if mode.json {
                outln!("{}", show_json(&r));
            } else {
                outln!("{}", show_text(&r, origin).trim_end());
            }
            Ok(())
        }
        ConfigCmd::Check { file, user, root } => check(file, user, root, mode),
    }
}

fn check(file: Option<PathBuf>, user: bool, root: Option<PathBuf>, mode: Mode) -> Result<()> {
    let result = match &file {
        Some(f) => {
            let layer = if user { Layer::User } else { Layer::Admin };
            tessera_config::check_file(f, layer)
        }
        None => tessera_config::load_paths(&Paths::standard(root.as_deref())),
    };
    let config = result.map_err(|e| match e {
        ConfigError::Read { path, source } => CliError::new(
            INVALID,
            format!("cannot read {}: {source}", path.display()),
            exit::USAGE,
        ),
        ConfigError::File(e) => CliError::new(
            INVALID,
            format!("cannot read the settings file {e}"),
            exit::USAGE,
        ),
        e @ ConfigError::Invalid(_) => CliError::new(INVALID, e.problems().join("\n"), exit::USAGE),
    })?;
    let p = &config.provenance;
    let warnings: Vec<String> = p.warnings.iter().map(Problem::to_string).collect();
    if mode.json {
        outln!(
            "{}",
            json!({
                "valid": true,
                "files": p.files.iter().map(|(l, f)| json!({"layer": l.name(), "path": f.display().to_string()})).collect::<Vec<_>>(),
                "locked": p.locks.iter().map(|(k, o)| json!({"key": k, "by": o.to_string()})).collect::<Vec<_>>(),
                "warnings": warnings,
            })
        );
    } else {
        if p.files.is_empty() {
            outln!("no configuration files: the built-in defaults apply");
        }
        for (layer, f) in &p.files {
            outln!("ok ({layer}): {}", f.display());
        }
        for w in &warnings {
            errln!("warning: {w}");
        }
    }
    if !warnings.is_empty() {
        return Err(CliError::new(
            REFUSED,
            format!(
                "{} value(s) or file(s) would be refused or ignored",
                warnings.len()
            ),
            exit::REFUSED,
        ));
    }
    Ok(())
}

fn show_json(r: &ShowConfigResponse) -> Value {
    json!({
        "entries": r.entries.iter().map(|e| json!({
            "key": e.key,
            "value": e.is_set.then(|| e.value.clone()),
            "layer": e.layer,
            "file": (!e.file.is_empty()).then(|| e.file.clone()),
            "line": (e.line > 0).then_some(e.line),
            "locked_by": (!e.locked_by.is_empty()).then(|| e.locked_by.clone()),
            "restart_required": e.restart_required,
            "restart_pending": e.restart_pending,
            "running_value": e.restart_pending.then(|| e.running_value.clone()),
        })).collect::<Vec<_>>(),
        "files": r.files.iter().map(|f| json!({"layer": f.layer, "path": f.path})).collect::<Vec<_>>(),
        "warnings": r.warnings,
        "noncompliant": r.noncompliant,
        "accounts_checked": r.accounts_checked,
    })
}

fn show_text(r: &ShowConfigResponse, origin: bool) -> String {
    let mut out = String::new();
    let origins: Vec<String> = r
        .entries
        .iter()
        .map(|e| {
            if e.file.is_empty() {
                "default".to_owned()
            } else {
                format!("{}:{}", e.file, e.line)
            }
        })
        .collect();
    let width = origins.iter().map(String::len).max().unwrap_or(0);
    for (e, o) in r.entries.iter().zip(&origins) {
        if origin {
            out.push_str(&format!("{o:<width$}  "));
        }
        if e.is_set {
            out.push_str(&format!("{} = {}", e.key, e.value));
        } else {
            out.push_str(&format!("# {} is unset", e.key));
        }
        if origin && !e.locked_by.is_empty() {
            out.push_str(&format!("  (locked by {})", e.locked_by));
        }
        if e.restart_pending {
            let running = if e.running_value.is_empty() {
                "unset".to_owned()
            } else {
                e.running_value.clone()
            };
            out.push_str(&format!("  (takes effect at restart; in force: {running})"));
        }
        out.push('\n');
    }
    if !r.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &r.warnings {
            out.push_str(&format!("  {w}\n"));
        }
    }
    if !r.noncompliant.is_empty() {
        out.push_str("\nnot compliant with the policy (kept as is):\n");
        for w in &r.noncompliant {
            out.push_str(&format!("  {w}\n"));
        }
    }
    if !r.accounts_checked {
        out.push_str("\nthe vault is locked: its accounts are checked against the policy once it is unlocked\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::v1::ConfigEntry;

    #[test]
    fn show_text_lines_up_origins_and_marks_locks() {
        let r = ShowConfigResponse {
            entries: vec![
                ConfigEntry {
                    key: "pin.min_length".into(),
                    value: "6".into(),
                    is_set: true,
                    layer: "admin".into(),
                    file: "/etc/tessera/tessera.toml".into(),
                    line: 3,
                    locked_by: "/etc/tessera/tessera.toml:1".into(),
                    ..Default::default()
                },
                ConfigEntry {
                    key: "plugins.allow".into(),
                    layer: "default".into(),
                    restart_required: true,
                    restart_pending: true,
                    ..Default::default()
                },
            ],
            accounts_checked: true,
            ..Default::default()
        };
        assert_eq!(
            show_text(&r, true),
            "/etc/tessera/tessera.toml:3  pin.min_length = 6  (locked by /etc/tessera/tessera.toml:1)\n\
             default                      # plugins.allow is unset  (takes effect at restart; in force: unset)\n"
        );
        assert_eq!(
            show_text(&r, false).lines().next(),
            Some("pin.min_length = 6")
        );
    }
}
