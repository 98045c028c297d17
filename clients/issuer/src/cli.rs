//! The command line (clap). Values are parsed into core types here where
//! clap can do it; everything that needs the database is checked later.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tessera_core::activation::{Challenge, Serial};
use tessera_core::otp::OtpParams;

#[derive(Debug, Parser)]
#[command(
    name = "tessera-issuer",
    version,
    about = "The issuer's side of Tessera activation",
    long_about = "The issuer's side of Tessera activation (PROTOCOL.md): make activation \
                  images, check device codes, verify finalize and one-time codes.\n\n\
                  Exit status: 0 on success, 1 when a code does not verify (finalize code, \
                  one-time code, a code already used), 2 on bad usage or bad input.",
    after_help = "A session: new → (user scans) → bind → finalize → code/verify.\n\
                  Run `tessera-issuer COMMAND --help` for each command."
)]
pub struct Cli {
    /// Print one JSON object instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Keygen(KeygenArgs),
    New(NewArgs),
    Bind(BindArgs),
    Finalize(FinalizeArgs),
    Code(CodeArgs),
    Verify(VerifyArgs),
    Show(ShowArgs),
    SignRequest(SignRequestArgs),
    VerifySignature(VerifySignatureArgs),
}

/// The issuer database.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The issuer database (SQLite, created with mode 0600 by `new`).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
}

/// Make an Ed25519 key that signs activation payloads.
///
/// Writes the private key as PKCS#8 PEM with mode 0600 and prints the public
/// key, `ed25519:<base64url>`, to list in a fleet's trusted issuers.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key.
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
    /// Replace KEY if it exists.
    #[arg(long)]
    pub force: bool,
}

/// The text form of the payload in the activation image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormArg {
    /// `<QRCode><SN>…</SN>…</QRCode>`
    Tag,
    /// `tessera://activate?sn=…`
    Uri,
}

/// Create an activation and write its activation image.
///
/// Makes a serial and an activation key (random unless given), stores the
/// issuer's record, writes the QR image (mode 0600: it holds the key) and
/// prints the serial, the activation code grouped for manual entry, the
/// payload and the QR code drawn in the terminal.
#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The QR image to write; the extension picks the format (.png or .svg).
    #[arg(long, value_name = "OUT.png|OUT.svg")]
    pub image: PathBuf,
    /// Serial number, 10 characters A-Z 0-9 [default: random].
    #[arg(long, value_name = "SN")]
    pub serial: Option<Serial>,
    /// Activation key, 32 hex digits [default: random]. For tests and
    /// migrations; a random key is the right choice otherwise.
    #[arg(long, value_name = "HEX")]
    pub key_hex: Option<String>,
    /// Account label shown by the authenticator (≤ 64 characters).
    #[arg(long, value_name = "L")]
    pub label: Option<String>,
    /// Issuer display name (≤ 64 characters).
    #[arg(long, value_name = "NAME")]
    pub issuer: Option<String>,
    /// The user's name at the issuer (≤ 64 characters).
    #[arg(long, value_name = "U")]
    pub user_id: Option<String>,
    /// A challenge of 1 to 16 digits that enters the finalize code.
    #[arg(long, value_name = "DIGITS")]
    pub challenge: Option<Challenge>,
    /// Code parameters TYPE:ALG:DIGITS[:PERIOD], e.g. totp:SHA1:6:30 or
    /// hotp:SHA256:8 [default: totp:SHA1:6:30, left out of the payload].
    #[arg(long, value_name = "TYPE:ALG:DIGITS[:PERIOD]")]
    pub otp: Option<OtpParams>,
    /// Sign the payload with this key (PEM from `keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// Payload text form.
    #[arg(long, value_enum, default_value_t = FormArg::Tag)]
    pub form: FormArg,
    /// Write a Tessera colour code (three QR layers in colour, about three
    /// times a QR code's capacity; docs/colour-code.md) as the PNG, and the
    /// plain QR code beside it as IMAGE.plain.png when the payload fits one.
    #[arg(long)]
    pub colour: bool,
}

/// Check the device code the user read from the authenticator and store the
/// device's instance number.
///
/// Spaces and hyphens in the code are ignored. An activation that is bound
/// but not finalized may be bound again (the user switched devices); the
/// last device code wins.
#[derive(Debug, Args)]
pub struct BindArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// The 12-digit device code, e.g. "0123 4567 8998" (spaces and hyphens are ignored).
    #[arg(long, value_name = "DC")]
    pub device_code: String,
}

/// Verify the finalize code; on success the activation is active.
#[derive(Debug, Args)]
pub struct FinalizeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// The 8-digit finalize code, e.g. 3553-5829.
    #[arg(long, value_name = "FIN")]
    pub code: String,
}

/// Print the code the device shows (support staff, tests).
///
/// For TOTP, the code at UNIX_TIME (default now); for HOTP, the code for the
/// next counter the issuer expects (--at is ignored). Needs a bound or
/// active activation.
#[derive(Debug, Args)]
pub struct CodeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// Unix time in seconds [default: now].
    #[arg(long, value_name = "UNIX_TIME")]
    pub at: Option<u64>,
}

/// Verify a one-time code of an active activation.
///
/// TOTP: accepts the steps within ±N of the time (default N = 1) and refuses
/// a step at or before the last accepted one (replay). HOTP: looks ahead N
/// counters from the expected one (default N = 10) and on a match moves the
/// counter past it (resynchronisation); a code of an earlier counter is
/// refused. Exit 1 when the code does not verify.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// The code the user typed.
    #[arg(long, value_name = "CODE")]
    pub code: String,
    /// TOTP: steps either side of now [default: 1]; HOTP: look-ahead [default: 10].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub window: Option<u32>,
    /// Unix time in seconds [default: now]; TOTP only.
    #[arg(long, value_name = "T")]
    pub at: Option<u64>,
}

/// Ask an active account's device to sign a payment (or a batch).
///
/// Writes the request as an image the user scans with Tessera: the payment
/// sealed for that one device (docs/protocol.md, "Transaction signing").
/// The device shows the amount and payee it decoded, asks for its PIN or a
/// finger, and shows an 8-digit response; check it with
/// `verify-signature`. A batch repeats --amount, --payee and --iban (and
/// --reference, when given) once per payment, in the same order.
#[derive(Debug, Args)]
pub struct SignRequestArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number (it must be active).
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// The amount, e.g. 125.00 (no more decimals than the currency has).
    #[arg(long, value_name = "AMOUNT", required = true)]
    pub amount: Vec<String>,
    /// ISO 4217 currency code.
    #[arg(long, value_name = "CODE", default_value = "EUR")]
    pub currency: String,
    /// The payee's name (up to 70 characters).
    #[arg(long, value_name = "NAME", required = true)]
    pub payee: Vec<String>,
    /// The payee's account: an IBAN (checked) or another account number;
    /// spaces are ignored.
    #[arg(long, value_name = "ACCOUNT", required = true)]
    pub iban: Vec<String>,
    /// The payer's reference (up to 140 characters).
    #[arg(long, value_name = "TEXT")]
    pub reference: Vec<String>,
    /// How long the request may be signed, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub expires_in: u64,
    /// The image to write (.png or .svg; mode 0600).
    #[arg(long, value_name = "OUT")]
    pub image: PathBuf,
    /// Write a colour code (PNG), with the plain QR code beside it as
    /// OUT.plain.png.
    #[arg(long)]
    pub colour: bool,
}

/// Check the response code a device showed for a signing request.
///
/// Accepted once only, before the request's expiry, and only for exactly
/// the transaction that was shown: the code is computed over its bytes.
/// Three wrong codes refuse the request for good. Exit 1 when the code
/// does not verify.
#[derive(Debug, Args)]
pub struct VerifySignatureArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// The 8-digit response the user typed.
    #[arg(long, value_name = "CODE")]
    pub code: String,
    /// Unix time in seconds [default: now].
    #[arg(long, value_name = "T")]
    pub at: Option<u64>,
}

/// List activations and their state (created, bound, active).
///
/// Never shows key material.
#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Only this activation, in detail.
    #[arg(long, value_name = "SN")]
    pub serial: Option<Serial>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
