//! Transaction signing in the CLI (docs/protocol.md, "Transaction
//! signing"): `sign-request` has the service seal a payment for one active
//! account's device and writes it as an image; `verify-signature` has the
//! service check the response the device showed (`service/requests.rs`
//! decides). Also the JSON both the CLI and the API answer with.

use serde_json::json;
use tessera_core::transaction::Transaction;

use crate::cli::{ChallengeArgs, SignRequestArgs, VerifyResponseArgs, VerifySignatureArgs};
use crate::error::{Error, Result};
use crate::image as qr;
use crate::output::{Report, fields};
use crate::service::{Actor, parse_request_id, payment_order};
use crate::store::SignRecord;

pub fn sign_request(args: SignRequestArgs) -> Result<Report> {
    let (kind, fallback_path) = qr::target(&args.image, args.colour)?;
    let (currency, payments) = payment_order(
        &args.currency,
        &args.amount,
        &args.payee,
        &args.iban,
        &args.reference,
    )?;
    let issuer = crate::commands::open(&args.db)?;
    // The image is written before the request is committed; it is removed
    // again when the commit fails (and only when this call wrote it).
    let mut wrote = false;
    let made = issuer.sign_request(
        Actor::CLI,
        &args.serial,
        currency,
        payments,
        args.expires_in,
        |text| {
            let rendered = qr::render(text, kind, args.colour)?;
            qr::write(&args.image, fallback_path.as_deref(), &rendered)?;
            wrote = true;
            Ok(rendered)
        },
    );
    let (request, rendered) = made.inspect_err(|_| {
        if wrote {
            qr::remove(&args.image, fallback_path.as_deref());
        }
    })?;
    let tx = &request.transaction;
    let shown = shown_fields(tx);
    let mut rows: Vec<(&str, String)> = vec![("Serial", args.serial.to_string())];
    rows.extend(shown.iter().map(|(k, v)| (*k, v.clone())));
    rows.push((
        "Expires",
        format!(
            "{} (Unix time, in {} s)",
            request.expires_at, args.expires_in
        ),
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
    let mut json = request_json(&request);
    json["image"] = json!(args.image);
    json["colour"] = json!(args.colour);
    json["plain_image"] = json!(
        rendered
            .fallback
            .is_some()
            .then_some(fallback_path)
            .flatten()
    );
    Ok(Report::new(human, json))
}

pub fn verify_signature(args: VerifySignatureArgs) -> Result<Report> {
    let issuer = crate::commands::open(&args.db)?;
    let answered = issuer.verify_signature(Actor::CLI, &args.serial, None, &args.code, args.at)?;
    let tx = answered
        .transaction
        .as_ref()
        .ok_or_else(|| Error::store_data("a signature without its transaction"))?;
    let shown = shown_fields(tx);
    let human = format!(
        "Signed: the device's user approved exactly this.\n{}",
        fields(
            &shown
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect::<Vec<_>>()
        )
    );
    let json = signed_json(&args.serial, &answered.nonce, tx);
    Ok(Report::new(human, json))
}

pub fn challenge(args: ChallengeArgs) -> Result<Report> {
    let issuer = crate::commands::open(&args.db)?;
    let asked = issuer.challenge(
        Actor::CLI,
        &args.serial,
        args.message.as_deref(),
        args.expires_in,
    )?;
    let id = hex::encode(asked.nonce);
    let human = format!(
        "{}\nNext: the user answers it with Tessera (`tessera respond ACCOUNT {}`{}) and reads\n\
         you the 8-digit response. Then run\n  \
         tessera-issuer verify-response {} --serial {} --id {id} --code R\n",
        fields(&[
            ("Serial", args.serial.to_string()),
            ("Question", asked.question.clone()),
            ("Suite", asked.suite.to_string()),
            ("Id", id.clone()),
            ("Expires", format!("{} (Unix time)", asked.expires_at)),
        ]),
        asked.question,
        if args.message.is_some() {
            ", or by approving the message"
        } else {
            ""
        },
        args.db.shell_words(),
        args.serial,
    );
    let json = json!({
        "serial": args.serial.as_str(),
        "id": id,
        "suite": asked.suite.to_string(),
        "question": asked.question,
        "expires_at": asked.expires_at,
    });
    Ok(Report::new(human, json))
}

pub fn verify_response(args: VerifyResponseArgs) -> Result<Report> {
    let nonce = parse_request_id(&args.id)?;
    let issuer = crate::commands::open(&args.db)?;
    issuer.verify_response(Actor::CLI, &args.serial, &nonce, &args.code, None)?;
    Ok(Report::new(
        format!("Verified: {} answered the challenge.\n", args.serial),
        json!({ "serial": args.serial.as_str(), "id": args.id, "verified": true }),
    ))
}

/// A new signing request as JSON (the CLI's `--json` and the API's answer).
pub fn request_json(request: &crate::service::SignRequest) -> serde_json::Value {
    let tx = &request.transaction;
    json!({
        "serial": tx.serial.as_str(),
        "id": hex::encode(request.nonce),
        "request": request.text,
        "nonce": hex::encode(request.nonce),
        "expires_at": request.expires_at,
        "currency": tx.currency.code(),
        "total": tx.currency.format_number(tx.total()),
        "payments": payments_json(tx),
    })
}

/// An accepted signature as JSON.
pub fn signed_json(
    serial: &tessera_core::activation::Serial,
    nonce: &[u8],
    tx: &Transaction,
) -> serde_json::Value {
    json!({
        "serial": serial.as_str(),
        "signed": true,
        "id": hex::encode(nonce),
        "nonce": hex::encode(nonce),
        "currency": tx.currency.code(),
        "total": tx.currency.format_number(tx.total()),
        "payments": payments_json(tx),
    })
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
