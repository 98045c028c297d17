//! Translation between the service layer's types and the gRPC messages.

use tessera_core::SecretString;
use tessera_core::otp::{Encoding, OtpKind};
use tessera_proto::v1 as pb;
use tonic::Status;
use tonic::metadata::MetadataValue;

use crate::account::{AccountInfo, AccountKind};
use crate::activation::{Event, Source, State};
use crate::error::{ErrorCode, ServiceError};
use crate::service::backup_ops::{BackupInfo, RestoreMode, RestorePlan};
use crate::service::export_ops::Export;
use crate::service::import_ops::{ImportPlan, SkippedEntry};
use crate::service::preview::PreviewView;
use crate::service::scanning::CodeFields;
use crate::service::signing::{Confirmation, SigningSource, SigningView};
use crate::service::{
    ActivationView, CodeInfo, DecodedCode, Protection, ScanSource, SourceInfo, VaultStatus,
};

/// A service error as a gRPC status: a status code, the message, and the
/// typed code in the `tessera-error` metadata.
pub fn status(e: ServiceError) -> Status {
    let (code, pb_code) = codes(e.code);
    let mut status = Status::new(code, e.message);
    status.metadata_mut().insert(
        pb::ERROR_CODE_METADATA,
        MetadataValue::from_static(pb_code.as_str_name()),
    );
    status
}

/// The gRPC status code and the typed code of an error.
fn codes(code: ErrorCode) -> (tonic::Code, pb::ErrorCode) {
    use tonic::Code;
    match code {
        ErrorCode::InvalidArgument => (Code::InvalidArgument, pb::ErrorCode::InvalidArgument),
        ErrorCode::InvalidPayload => (Code::InvalidArgument, pb::ErrorCode::InvalidPayload),
        ErrorCode::InvalidImage => (Code::InvalidArgument, pb::ErrorCode::InvalidImage),
        ErrorCode::NotFound => (Code::NotFound, pb::ErrorCode::NotFound),
        ErrorCode::VaultLocked => (Code::FailedPrecondition, pb::ErrorCode::VaultLocked),
        ErrorCode::NoVault => (Code::FailedPrecondition, pb::ErrorCode::NoVault),
        ErrorCode::WrongPin => (Code::Unauthenticated, pb::ErrorCode::WrongPin),
        ErrorCode::PinDelayed => (Code::ResourceExhausted, pb::ErrorCode::PinDelayed),
        ErrorCode::PinPolicy => (Code::InvalidArgument, pb::ErrorCode::PinPolicy),
        ErrorCode::InvalidEvent => (Code::FailedPrecondition, pb::ErrorCode::InvalidEvent),
        ErrorCode::ActivationEnded => (Code::FailedPrecondition, pb::ErrorCode::ActivationEnded),
        ErrorCode::AlreadyExists => (Code::AlreadyExists, pb::ErrorCode::AlreadyExists),
        ErrorCode::PermissionDenied => (Code::PermissionDenied, pb::ErrorCode::PermissionDenied),
        ErrorCode::Unsupported => (Code::Unimplemented, pb::ErrorCode::Unsupported),
        ErrorCode::Internal => (Code::Internal, pb::ErrorCode::Internal),
        ErrorCode::PluginFailed => (Code::Internal, pb::ErrorCode::PluginFailed),
        ErrorCode::Policy => (Code::PermissionDenied, pb::ErrorCode::Policy),
        ErrorCode::NoMatch => (Code::Unauthenticated, pb::ErrorCode::NoMatch),
        ErrorCode::BiometricsUnavailable => (
            Code::FailedPrecondition,
            pb::ErrorCode::BiometricsUnavailable,
        ),
        ErrorCode::Ambiguous => (Code::InvalidArgument, pb::ErrorCode::Ambiguous),
        ErrorCode::Busy => (Code::ResourceExhausted, pb::ErrorCode::Busy),
        ErrorCode::WrongPassword => (Code::Unauthenticated, pb::ErrorCode::WrongPassword),
        ErrorCode::VaultUnusable => (Code::FailedPrecondition, pb::ErrorCode::VaultUnusable),
        ErrorCode::Expired => (Code::FailedPrecondition, pb::ErrorCode::Expired),
        ErrorCode::Tpm => (Code::FailedPrecondition, pb::ErrorCode::Tpm),
    }
}

fn missing(field: &str) -> Status {
    status(ServiceError::invalid_argument(format!(
        "{field} is required"
    )))
}

pub fn account(a: &AccountInfo) -> pb::Account {
    let (kind, serial, user_id) = match &a.kind {
        AccountKind::Tessera {
            serial, user_id, ..
        } => (
            pb::AccountKind::Tessera,
            serial.to_string(),
            user_id.clone().unwrap_or_default(),
        ),
        AccountKind::OtpAuth => match a.params.kind() {
            OtpKind::Totp { .. } if a.params.encoding() == Encoding::Steam => {
                (pb::AccountKind::Steam, String::new(), String::new())
            }
            OtpKind::Totp { .. } if a.params.encoding() == Encoding::Motp => {
                (pb::AccountKind::Motp, String::new(), String::new())
            }
            OtpKind::Totp { .. } if a.params.encoding() == Encoding::Yandex => {
                (pb::AccountKind::Yandex, String::new(), String::new())
            }
            OtpKind::Totp { .. } => (pb::AccountKind::Totp, String::new(), String::new()),
            OtpKind::Hotp { .. } => (pb::AccountKind::Hotp, String::new(), String::new()),
        },
    };
    let (otp_type, period, counter) = match a.params.kind() {
        OtpKind::Totp { period } => ("totp", period, 0),
        OtpKind::Hotp { counter } => ("hotp", 0, counter),
    };
    pb::Account {
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
        extra: a.extra.iter().cloned().collect(),
        ocra_suite: a.ocra_suite.clone(),
        notifications: a.notifications,
    }
}

pub fn approval(a: &crate::service::approvals::Approval) -> pb::RequestApprovalResponse {
    pb::RequestApprovalResponse {
        approved: a.response.is_some(),
        answer: a.answer.name().into(),
        response: a.response.clone().unwrap_or_default(),
        suite: a.suite.clone(),
        question: a.question.clone(),
        account: Some(account(&a.account)),
    }
}

fn pending(a: &AccountInfo) -> pb::PendingAccount {
    let full = account(a);
    pb::PendingAccount {
        label: full.label,
        issuer: full.issuer,
        kind: full.kind,
        serial: full.serial,
        user_id: full.user_id,
        issuer_verified: matches!(
            a.kind,
            AccountKind::Tessera {
                issuer_verified: true,
                ..
            }
        ),
        extra: full.extra,
    }
}

pub fn code(c: CodeInfo) -> pb::CodeResponse {
    pb::CodeResponse {
        code: c.code,
        display: c.display,
        valid_from_unix: c.valid_from.unwrap_or(0) as i64,
        valid_until_unix: c.valid_until.unwrap_or(0) as i64,
        counter: c.counter.unwrap_or(0),
        account: Some(account(&c.account)),
    }
}

pub fn vault_status(s: VaultStatus) -> pb::VaultStatus {
    let protection = match s.protection {
        None => pb::Protection::None,
        Some(Protection::Pin) => pb::Protection::Pin,
        Some(Protection::Keyring) => pb::Protection::Keyring,
    };
    pb::VaultStatus {
        exists: s.exists,
        locked: s.locked,
        protection: protection.into(),
        failed_attempts: s.failed_attempts,
        retry_after_seconds: s.retry_after.as_secs() + u64::from(s.retry_after.subsec_nanos() > 0),
        account_count: s.account_count.unwrap_or(0) as u32,
        auto_lock_minutes: s.auto_lock_minutes,
        pin_counter_warning: s.pin_counter_warning.unwrap_or_default(),
        already_unlocked: s.already_unlocked,
        tpm_slot: s.tpm_slot,
        tpm_warning: s.tpm_warning.unwrap_or_default(),
        // Filled by the Status handler.
        log_destination: String::new(),
        settings_warnings: Vec::new(),
    }
}

fn shown(code: Option<String>) -> pb::CodeShown {
    let code = code.unwrap_or_default();
    pb::CodeShown {
        grouped: crate::service::accounts::display_code(&code),
        code,
        valid_until_unix: 0,
    }
}

fn state(s: &State, view: &ActivationView) -> pb::ActivationState {
    use pb::activation_state::Kind;
    let empty = pb::Empty {};
    let prompt = |reason: &Option<String>| pb::PinPrompt {
        reason: reason.clone().unwrap_or_default(),
        min_length: view.pin_min_length,
        digits_only: view.pin_digits_only,
    };
    let kind = match s {
        State::Home => Kind::Home(empty),
        State::Scanning => Kind::Scanning(empty),
        State::DeviceCode => Kind::DeviceCode(shown(view.device_code.map(|d| d.to_string()))),
        State::ChoosePin { reason } => Kind::ChoosePin(prompt(reason)),
        State::ConfirmPin => Kind::ConfirmPin(prompt(&None)),
        State::EnterPin { reason } => Kind::EnterPin(prompt(reason)),
        State::ChooseMethod { reason } => Kind::ChooseMethod(pb::MethodChoice {
            biometric_available: view.biometric_available,
            biometric_unavailable_reason: reason.clone().unwrap_or_else(|| {
                if view.biometric_available {
                    String::new()
                } else {
                    view.biometric_unavailable_reason
                        .clone()
                        .unwrap_or_else(|| "no biometric device is available".into())
                }
            }),
        }),
        State::BiometricPermission => Kind::BiometricPermission(empty),
        State::BiometricEnroll {
            stage,
            stages,
            message,
        } => Kind::BiometricEnroll(pb::EnrollProgress {
            stage: *stage,
            stages: *stages,
            message: message.clone(),
        }),
        State::FinalizeCode => {
            let code = view.finalize_code.as_ref().map(|c| c.to_string());
            Kind::FinalizeCode(pb::CodeShown {
                valid_until_unix: view.finalize_valid_until.map_or(0, |t| t as i64),
                ..shown(code)
            })
        }
        State::NotificationPermission => Kind::NotificationPermission(empty),
        State::Activated => Kind::Activated(pb::Activated {
            accounts: view.accounts.iter().map(account).collect(),
        }),
        State::CancelConfirm { previous } => Kind::CancelConfirm(Box::new(pb::CancelConfirm {
            previous: Some(Box::new(state(previous, view))),
        })),
        State::Failed { error } => Kind::Failed(pb::Failed {
            error: Some(pb::ErrorCodeMessage {
                code: codes(error.code).1.as_str_name().into(),
                message: error.message.clone(),
            }),
        }),
    };
    pb::ActivationState { kind: Some(kind) }
}

/// The backup folder and its copies.
pub fn backups(folder: &std::path::Path, list: &[BackupInfo]) -> pb::ListBackupsResponse {
    pb::ListBackupsResponse {
        folder: folder.display().to_string(),
        backups: list
            .iter()
            .map(|b| pb::BackupFile {
                path: b.path.display().to_string(),
                bytes: b.bytes,
                modified_unix: b.modified_unix,
            })
            .collect(),
    }
}

pub fn restore_mode(mode: i32) -> Result<RestoreMode, Status> {
    match pb::RestoreMode::try_from(mode) {
        Ok(pb::RestoreMode::Merge) => Ok(RestoreMode::Merge),
        Ok(pb::RestoreMode::Replace) => Ok(RestoreMode::Replace),
        _ => Err(status(ServiceError::invalid_argument(
            "mode: say RESTORE_MODE_MERGE (add what the vault lacks) or RESTORE_MODE_REPLACE \
             (the vault's accounts become the backup's)",
        ))),
    }
}

pub fn restore_plan(p: &RestorePlan) -> pb::RestoreBackupResponse {
    let list = |l: &[AccountInfo]| l.iter().map(pending).collect();
    pb::RestoreBackupResponse {
        in_backup: p.in_backup as u32,
        added: list(&p.added),
        removed: list(&p.removed),
        changed: list(&p.changed),
        unchanged: p.unchanged as u32,
        applied: p.applied,
    }
}

pub fn import_plan(p: &ImportPlan) -> pb::ImportResponse {
    pb::ImportResponse {
        format: p.format.to_owned(),
        added: p.added.iter().map(pending).collect(),
        duplicates: p.duplicates.iter().map(pending).collect(),
        skipped: p.skipped.iter().map(skipped).collect(),
        applied: p.applied,
    }
}

fn skipped(s: &SkippedEntry) -> pb::SkippedEntry {
    pb::SkippedEntry {
        name: s.name.clone(),
        reason: s.reason.clone(),
    }
}

/// The file leaves the wiped buffer here: prost's message owns a plain
/// `Vec`, which tonic encodes and drops.
pub fn export(e: Export) -> pb::ExportResponse {
    pb::ExportResponse {
        file: e.file.to_vec(),
        exported: e.exported.iter().map(pending).collect(),
        left_out: e.left_out.iter().map(skipped).collect(),
    }
}

/// The newest camera frame; the zero-sized empty message when there is none.
pub fn preview_frame(p: &PreviewView) -> pb::PreviewFrame {
    match &p.frame {
        Some(f) => pb::PreviewFrame {
            sequence: p.sequence,
            width: f.width,
            height: f.height,
            pixels: f.pixels.clone(),
        },
        None => pb::PreviewFrame {
            sequence: p.sequence,
            ..pb::PreviewFrame::default()
        },
    }
}

pub fn view(v: &ActivationView) -> pb::ActivationView {
    pb::ActivationView {
        id: v.id.clone(),
        revision: v.revision,
        state: Some(state(&v.state, v)),
        accounts: v.accounts.iter().map(pending).collect(),
        biometric_unavailable_reason: v.biometric_unavailable_reason.clone().unwrap_or_default(),
    }
}

/// The request's method as sent: a number outside the enum is an error
/// naming it, never taken as the default.
pub fn unlock_method(m: i32) -> Result<crate::service::UnlockMethod, ServiceError> {
    use crate::service::UnlockMethod as M;
    match pb::UnlockMethod::try_from(m) {
        Ok(pb::UnlockMethod::Auto) => Ok(M::Auto),
        Ok(pb::UnlockMethod::Pin) => Ok(M::Pin),
        Ok(pb::UnlockMethod::Biometric) => Ok(M::Biometric),
        Err(_) => Err(ServiceError::invalid_argument(format!(
            "unknown unlock method {m}; methods are UNLOCK_METHOD_AUTO (0), \
             UNLOCK_METHOD_PIN (1) and UNLOCK_METHOD_BIOMETRIC (2)"
        ))),
    }
}

pub fn biometric_status(s: crate::service::BiometricStatus) -> pb::BiometricStatusResponse {
    pb::BiometricStatusResponse {
        allowed: s.allowed,
        enabled: s.enabled,
        available: s.available,
        unavailable_reason: s.reason.unwrap_or_default(),
        plugin: s.plugin.unwrap_or_default(),
        device: s.device.unwrap_or_default(),
        enrolled: s.enrolled,
        failures: s.failures,
        max_failures: s.max_failures,
    }
}

pub fn tpm_status(s: crate::service::TpmStatus) -> pb::TpmStatusResponse {
    pb::TpmStatusResponse {
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

#[allow(clippy::result_large_err)]
pub fn source(req: pb::StartActivationRequest) -> Result<Source, Status> {
    use pb::start_activation_request::Source as S;
    match req
        .source
        .ok_or_else(|| missing("source (image, camera, screen, payload or manual)"))?
    {
        S::Image(bytes) => Ok(Source::Image(bytes)),
        S::Camera(c) => Ok(Source::Camera { device: c.device }),
        S::Screen(_) => Ok(Source::Screen),
        S::Payload(text) => Ok(Source::Text(text)),
        S::Manual(m) => Ok(manual(m)),
    }
}

#[allow(clippy::result_large_err)]
pub fn scan_source(req: pb::ScanRequest) -> Result<ScanSource, Status> {
    use pb::scan_request::Source as S;
    match req
        .source
        .ok_or_else(|| missing("source (image, camera or screen)"))?
    {
        S::Image(bytes) => Ok(ScanSource::Image(bytes)),
        S::Camera(c) => Ok(ScanSource::Camera { device: c.device }),
        S::Screen(_) => Ok(ScanSource::Screen),
    }
}

pub fn signing_source(req: pb::StartSigningRequest) -> Result<SigningSource, Status> {
    use pb::start_signing_request::Source as S;
    Ok(
        match req
            .source
            .ok_or_else(|| missing("source (image, camera, screen or text)"))?
        {
            S::Image(bytes) => SigningSource::Scan(ScanSource::Image(bytes)),
            S::Camera(c) => SigningSource::Scan(ScanSource::Camera { device: c.device }),
            S::Screen(_) => SigningSource::Scan(ScanSource::Screen),
            S::Text(text) => SigningSource::Text(text),
        },
    )
}

pub fn confirmation(req: pb::ApproveSigningRequest) -> Result<Confirmation, Status> {
    use pb::approve_signing_request::With;
    Ok(
        match req
            .with
            .ok_or_else(|| missing("with (pin, finger or session)"))?
        {
            With::Pin(pin) => Confirmation::Pin(SecretString::new(pin)),
            With::Finger(_) => Confirmation::Finger,
            With::Session(_) => Confirmation::Session,
        },
    )
}

pub fn signing(v: &SigningView) -> pb::SigningView {
    pb::SigningView {
        id: v.id.clone(),
        state: v.state.to_owned(),
        account: Some(account(&v.account)),
        serial: v.serial.clone(),
        payments: v
            .payments
            .iter()
            .map(|p| pb::PaymentView {
                amount: p.amount.clone(),
                payee: p.payee.clone(),
                account: p.account.clone(),
                reference: p.reference.clone(),
            })
            .collect(),
        total: v.total.clone(),
        expires_unix: i64::try_from(v.expires_unix).unwrap_or(i64::MAX),
        response: v.response.clone().unwrap_or_default(),
    }
}

pub fn plugin(p: &tessera_plugin_host::PluginInfo) -> pb::PluginInfo {
    use tessera_plugin_host::{PluginKind, PluginStatus, ScannerInput};
    let (status, reason) = match &p.status {
        PluginStatus::Loaded => (pb::PluginStatus::Loaded, String::new()),
        PluginStatus::Failed(reason) => (pb::PluginStatus::Failed, reason.clone()),
    };
    pb::PluginInfo {
        name: p.name.clone(),
        kind: match p.kind {
            None => pb::PluginKind::Unspecified,
            Some(PluginKind::Scanner) => pb::PluginKind::Scanner,
            Some(PluginKind::Biometric) => pb::PluginKind::Biometric,
        }
        .into(),
        version: p.version.clone().unwrap_or_default(),
        path: p.path.to_string_lossy().into_owned(),
        status: status.into(),
        reason,
        input: match p.input {
            None => pb::ScannerInput::Unspecified,
            Some(ScannerInput::Image) => pb::ScannerInput::Image,
            Some(ScannerInput::Capture) => pb::ScannerInput::Capture,
        }
        .into(),
    }
}

pub fn source_info(s: &SourceInfo) -> pb::SourceInfo {
    pb::SourceInfo {
        source: s.source.to_owned(),
        available: s.available,
        plugin: s.plugin.clone(),
        reason: s.reason.clone().unwrap_or_default(),
    }
}

fn decoded_account(f: &CodeFields) -> pb::DecodedAccount {
    pb::DecodedAccount {
        label: f.label.clone().unwrap_or_default(),
        issuer: f.issuer.clone().unwrap_or_default(),
        otp: f.otp.clone().unwrap_or_default(),
        counter: f.counter.unwrap_or(0),
    }
}

/// A decoded code; its text only when `raw` was asked for.
pub fn decoded(d: &DecodedCode, raw: bool) -> pb::DecodedCode {
    let f = &d.fields;
    let (batch_index, batch_size) = f.batch.unwrap_or((0, 0));
    pb::DecodedCode {
        text: if raw {
            d.text.expose().to_owned()
        } else {
            String::new()
        },
        kind: d.kind.to_owned(),
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
        account_count: u32::try_from(f.accounts.len()).unwrap_or(u32::MAX),
        accounts: f.accounts.iter().map(decoded_account).collect(),
        batch_index,
        batch_size,
    }
}

fn manual(m: pb::ManualEntry) -> Source {
    Source::Manual {
        serial: m.serial,
        code: SecretString::new(m.activation_code),
    }
}

#[allow(clippy::result_large_err)]
pub fn event(e: Option<pb::Event>) -> Result<Event, Status> {
    use pb::event::Kind as K;
    let kind = e.and_then(|e| e.kind).ok_or_else(|| missing("event"))?;
    Ok(match kind {
        K::Scan(req) => Event::Scan(source(req)?),
        K::EnterManually(m) => Event::Scan(manual(m)),
        K::Continue(_) => Event::Continue,
        K::Pin(pin) => Event::Pin(SecretString::new(pin)),
        K::Biometric(_) => Event::Biometric,
        K::PinOnly(_) => Event::PinOnly,
        K::Allow(_) => Event::Allow,
        K::Deny(_) => Event::Deny,
        K::Cancel(_) => Event::Cancel,
        K::ConfirmCancel(_) => Event::ConfirmCancel,
        K::Back(_) => Event::Back,
        K::StartOver(_) => Event::StartOver,
    })
}
