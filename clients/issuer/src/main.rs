//! `tessera-issuer`: the issuer's side of Tessera activation (PROTOCOL.md).
//!
//! Exit status: 0 on success, 1 when a code does not verify, 2 on bad usage
//! or bad input (see `tessera_issuer::error`).

use tessera_issuer::{cli, commands, output};

use std::process::ExitCode;

use clap::Parser;

/// `tessera-issuer completions SHELL` and `tessera-issuer man` (hidden, for
/// `make install`): the completion script and the man page, generated from
/// the one clap definition in `cli.rs`. `None` for every other command line.
fn generated() -> Option<ExitCode> {
    use clap::{CommandFactory, ValueEnum};
    use std::io::Write;
    let args: Vec<String> = std::env::args().skip(1).take(3).collect();
    let mut cmd = cli::Cli::command();
    let mut out = Vec::new();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["completions", shell] => {
            let Ok(shell) = clap_complete::Shell::from_str(shell, true) else {
                eprintln!(
                    "tessera-issuer: unknown shell {shell:?} (bash, zsh, fish, elvish, powershell)"
                );
                return Some(ExitCode::from(2));
            };
            clap_complete::generate(shell, &mut cmd, "tessera-issuer", &mut out);
        }
        ["man"] => {
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
                eprintln!("tessera-issuer: {e}");
                return Some(ExitCode::FAILURE);
            }
        }
        _ => return None,
    }
    match std::io::stdout().write_all(&out) {
        Ok(()) => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("tessera-issuer: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

fn main() -> ExitCode {
    if let Some(code) = generated() {
        return code;
    }
    let cli = cli::Cli::parse();
    match commands::run(cli.command) {
        Ok(report) => {
            output::print(&report, cli.json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            output::print_error(&e.to_string(), e.exit_code(), cli.json);
            ExitCode::from(e.exit_code())
        }
    }
}
