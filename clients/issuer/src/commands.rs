//! The commands. Each checks its input, calls the one service
//! ([`crate::service::Issuer`]) and returns a [`Report`]; a command that
//! fails leaves the database as it was (the only writes on success are the
//! ones each command documents).

use std::fs;
use std::path::Path;

use rand::rngs::OsRng;
use serde_json::json;
use tessera_core::payload::Form;
use tessera_core::signature::{IssuerSigningKey, SignatureError};
use zeroize::Zeroizing;

use crate::cli::{
    BindArgs, ClientArgs, ClientCommand, CodeArgs, Command, DbArg, FinalizeArgs, FormArg,
    KeygenArgs, MasterKeyArgs, NewArgs, RevokeArgs, RotateArgs, ShowArgs, VerifyArgs,
};
use crate::error::{Error, Result};
use crate::files;
use crate::image as qr;
use crate::output::{self, Report, fields};
use crate::service::{Actor, CreateRequest, CurrentCode, Issuer, Verified, parse_key_hex};
use crate::store::{self, RequestKind, State, sealing::Kek};

pub fn run(command: Command) -> Result<Report> {
    match command {
        Command::Keygen(args) => keygen(args),
        Command::MasterKey(args) => master_key(args),
        Command::New(args) => new(args),
        Command::Bind(args) => bind(args),
        Command::Finalize(args) => finalize(args),
        Command::Code(args) => code(args),
        Command::Verify(args) => verify(args),
        Command::Show(args) => show(args),
        Command::Revoke(args) => revoke(args),
        Command::Client(args) => client(args),
        Command::RotateMasterKey(args) => rotate(args),
        Command::SignRequest(args) => crate::signing::sign_request(args),
        Command::VerifySignature(args) => crate::signing::verify_signature(args),
        Command::Challenge(args) => crate::signing::challenge(args),
        Command::VerifyResponse(args) => crate::signing::verify_response(args),
        Command::Serve(args) => crate::server::run(args),
    }
}

/// Opens the store an argument names (an existing one).
pub(crate) fn open(db: &DbArg) -> Result<Issuer> {
    let kek = Kek::from_file_or_env(db.master_key_file.as_deref())?;
    Ok(Issuer::new(store::open(&db.location()?, kek, false)?.store))
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

fn master_key(args: MasterKeyArgs) -> Result<Report> {
    let kek = Kek::generate();
    let mut text = Zeroizing::new(kek.to_text().to_string());
    text.push('\n');
    files::write_private(&args.out, text.as_bytes(), false)?;
    let human = format!(
        "Wrote a master key to {} (mode 0600; id {}). Keep it apart from the database and its \
         backups: whoever has both has every key.\n",
        args.out.display(),
        kek.id()
    );
    Ok(Report::new(
        human,
        json!({ "key_file": args.out, "id": kek.id() }),
    ))
}

fn new(args: NewArgs) -> Result<Report> {
    let (kind, fallback_path) = qr::target(&args.image, args.colour)?;
    let key = args
        .key_hex
        .as_deref()
        .map(|text| parse_key_hex(text, "--key-hex"))
        .transpose()?;
    let signer = args.sign_key.as_deref().map(load_signing_key).transpose()?;
    let form = match args.form {
        FormArg::Tag => Form::Tag,
        FormArg::Uri => Form::Uri,
    };
    let request = CreateRequest {
        serial: args.serial.clone(),
        key,
        label: args.label.clone(),
        issuer: args.issuer.clone(),
        user_id: args.user_id.clone(),
        challenge: args.challenge.clone(),
        otp: args.otp,
        form: Some(form),
        request_id: None,
    };
    let location = args.db.location()?;
    let kek = Kek::from_file_or_env(args.db.master_key_file.as_deref())?;
    let opened = store::open(&location, kek, true)?;
    let created_file = opened.created_file.clone();
    let issuer = Issuer::new(opened.store).with_signer(signer);
    let mut rendered = None;
    let made = issuer.create(Actor::CLI, &request, |made| {
        let image = qr::render(&made.payload, kind, args.colour)?;
        // The image holds the activation key: mode 0600 like the database.
        qr::write(&args.image, fallback_path.as_deref(), &image)?;
        rendered = Some(image);
        Ok(())
    });
    let made = match made {
        Ok(made) => made,
        Err(e) => {
            if rendered.is_some() {
                qr::remove(&args.image, fallback_path.as_deref());
            }
            drop(issuer);
            if let Some(path) = created_file {
                let _ = fs::remove_file(path);
            }
            return Err(e);
        }
    };
    let rendered = rendered.expect("written before the commit");

    let otp = made.otp.to_string();
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
    let fallback_written = rendered
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
    if let Some(key) = &made.signed_by {
        rows.push(("Signed by", key.clone()));
    }
    let human = format!(
        "{}\n{}\n\nNext: the user scans the image (or types the serial and the activation code)\n\
         and reads you the device code the authenticator shows. Then run\n  \
         tessera-issuer bind {} --serial {} --device-code DC\n",
        fields(&rows),
        rendered.terminal.as_deref().unwrap_or(""),
        args.db.shell_words(),
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
        "signed_by": made.signed_by,
        "state": State::Created.as_str(),
    });
    Ok(Report::new(human, json))
}

fn bind(args: BindArgs) -> Result<Report> {
    let serial = &args.serial;
    let bound = open(&args.db)?.bind(Actor::CLI, serial, &args.device_code)?;
    let nonce = bound.device_instance;
    let grouped = tessera_core::activation::DeviceCode::parse(&args.device_code)
        .map(|c| c.grouped())
        .unwrap_or_default();
    let mut human =
        format!("{serial}: bound to device instance {nonce} (device code {grouped}).\n");
    if let Some(old) = bound.replaced {
        human.push_str(&format!("This replaces device instance {old}.\n"));
    }
    human.push_str(&format!(
        "Next: the user protects the authenticator and reads you the finalize code. Then run\n  \
         tessera-issuer finalize {} --serial {serial} --code FIN\n",
        args.db.shell_words()
    ));
    Ok(Report::new(
        human,
        json!({
            "serial": serial.as_str(),
            "state": State::Bound.as_str(),
            "device_instance": nonce,
            "replaced_device_instance": bound.replaced,
        }),
    ))
}

fn finalize(args: FinalizeArgs) -> Result<Report> {
    let serial = &args.serial;
    open(&args.db)?.finalize(Actor::CLI, serial, &args.code)?;
    let human = format!(
        "{serial}: active. Its codes now verify:\n  tessera-issuer verify {} --serial {serial} --code CODE\n",
        args.db.shell_words()
    );
    Ok(Report::new(
        human,
        json!({ "serial": serial.as_str(), "state": State::Active.as_str() }),
    ))
}

fn code(args: CodeArgs) -> Result<Report> {
    let serial = &args.serial;
    let issuer = open(&args.db)?;
    let a = issuer.show(serial)?;
    let params = a.otp;
    let (human, json) = match issuer.code(serial, args.at)? {
        CurrentCode::Totp {
            code,
            at,
            step,
            valid_for,
        } => (
            format!("{code}  ({params}, step {step}, {valid_for} s left)\n"),
            json!({
                "serial": serial.as_str(), "code": code, "otp": params.to_string(),
                "state": a.state.as_str(), "at": at, "step": step, "valid_for": valid_for,
            }),
        ),
        CurrentCode::Hotp { code, counter } => (
            format!("{code}  ({params}, counter {counter})\n"),
            json!({
                "serial": serial.as_str(), "code": code, "otp": params.to_string(),
                "state": a.state.as_str(), "counter": counter,
            }),
        ),
    };
    Ok(Report::new(human, json))
}

fn verify(args: VerifyArgs) -> Result<Report> {
    let serial = &args.serial;
    let issuer = open(&args.db)?;
    let verified = issuer.verify(Actor::CLI, serial, &args.code, args.window, args.at)?;
    let params = issuer.show(serial)?.otp;
    let (human, json) = match verified {
        Verified::Totp { step, drift } => (
            format!("{serial}: code accepted ({params}, step {step}, drift {drift:+}).\n"),
            json!({
                "serial": serial.as_str(), "verified": true, "otp": params.to_string(),
                "step": step, "drift": drift,
            }),
        ),
        Verified::Hotp { counter, skipped } => {
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
    let issuer = open(&args.db)?;
    let list = match &args.serial {
        Some(serial) => vec![issuer.show(serial)?],
        None => issuer.list(None, None)?,
    };
    let requests = match &args.serial {
        Some(serial) => {
            issuer
                .store()
                .begin_read()?
                .sign_requests(serial, RequestKind::Transaction, None)?
        }
        None => Vec::new(),
    };
    let mut human = match (&args.serial, list.as_slice()) {
        (Some(_), [one]) => output::activation_detail(one),
        (_, []) => format!("No activations in {}.\n", issuer.store().describe()),
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

fn revoke(args: RevokeArgs) -> Result<Report> {
    let serial = &args.serial;
    open(&args.db)?.revoke(Actor::CLI, serial)?;
    Ok(Report::new(
        format!("{serial}: revoked; its keys are erased and no code verifies again.\n"),
        json!({ "serial": serial.as_str(), "state": State::Revoked.as_str() }),
    ))
}

fn client(args: ClientArgs) -> Result<Report> {
    // The first client of a SQLite service may come before its first
    // activation: `client add` makes the file as `new` does.
    let issuer = if matches!(args.command, ClientCommand::Add { .. }) {
        let kek = Kek::from_file_or_env(args.db.master_key_file.as_deref())?;
        Issuer::new(store::open(&args.db.location()?, kek, true)?.store)
    } else {
        open(&args.db)?
    };
    match args.command {
        ClientCommand::Add { name } => {
            let token = issuer.add_client(&name)?;
            let human = format!(
                "Client {name} added. Its bearer token (shown once; only its SHA-256 is kept):\n  {}\n",
                &*token
            );
            Ok(Report::new(
                human,
                json!({ "client": name, "token": &*token }),
            ))
        }
        ClientCommand::List => {
            let clients = issuer.clients()?;
            let mut human = String::new();
            for c in &clients {
                human.push_str(&format!(
                    "{}  added {}{}\n",
                    c.name,
                    output::utc(c.created_at),
                    c.revoked_at
                        .map(|t| format!(", revoked {}", output::utc(t)))
                        .unwrap_or_default()
                ));
            }
            if clients.is_empty() {
                human.push_str("No API clients.\n");
            }
            let list: Vec<_> = clients
                .iter()
                .map(|c| json!({ "name": c.name, "created_at": c.created_at, "revoked_at": c.revoked_at }))
                .collect();
            Ok(Report::new(human, json!({ "clients": list })))
        }
        ClientCommand::Revoke { name } => {
            issuer.revoke_client(&name)?;
            Ok(Report::new(
                format!("Client {name} revoked: its token is refused from now on.\n"),
                json!({ "client": name, "revoked": true }),
            ))
        }
    }
}

fn rotate(args: RotateArgs) -> Result<Report> {
    let issuer = open(&args.db)?;
    let new = Kek::from_file(&args.new_master_key_file)?;
    let rotated = store::rotate(issuer.store(), &new, args.new_data_key)?;
    let human = format!(
        "{} data key(s) now wrapped by master key {}; {} activation(s) sealed again.\n\
         From now on give {} as the master key.\n",
        rotated.data_keys,
        new.id(),
        rotated.resealed,
        args.new_master_key_file.display()
    );
    Ok(Report::new(
        human,
        json!({ "master_key_id": new.id(), "data_keys": rotated.data_keys, "resealed": rotated.resealed }),
    ))
}

pub(crate) fn load_signing_key(path: &Path) -> Result<IssuerSigningKey> {
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| Error::file(path, e))?);
    std::str::from_utf8(&bytes)
        .map_err(|_| SignatureError::SigningKeyFormat)
        .and_then(IssuerSigningKey::from_pem)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))
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
    fn key_hex_is_32_hex_digits() {
        let key = parse_key_hex("000102030405060708090a0b0c0d0e0f", "--key-hex").unwrap();
        assert_eq!(key.expose(), (0u8..16).collect::<Vec<_>>());
        for bad in [
            "",
            "0001",
            "000102030405060708090a0b0c0d0e0f00",
            "zz0102030405060708090a0b0c0d0e0f",
        ] {
            let err = parse_key_hex(bad, "--key-hex").err().unwrap();
            assert_eq!(
                err.to_string(),
                "--key-hex: must be 32 hex digits (16 bytes)"
            );
        }
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("issuer.db"), "issuer.db");
        assert_eq!(shell_word("/tmp/a b.db"), "'/tmp/a b.db'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
