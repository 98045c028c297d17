//! `tessera tpm status|enroll|remove`: the vault's TPM slot (the key bound
//! to this machine's TPM and the PIN), and the TPM line of `tessera status`.

use std::path::PathBuf;

use serde_json::json;
use tessera_proto::v1::{
    EnrollTpmRequest, RemoveTpmRequest, TpmStatusRequest, TpmStatusResponse,
    vault_client::VaultClient,
};
use tonic::transport::Channel;

use crate::commands::{Mode, vault_pin};
use crate::error::Result;
use crate::out::outln;

/// What `tpm` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Status,
    Enroll,
    Remove,
}

pub fn status_json(s: &TpmStatusResponse) -> serde_json::Value {
    let nonempty = |v: &String| (!v.is_empty()).then(|| v.clone());
    json!({
        "tpm": {
            "built": s.built,
            "tcti": nonempty(&s.tcti),
            "present": s.present,
            "unavailable_reason": nonempty(&s.unavailable_reason),
            "manufacturer": nonempty(&s.manufacturer),
            "failed_tries": s.failed_tries,
            "max_tries": s.max_tries,
            "recovery_seconds": s.recovery_seconds,
            "in_lockout": s.in_lockout,
            "owner_password": s.owner_password,
            "enrolled": s.enrolled,
            "pcrs": s.pcrs,
            "changed_pcrs": s.changed_pcrs,
            "pin_slot": s.pin_slot,
            "warning": nonempty(&s.warning),
            "protection": s.protection,
        }
    })
}

fn pcr_list(pcrs: &[u32]) -> String {
    pcrs.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one line `tessera status` shows.
pub fn summary_line(s: &TpmStatusResponse) -> String {
    let slot = if s.enrolled {
        if s.pcrs.is_empty() {
            "the vault key is sealed to it (no PCRs bound)".to_owned()
        } else {
            format!("the vault key is sealed to it (PCRs {})", pcr_list(&s.pcrs))
        }
    } else {
        "no TPM slot (`tessera tpm enroll` adds one)".to_owned()
    };
    let tpm = if !s.built {
        "not in this build of tesserad (build it with `--features tpm`)".to_owned()
    } else if !s.present {
        format!("none answers at {}: {}", s.tcti, s.unavailable_reason)
    } else if s.in_lockout {
        format!("{} at {}, in lock-out", s.manufacturer, s.tcti)
    } else {
        format!("{} at {}", s.manufacturer, s.tcti)
    };
    if s.enrolled || s.present {
        format!("TPM:         {tpm}; {slot}")
    } else {
        format!("TPM:         {tpm}")
    }
}

pub fn status_text(s: &TpmStatusResponse) -> String {
    let mut lines = Vec::new();
    if !s.built {
        lines.push(
            "TPM:        not in this build of tesserad (build it with `cargo build --release \
             --features tessera-daemon/tpm`; Debian needs libtss2-dev)"
                .to_owned(),
        );
    } else if !s.present {
        lines.push(format!("TPM:        none at {}", s.tcti));
        lines.push(format!("Why:        {}", s.unavailable_reason));
    } else {
        lines.push(format!("TPM:        {} at {}", s.manufacturer, s.tcti));
        lines.push(format!(
            "Lock-out:   {} of {} wrong tries counted by the TPM{}",
            s.failed_tries,
            s.max_tries,
            if s.recovery_seconds > 0 {
                format!(" (one forgiven every {} s)", s.recovery_seconds)
            } else {
                String::new()
            }
        ));
        if s.in_lockout {
            lines.push(
                "            the TPM is in lock-out: it refuses every PIN until the counter \
                 recovers, or its owner runs `tpm2_dictionarylockout --clear-lockout`"
                    .to_owned(),
            );
        }
        if s.owner_password {
            lines.push(
                "Owner:      the owner hierarchy has a password; Tessera cannot seal under it"
                    .to_owned(),
            );
        }
    }
    lines.push(format!(
        "Policy:     vault.protection = \"{}\"",
        s.protection
    ));
    if s.enrolled {
        lines.push(format!(
            "Slot:       the vault key is sealed to this TPM and the PIN{}",
            if s.pcrs.is_empty() {
                ", no PCRs bound".to_owned()
            } else {
                format!(", bound to PCRs {}", pcr_list(&s.pcrs))
            }
        ));
        if !s.changed_pcrs.is_empty() {
            lines.push(format!(
                "Changed:    PCRs {} differ from when the key was sealed: the TPM slot will not \
                 open; {}",
                pcr_list(&s.changed_pcrs),
                if s.pin_slot {
                    "the PIN slot opens the vault, then `tessera tpm enroll` seals it again"
                } else {
                    "restore the boot state, or a backup (`tessera backup restore`)"
                }
            ));
        }
        lines.push(format!(
            "PIN slot:   {}",
            if s.pin_slot {
                "kept beside it (the way back when the TPM cannot open the vault)"
            } else {
                "none: only this TPM opens the vault (keep a backup)"
            }
        ));
    } else {
        lines.push("Slot:       none (`tessera tpm enroll` adds one)".to_owned());
    }
    if !s.warning.is_empty() {
        lines.push(format!("Warning:    {}", s.warning));
    }
    lines.join("\n")
}

/// After an activation: when this machine has a TPM the PIN vault is not
/// sealed to, says how to seal it (policy `"pin"` leaves it to the user).
pub async fn offer(ch: Channel) {
    let Ok(s) = VaultClient::new(ch).tpm_status(TpmStatusRequest {}).await else {
        return;
    };
    let s = s.into_inner();
    if s.built && s.present && !s.enrolled && s.pin_slot && s.protection == "pin" {
        crate::out::errln!(
            "This machine has a TPM ({}): `tessera tpm enroll` binds the vault to it, so a \
             copy opens nowhere else and wrong PINs count against the TPM's lock-out.",
            s.manufacturer
        );
    }
}

pub async fn run(ch: Channel, mode: Mode, action: Action, pin_file: Option<PathBuf>) -> Result<()> {
    let mut vault = VaultClient::new(ch.clone());
    let s = match action {
        Action::Status => vault.tpm_status(TpmStatusRequest {}).await?.into_inner(),
        Action::Enroll | Action::Remove => {
            let purpose = if action == Action::Enroll {
                "sealing the vault key to the TPM"
            } else {
                "removing the TPM slot"
            };
            // A keyring vault has no PIN: the daemon says why it refuses.
            let pin = vault_pin(&ch, mode, pin_file.as_deref(), purpose)
                .await?
                .unwrap_or_default();
            let pin = pin.as_str().to_owned();
            if action == Action::Enroll {
                vault.enroll_tpm(EnrollTpmRequest { pin }).await?
            } else {
                vault.remove_tpm(RemoveTpmRequest { pin }).await?
            }
            .into_inner()
        }
    };
    if mode.json {
        outln!("{}", status_json(&s));
        return Ok(());
    }
    match action {
        Action::Enroll => outln!(
            "The vault key is sealed to this machine's TPM: a copy of the vault opens nowhere \
             else, and wrong PINs count against the TPM's lock-out."
        ),
        Action::Remove => outln!("The TPM slot is removed; the PIN alone opens the vault."),
        Action::Status => {}
    }
    outln!("{}", status_text(&s));
    Ok(())
}
