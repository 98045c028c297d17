//! Transaction signing, the issuer's side (docs/protocol.md, "Transaction
//! signing"): `sign-request` seals a payment for one active account's
//! device and writes it as an image; `verify-signature` checks the response
//! the device showed, once only, before the expiry, against exactly the
//! transaction stored.

use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::json;
use tessera_core::transaction::{Currency, Payment, Transaction, TransactionKeys};

use crate::cli::{SignRequestArgs, VerifySignatureArgs};
use crate::error::{Error, Result};
use crate::image as qr;
use crate::output::{Report, fields};
use crate::service::{bound_key, check_digits, now_secs, now_unix};
use crate::store::{SignRecord, SignState, State, StoreTx};
use tessera_core::activation::Serial;

/// Wrong response codes after which a request is refused for good.
pub const MAX_ATTEMPTS: u32 = 3;
/// Digits of a response (the suite's `HOTP-SHA256-8`).
const RESPONSE_DIGITS: usize = 8;

pub fn sign_request(args: SignRequestArgs) -> Result<Report> {
    let (kind, fallback_path) = qr::target(&args.image, args.colour)?;
    let currency = Currency::new(&args.currency).map_err(Error::input)?;
    let count = args.amount.len();
    if args.payee.len() != count
        || args.iban.len() != count
        || !(args.reference.is_empty() || args.reference.len() == count)
    {
        return Err(Error::input(format!(
            "a batch gives --amount, --payee and --iban once per payment (and --reference \
             once per payment or not at all): got {count} amounts, {} payees, {} accounts, \
             {} references",
            args.payee.len(),
            args.iban.len(),
            args.reference.len()
        )));
    }
    let mut payments = Vec::with_capacity(count);
    for i in 0..count {
        payments.push(Payment {
            amount: currency
                .parse_amount(&args.amount[i])
                .map_err(Error::input)?,
            payee_name: args.payee[i].clone(),
            payee_account: args.iban[i].clone(),
            reference: args.reference.get(i).cloned().unwrap_or_default(),
        });
    }
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    let expires_at = now_unix() + args.expires_in;
    let tx = Transaction::new(args.serial.clone(), nonce, expires_at, currency, payments)
        .map_err(Error::input)?;

    let issuer = crate::commands::open(&args.db)?;
    let mut db_tx = issuer.store().begin()?;
    let keys = active_keys(&mut *db_tx, &args.serial)?;
    let mut seal_nonce = [0u8; 24];
    OsRng.fill_bytes(&mut seal_nonce);
    let text = keys.seal(&tx, seal_nonce).map_err(Error::input)?;
    let rendered = qr::render(&text, kind, args.colour)?;
    db_tx.insert_sign_request(&args.serial, &nonce, &tx.encode(), expires_at, now_secs())?;
    qr::write(&args.image, fallback_path.as_deref(), &rendered)?;
    db_tx
        .commit()
        .inspect_err(|_| qr::remove(&args.image, fallback_path.as_deref()))?;

    let shown = shown_fields(&tx);
    let mut rows: Vec<(&str, String)> = vec![("Serial", args.serial.to_string())];
    rows.extend(shown.iter().map(|(k, v)| (*k, v.clone())));
    rows.push((
        "Expires",
        format!("{expires_at} (Unix time, in {} s)", args.expires_in),
    ));
    rows.push(("Image", format!("{} (mode 0600)", args.image.display())));
    let human = format!(
        "{}\n{}\nNext: the user scans the image with Tessera (`tessera sign --image …`),\n\
         checks what it shows and reads you the 8-digit response. Then run\n  \
         tessera-issuer verify-signature {} --serial {} --code R\n",
        fields(&rows),
        rendered.terminal.as_deref().unwrap_or(""),
        args.db.shell_words(),
        args.serial,
    );
    let json = json!({
        "serial": args.serial.as_str(),
        "request": text,
        "nonce": hex::encode(nonce),
        "expires_at": expires_at,
        "currency": tx.currency.code(),
        "total": tx.currency.format_number(tx.total()),
        "payments": payments_json(&tx),
        "image": args.image,
        "colour": args.colour,
        "plain_image": rendered.fallback.is_some().then_some(fallback_path).flatten(),
    });
    Ok(Report::new(human, json))
}

pub fn verify_signature(args: VerifySignatureArgs) -> Result<Report> {
    check_digits("response", &args.code, RESPONSE_DIGITS)?;
    let now = args.at.unwrap_or_else(now_unix);
    let issuer = crate::commands::open(&args.db)?;
    let place = issuer.store().describe().to_owned();
    let mut db_tx = issuer.store().begin()?;
    let keys = active_keys(&mut *db_tx, &args.serial)?;
    let records = db_tx.sign_requests(&args.serial)?;
    if records.is_empty() {
        return Err(Error::input(format!(
            "{}: no signing request was made",
            args.serial
        )));
    }
    let mut open = Vec::new();
    for record in &records {
        let tx = Transaction::decode(&record.tx).map_err(|e| {
            Error::input(format!(
                "database {place}: signing request {} is unreadable: {e}",
                record.id
            ))
        })?;
        if !keys.respond(&tx).matches(&args.code) {
            if record.state == SignState::Pending && now < record.expires_at {
                open.push(record.id);
            }
            continue;
        }
        match record.state {
            SignState::Signed => {
                return Err(Error::rejected(format!(
                    "{}: this response was accepted before; a signature counts once",
                    args.serial
                )));
            }
            SignState::Refused => {
                return Err(Error::rejected(format!(
                    "{}: the request was refused after {MAX_ATTEMPTS} wrong responses; make a new one",
                    args.serial
                )));
            }
            SignState::Pending if now >= record.expires_at => {
                return Err(Error::rejected(format!(
                    "{}: the request expired at {} (Unix time); make a new one",
                    args.serial, record.expires_at
                )));
            }
            SignState::Pending => {
                db_tx.mark_signed(record.id, now_secs())?;
                db_tx.commit()?;
                let shown = shown_fields(&tx);
                let human = format!(
                    "Signed: the device's user approved exactly this.\n{}",
                    fields(
                        &shown
                            .iter()
                            .map(|(k, v)| (*k, v.clone()))
                            .collect::<Vec<_>>()
                    )
                );
                let json = json!({
                    "serial": args.serial.as_str(),
                    "signed": true,
                    "nonce": hex::encode(&record.nonce),
                    "currency": tx.currency.code(),
                    "total": tx.currency.format_number(tx.total()),
                    "payments": payments_json(&tx),
                });
                return Ok(Report::new(human, json));
            }
        }
    }
    // A wrong code counts against every request it could have been for.
    for id in &open {
        db_tx.count_wrong_response(*id, MAX_ATTEMPTS)?;
    }
    db_tx.commit()?;
    Err(Error::rejected(if open.is_empty() {
        format!(
            "{}: the response does not match, and no request is waiting (expired, signed or refused)",
            args.serial
        )
    } else {
        format!("{}: the response does not match", args.serial)
    }))
}

/// `show --serial`'s lines for the signing requests, newest first (none:
/// nothing).
pub fn requests_table(records: &[SignRecord]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nSigning requests (newest first):\n");
    for r in records {
        let what = Transaction::decode(&r.tx)
            .map(|tx| tx.currency.format(tx.total()))
            .unwrap_or_else(|_| "unreadable".into());
        out.push_str(&format!(
            "  {}  {:<8} {what}, made {}, expires {}, {} wrong responses\n",
            hex::encode(&r.nonce),
            r.state.as_str(),
            r.created_at,
            r.expires_at,
            r.attempts
        ));
    }
    out
}

pub fn requests_json(records: &[SignRecord]) -> serde_json::Value {
    records
        .iter()
        .map(|r| {
            let tx = Transaction::decode(&r.tx).ok();
            json!({
                "nonce": hex::encode(&r.nonce),
                "state": r.state.as_str(),
                "created_at": r.created_at,
                "expires_at": r.expires_at,
                "wrong_responses": r.attempts,
                "total": tx.as_ref().map(|t| t.currency.format_number(t.total())),
                "currency": tx.as_ref().map(|t| t.currency.code().to_owned()),
            })
        })
        .collect()
}

/// The transaction keys of the active activation `serial`; only an active
/// account signs.
fn active_keys(db_tx: &mut dyn StoreTx, serial: &Serial) -> Result<TransactionKeys> {
    let activation = db_tx.get(serial)?;
    if activation.state != State::Active {
        return Err(Error::conflict(format!(
            "{serial}: the activation is {}; only an active account signs (finalize it first)",
            activation.state.as_str()
        )));
    }
    Ok(TransactionKeys::derive(
        serial,
        bound_key(&activation)?.expose(),
    ))
}

/// What the device shows, in the order it shows it.
fn shown_fields(tx: &Transaction) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    for p in &tx.payments {
        rows.push(("Amount", tx.currency.format(p.amount)));
        rows.push(("Payee", p.payee_name.clone()));
        rows.push(("Account", p.payee_account.clone()));
        if !p.reference.is_empty() {
            rows.push(("Reference", p.reference.clone()));
        }
    }
    if tx.is_batch() {
        rows.push((
            "Total",
            format!(
                "{} in {} payments",
                tx.currency.format(tx.total()),
                tx.payments.len()
            ),
        ));
    }
    rows
}

fn payments_json(tx: &Transaction) -> serde_json::Value {
    tx.payments
        .iter()
        .map(|p| {
            json!({
                "amount": tx.currency.format_number(p.amount),
                "payee": p.payee_name,
                "account": p.payee_account,
                "reference": p.reference,
            })
        })
        .collect()
}
