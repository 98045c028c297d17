//! `tessera biometrics enable|disable|status`, and the biometric part of
//! `tessera unlock` (a finger first, the PIN after the daemon says so).

use std::path::PathBuf;

use serde_json::json;
use tessera_proto::v1::{
    BiometricStatusRequest, BiometricStatusResponse, DisableBiometricsRequest,
    EnableBiometricsRequest, UnlockMethod, UnlockRequest, VaultStatus, VaultStatusRequest,
    vault_client::VaultClient,
};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::commands::Mode;
use crate::error::{CliError, Result};
use crate::out::{errln, outln};
use crate::prompt::{ask_pin, read_secret_file};

/// What `biometrics` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Enable,
    Disable,
    Status,
}

pub fn status_json(s: &BiometricStatusResponse) -> serde_json::Value {
    json!({
        "biometrics": {
            "allowed": s.allowed,
            "enabled": s.enabled,
            "available": s.available,
            "unavailable_reason": (!s.unavailable_reason.is_empty()).then_some(&s.unavailable_reason),
            "plugin": (!s.plugin.is_empty()).then_some(&s.plugin),
            "device": (!s.device.is_empty()).then_some(&s.device),
            "enrolled": s.enrolled,
            "failures": s.failures,
            "max_failures": s.max_failures,
        }
    })
}

pub fn status_text(s: &BiometricStatusResponse) -> String {
    let mut lines = vec![format!(
        "Biometrics: {}",
        match (s.enabled, s.allowed) {
            (true, _) => "on",
            (false, true) => "off",
            (false, false) => "off (not allowed by policy)",
        }
    )];
    if s.available {
        lines.push(format!(
            "Device:     {} ({} plugin), {} finger{} enrolled",
            s.device,
            s.plugin,
            s.enrolled,
            if s.enrolled == 1 { "" } else { "s" }
        ));
    } else {
        lines.push(format!("Available:  no: {}", s.unavailable_reason));
    }
    if s.enabled {
        lines.push(format!(
            "No-matches: {} in a row (the PIN is asked after {})",
            s.failures, s.max_failures
        ));
    }
    lines.join("\n")
}

/// The PIN for enable/disable: only when the vault is locked.
async fn pin_if_locked(
    vault: &mut VaultClient<Channel>,
    mode: Mode,
    pin_file: Option<&std::path::Path>,
) -> Result<Zeroizing<String>> {
    if let Some(f) = pin_file {
        return read_secret_file(f);
    }
    let locked = vault
        .status(VaultStatusRequest {})
        .await?
        .into_inner()
        .locked;
    if !locked {
        return Ok(Zeroizing::new(String::new()));
    }
    if mode.interactive {
        ask_pin("Vault PIN: ")
    } else {
        Err(CliError::missing_flag(
            "--pin-file FILE",
            "the vault is locked, so this needs the PIN",
        ))
    }
}

pub async fn run(ch: Channel, mode: Mode, action: Action, pin_file: Option<PathBuf>) -> Result<()> {
    let mut vault = VaultClient::new(ch);
    let s = match action {
        Action::Status => vault
            .biometric_status(BiometricStatusRequest {})
            .await?
            .into_inner(),
        Action::Enable => {
            let pin = pin_if_locked(&mut vault, mode, pin_file.as_deref()).await?;
            if !mode.json {
                errln!(
                    "Touch the fingerprint reader (a new finger is enrolled when none is; \
                     follow the reader's prompts)…"
                );
            }
            vault
                .enable_biometrics(EnableBiometricsRequest {
                    pin: pin.as_str().to_owned(),
                })
                .await?
                .into_inner()
        }
        Action::Disable => {
            let pin = pin_if_locked(&mut vault, mode, pin_file.as_deref()).await?;
            vault
                .disable_biometrics(DisableBiometricsRequest {
                    pin: pin.as_str().to_owned(),
                })
                .await?
                .into_inner()
        }
    };
    if mode.json {
        outln!("{}", status_json(&s));
    } else {
        match action {
            Action::Enable => {
                outln!("Biometrics are on: `tessera unlock` asks for a finger first.")
            }
            Action::Disable => {
                outln!("Biometrics are off; the key was removed from the login keyring.")
            }
            Action::Status => {}
        }
        outln!("{}", status_text(&s));
    }
    Ok(())
}

/// `tessera unlock` with biometrics enabled: asks for a finger until it
/// matches, or the daemon says to use the PIN (too many no-matches, no
/// device, no keyring). `Ok(None)`: use the PIN.
pub async fn try_unlock(
    vault: &mut VaultClient<Channel>,
    mode: Mode,
) -> Result<Option<VaultStatus>> {
    let status = match vault.biometric_status(BiometricStatusRequest {}).await {
        Ok(s) => s.into_inner(),
        // An older tesserad without biometrics.
        Err(e) if e.code() == tonic::Code::Unimplemented => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !status.enabled {
        return Ok(None);
    }
    loop {
        if !mode.json {
            errln!(
                "Touch the fingerprint reader{}… (or use `tessera unlock --pin`)",
                if status.device.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", status.device)
                }
            );
        }
        let answer = vault
            .unlock(UnlockRequest {
                pin: String::new(),
                method: UnlockMethod::Biometric.into(),
            })
            .await;
        match answer {
            Ok(s) => return Ok(Some(s.into_inner())),
            Err(status) => {
                let e = CliError::from_status(&status);
                match e.code.as_str() {
                    // No match: try again (the daemon counts).
                    "ERROR_CODE_NO_MATCH" => errln!("{}", e.message),
                    // Biometrics cannot be used now: the PIN.
                    "ERROR_CODE_BIOMETRICS_UNAVAILABLE" => {
                        errln!("{}", e.message);
                        return Ok(None);
                    }
                    _ => return Err(e),
                }
            }
        }
    }
}
