//! `tessera sign` (docs/protocol.md, "Transaction signing"): a signing
//! request scanned or pasted, what the daemon decoded shown, the user's
//! decision, the PIN or a finger, and the response to type into the
//! issuer's page. The CLI shows only what the daemon decoded from the
//! request; it sends nothing of the transaction itself.

use std::path::PathBuf;

use serde_json::json;
use tessera_proto::v1::signing_client::SigningClient;
use tessera_proto::v1::{
    ApproveSigningRequest, Empty, SigningId, SigningView, StartSigningRequest,
    approve_signing_request::With, start_signing_request::Source,
};
use tonic::transport::Channel;

use crate::commands::{Mode, vault_pin};
use crate::error::{CliError, Result};
use crate::out::{errln, outln};
use crate::prompt::confirm;
use crate::render::describe_account;

/// What `tessera sign` was asked.
pub struct Args {
    pub source: Source,
    pub pin_file: Option<PathBuf>,
    pub finger: bool,
    pub yes: bool,
}

pub async fn run(ch: Channel, mode: Mode, args: Args) -> Result<()> {
    let mut client = SigningClient::new(ch.clone());
    let view = client
        .start(StartSigningRequest {
            source: Some(args.source),
        })
        .await?
        .into_inner();
    if !mode.json {
        show(&view);
    }
    if !args.yes {
        if !mode.interactive {
            decline(&mut client, &view).await;
            return Err(CliError::missing_flag(
                "--yes",
                "signing a payment asks you to confirm what it shows",
            ));
        }
        if !confirm("Sign this? [y/N] ")? {
            decline(&mut client, &view).await;
            return Err(CliError::cancelled("declined: nothing was signed"));
        }
    }
    let with = if args.finger {
        errln!("Touch the fingerprint reader…");
        With::Finger(Empty {})
    } else {
        match vault_pin(&ch, mode, args.pin_file.as_deref(), "the payment").await {
            Ok(Some(pin)) => With::Pin(pin.as_str().to_owned()),
            Ok(None) => With::Session(Empty {}),
            Err(e) => {
                decline(&mut client, &view).await;
                return Err(e);
            }
        }
    };
    let signed = client
        .approve(ApproveSigningRequest {
            id: view.id.clone(),
            with: Some(with),
        })
        .await?
        .into_inner();
    if mode.json {
        outln!("{}", view_json(&signed));
    } else {
        let r = &signed.response;
        let grouped = if r.len() == 8 {
            format!("{} {}", &r[..4], &r[4..])
        } else {
            r.clone()
        };
        outln!("Response: {grouped}");
        outln!("Type it into the issuer's page to complete the payment.");
    }
    Ok(())
}

/// Declines a signing the user did not approve (best effort: the daemon
/// drops it anyway).
async fn decline(client: &mut SigningClient<Channel>, view: &SigningView) {
    let _ = client
        .decline(SigningId {
            id: view.id.clone(),
        })
        .await;
}

/// What is signed, on standard error (the response alone goes to standard
/// output).
fn show(v: &SigningView) {
    let account = v
        .account
        .as_ref()
        .map(|a| describe_account(&a.label, &a.issuer))
        .unwrap_or_default();
    let batch = v.payments.len() > 1;
    errln!(
        "{} for {account} ({}):",
        if batch {
            "A batch of payments"
        } else {
            "A payment"
        },
        v.serial
    );
    for (i, p) in v.payments.iter().enumerate() {
        if batch {
            errln!("  Payment {}", i + 1);
        }
        errln!("  Amount     {}", p.amount);
        errln!("  Payee      {}", p.payee);
        errln!("  Account    {}", p.account);
        if !p.reference.is_empty() {
            errln!("  Reference  {}", p.reference);
        }
    }
    if batch {
        errln!("  Total      {} in {} payments", v.total, v.payments.len());
    }
    let left = v.expires_unix - now_unix();
    errln!("  Valid for  {} more seconds", left.max(0));
    errln!("Check it against what you meant to pay: the code you get signs exactly this.");
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn view_json(v: &SigningView) -> serde_json::Value {
    json!({
        "state": v.state,
        "serial": v.serial,
        "account": v.account.as_ref().map(|a| json!({"label": a.label, "issuer": a.issuer})),
        "payments": v.payments.iter().map(|p| json!({
            "amount": p.amount, "payee": p.payee, "account": p.account, "reference": p.reference,
        })).collect::<Vec<_>>(),
        "total": v.total,
        "expires_unix": v.expires_unix,
        "response": v.response,
    })
}
