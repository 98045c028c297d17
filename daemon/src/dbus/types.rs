//! The service layer's results as D-Bus dictionaries (`a{sv}`), with the
//! field names of the gRPC messages, and D-Bus arguments into service
//! inputs. Clients may use these types too (the tests do).

use std::collections::HashMap;

use tessera_core::SecretString;
use tessera_core::otp::{Encoding, OtpKind};
use zbus::zvariant::{DeserializeDict, OwnedValue, SerializeDict, Type, Value};

use super::errors;
use crate::account::{AccountInfo, AccountKind};
use crate::activation::{Event, Source, State};
use crate::error::{ServiceError, ServiceResult};
use crate::service::accounts::display_code;
use crate::service::approvals::Approval;
use crate::service::scanning::CodeFields;
use crate::service::{
    ActivationView, CodeInfo, DecodedCode, Protection, ScanSource, SourceInfo, VaultStatus,
};

/// An account (no secret ever leaves the daemon).
#[derive(
    Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type, Value, OwnedValue,
)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct Account {
    pub id: String,
    pub label: String,
    pub issuer: String,
    /// "tessera", "totp" or "hotp".
    pub kind: String,
    pub otp_type: String,
    pub algorithm: String,
    pub digits: u32,
    pub period: u32,
    pub counter: u64,
    pub created_unix: i64,
    pub serial: String,
    pub user_id: String,
    pub ocra_suite: String,
    pub issuer_verified: bool,
    pub notifications: bool,
    pub extra: HashMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct Code {
    pub code: String,
    /// The code grouped for people (`123 456`).
    pub display: String,
    pub valid_from_unix: i64,
    pub valid_until_unix: i64,
    pub counter: u64,
    pub account: Account,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct Status {
    pub exists: bool,
    pub locked: bool,
    /// "none", "pin" or "keyring".
    pub protection: String,
    pub failed_attempts: u32,
    pub retry_after_seconds: u64,
    pub account_count: u32,
    pub auto_lock_minutes: u32,
}

#[derive(
    Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type, Value, OwnedValue,
)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct View {
    pub id: String,
    pub revision: u64,
    /// The state's name: home, scanning, device_code, choose_pin, …
    pub state: String,
    /// device_code / finalize_code: the code, and grouped for display.
    pub code: String,
    pub grouped: String,
    /// choose_pin / enter_pin / choose_method: why it is asked again.
    pub reason: String,
    pub min_length: u32,
    pub biometric_available: bool,
    /// biometric_enroll: progress.
    pub stage: u32,
    pub stages: u32,
    pub message: String,
    /// failed: the error's D-Bus name and message.
    pub error_name: String,
    pub error_message: String,
    /// cancel_confirm: the state `back` returns to.
    pub previous: String,
    pub accounts: Vec<Account>,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct ApprovalResult {
    pub approved: bool,
    /// "approved", "denied", "dismissed", "timed-out" or "not-verified".
    pub answer: String,
    /// The OCRA response (only when approved).
    pub response: String,
    pub suite: String,
    pub question: String,
    pub account: Account,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct BiometricStatus {
    pub allowed: bool,
    pub enabled: bool,
    pub available: bool,
    pub unavailable_reason: String,
    pub plugin: String,
    pub device: String,
    pub enrolled: u32,
    pub failures: u32,
    pub max_failures: u32,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct TpmStatus {
    pub built: bool,
    pub tcti: String,
    pub present: bool,
    pub unavailable_reason: String,
    pub manufacturer: String,
    pub failed_tries: u32,
    pub max_tries: u32,
    pub recovery_seconds: u32,
    pub in_lockout: bool,
    pub owner_password: bool,
    pub enrolled: bool,
    pub pcrs: Vec<u32>,
    pub changed_pcrs: Vec<u32>,
    pub pin_slot: bool,
    pub warning: String,
    pub protection: String,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct ScanSourceInfo {
    pub source: String,
    pub available: bool,
    pub plugin: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct Plugin {
    pub name: String,
    /// "scanner", "biometric" or "" (not loaded).
    pub kind: String,
    pub version: String,
    pub path: String,
    /// "loaded" or "failed".
    pub status: String,
    pub reason: String,
    /// Scanners: "image" or "capture".
    pub input: String,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct DecodedAccount {
    pub label: String,
    pub issuer: String,
    pub otp: String,
    pub counter: u64,
}

#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct Decoded {
    /// Only when `raw` was asked for.
    pub text: String,
    pub kind: String,
    pub error: String,
    pub serial: String,
    pub label: String,
    pub issuer: String,
    pub user_id: String,
    pub otp: String,
    pub counter: u64,
    pub signed: bool,
    pub issuer_verified: bool,
    pub extra: HashMap<String, String>,
    pub accounts: Vec<DecodedAccount>,
    pub batch_index: u32,
    pub batch_size: u32,
}

pub fn account(a: &AccountInfo) -> Account {
    let (kind, serial, user_id, issuer_verified) = match &a.kind {
        AccountKind::Tessera {
            serial,
            user_id,
            issuer_verified,
            ..
        } => (
            "tessera",
            serial.to_string(),
            user_id.clone().unwrap_or_default(),
            *issuer_verified,
        ),
        AccountKind::OtpAuth => match a.params.kind() {
            OtpKind::Totp { .. } if a.params.encoding() == Encoding::Steam => {
                ("steam", String::new(), String::new(), false)
            }
            OtpKind::Totp { .. } if a.params.encoding() == Encoding::Motp => {
                ("motp", String::new(), String::new(), false)
            }
            OtpKind::Totp { .. } if a.params.encoding() == Encoding::Yandex => {
                ("yandex", String::new(), String::new(), false)
            }
            OtpKind::Totp { .. } => ("totp", String::new(), String::new(), false),
            OtpKind::Hotp { .. } => ("hotp", String::new(), String::new(), false),
        },
    };
    let (otp_type, period, counter) = match a.params.kind() {
        OtpKind::Totp { period } => ("totp", period, 0),
        OtpKind::Hotp { counter } => ("hotp", 0, counter),
    };
    Account {
        id: a.id.to_string(),
        label: a.label.clone(),
        issuer: a.issuer.clone().unwrap_or_default(),
        kind: kind.into(),
        otp_type: otp_type.into(),
        algorithm: a.params.algorithm().name().into(),
        digits: a.params.digits(),
        period,
        counter,
        created_unix: a.created_unix,
        serial,
        user_id,
        ocra_suite: a.ocra_suite.clone(),
        issuer_verified,
        notifications: a.notifications,
        extra: a.extra.iter().cloned().collect(),
    }
}

pub fn code(c: &CodeInfo) -> Code {
    Code {
        code: c.code.clone(),
        display: c.display.clone(),
        valid_from_unix: c.valid_from.unwrap_or(0) as i64,
        valid_until_unix: c.valid_until.unwrap_or(0) as i64,
        counter: c.counter.unwrap_or(0),
        account: account(&c.account),
    }
}

pub fn status(s: &VaultStatus) -> Status {
    Status {
        exists: s.exists,
        locked: s.locked,
        protection: match s.protection {
            None => "none",
            Some(Protection::Pin) => "pin",
            Some(Protection::Keyring) => "keyring",
        }
        .into(),
        failed_attempts: s.failed_attempts,
        retry_after_seconds: s.retry_after.as_secs() + u64::from(s.retry_after.subsec_nanos() > 0),
        account_count: s.account_count.unwrap_or(0) as u32,
        auto_lock_minutes: s.auto_lock_minutes,
    }
}

fn state_into(view: &mut View, s: &State, v: &ActivationView) {
    match s {
        State::DeviceCode => {
            let code = v.device_code.map(|d| d.to_string()).unwrap_or_default();
            view.grouped = display_code(&code);
            view.code = code;
        }
        State::FinalizeCode => {
            let code = v
                .finalize_code
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default();
            view.grouped = display_code(&code);
            view.code = code;
        }
        State::ChoosePin { reason } | State::EnterPin { reason } => {
            view.reason = reason.clone().unwrap_or_default();
        }
        State::ChooseMethod { reason } => {
            view.reason = reason.clone().unwrap_or_else(|| {
                if v.biometric_available {
                    String::new()
                } else {
                    "no biometric device is available".into()
                }
            });
        }
        State::BiometricEnroll {
            stage,
            stages,
            message,
        } => {
            view.stage = *stage;
            view.stages = *stages;
            view.message = message.clone();
        }
        State::Failed { error } => {
            view.error_name = errors::name(error.code);
            view.error_message = error.message.clone();
        }
        State::CancelConfirm { previous } => {
            view.previous = previous.name().into();
            state_into(view, previous, v);
        }
        _ => {}
    }
}

pub fn view(v: &ActivationView) -> View {
    let mut view = View {
        id: v.id.clone(),
        revision: v.revision,
        state: v.state.name().into(),
        min_length: v.pin_min_length,
        biometric_available: v.biometric_available,
        accounts: v.accounts.iter().map(account).collect(),
        ..View::default()
    };
    state_into(&mut view, &v.state, v);
    view
}

/// What importing a file stores (Backup.Import's answer).
#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct ImportResult {
    pub format: String,
    pub added: Vec<Account>,
    pub duplicates: Vec<Account>,
    /// `(name, reason)` of each entry not imported.
    pub skipped: Vec<(String, String)>,
    pub applied: bool,
}

pub fn import_result(p: &crate::service::import_ops::ImportPlan) -> ImportResult {
    ImportResult {
        format: p.format.to_owned(),
        added: p.added.iter().map(account).collect(),
        duplicates: p.duplicates.iter().map(account).collect(),
        skipped: p
            .skipped
            .iter()
            .map(|s| (s.name.clone(), s.reason.clone()))
            .collect(),
        applied: p.applied,
    }
}

/// What restoring a backup changes (Backup.Restore's answer).
#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct RestoreResult {
    pub in_backup: u32,
    pub added: Vec<Account>,
    pub removed: Vec<Account>,
    pub changed: Vec<Account>,
    pub unchanged: u32,
    pub applied: bool,
}

pub fn restore_result(p: &crate::service::backup_ops::RestorePlan) -> RestoreResult {
    let list = |l: &[AccountInfo]| l.iter().map(account).collect();
    RestoreResult {
        in_backup: p.in_backup as u32,
        added: list(&p.added),
        removed: list(&p.removed),
        changed: list(&p.changed),
        unchanged: p.unchanged as u32,
        applied: p.applied,
    }
}

/// `merge` or `replace`, as RestoreBackup takes them.
pub fn restore_mode(mode: &str) -> ServiceResult<crate::service::backup_ops::RestoreMode> {
    use crate::service::backup_ops::RestoreMode;
    match mode {
        "merge" => Ok(RestoreMode::Merge),
        "replace" => Ok(RestoreMode::Replace),
        other => Err(ServiceError::invalid_argument(format!(
            "mode {:?}: say \"merge\" (add what the vault lacks) or \"replace\" (the \
             vault's accounts become the backup's)",
            crate::error::truncate_for_echo(other)
        ))),
    }
}

/// What an export carried (Backup.Export's answer, beside the file).
#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct ExportResult {
    pub exported: Vec<Account>,
    /// `(name, reason)` of each account the file does not carry.
    pub left_out: Vec<(String, String)>,
}

/// A signing as clients see it (Signing's SigningView).
#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct SigningView {
    pub id: String,
    /// "review", "signed", "declined" or "expired".
    pub state: String,
    pub account: Account,
    pub serial: String,
    /// `(amount with currency, payee, account, reference)` of each payment.
    pub payments: Vec<(String, String, String, String)>,
    pub total: String,
    pub expires_unix: i64,
    /// The 8-digit response; empty until signed.
    pub response: String,
}

pub fn signing(v: &crate::service::signing::SigningView) -> SigningView {
    SigningView {
        id: v.id.clone(),
        state: v.state.to_owned(),
        account: account(&v.account),
        serial: v.serial.clone(),
        payments: v
            .payments
            .iter()
            .map(|p| {
                (
                    p.amount.clone(),
                    p.payee.clone(),
                    p.account.clone(),
                    p.reference.clone(),
                )
            })
            .collect(),
        total: v.total.clone(),
        expires_unix: i64::try_from(v.expires_unix).unwrap_or(i64::MAX),
        response: v.response.clone().unwrap_or_default(),
    }
}

/// Where a signing request comes from: the activation sources' keys, the
/// request's text under `payload`; no manual entry.
pub fn signing_source(
    dict: &HashMap<String, OwnedValue>,
) -> ServiceResult<crate::service::signing::SigningSource> {
    use crate::service::signing::SigningSource;
    match source(dict)? {
        Source::Text(text) => Ok(SigningSource::Text(text)),
        Source::Image(bytes) => Ok(SigningSource::Scan(ScanSource::Image(bytes))),
        Source::Camera { device } => Ok(SigningSource::Scan(ScanSource::Camera { device })),
        Source::Screen => Ok(SigningSource::Scan(ScanSource::Screen)),
        Source::Manual { .. } => Err(ServiceError::invalid_argument(
            "a signing request is scanned or pasted (image, camera, screen or payload), \
             not typed as a serial and code",
        )),
    }
}

pub fn export_result(e: &crate::service::export_ops::Export) -> ExportResult {
    ExportResult {
        exported: e.exported.iter().map(account).collect(),
        left_out: e
            .left_out
            .iter()
            .map(|s| (s.name.clone(), s.reason.clone()))
            .collect(),
    }
}

pub fn approval(a: &Approval) -> ApprovalResult {
    ApprovalResult {
        approved: a.response.is_some(),
        answer: a.answer.name().into(),
        response: a.response.clone().unwrap_or_default(),
        suite: a.suite.clone(),
        question: a.question.clone(),
        account: account(&a.account),
    }
}

pub fn biometric_status(s: &crate::service::BiometricStatus) -> BiometricStatus {
    BiometricStatus {
        allowed: s.allowed,
        enabled: s.enabled,
        available: s.available,
        unavailable_reason: s.reason.clone().unwrap_or_default(),
        plugin: s.plugin.clone().unwrap_or_default(),
        device: s.device.clone().unwrap_or_default(),
        enrolled: s.enrolled,
        failures: s.failures,
        max_failures: s.max_failures,
    }
}

pub fn tpm_status(s: crate::service::TpmStatus) -> TpmStatus {
    TpmStatus {
        built: s.built,
        tcti: s.tcti,
        present: s.present,
        unavailable_reason: s.unavailable_reason.unwrap_or_default(),
        manufacturer: s.manufacturer,
        failed_tries: s.failed_tries,
        max_tries: s.max_tries,
        recovery_seconds: s.recovery_seconds,
        in_lockout: s.in_lockout,
        owner_password: s.owner_password,
        enrolled: s.enrolled,
        pcrs: s.pcrs,
        changed_pcrs: s.changed_pcrs,
        pin_slot: s.pin_slot,
        warning: s.warning.unwrap_or_default(),
        protection: s.protection,
    }
}

/// An unlock method by name: "auto", "pin" or "biometric".
pub fn unlock_method(name: &str) -> ServiceResult<crate::service::UnlockMethod> {
    use crate::service::UnlockMethod;
    match name {
        "auto" => Ok(UnlockMethod::Auto),
        "pin" => Ok(UnlockMethod::Pin),
        "biometric" => Ok(UnlockMethod::Biometric),
        other => Err(ServiceError::invalid_argument(format!(
            "unknown unlock method {other:?}; methods are auto, pin and biometric"
        ))),
    }
}

/// An optional PIN: empty means none.
pub fn optional_pin(pin: String) -> Option<SecretString> {
    Some(SecretString::new(pin)).filter(|p| !p.expose().is_empty())
}

pub fn source_info(s: &SourceInfo) -> ScanSourceInfo {
    ScanSourceInfo {
        source: s.source.into(),
        available: s.available,
        plugin: s.plugin.clone(),
        reason: s.reason.clone().unwrap_or_default(),
    }
}

/// One effective setting (`tessera config show`).
#[derive(
    Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type, Value, OwnedValue,
)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct ConfigEntry {
    /// `section.key`.
    pub key: String,
    /// The value as TOML text; empty when unset (`is_set` false).
    pub value: String,
    pub is_set: bool,
    /// "default", "vendor", "admin" or "user".
    pub layer: String,
    /// The file and line it came from; empty and 0 for a built-in default.
    pub file: String,
    pub line: u32,
    /// `file:line` of the lock, when an administrator locked the key.
    pub locked_by: String,
    pub restart_required: bool,
    /// A restart-only key changed since start: the value still in force.
    pub restart_pending: bool,
    pub running_value: String,
}

/// The settings in force and what is not in order (`Config.Show`).
#[derive(Clone, Debug, Default, PartialEq, SerializeDict, DeserializeDict, Type)]
#[zvariant(signature = "a{sv}", crate = "zbus::zvariant")]
pub struct ConfigReport {
    pub entries: Vec<ConfigEntry>,
    /// The files read, in order, as "layer:path".
    pub files: Vec<String>,
    pub warnings: Vec<String>,
    /// Accounts or vault settings that the policy in force refuses.
    pub noncompliant: Vec<String>,
    pub accounts_checked: bool,
}

pub fn config_report(r: crate::service::config_ops::ConfigReport) -> ConfigReport {
    ConfigReport {
        entries: r
            .entries
            .into_iter()
            .map(|e| ConfigEntry {
                key: e.key,
                is_set: e.value.is_some(),
                value: e.value.unwrap_or_default(),
                layer: e.layer.name().to_owned(),
                file: e.file.unwrap_or_default(),
                line: u32::try_from(e.line).unwrap_or(u32::MAX),
                locked_by: e.locked_by.unwrap_or_default(),
                restart_required: e.restart_required,
                restart_pending: e.running.is_some(),
                running_value: e.running.flatten().unwrap_or_default(),
            })
            .collect(),
        files: r
            .files
            .into_iter()
            .map(|(layer, path)| format!("{}:{path}", layer.name()))
            .collect(),
        warnings: r.warnings,
        noncompliant: r.compliance.problems,
        accounts_checked: r.compliance.accounts_checked,
    }
}

pub fn plugin(p: &tessera_plugin_host::PluginInfo) -> Plugin {
    use tessera_plugin_host::{PluginKind, PluginStatus, ScannerInput};
    let (status, reason) = match &p.status {
        PluginStatus::Loaded => ("loaded", String::new()),
        PluginStatus::Failed(reason) => ("failed", reason.clone()),
    };
    Plugin {
        name: p.name.clone(),
        kind: match p.kind {
            None => "",
            Some(PluginKind::Scanner) => "scanner",
            Some(PluginKind::Biometric) => "biometric",
        }
        .into(),
        version: p.version.clone().unwrap_or_default(),
        path: p.path.to_string_lossy().into_owned(),
        status: status.into(),
        reason,
        input: match p.input {
            None => "",
            Some(ScannerInput::Image) => "image",
            Some(ScannerInput::Capture) => "capture",
        }
        .into(),
    }
}

fn decoded_account(f: &CodeFields) -> DecodedAccount {
    DecodedAccount {
        label: f.label.clone().unwrap_or_default(),
        issuer: f.issuer.clone().unwrap_or_default(),
        otp: f.otp.clone().unwrap_or_default(),
        counter: f.counter.unwrap_or(0),
    }
}

/// A decoded code; its text only when `raw` was asked for.
pub fn decoded(d: &DecodedCode, raw: bool) -> Decoded {
    let f = &d.fields;
    let (batch_index, batch_size) = f.batch.unwrap_or((0, 0));
    Decoded {
        text: if raw {
            d.text.expose().to_owned()
        } else {
            String::new()
        },
        kind: d.kind.into(),
        error: d.error.clone().unwrap_or_default(),
        serial: f.serial.clone().unwrap_or_default(),
        label: f.label.clone().unwrap_or_default(),
        issuer: f.issuer.clone().unwrap_or_default(),
        user_id: f.user_id.clone().unwrap_or_default(),
        otp: f.otp.clone().unwrap_or_default(),
        counter: f.counter.unwrap_or(0),
        signed: f.signed,
        issuer_verified: f.issuer_verified,
        extra: f.extra.clone().into_iter().collect(),
        accounts: f.accounts.iter().map(decoded_account).collect(),
        batch_index,
        batch_size,
    }
}

/// The keys a source dictionary may hold.
const SOURCE_KEYS: &str = "payload (s), image (ay), camera (i: the camera's number, -1 for \
                           the first that opens), screen (b), or serial and activation_code (s)";

fn value<T>(key: &str, v: &OwnedValue, want: &str) -> ServiceResult<T>
where
    T: TryFrom<OwnedValue>,
{
    T::try_from(
        v.try_clone()
            .map_err(|e| ServiceError::internal(e.to_string()))?,
    )
    .map_err(|_| {
        ServiceError::invalid_argument(format!(
            "source key {key:?} must be {want}, not {}",
            v.value_signature()
        ))
    })
}

/// An activation source from a dictionary with one key (see [`SOURCE_KEYS`]).
pub fn source(dict: &HashMap<String, OwnedValue>) -> ServiceResult<Source> {
    let mut keys: Vec<_> = dict.keys().map(String::as_str).collect();
    keys.sort_unstable();
    match keys.as_slice() {
        ["payload"] => Ok(Source::Text(value(
            "payload",
            &dict["payload"],
            "a string (s)",
        )?)),
        ["image"] => Ok(Source::Image(value("image", &dict["image"], "bytes (ay)")?)),
        ["camera"] => {
            let n: i32 = value("camera", &dict["camera"], "an int32 (i)")?;
            Ok(Source::Camera {
                device: u32::try_from(n).ok(),
            })
        }
        ["screen"] => Ok(Source::Screen),
        ["activation_code", "serial"] => Ok(Source::Manual {
            serial: value("serial", &dict["serial"], "a string (s)")?,
            code: SecretString::new(value::<String>(
                "activation_code",
                &dict["activation_code"],
                "a string (s)",
            )?),
        }),
        [] => Err(ServiceError::invalid_argument(format!(
            "the source is empty; give one of {SOURCE_KEYS}"
        ))),
        other => Err(ServiceError::invalid_argument(format!(
            "the source has the keys {other:?}; give one of {SOURCE_KEYS}"
        ))),
    }
}

/// A scanner source (no text or manual entry).
pub fn scan_source(dict: &HashMap<String, OwnedValue>) -> ServiceResult<ScanSource> {
    match source(dict)? {
        Source::Image(bytes) => Ok(ScanSource::Image(bytes)),
        Source::Camera { device } => Ok(ScanSource::Camera { device }),
        Source::Screen => Ok(ScanSource::Screen),
        Source::Text(_) | Source::Manual { .. } => Err(ServiceError::invalid_argument(
            "Scan takes image (ay), camera (i) or screen (b); payload texts are activated, \
             not scanned",
        )),
    }
}

/// The events clients send, by name; `argument` is the PIN for `pin` and
/// the payload text for `payload` (a new scan from `home`).
pub const EVENTS: &str = "continue, pin, biometric, pin_only, allow, deny, cancel, \
                          confirm_cancel, back, start_over, payload";

pub fn event(name: &str, argument: String) -> ServiceResult<Event> {
    Ok(match name {
        "continue" => Event::Continue,
        "pin" => Event::Pin(SecretString::new(argument)),
        "biometric" => Event::Biometric,
        "pin_only" => Event::PinOnly,
        "allow" => Event::Allow,
        "deny" => Event::Deny,
        "cancel" => Event::Cancel,
        "confirm_cancel" => Event::ConfirmCancel,
        "back" => Event::Back,
        "start_over" => Event::StartOver,
        "payload" => Event::Scan(Source::Text(argument)),
        other => {
            return Err(ServiceError::invalid_argument(format!(
                "unknown event {other:?}; events are {EVENTS}"
            )));
        }
    })
}
