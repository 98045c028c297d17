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
    Revoke(RevokeArgs),
    SignRequest(SignRequestArgs),
    VerifySignature(VerifySignatureArgs),
    Challenge(ChallengeArgs),
    VerifyResponse(VerifyResponseArgs),
    Serve(ServeArgs),
    Client(ClientArgs),
    MasterKey(MasterKeyArgs),
    RotateMasterKey(RotateArgs),
}

/// The issuer database: a SQLite file, or a PostgreSQL server.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The issuer database (SQLite, created with mode 0600 by `new`).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "database_url",
        conflicts_with = "database_url"
    )]
    pub db: Option<PathBuf>,
    /// A PostgreSQL database instead of a file, e.g.
    /// postgres://issuer@db.example/tessera or
    /// "host=/run/postgresql dbname=tessera".
    #[arg(
        long,
        value_name = "URL",
        env = "TESSERA_ISSUER_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The master key that seals the keys at rest (required with
    /// PostgreSQL; see `master-key`). Also TESSERA_ISSUER_MASTER_KEY_FILE,
    /// or the key itself in TESSERA_ISSUER_MASTER_KEY.
    #[arg(long, value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl DbArg {
    pub fn location(&self) -> crate::error::Result<crate::store::Location> {
        use crate::store::Location;
        match (&self.db, &self.database_url) {
            (Some(path), _) => Ok(Location::Sqlite(path.clone())),
            (None, Some(url)) => Ok(Location::Postgres(url.clone())),
            (None, None) => Err(crate::error::Error::input(
                "give the database: --db FILE or --database-url URL",
            )),
        }
    }

    /// How to name this database again on a command line, for the hints.
    pub fn shell_words(&self) -> String {
        match (&self.db, &self.database_url) {
            (Some(path), _) => format!(
                "--db {}",
                crate::commands::shell_word(&path.display().to_string())
            ),
            _ => "--database-url \"$TESSERA_ISSUER_DATABASE_URL\"".to_owned(),
        }
    }
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
    #[arg(long, value_name = "SECONDS", default_value_t = crate::service::DEFAULT_EXPIRY,
          value_parser = clap::value_parser!(u64).range(crate::service::MIN_EXPIRY..=crate::service::MAX_EXPIRY))]
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

/// Ask an active account an OCRA challenge.
///
/// Prints the question (and its id) the user answers with Tessera
/// (`tessera respond ACCOUNT QUESTION`). With --message, the question is
/// the one the daemon's approval of that message answers.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number (it must be active).
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// A message to approve instead of a random question.
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// How long it may be answered, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::service::DEFAULT_EXPIRY,
          value_parser = clap::value_parser!(u64).range(crate::service::MIN_EXPIRY..=crate::service::MAX_EXPIRY))]
    pub expires_in: u64,
}

/// Check the response to a challenge: accepted once, before its expiry.
/// Exit 1 when it does not verify.
#[derive(Debug, Args)]
pub struct VerifyResponseArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
    /// The challenge's id, as `challenge` printed it.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The 8-digit response the user typed.
    #[arg(long, value_name = "CODE")]
    pub code: String,
}

/// Revoke an activation: its keys are erased and no code verifies again.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The activation's serial number.
    #[arg(long, value_name = "SN")]
    pub serial: Serial,
}

/// Serve the issuer's HTTP JSON API (docs/issuer-api.yaml, docs/issuer.md).
///
/// Clients authenticate with a bearer token from `client add`. Several
/// instances may serve one PostgreSQL database behind a load balancer.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Address to listen on (host:port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8420")]
    pub listen: std::net::SocketAddr,
    /// Sign the activation payloads with this key (PEM from `keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// Database connections in this instance's pool (PostgreSQL).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=512))]
    pub connections: u32,
    /// Consecutive failed codes after which a serial is locked (shared by
    /// every instance through the database).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_failures: u32,
    /// How long a locked serial stays locked, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub lock_seconds: u32,
    /// Requests per second a client may make (a burst of twice this);
    /// 0 turns the limit off.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub client_rate: u32,
    /// Requests per minute for one serial (a burst of this); 0 turns the
    /// limit off.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub serial_rate: u32,
}

/// Manage the API's clients and their bearer tokens.
///
/// Rotate a token by adding a client under a new name, moving the caller
/// to it, then revoking the old one.
#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Add a client and print its bearer token (once).
    Add {
        /// The client's name (A-Z a-z 0-9 - _ .), written in the audit log.
        name: String,
    },
    /// List the clients (never their tokens).
    List,
    /// Revoke a client's token.
    Revoke { name: String },
}

/// Make a master key (32 random bytes, base64, mode 0600) for sealing the
/// keys at rest.
#[derive(Debug, Args)]
pub struct MasterKeyArgs {
    /// Where to write it (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Rotate the master key: the data keys are wrapped by the new one, in one
/// transaction (the old one is given as usual: --master-key-file or the
/// environment). A database that kept its keys unsealed is sealed.
#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// The new master key (from `master-key`).
    #[arg(long, value_name = "FILE")]
    pub new_master_key_file: PathBuf,
    /// Also make a new data key and seal every activation's keys again
    /// under it.
    #[arg(long)]
    pub new_data_key: bool,
}

/// List activations and their state (created, bound, active, revoked).
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
