//! `tessera-issuer`: the issuer's side of Tessera activation (PROTOCOL.md).
//!
//! Exit status: 0 on success, 1 when a code does not verify, 2 on bad usage
//! or bad input (see [`error`]).

mod cli;
mod commands;
mod db;
mod error;
mod files;
mod image;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
