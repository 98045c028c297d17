//! The terminal: reading a line with or without echo, and Ctrl-C.
//!
//! Ctrl-C at a prompt must not kill the process (the activation would be left
//! half-way, and the terminal without echo): while a [`SigintGuard`] lives,
//! SIGINT only sets a flag. The handler is installed without `SA_RESTART`, so
//! a blocked `read(2)` on the terminal returns `EINTR` and [`read_line`] reports
//! [`Input::Interrupted`]. The CLI runs a current-thread runtime, so the main
//! thread (the one that reads) is the one that receives the signal; other
//! threads block SIGINT ([`block_sigint_in_this_thread`]). A second Ctrl-C
//! before the first was handled ends the process as usual.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroizing;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_signal: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: signal and raise are async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::raise(libc::SIGINT);
        }
    }
}

/// Whether Ctrl-C was pressed since the last call; clears the flag.
pub fn take_interrupt() -> bool {
    INTERRUPTED.swap(false, Ordering::SeqCst)
}

/// While alive, Ctrl-C sets the interrupt flag instead of ending the process.
pub struct SigintGuard {
    old: libc::sigaction,
}

impl SigintGuard {
    pub fn install() -> Self {
        // SAFETY: plain sigaction calls on zero-initialised structs; the
        // handler only touches an atomic (and async-signal-safe functions).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
            action.sa_flags = 0; // no SA_RESTART: reads return EINTR
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &action, &mut old);
            Self { old }
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the action saved in `install`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.old, std::ptr::null_mut());
        }
    }
}

/// Called on every runtime thread but the main one, so that SIGINT always
/// interrupts the main thread's read.
pub fn block_sigint_in_this_thread() {
    // SAFETY: manipulates this thread's signal mask only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Turns the terminal's echo off (the Enter key still echoes a newline) and
/// back on when dropped.
struct EchoOff {
    saved: libc::termios,
}

impl EchoOff {
    fn new() -> Option<Self> {
        // SAFETY: tcgetattr/tcsetattr on stdin with valid termios structs.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None; // not a terminal: nothing echoes anyway
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            quiet.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) != 0 {
                return None;
            }
            Some(Self { saved })
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the attributes saved in `new`.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
        }
    }
}

/// What a prompt got.
#[derive(Debug)]
pub enum Input {
    Line(Zeroizing<String>),
    /// Standard input ended.
    Eof,
    /// Ctrl-C.
    Interrupted,
}

/// Prints `prompt` on stderr and reads one line from stdin, with the trailing
/// newline removed. `echo = false` hides what is typed (PINs).
pub fn read_line(prompt: &str, echo: bool) -> io::Result<Input> {
    let _sigint = SigintGuard::install();
    if take_interrupt() {
        return Ok(Input::Interrupted);
    }
    // Echo off before the prompt shows, so that nothing typed early echoes.
    let echo_off = if echo { None } else { EchoOff::new() };
    let mut stderr = io::stderr();
    stderr.write_all(prompt.as_bytes())?;
    stderr.flush()?;
    let mut line = Zeroizing::new(Vec::<u8>::new());
    loop {
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into a valid one-byte buffer. Raw
        // read(2), not std's stdin, so that EINTR reaches us and nothing is
        // read ahead past the line.
        let n = unsafe {
            libc::read(
                libc::STDIN_FILENO,
                (&mut byte as *mut u8).cast::<libc::c_void>(),
                1,
            )
        };
        match n {
            1 if byte == b'\n' => break,
            1 => line.push(byte),
            0 if line.is_empty() => {
                drop(echo_off);
                let _ = writeln!(stderr);
                return Ok(Input::Eof);
            }
            0 => break,
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
                if take_interrupt() {
                    drop(echo_off);
                    let _ = writeln!(stderr);
                    return Ok(Input::Interrupted);
                }
            }
        }
    }
    drop(echo_off);
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let text = std::str::from_utf8(&line)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "input is not UTF-8"))?;
    Ok(Input::Line(Zeroizing::new(text.to_owned())))
}

/// What [`wait_for_input`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// Something to read (a line, or the end of input).
    Ready,
    TimedOut,
    /// Ctrl-C.
    Interrupted,
}

/// Waits up to `timeout` for standard input to have something to read,
/// without reading it (a live line redraws meanwhile; [`read_line`] then
/// reads what was typed).
pub fn wait_for_input(timeout: std::time::Duration) -> io::Result<Waited> {
    let _sigint = SigintGuard::install();
    if take_interrupt() {
        return Ok(Waited::Interrupted);
    }
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: poll on one valid pollfd struct.
    match unsafe { libc::poll(&mut fd, 1, ms) } {
        0 => Ok(Waited::TimedOut),
        n if n > 0 => Ok(Waited::Ready),
        _ => {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
            Ok(if take_interrupt() {
                Waited::Interrupted
            } else {
                Waited::TimedOut
            })
        }
    }
}
