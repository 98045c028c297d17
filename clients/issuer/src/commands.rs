//! The commands. Each checks its input, runs in one database transaction
//! and returns a [`Report`]; a command that fails leaves the database as it
//! was (the only writes on success are the ones each command documents).

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use serde_json::json;
use tessera_core::activation::{
    ActivationCode, ActivationKey, DeviceCode, Serial, finalize_code, instance_key,
};
use tessera_core::otp::{self, OtpKind};
use tessera_core::payload::{Form, MAX_PAYLOAD_BYTES, OtpField, TesseraPayload};
use tessera_core::signature::{IssuerSigningKey, SignatureError};
use zeroize::Zeroizing;

use crate::cli::{
    BindArgs, CodeArgs, Command, FinalizeArgs, FormArg, KeygenArgs, NewArgs, ShowArgs, VerifyArgs,
};
use crate::db::{Activation, NewActivation, State, Store};
use crate::error::{Error, Result};
use crate::files;
use crate::image as qr;
use crate::output::{self, Report, fields};

/// Default `verify --window` for TOTP: one step either side.
pub const DEFAULT_TOTP_WINDOW: u32 = 1;
/// Default `verify --window` for HOTP: counters looked ahead.
pub const DEFAULT_HOTP_WINDOW: u32 = 10;
/// Length of the finalize code (PROTOCOL.md §5).
const FINALIZE_DIGITS: usize = 8;

pub fn run(command: Command) -> Result<Report> {
    match command {
        Command::Keygen(args) => keygen(args),
        Command::New(args) => new(args),
        Command::Bind(args) => bind(args),
        Command::Finalize(args) => finalize(args),
        Command::Code(args) => code(args),
        Command::Verify(args) => verify(args),
        Command::Show(args) => show(args),
        Command::SignRequest(args) => crate::signing::sign_request(args),
        Command::VerifySignature(args) => crate::signing::verify_signature(args),
    }
}

fn keygen(args: KeygenArgs) -> Result<Report> {
    let key = IssuerSigningKey::generate(&mut OsRng);
    files::write_private(&args.out, key.to_pem().as_bytes(), args.force)?;
    let public = key.public_key().to_string();
    let human = format!(
        "Wrote the signing key to {} (mode 0600; keep it secret).\n\
         Public key, for the fleet's trusted issuers:\n  {public}\n",
        args.out.display()
    );
    Ok(Report::new(
        human,
        json!({ "public_key": public, "key_file": args.out }),
    ))
}

/// What `new` puts in the image, for one serial.
struct Prepared {
    serial: Serial,
    code: ActivationCode,
    payload: String,
    rendered: qr::Rendered,
}

fn new(args: NewArgs) -> Result<Report> {
    let (kind, fallback_path) = qr::target(&args.image, args.colour)?;
    let key = match &args.key_hex {
        Some(text) => parse_key_hex(text)?,
        None => random_key(),
    };
    let signer = args.sign_key.as_deref().map(load_signing_key).transpose()?;
    let form = match args.form {
        FormArg::Tag => Form::Tag,
        FormArg::Uri => Form::Uri,
    };
    let build = |serial: Serial| -> Result<Prepared> {
        let code = ActivationCode::new(&serial, &key);
        let mut payload = TesseraPayload::new(serial.clone(), code.clone());
        payload.label = args.label.clone();
        payload.issuer = args.issuer.clone();
        payload.user_id = args.user_id.clone();
        payload.challenge = args.challenge.clone();
        payload.otp = args.otp.map(OtpField::from);
        payload.validate().map_err(Error::input)?;
        if let Some(signer) = &signer {
            signer.sign(&mut payload);
        }
        let text = payload.write(form);
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::input(format!(
                "the payload is {} bytes; the limit is {MAX_PAYLOAD_BYTES}",
                text.len()
            )));
        }
        Ok(Prepared {
            rendered: qr::render(&text, kind, args.colour)?,
            payload: text,
            serial,
            code,
        })
    };
    // Everything that depends only on the arguments is checked before the
    // database is opened (or created).
    let mut made = build(args.serial.clone().unwrap_or_else(random_serial))?;

    let db = &args.db.db;
    let (mut store, created) = Store::open_or_create(db)?;
    let stored = (|| {
        let tx = store.begin()?;
        let mut tries = 0;
        while tx.exists(&made.serial)? {
            if args.serial.is_some() {
                return Err(Error::input(format!(
                    "{}: an activation with this serial already exists in {}",
                    made.serial,
                    db.display()
                )));
            }
            tries += 1;
            if tries == 16 {
                return Err(Error::input("could not find a free random serial"));
            }
            made = build(random_serial())?;
        }
        tx.insert(&NewActivation {
            serial: &made.serial,
            activation_key: &key,
            label: args.label.as_deref(),
            issuer: args.issuer.as_deref(),
            user_id: args.user_id.as_deref(),
            challenge: args.challenge.as_ref(),
            otp: args.otp.unwrap_or_default(),
            created_at: now_secs(),
        })?;
        // The image holds the activation key: mode 0600 like the database.
        qr::write(&args.image, fallback_path.as_deref(), &made.rendered)?;
        tx.commit()
            .inspect_err(|_| qr::remove(&args.image, fallback_path.as_deref()))
    })();
    if let Err(e) = stored {
        drop(store);
        if created {
            let _ = fs::remove_file(db);
        }
        return Err(e);
    }

    let otp = args.otp.unwrap_or_default().to_string();
    let signed_by = signer.as_ref().map(|k| k.public_key().to_string());
    let mut rows = vec![
        ("Serial", made.serial.to_string()),
        ("Activation code", made.code.grouped()),
        ("OTP", otp.clone()),
        ("Payload", made.payload.clone()),
        (
            "Image",
            format!(
                "{} ({}{}, mode 0600)",
                args.image.display(),
                if args.colour { "colour code, " } else { "" },
                kind.name().to_uppercase()
            ),
        ),
    ];
    let fallback_written = made
        .rendered
        .fallback
        .is_some()
        .then_some(fallback_path.as_ref())
        .flatten();
    if let Some(path) = fallback_written {
        rows.push(("Plain QR", format!("{} (PNG, mode 0600)", path.display())));
    } else if args.colour {
        rows.push((
            "Plain QR",
            format!(
                "none: the payload ({} bytes) is over what a QR code holds",
                made.payload.len()
            ),
        ));
    }
    if let Some(key) = &signed_by {
        rows.push(("Signed by", key.clone()));
    }
    let human = format!(
        "{}\n{}\n\nNext: the user scans the image (or types the serial and the activation code)\n\
         and reads you the device code the authenticator shows. Then run\n  \
         tessera-issuer bind --db {} --serial {} --device-code DC\n",
        fields(&rows),
        made.rendered.terminal.as_deref().unwrap_or(""),
        shell_word(&db.display().to_string()),
        made.serial,
    );
    let json = json!({
        "serial": made.serial.as_str(),
        "activation_code": made.code.expose(),
        "activation_code_grouped": made.code.grouped(),
        "payload": made.payload,
        "form": match form { Form::Tag => "tag", Form::Uri => "uri" },
        "otp": otp,
        "image": args.image,
        "image_format": kind.name(),
        "colour": args.colour,
        "plain_image": fallback_written,
        "signed_by": signed_by,
        "state": State::Created.as_str(),
    });
    Ok(Report::new(human, json))
}

fn bind(args: BindArgs) -> Result<Report> {
    let serial = &args.serial;
    let device_code = DeviceCode::parse(&args.device_code).map_err(Error::input)?;
    let mut store = Store::open(&args.db.db)?;
    let tx = store.begin()?;
    let a = tx.get(serial)?;
    if a.state == State::Active {
        return Err(Error::input(format!(
            "{serial}: already active; a new device needs a new activation"
        )));
    }
    let key = a
        .activation_key
        .as_ref()
        .ok_or_else(|| Error::input(format!("{serial}: the activation key is missing")))?;
    let nonce = device_code
        .verify(key, serial)
        .map_err(|e| Error::input(format!("{serial}: {e}")))?;
    let ik = instance_key(key, serial, nonce, a.otp.algorithm());
    tx.bind(serial, nonce, &ik, now_secs())?;
    tx.commit()?;

    let replaced = a.nonce.filter(|&old| old != nonce);
    let mut human = format!(
        "{serial}: bound to device instance {nonce} (device code {}).\n",
        device_code.grouped()
    );
    if let Some(old) = replaced {
        human.push_str(&format!("This replaces device instance {old}.\n"));
    }
    human.push_str(&format!(
        "Next: the user protects the authenticator and reads you the finalize code. Then run\n  \
         tessera-issuer finalize --db {} --serial {serial} --code FIN\n",
        shell_word(&args.db.db.display().to_string())
    ));
    Ok(Report::new(
        human,
        json!({
            "serial": serial.as_str(),
            "state": State::Bound.as_str(),
            "device_instance": nonce,
            "replaced_device_instance": replaced,
        }),
    ))
}

fn finalize(args: FinalizeArgs) -> Result<Report> {
    let serial = &args.serial;
    check_digits("finalize code", &args.code, FINALIZE_DIGITS)?;
    let mut store = Store::open(&args.db.db)?;
    let tx = store.begin()?;
    let a = tx.get(serial)?;
    match a.state {
        State::Created => {
            return Err(Error::input(format!(
                "{serial}: not bound yet; run `bind` with the device code before `finalize`"
            )));
        }
        State::Active => return Err(Error::input(format!("{serial}: already active"))),
        State::Bound => {}
    }
    let ik = bound_key(&a)?;
    if !finalize_code(ik, serial, a.challenge.as_ref()).matches(&args.code) {
        return Err(Error::rejected(format!(
            "{serial}: the finalize code does not match (the activation stays bound; check the code with the user)"
        )));
    }
    tx.activate(serial, now_secs())?;
    tx.commit()?;
    let human = format!(
        "{serial}: active. Its codes now verify:\n  tessera-issuer verify --db {} --serial {serial} --code CODE\n",
        shell_word(&args.db.db.display().to_string())
    );
    Ok(Report::new(
        human,
        json!({ "serial": serial.as_str(), "state": State::Active.as_str() }),
    ))
}

fn code(args: CodeArgs) -> Result<Report> {
    let serial = &args.serial;
    let mut store = Store::open(&args.db.db)?;
    let tx = store.begin_read()?;
    let a = tx.get(serial)?;
    drop(tx);
    if a.state == State::Created {
        return Err(not_bound(serial));
    }
    let ik = bound_key(&a)?;
    let params = a.otp;
    let (human, json) = match params.kind() {
        OtpKind::Totp { period } => {
            let t = args.at.unwrap_or_else(now_unix);
            let step = otp::totp_step(t, period);
            let code = params.code(ik.expose(), t);
            let left = u64::from(period) - t % u64::from(period);
            (
                format!("{code}  ({params}, step {step}, {left} s left)\n"),
                json!({
                    "serial": serial.as_str(), "code": code.as_str(), "otp": params.to_string(),
                    "state": a.state.as_str(), "at": t, "step": step, "valid_for": left,
                }),
            )
        }
        OtpKind::Hotp { counter } => {
            let code = params.code(ik.expose(), 0);
            (
                format!("{code}  ({params}, counter {counter})\n"),
                json!({
                    "serial": serial.as_str(), "code": code.as_str(), "otp": params.to_string(),
                    "state": a.state.as_str(), "counter": counter,
                }),
            )
        }
    };
    Ok(Report::new(human, json))
}

fn verify(args: VerifyArgs) -> Result<Report> {
    let serial = &args.serial;
    let mut store = Store::open(&args.db.db)?;
    let tx = store.begin()?;
    let a = tx.get(serial)?;
    match a.state {
        State::Created => return Err(not_bound(serial)),
        State::Bound => {
            return Err(Error::input(format!(
                "{serial}: not finalized yet; run `finalize` with the finalize code first"
            )));
        }
        State::Active => {}
    }
    let params = a.otp;
    check_digits("code", &args.code, params.digits() as usize)?;
    let ik = bound_key(&a)?.expose();
    let (alg, digits) = (params.algorithm(), params.digits());
    let matches = |counter: u64| otp::hotp(ik, alg, counter, digits).matches(&args.code);
    let (human, json) = match params.kind() {
        OtpKind::Totp { period } => {
            let window = u64::from(args.window.unwrap_or(DEFAULT_TOTP_WINDOW));
            let t = args.at.unwrap_or_else(now_unix);
            let now = otp::totp_step(t, period);
            // Every step in the window is computed, so the time taken does
            // not tell which one matched.
            let matched: Vec<u64> = (now.saturating_sub(window)..=now.saturating_add(window))
                .filter(|&s| matches(s))
                .collect();
            let fresh = matched
                .iter()
                .copied()
                .filter(|&s| a.last_accepted.is_none_or(|last| s > last))
                .min_by_key(|&s| s.abs_diff(now));
            let Some(step) = fresh else {
                return Err(refusal(serial, !matched.is_empty()));
            };
            tx.accept_totp(serial, step)?;
            tx.commit()?;
            let drift = i128::from(step) - i128::from(now);
            (
                format!("{serial}: code accepted ({params}, step {step}, drift {drift:+}).\n"),
                json!({
                    "serial": serial.as_str(), "verified": true, "otp": params.to_string(),
                    "step": step, "drift": drift,
                }),
            )
        }
        OtpKind::Hotp { counter: expected } => {
            let window = u64::from(args.window.unwrap_or(DEFAULT_HOTP_WINDOW));
            let ahead: Vec<u64> = (expected..=expected.saturating_add(window))
                .filter(|&c| matches(c))
                .collect();
            let Some(&counter) = ahead.first() else {
                // An earlier counter's code: used, or skipped by a resync.
                let behind = (expected.saturating_sub(window.max(1))..expected).any(matches);
                return Err(refusal(serial, behind));
            };
            tx.accept_hotp(serial, counter)?;
            tx.commit()?;
            let skipped = counter - expected;
            let resync = if skipped > 0 {
                format!("; resynchronised, {skipped} skipped")
            } else {
                String::new()
            };
            (
                format!("{serial}: code accepted ({params}, counter {counter}{resync}).\n"),
                json!({
                    "serial": serial.as_str(), "verified": true, "otp": params.to_string(),
                    "counter": counter, "skipped": skipped, "next_counter": counter.saturating_add(1),
                }),
            )
        }
    };
    Ok(Report::new(human, json))
}

fn show(args: ShowArgs) -> Result<Report> {
    let db = &args.db.db;
    let mut store = Store::open(db)?;
    let tx = store.begin_read()?;
    let list = match &args.serial {
        Some(serial) => vec![tx.get(serial)?],
        None => tx.list()?,
    };
    let requests = match &args.serial {
        Some(serial) => tx.sign_requests(serial)?,
        None => Vec::new(),
    };
    drop(tx);
    let mut human = match (&args.serial, list.as_slice()) {
        (Some(_), [one]) => output::activation_detail(one),
        (_, []) => format!("No activations in {}.\n", db.display()),
        _ => output::activation_table(&list),
    };
    human.push_str(&crate::signing::requests_table(&requests));
    let mut json = json!({
        "activations": list.iter().map(output::activation_json).collect::<Vec<_>>(),
    });
    if args.serial.is_some() {
        json["signing_requests"] = crate::signing::requests_json(&requests);
    }
    Ok(Report::new(human, json))
}

/// The refusal of a one-time code: replayed (or superseded), or wrong.
fn refusal(serial: &Serial, already_used: bool) -> Error {
    if already_used {
        Error::rejected(format!("{serial}: code already used"))
    } else {
        Error::rejected(format!("{serial}: code does not match"))
    }
}

pub(crate) fn not_bound(serial: &Serial) -> Error {
    Error::input(format!(
        "{serial}: not bound yet; there is no instance key before `bind` with the device code"
    ))
}

/// The instance key of a bound or active activation.
pub(crate) fn bound_key(a: &Activation) -> Result<&tessera_core::SecretBytes> {
    a.instance_key
        .as_ref()
        .ok_or_else(|| Error::input(format!("{}: the instance key is missing", a.serial)))
}

/// A typed code must be `len` digits once spaces and hyphens are removed.
pub(crate) fn check_digits(what: &str, typed: &str, len: usize) -> Result<()> {
    let digits: Zeroizing<String> =
        Zeroizing::new(typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect());
    if digits.len() == len && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::input(format!(
            "{what}: must be {len} digits (spaces and hyphens are ignored)"
        )))
    }
}

/// `--key-hex`: 32 hex digits.
fn parse_key_hex(text: &str) -> Result<ActivationKey> {
    let mut bytes = Zeroizing::new([0u8; ActivationKey::LEN]);
    hex::decode_to_slice(text.trim(), &mut bytes[..])
        .map_err(|_| Error::input("--key-hex: must be 32 hex digits (16 bytes)"))?;
    Ok(ActivationKey::from_bytes(*bytes))
}

fn random_key() -> ActivationKey {
    let mut bytes = Zeroizing::new([0u8; ActivationKey::LEN]);
    OsRng.fill_bytes(&mut bytes[..]);
    ActivationKey::from_bytes(*bytes)
}

/// 10 characters drawn uniformly from `A-Z0-9` (`choose` samples without
/// modulo bias).
fn random_serial() -> Serial {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let text: String = (0..Serial::LEN)
        .map(|_| char::from(*ALPHABET.choose(&mut OsRng).expect("not empty")))
        .collect();
    text.parse().expect("drawn from the serial alphabet")
}

fn load_signing_key(path: &Path) -> Result<IssuerSigningKey> {
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| Error::file(path, e))?);
    std::str::from_utf8(&bytes)
        .map_err(|_| SignatureError::SigningKeyFormat)
        .and_then(IssuerSigningKey::from_pem)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn now_secs() -> i64 {
    i64::try_from(now_unix()).unwrap_or(i64::MAX)
}

/// `text` as one shell word, quoted only when it needs to be.
pub(crate) fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_valid_and_differ() {
        let a = random_serial();
        let b = random_serial();
        assert_eq!(a.as_str().len(), 10);
        assert_ne!(a, b);
    }

    #[test]
    fn key_hex_is_32_hex_digits() {
        let key = parse_key_hex("000102030405060708090a0b0c0d0e0f").unwrap();
        assert_eq!(key.expose(), (0u8..16).collect::<Vec<_>>());
        for bad in [
            "",
            "0001",
            "000102030405060708090a0b0c0d0e0f00",
            "zz0102030405060708090a0b0c0d0e0f",
        ] {
            let err = parse_key_hex(bad).err().unwrap();
            assert_eq!(
                err.to_string(),
                "--key-hex: must be 32 hex digits (16 bytes)"
            );
        }
    }

    #[test]
    fn typed_codes_are_checked_for_shape() {
        check_digits("code", "3553-5829", 8).unwrap();
        check_digits("code", "3553 5829", 8).unwrap();
        assert!(check_digits("code", "3553582", 8).is_err());
        assert!(check_digits("code", "3553582x", 8).is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("issuer.db"), "issuer.db");
        assert_eq!(shell_word("/tmp/a b.db"), "'/tmp/a b.db'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
