//! `tessera`: the command-line client of tesserad. A thin gRPC client over
//! the daemon's Unix socket; every decision is the daemon's.
//!
//! Map: `main.rs` (arguments, dispatch, error output), `connect.rs` (socket),
//! `flow.rs` (the activation walk: pure step/event functions and the driver),
//! `prompt.rs` (questions; terminal and flag-scripted answers), `term.rs`
//! (no-echo input, Ctrl-C), `render.rs` (JSON and text), `commands.rs` (the
//! other commands), `error.rs` (error codes and exit codes), `out.rs`
//! (`outln!`/`errln!`: output lines; a closed stdout pipe exits quietly).

mod backup;
mod biometrics;
mod commands;
mod config_cmd;
mod connect;
mod error;
mod export;
mod flow;
mod import;
mod out;
mod prompt;
mod render;
mod sign;
mod term;
mod tpm;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};
use tessera_proto::v1::{CameraSource, Empty, start_activation_request::Source};

use crate::commands::Mode;
use crate::error::{CliError, Result};
use crate::out::errln;
use crate::prompt::{AllowDeny, FlagAnswers, Method, Prompter, ScriptedPrompter, TerminalPrompter};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  refused: wrong PIN, vault locked, activation failed or cancelled, …
  2  usage or bad input: a missing flag, an unreadable file, an invalid
     activation image, an unknown account, a query matching several accounts
  3  tesserad is not running or cannot be reached
  4  what answers at the socket is not your own tesserad: the socket or its
     folder is another user's or writable by others, or the process serving
     it runs as another user (nothing was sent)

With --json, results are JSON on stdout (activate: one object per state, one
per line) and errors are {\"error\":{\"code\":…,\"message\":…}} on stdout.
Without a terminal (or with --json or --no-input) nothing is asked: answers
come from flags, and a question no flag answers is an error (exit 2).";

const QUERY_HELP: &str = "\
Finding accounts: QUERY is matched without regard to case. An exact id, short
id (the 8 characters `tessera list` prints), issuer:label or label wins;
otherwise QUERY may be any part of issuer:label (`github` finds
GitHub:alice). When it matches several accounts they are listed, nothing is
done, and the exit code is 2.";

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera authenticator: activate accounts, get one-time codes, manage the vault",
    after_help = AFTER_HELP
)]
struct Cli {
    /// tesserad's socket [default: $XDG_RUNTIME_DIR/tessera/tessera.sock]
    #[arg(
        long,
        global = true,
        env = "TESSERA_SOCKET",
        value_name = "PATH",
        help_heading = "Global options"
    )]
    socket: Option<PathBuf>,

    /// Print JSON on stdout; never ask anything
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,

    /// Never ask anything: answers must come from flags
    #[arg(long, global = true, help_heading = "Global options")]
    no_input: bool,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Activate an account from an activation image, a payload text, or by hand
    #[command(after_help = "\
Interactive: shows the device code, asks the PIN twice (without echo), how to
protect the account, shows the finalize code and asks about notifications.
Type `cancel` or press Ctrl-C at a prompt to cancel.

For scripts:
  tessera activate --image qr.png --pin-file pin.txt --method pin \\
      --notifications deny --yes --json")]
    Activate(ActivateArgs),
    /// List the accounts
    List,
    /// Show an account's one-time code, or without QUERY every account's
    #[command(after_help = QUERY_HELP)]
    Code {
        /// The account: a part of issuer:label, or its id [default: every account]
        #[arg(value_name = "QUERY")]
        name: Option<String>,
        /// Show every account's current code (HOTP accounts are listed
        /// without one, "[HOTP: tessera code ID]": making one uses it up)
        #[arg(long, conflicts_with_all = ["name", "copy", "peek"])]
        all: bool,
        /// Put the code on the clipboard (wl-copy or xclip) instead of
        /// showing it; an HOTP code counts as used only once it is copied
        #[arg(long, requires = "name")]
        copy: bool,
        /// HOTP: show the next code without using it up (the counter stays)
        #[arg(long, requires = "name")]
        peek: bool,
    },
    /// Answer an OCRA challenge with an account
    #[command(after_help = QUERY_HELP)]
    Respond {
        /// The account: a part of issuer:label, or its id
        #[arg(value_name = "QUERY")]
        name: String,
        /// The challenge (question) shown by the issuer
        challenge: String,
    },
    /// Rename an account (refused when the issuer has an account of that label)
    #[command(after_help = QUERY_HELP)]
    Rename {
        /// The account: a part of issuer:label, or its id
        #[arg(value_name = "QUERY")]
        name: String,
        /// The new label
        label: String,
    },
    /// Delete an account (names it and asks to confirm)
    #[command(after_help = QUERY_HELP)]
    Delete {
        /// The account: a part of issuer:label, or its id (exact with --yes)
        #[arg(value_name = "QUERY")]
        name: String,
        /// Do not ask to confirm; QUERY must then be the exact issuer:label,
        /// label or id
        #[arg(short, long)]
        yes: bool,
    },
    /// Lock the vault
    Lock,
    /// Unlock the vault: with a finger when biometrics are on, else the PIN
    #[command(after_help = "\
With biometrics on, the fingerprint reader is asked first; after too many
no-matches in a row (policy biometrics.max_failures), or when biometrics
cannot be used, the PIN is asked instead.")]
    Unlock {
        /// Read the PIN from the first line of FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
        /// Use the PIN, not biometrics
        #[arg(long)]
        pin: bool,
    },
    /// Biometric unlock (a fingerprint reader through fprintd): on, off, status
    Biometrics {
        #[command(subcommand)]
        action: BiometricsCmd,
    },
    /// The TPM slot: the vault key bound to this machine's TPM and the PIN
    #[command(after_help = "\
With a TPM slot, a copy of the vault file opens on no other machine, and
wrong PINs count against the TPM's own lock-out. Policy decides which PCRs
bind the key (tpm.pcrs) and whether the TPM is required (vault.protection =
\"tpm\" or \"tpm+pin\"); see docs/security.md, \"The TPM slot\".")]
    Tpm {
        #[command(subcommand)]
        action: TpmCmd,
    },
    /// Allow or refuse approvals through notifications for an account
    Approvals {
        #[command(subcommand)]
        action: ApprovalsCmd,
    },
    /// Show the vault's status
    Status,
    /// Decode the codes of an image, a camera or the screen without activating
    #[command(after_help = "\
Without --raw: what kind of payload each code is and its fields (serial,
label, issuer, code parameters, …); activation codes and secrets are never
shown. With --raw: each code's text exactly as encoded, followed by one
newline (it holds the activation code or secret: handle it with care).")]
    Scan(ScanArgs),
    /// List the plugins tesserad found, loaded or failed (with the reason)
    Plugins,
    /// Show the settings in force and where each came from; check settings files
    #[command(subcommand)]
    Config(config_cmd::ConfigCmd),
    /// Print the completion script for SHELL (make install puts them in place)
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff; make install puts it in place)
    #[command(hide = true)]
    Man,
    /// Open a tessera:// or otpauth:// link as an activation (the desktop's
    /// link handler): the link leaves the command line at once
    #[command(after_help = "\
The link may hold a secret, and a command line can be read by every user
(`ps`). This hands the link to a re-executed `tessera activate` through an
in-memory file, so the CLI that waits at the prompts has no secret in its
command line.")]
    OpenLink {
        /// The link, as the desktop passes it (%u)
        link: String,
    },
    /// The vault's automatic backups: list them, check one, restore one
    #[command(after_help = "\
After every change the daemon copies the vault file into its backup folder
(backup.folder; the last backup.keep copies). A copy opens with the PIN the
vault had when it was made. docs/backup.md has the details.")]
    Backup {
        #[command(subcommand)]
        action: BackupCmd,
    },
    /// Import the accounts of another authenticator's backup file (Aegis,
    /// 2FAS, andOTP, Bitwarden, Ente, FreeOTP 2 and FreeOTP+, Proton, PSKC,
    /// Raivo, Stratum, a list of otpauth:// links): shows every entry, asks, stores them in one save
    #[command(after_help = "\
The format is detected when --format does not name it. Accounts the vault
holds already are reported and not stored twice; an entry that cannot be
imported (a kind Tessera lacks, a bad secret, an algorithm policy does not
allow) is listed with the reason and the rest still imports. docs/import.md
lists the formats.")]
    Import {
        /// The file to import
        file: PathBuf,
        /// The file's format (aegis, 2fas, andotp, bitwarden, bitwarden-csv,
        /// ente, freeotp, freeotp-plus, proton, pskc, raivo, stratum, uri-list);
        /// default: detected (an encrypted andOTP file needs `andotp`)
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
        /// Read the file's password from FILE (`-`: standard input; a PSKC
        /// file under a pre-shared key takes the key in hex); at a terminal
        /// an encrypted file asks for it
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// With no vault yet: read the new vault's PIN from FILE
        #[arg(long, value_name = "FILE")]
        new_pin_file: Option<PathBuf>,
        /// Only show what would be imported
        #[arg(long)]
        dry_run: bool,
        /// Do not ask to confirm
        #[arg(long)]
        yes: bool,
    },
    /// Export the accounts to a file another authenticator reads (Aegis,
    /// a list of otpauth:// links) or as a Tessera backup; asks to confirm
    /// and for the vault's PIN
    #[command(after_help = "\
aegis, uri-list and pskc hold every secret in the clear; aegis-encrypted,
pskc-encrypted and tessera-backup are under a password of their own (10
characters or more). PSKC is RFC 6030's XML (token vendors, identity
providers); it has no Steam Guard codes. --qr shows Google's export codes
(6 or 8 digits; TOTP every 30 s, or HOTP) for a phone to scan; its secrets are on the
screen, so show them where no one and no camera watches.
Tessera accounts are bound to this device by their issuer: only a
tessera-backup carries them; the other formats list them as left out. The
file is new (never written over) and readable by you alone (0600). Policy
can forbid exports (accounts.export). docs/import.md has the details.")]
    Export {
        /// aegis, aegis-encrypted, uri-list, pskc, pskc-encrypted,
        /// otpauth-migration (Google Authenticator's export links) or
        /// tessera-backup
        #[arg(
            long,
            value_name = "FORMAT",
            required_unless_present = "qr",
            conflicts_with = "qr"
        )]
        format: Option<String>,
        /// The file to write (must not exist)
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "qr",
            conflicts_with = "qr"
        )]
        out: Option<PathBuf>,
        /// Show the accounts at the terminal as Google Authenticator's
        /// export QR codes (a few accounts each, one page per code), to
        /// scan with a phone's authenticator
        #[arg(long)]
        qr: bool,
        /// Read the vault's PIN from FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
        /// Read the file's password from FILE (aegis-encrypted,
        /// pskc-encrypted, tessera-backup)
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Do not ask to confirm
        #[arg(long)]
        yes: bool,
    },
    /// Sign a payment your bank or employer asks you to approve: scan its
    /// signing request, check what it shows, confirm with the PIN or a
    /// finger, and type the response into their page
    #[command(after_help = "\
What is shown (amount, payee, account, reference, a batch's total) is what
the daemon decoded from the request, which only this device can open; the
response is bound to exactly those fields, and the issuer accepts it once,
before the request expires. Nothing is signed without your confirmation
(--yes in scripts). docs/protocol.md, \"Transaction signing\".")]
    Sign(SignArgs),
    /// Change the vault PIN
    ChangePin {
        /// Read the current PIN from FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
        /// Read the new PIN from FILE (`-`: standard input; with --pin-file -
        /// too, the old PIN is the first line and the new one the second)
        #[arg(long, value_name = "FILE")]
        new_pin_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ApprovalsCmd {
    /// Let other programs ask for approvals with this account (a
    /// notification with Approve and Deny)
    #[command(after_help = QUERY_HELP)]
    Allow {
        /// The account: a part of issuer:label, or its id
        #[arg(value_name = "QUERY")]
        name: String,
    },
    /// Refuse approvals with this account
    #[command(after_help = QUERY_HELP)]
    Deny {
        /// The account: a part of issuer:label, or its id
        #[arg(value_name = "QUERY")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCmd {
    /// The automatic backups, oldest first
    List,
    /// Write a backup under a password of its own (and, with --with-pin,
    /// openable by the vault's PIN too), to move or keep elsewhere
    Create {
        /// Where to write it (default: backup-<time>.tessera in the backup
        /// folder); never over an existing file
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Read the backup's password from FILE (`-`: standard input; at
        /// least 10 characters)
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The vault's PIN opens it too
        #[arg(long)]
        with_pin: bool,
    },
    /// Open a backup with its PIN and say what it holds and what restoring
    /// it would change; changes nothing
    Verify {
        /// The backup file (a copy from `tessera backup list`)
        file: PathBuf,
        /// Read the backup's password or PIN from FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
    /// Restore a backup: shows what changes, asks, then changes it in one
    /// save (nothing half-done)
    Restore {
        /// The backup file (a copy from `tessera backup list`)
        file: PathBuf,
        /// Add the backup's accounts the vault lacks; keep the rest
        #[arg(long, conflicts_with = "replace")]
        merge: bool,
        /// The vault's accounts become the backup's
        #[arg(long)]
        replace: bool,
        /// Do not ask to confirm
        #[arg(long)]
        yes: bool,
        /// Read the backup's password or PIN from FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TpmCmd {
    /// The TPM, its lock-out counter, the slot and which bound PCRs changed
    Status,
    /// Seal the vault key to the TPM under the PIN and policy's PCRs
    Enroll {
        /// Read the PIN from FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
    /// Remove the TPM slot (the PIN alone opens the vault afterwards)
    Remove {
        /// Read the PIN from FILE (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum BiometricsCmd {
    /// Turn biometrics on: enrolls a finger when none is, else checks one
    Enable {
        /// Read the PIN from FILE when the vault is locked (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
    /// Turn biometrics off and remove the key from the login keyring
    Disable {
        /// Read the PIN from FILE when the vault is locked (`-`: standard input)
        #[arg(long, value_name = "FILE")]
        pin_file: Option<PathBuf>,
    },
    /// Whether biometrics are on and can be used, and why not
    Status,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["image", "camera", "screen", "uri", "uri_fd", "manual", "attach"])))]
struct ActivateArgs {
    /// An image file holding the activation QR code (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Scan the QR code with a camera (needs the camera scanner plugin)
    #[arg(long)]
    camera: bool,
    /// The camera to use with --camera: 0, 1, … in /dev/videoN order
    /// [default: the first that opens]
    #[arg(long, value_name = "N", conflicts_with_all = ["image", "screen", "uri", "uri_fd", "manual"])]
    device: Option<u32>,
    /// Scan the QR code on the screen (needs the screen scanner plugin)
    #[arg(long)]
    screen: bool,
    /// The payload text: tessera://…, otpauth://…, otpauth-migration://…;
    /// `-` reads it from standard input, `@FILE` from FILE (at most 64 KiB).
    /// Prefer those: a command line can be read by every user (`ps`)
    #[arg(long, value_name = "TEXT|-|@FILE")]
    uri: Option<String>,
    /// The payload text from descriptor N, read to its end (used by
    /// `tessera open-link`)
    #[arg(long, value_name = "N", hide = true)]
    uri_fd: Option<i32>,
    /// Type the serial number and activation code
    #[arg(long)]
    manual: bool,
    /// Answer the steps of an activation another client (the desktop app,
    /// another terminal) started, by its id
    #[arg(long, value_name = "ID")]
    attach: Option<String>,
    /// The serial number (with --manual; case, spaces and hyphens are ignored)
    #[arg(long, requires = "manual")]
    serial: Option<String>,
    /// The activation code (with --manual; spaces and hyphens are ignored)
    #[arg(long, requires = "manual", value_name = "CODE")]
    activation_code: Option<String>,
    /// Read the PIN from the first line of FILE (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    pin_file: Option<PathBuf>,
    /// How to protect the account
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Whether Tessera may show notifications
    #[arg(long, value_enum)]
    notifications: Option<AllowDeny>,
    /// Answer yes to confirmations
    #[arg(short, long)]
    yes: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["image", "camera", "screen"])))]
pub struct ScanArgs {
    /// An image file (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Scan with a camera (needs the camera scanner plugin)
    #[arg(long)]
    pub camera: bool,
    /// The camera to use with --camera: 0, 1, … in /dev/videoN order
    /// [default: the first that opens]
    #[arg(long, value_name = "N", conflicts_with_all = ["image", "screen"])]
    pub device: Option<u32>,
    /// Scan the screen (needs the screen scanner plugin)
    #[arg(long)]
    pub screen: bool,
    /// Print each code's text exactly as encoded (secrets included), one
    /// newline after each
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["image", "camera", "screen", "text"])))]
pub struct SignArgs {
    /// The request's image, a plain QR or colour code (`-`: standard input)
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Scan the request with a camera (needs the camera scanner plugin)
    #[arg(long)]
    pub camera: bool,
    /// The camera to use with --camera [default: the first that opens]
    #[arg(long, value_name = "N", requires = "camera")]
    pub device: Option<u32>,
    /// Scan the request from the screen (needs the screen scanner plugin)
    #[arg(long)]
    pub screen: bool,
    /// The request's text, tessera://sign?… (`-`: standard input)
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Read the vault's PIN from FILE (`-`: standard input)
    #[arg(long, value_name = "FILE", conflicts_with = "finger")]
    pub pin_file: Option<PathBuf>,
    /// Confirm with a finger instead of the PIN (biometrics enabled)
    #[arg(long)]
    pub finger: bool,
    /// Do not ask to confirm what is shown
    #[arg(long)]
    pub yes: bool,
}

/// The image of `--image FILE` (`-`: standard input).
fn read_image(image: &Path) -> Result<Vec<u8>> {
    if is_dash(Some(image)) {
        read_bounded(
            std::io::stdin().lock(),
            tessera_files::Kind::Image,
            "the image",
            "standard input",
        )
    } else {
        // A regular file of at most 20 MiB; a FIFO or device is refused
        // without blocking (tessera-files).
        tessera_files::read(image, tessera_files::Kind::Image)
            .map_err(|e| CliError::usage(format!("cannot read the image {e}")))
    }
}

/// What to tell a person while a camera or the screen is scanned (the
/// daemon answers only when it has a code, or at its timeout).
fn capture_hint(source: &Source) -> Option<&'static str> {
    match source {
        Source::Camera(_) => Some("Hold the QR code steady in front of the camera…"),
        Source::Screen(_) => {
            Some("Show the QR code on the screen and select it in the screenshot dialog…")
        }
        _ => None,
    }
}

fn is_dash(p: Option<&Path>) -> bool {
    p == Some(Path::new("-"))
}

/// The largest payload text read from standard input, a file or a
/// descriptor.
const MAX_PAYLOAD: u64 = tessera_files::Kind::Payload.limit();

/// Reads `reader` whole, refusing more than `kind`'s limit (the same
/// limits as for files: `tessera_files::Kind`) without reading further.
fn read_bounded(
    reader: impl Read,
    kind: tessera_files::Kind,
    what: &str,
    from: &str,
) -> Result<Vec<u8>> {
    let limit = kind.limit();
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::io(format!("reading {what} from {from}"), e))?;
    if bytes.len() as u64 > limit {
        return Err(CliError::usage(format!(
            "{what} from {from} is larger than {}, the most Tessera reads",
            tessera_files::human(limit)
        )));
    }
    Ok(bytes)
}

/// A payload read whole (at most [`MAX_PAYLOAD`]) as text, surrounding
/// white space (a trailing newline) trimmed.
fn payload_from(reader: impl Read, what: &str) -> Result<String> {
    let bytes = read_bounded(reader, tessera_files::Kind::Payload, "the payload", what)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::usage(format!("the payload from {what} is not UTF-8 text")))?;
    Ok(text.trim().to_owned())
}

/// `--uri TEXT`, `--uri -` (standard input) or `--uri @FILE`.
fn payload_text(uri: &str) -> Result<String> {
    if uri == "-" {
        payload_from(std::io::stdin().lock(), "standard input")
    } else if let Some(file) = uri.strip_prefix('@') {
        let file = Path::new(file);
        let text = tessera_files::read_to_string(file, tessera_files::Kind::Payload)
            .map_err(|e| CliError::usage(format!("cannot read the payload {e}")))?;
        Ok(text.trim().to_owned())
    } else {
        Ok(uri.to_owned())
    }
}

/// `--uri-fd N`: the payload handed over by `tessera open-link`.
fn payload_from_fd(fd: i32) -> Result<String> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl only asks whether `fd` is open.
    if fd < 3 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(CliError::usage(format!(
            "--uri-fd {fd}: not an open descriptor (3 or above) holding the payload"
        )));
    }
    // SAFETY: `fd` is open, was handed to this process for this purpose and
    // is used by nothing else; the File closes it.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    payload_from(file, &format!("descriptor {fd}"))
}

/// `tessera open-link LINK`, the desktop's link handler: the link (which
/// may hold a secret) leaves the command line at once. It is written to an
/// anonymous in-memory file and this process re-executes itself as
/// `tessera activate --uri-fd N`, so `/proc/PID/cmdline` of the waiting
/// CLI holds no secret (docs/security.md).
fn open_link(link: &str, socket: Option<&Path>, json: bool, no_input: bool) -> Result<()> {
    use std::io::Seek;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::process::CommandExt;
    if link.len() as u64 > MAX_PAYLOAD {
        return Err(CliError::usage(format!(
            "the link is larger than {}; no payload is that long",
            tessera_files::human(MAX_PAYLOAD)
        )));
    }
    // SAFETY: memfd_create with a constant name; the descriptor is owned
    // by the File. No MFD_CLOEXEC: the re-executed process inherits it.
    let fd = unsafe { libc::memfd_create(c"tessera-link".as_ptr(), 0) };
    if fd < 0 {
        return Err(CliError::io(
            "cannot hand the link over",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a fresh descriptor owned here.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(link.as_bytes())
        .and_then(|()| file.rewind())
        .map_err(|e| CliError::io("cannot hand the link over", e))?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::io("cannot find this program to re-execute it", e))?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(socket) = socket {
        cmd.arg("--socket").arg(socket);
    }
    if json {
        cmd.arg("--json");
    }
    if no_input {
        cmd.arg("--no-input");
    }
    cmd.args(["activate", "--uri-fd", &file.as_raw_fd().to_string()]);
    // Only returns on failure.
    let e = cmd.exec();
    Err(CliError::io("cannot re-execute tessera for the link", e))
}

async fn activate(args: ActivateArgs, socket: &Path, json: bool, no_input: bool) -> Result<()> {
    let stdin_users = [
        is_dash(args.image.as_deref()),
        args.uri.as_deref() == Some("-"),
        is_dash(args.pin_file.as_deref()),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if stdin_users > 1 {
        return Err(CliError::usage(
            "only one of --image, --uri and --pin-file can read standard input (`-`)",
        ));
    }
    let interactive = !json && !no_input && stdin_users == 0 && std::io::stdin().is_terminal();

    let flags = FlagAnswers {
        pin: match &args.pin_file {
            Some(f) => Some(prompt::read_secret_file(f)?),
            None => None,
        },
        method: args.method,
        notifications: args.notifications,
        yes: args.yes,
    };
    let mut terminal = TerminalPrompter {
        flags: flags.clone(),
    };
    let mut scripted = ScriptedPrompter { flags };
    let prompter: &mut dyn Prompter = if interactive {
        &mut terminal
    } else {
        &mut scripted
    };

    // Bad input is reported before the daemon is asked anything; the manual
    // entry is asked after connecting, so a person types nothing in vain.
    let source = if let Some(image) = &args.image {
        Some(Source::Image(read_image(image)?))
    } else if args.camera {
        Some(Source::Camera(CameraSource {
            device: args.device,
        }))
    } else if args.screen {
        Some(Source::Screen(Empty {}))
    } else if let Some(uri) = &args.uri {
        Some(Source::Payload(payload_text(uri)?))
    } else if let Some(fd) = args.uri_fd {
        Some(Source::Payload(payload_from_fd(fd)?))
    } else {
        None
    };

    let channel = connect::connect(socket).await?;

    let begin = match (&args.attach, source) {
        (Some(id), _) => flow::Begin::Attach(id.clone()),
        (None, Some(s)) => flow::Begin::Start(s),
        (None, None) => flow::Begin::Start(Source::Manual(prompt::manual_entry(
            prompter,
            args.serial.as_deref(),
            args.activation_code.as_deref(),
        )?)),
    };

    let _sigint = interactive.then(term::SigintGuard::install);
    if interactive {
        errln!("(Type `cancel` or press Ctrl-C at a prompt to cancel.)");
        if let flow::Begin::Start(source) = &begin
            && let Some(hint) = capture_hint(source)
        {
            errln!("{hint}");
        }
    }
    flow::Flow::new(channel.clone(), prompter, json, begin)
        .run()
        .await?;
    if !json {
        tpm::offer(channel).await;
    }
    Ok(())
}

/// Completions and the man page, generated from this very definition
/// ([`Cli`]), so they cannot drift from the options.
fn print_generated(
    write: impl FnOnce(&mut clap::Command, &mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    write(&mut cmd, &mut out).map_err(|e| CliError::io("generating", e))?;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| CliError::io("writing to standard output", e))
}

async fn run(cli: Cli) -> Result<()> {
    let socket = connect::socket_path(cli.socket.clone());
    let mode = Mode {
        json: cli.json,
        interactive: !cli.json && !cli.no_input && std::io::stdin().is_terminal(),
    };
    let command = cli.command;
    if let Cmd::Completions { shell } = command {
        return print_generated(|cmd, out| {
            clap_complete::generate(shell, cmd, "tessera", out);
            Ok(())
        });
    }
    if let Cmd::Man = command {
        return print_generated(|cmd, out| clap_mangen::Man::new(cmd.clone()).render(out));
    }
    if let Cmd::OpenLink { link } = &command {
        return open_link(link, cli.socket.as_deref(), cli.json, cli.no_input);
    }
    if let Cmd::Activate(args) = command {
        return activate(args, &socket, cli.json, cli.no_input).await;
    }
    if let Cmd::Config(cmd) = command {
        return config_cmd::run(cmd, &socket, mode).await;
    }
    let ch = connect::connect(&socket).await?;
    // Commands that read the accounts: at a terminal, a locked vault
    // offers to unlock first (commands.rs).
    if matches!(
        command,
        Cmd::List
            | Cmd::Code { .. }
            | Cmd::Respond { .. }
            | Cmd::Rename { .. }
            | Cmd::Delete { .. }
            | Cmd::Approvals { .. }
            | Cmd::Backup {
                action: BackupCmd::Restore { .. } | BackupCmd::Create { .. }
            }
            | Cmd::Import { .. }
            | Cmd::Export { .. }
            | Cmd::Sign(_)
    ) {
        commands::offer_unlock(&ch, mode).await?;
    }
    match command {
        Cmd::Activate(_)
        | Cmd::Config(_)
        | Cmd::OpenLink { .. }
        | Cmd::Completions { .. }
        | Cmd::Man => {
            unreachable!("handled above")
        }
        Cmd::List => commands::list(ch, mode).await,
        Cmd::Code {
            name,
            all: _,
            copy,
            peek,
        } => commands::code(ch, mode, name, copy, peek).await,
        Cmd::Respond { name, challenge } => commands::respond(ch, mode, name, challenge).await,
        Cmd::Rename { name, label } => commands::rename(ch, mode, name, label).await,
        Cmd::Delete { name, yes } => commands::delete(ch, mode, name, yes).await,
        Cmd::Lock => commands::lock(ch, mode).await,
        Cmd::Unlock { pin_file, pin } => commands::unlock(ch, mode, pin_file, pin).await,
        Cmd::Biometrics { action } => {
            use biometrics::Action;
            let (action, pin_file) = match action {
                BiometricsCmd::Enable { pin_file } => (Action::Enable, pin_file),
                BiometricsCmd::Disable { pin_file } => (Action::Disable, pin_file),
                BiometricsCmd::Status => (Action::Status, None),
            };
            biometrics::run(ch, mode, action, pin_file).await
        }
        Cmd::Tpm { action } => {
            use tpm::Action;
            let (action, pin_file) = match action {
                TpmCmd::Status => (Action::Status, None),
                TpmCmd::Enroll { pin_file } => (Action::Enroll, pin_file),
                TpmCmd::Remove { pin_file } => (Action::Remove, pin_file),
            };
            tpm::run(ch, mode, action, pin_file).await
        }
        Cmd::Approvals { action } => {
            let (name, allowed) = match action {
                ApprovalsCmd::Allow { name } => (name, true),
                ApprovalsCmd::Deny { name } => (name, false),
            };
            commands::set_approvals(ch, mode, name, allowed).await
        }
        Cmd::Status => commands::status(ch, mode).await,
        Cmd::Plugins => commands::plugins(ch, mode).await,
        Cmd::Scan(args) => {
            use tessera_proto::v1::scan_request::Source as S;
            let source = match &args.image {
                Some(image) => S::Image(read_image(image)?),
                None if args.camera => S::Camera(CameraSource {
                    device: args.device,
                }),
                None => S::Screen(Empty {}),
            };
            if !cli.json && std::io::stderr().is_terminal() {
                let hint = match source {
                    S::Camera(_) => capture_hint(&Source::Camera(CameraSource::default())),
                    S::Screen(_) => capture_hint(&Source::Screen(Empty {})),
                    S::Image(_) => None,
                };
                if let Some(hint) = hint {
                    errln!("{hint}");
                }
            }
            commands::scan(ch, mode, source, args.raw).await
        }
        Cmd::Sign(args) => {
            use tessera_proto::v1::start_signing_request::Source as S;
            let stdin_users = [
                args.image.as_deref().is_some_and(|p| is_dash(Some(p))),
                args.text.as_deref() == Some("-"),
                is_dash(args.pin_file.as_deref()),
            ];
            if stdin_users.iter().filter(|u| **u).count() > 1 {
                return Err(CliError::usage(
                    "only one of --image, --text and --pin-file can read standard input (`-`)",
                ));
            }
            let source = if let Some(image) = &args.image {
                S::Image(read_image(image)?)
            } else if let Some(text) = &args.text {
                S::Text(if text == "-" {
                    let bytes = read_bounded(
                        std::io::stdin().lock(),
                        tessera_files::Kind::Image,
                        "the request",
                        "standard input",
                    )?;
                    String::from_utf8(bytes)
                        .map_err(|_| CliError::usage("the request on standard input is not UTF-8"))?
                        .trim()
                        .to_owned()
                } else {
                    text.clone()
                })
            } else if args.camera {
                if !cli.json && std::io::stderr().is_terminal() {
                    errln!("Hold the code steady in front of the camera…");
                }
                S::Camera(CameraSource {
                    device: args.device,
                })
            } else {
                S::Screen(Empty {})
            };
            let args = sign::Args {
                source,
                pin_file: args.pin_file,
                finger: args.finger,
                yes: args.yes,
            };
            sign::run(ch, mode, args).await
        }
        Cmd::ChangePin {
            pin_file,
            new_pin_file,
        } => commands::change_pin(ch, mode, pin_file, new_pin_file).await,
        Cmd::Import {
            file,
            format,
            password_file,
            new_pin_file,
            dry_run,
            yes,
        } => {
            let args = import::Args {
                file,
                format,
                password_file,
                new_pin_file,
                dry_run,
                yes,
            };
            import::run(ch, mode, args).await
        }
        Cmd::Export {
            format,
            out,
            qr,
            pin_file,
            password_file,
            yes,
        } => {
            if is_dash(pin_file.as_deref()) && is_dash(password_file.as_deref()) {
                return Err(CliError::usage(
                    "only one of --pin-file and --password-file can read standard input (`-`)",
                ));
            }
            let target = match (qr, format, out) {
                (true, _, _) => export::Target::Qr,
                (false, Some(format), Some(out)) => export::Target::File { format, out },
                _ => unreachable!("clap requires --format and --out without --qr"),
            };
            let args = export::Args {
                target,
                pin_file,
                password_file,
                yes,
            };
            export::run(ch, mode, args).await
        }
        Cmd::Backup { action } => {
            use backup::Action;
            use tessera_proto::v1::RestoreMode;
            let (action, pin_file) = match action {
                BackupCmd::List => (Action::List, None),
                BackupCmd::Create {
                    out,
                    password_file,
                    with_pin,
                } => (
                    Action::Create {
                        out,
                        password_file,
                        with_pin,
                    },
                    None,
                ),
                BackupCmd::Verify { file, pin_file } => (Action::Verify { file }, pin_file),
                BackupCmd::Restore {
                    file,
                    merge,
                    replace,
                    yes,
                    pin_file,
                } => {
                    let mode = match (merge, replace) {
                        (true, _) => Some(RestoreMode::Merge),
                        (_, true) => Some(RestoreMode::Replace),
                        _ => None,
                    };
                    (Action::Restore { file, mode, yes }, pin_file)
                }
            };
            backup::run(ch, mode, action, pin_file).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    // One thread: the one that reads the terminal is the one Ctrl-C
    // interrupts (see term.rs); helper threads block SIGINT.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(term::block_sigint_in_this_thread)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("tessera: cannot start: {e}");
            return ExitCode::from(error::exit::REFUSED);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(error::exit::OK),
        Err(e) => {
            if json {
                // Ignore a closed stdout here: the exit code still tells.
                let _ = writeln!(std::io::stdout(), "{}", e.to_json());
            } else {
                errln!("tessera: {}", e.message);
            }
            ExitCode::from(e.exit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn activate_needs_exactly_one_source() {
        assert!(Cli::try_parse_from(["tessera", "activate"]).is_err());
        assert!(
            Cli::try_parse_from(["tessera", "activate", "--image", "a", "--uri", "b"]).is_err()
        );
        assert!(Cli::try_parse_from(["tessera", "activate", "--serial", "x"]).is_err());
        let cli = Cli::try_parse_from([
            "tessera",
            "activate",
            "--image",
            "qr.png",
            "--pin-file",
            "pin",
            "--method",
            "pin",
            "--notifications",
            "deny",
            "--yes",
            "--json",
        ])
        .unwrap();
        assert!(cli.json);
        let Cmd::Activate(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.method, Some(Method::Pin));
        assert_eq!(a.notifications, Some(AllowDeny::Deny));
        assert!(a.yes);
    }

    #[test]
    fn scan_and_activate_sources() {
        assert!(Cli::try_parse_from(["tessera", "scan"]).is_err());
        assert!(Cli::try_parse_from(["tessera", "scan", "--image", "a", "--camera"]).is_err());
        assert!(Cli::try_parse_from(["tessera", "scan", "--screen", "--device", "1"]).is_err());
        let cli =
            Cli::try_parse_from(["tessera", "scan", "--camera", "--device", "2", "--raw"]).unwrap();
        let Cmd::Scan(s) = cli.command else { panic!() };
        assert!(s.camera && s.raw);
        assert_eq!(s.device, Some(2));
        let cli = Cli::try_parse_from(["tessera", "activate", "--screen"]).unwrap();
        let Cmd::Activate(a) = cli.command else {
            panic!()
        };
        assert!(a.screen);
        assert!(Cli::try_parse_from(["tessera", "activate", "--screen", "--camera"]).is_err());
        assert!(
            Cli::try_parse_from(["tessera", "activate", "--image", "x", "--device", "1"]).is_err()
        );
        let cli = Cli::try_parse_from(["tessera", "plugins", "--json"]).unwrap();
        assert!(matches!(cli.command, Cmd::Plugins) && cli.json);
    }

    #[test]
    fn global_flags_anywhere() {
        let cli =
            Cli::try_parse_from(["tessera", "list", "--json", "--socket", "/x.sock"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, Some(PathBuf::from("/x.sock")));
    }
}
