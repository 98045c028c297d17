//! Writing lines to stdout and stderr without `println!`'s panic.
//!
//! Rust ignores SIGPIPE, so writing to a pipe whose reader is gone
//! (`tessera list | head -0`) fails with `EPIPE`, and `println!` panics on
//! it. SIGPIPE stays ignored here (a daemon that goes away under a call must
//! be an error we report, not a signal that kills us); instead [`outln!`]
//! treats a closed stdout as the reader having had enough, and ends the
//! process quietly with exit 0. [`errln!`] ignores write errors: with stderr
//! gone there is nowhere left to report them.

use std::fmt;
use std::io::{ErrorKind, Write};

/// `println!` that ends the process quietly (exit 0) when stdout is a closed
/// pipe.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::stdout_line(format_args!($($arg)*))
    };
}

/// `eprintln!` that ignores write errors.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

/// Writes one line on stdout. On `EPIPE` the process exits with 0, silently;
/// on another write error it says so on stderr and exits 1.
pub fn stdout_line(args: fmt::Arguments<'_>) {
    let result = {
        let mut out = std::io::stdout().lock();
        out.write_fmt(args).and_then(|()| out.write_all(b"\n"))
    };
    if let Err(e) = result {
        exit_on_write_error(&e);
    }
}

/// Writes one line on stderr, ignoring errors.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Flushes stdout (prompts go to stderr, so keep stdout ahead of them).
pub fn flush_stdout() {
    if let Err(e) = std::io::stdout().flush() {
        exit_on_write_error(&e);
    }
}

/// The exit for a failed write on stdout, as [`exit_code_for_write_error`]
/// says.
fn exit_on_write_error(e: &std::io::Error) -> ! {
    let code = exit_code_for_write_error(e);
    if code != 0 {
        errln!("tessera: cannot write the output: {e}");
    }
    std::process::exit(code)
}

/// 0 for a closed pipe (the reader stopped reading: not our failure), 1 for
/// anything else (a full disk, …).
pub fn exit_code_for_write_error(e: &std::io::Error) -> i32 {
    if e.kind() == ErrorKind::BrokenPipe {
        0
    } else {
        i32::from(crate::error::exit::REFUSED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_a_quiet_success() {
        let broken = std::io::Error::from(ErrorKind::BrokenPipe);
        assert_eq!(exit_code_for_write_error(&broken), 0);
        let full = std::io::Error::from(ErrorKind::StorageFull);
        assert_eq!(exit_code_for_write_error(&full), 1);
    }
}
