//! Approvals through notifications: another program asks the user to
//! approve a message for an account (`RequestApproval`); the daemon shows a
//! notification with Approve and Deny and, once approved (and verified as
//! policy says), answers with an OCRA response over the message's hash.
//!
//! The question is derived from the message (docs/protocol.md,
//! "Approvals"): `H = SHA-256(message)`; for a numeric suite (`QNxx`) the
//! question is `be64(H[0..8]) mod 10^n` in `n = min(xx, 19)` decimal digits,
//! zero-padded; for `QHxx` and `QAxx` the first `xx` lower-case hex digits
//! of `H`.

use std::sync::OnceLock;
use std::time::Duration;

use tessera_core::otp::OcraSuite;

use super::Service;
use super::accounts::find;
use super::biometrics::Verify;
use crate::account::AccountInfo;
use crate::config::ApprovalVerify;
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::notify::{Answer, Notifier};

/// Longest message accepted, in characters: it has to fit a notification.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// The notification client, once the daemon is on a session bus.
#[derive(Default)]
pub struct Approvals {
    notifier: OnceLock<Notifier>,
}

/// The result of a request: approved with a response, or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub answer: Answer,
    /// The OCRA response; only when approved.
    pub response: Option<String>,
    /// The suite and the question the response was computed with.
    pub suite: String,
    pub question: String,
    pub account: AccountInfo,
}

impl Service {
    /// Gives the service its notification client (the daemon's session
    /// bus connection). Without one, approvals are unsupported.
    pub fn set_notifier(&self, notifier: Notifier) {
        let _ = self.inner.approvals.notifier.set(notifier);
    }

    /// The notification client, if the daemon is on a session bus.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.inner.approvals.notifier.get()
    }

    /// Allows or refuses approvals through notifications for the account
    /// `reference` after its activation (whose notification step set it
    /// first). Allowing needs `notifications.allowed`.
    pub async fn set_account_notifications(
        &self,
        reference: &str,
        allowed: bool,
    ) -> ServiceResult<AccountInfo> {
        if allowed && !self.config().notifications.allowed {
            return Err(ServiceError::new(
                ErrorCode::Policy,
                "approvals through notifications are turned off by policy \
                 (notifications.allowed = false)",
            ));
        }
        let info = self
            .update_account(reference, move |a| a.notifications = allowed)
            .await?;
        tracing::info!(account = %info.id, allowed, "approvals through notifications set");
        Ok(info)
    }

    /// Asks the user through a notification to approve `message` for
    /// `reference`; waits up to `notifications.approval_timeout_seconds`.
    pub async fn request_approval(
        &self,
        reference: &str,
        message: &str,
    ) -> ServiceResult<Approval> {
        let config = self.config();
        if !config.notifications.allowed {
            return Err(ServiceError::new(
                ErrorCode::PermissionDenied,
                "approvals through notifications are turned off by policy \
                 (notifications.allowed = false)",
            ));
        }
        let message = message.trim();
        if message.is_empty() {
            return Err(ServiceError::invalid_argument(
                "message: say what the user approves (it is shown in the notification)",
            ));
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ServiceError::invalid_argument(format!(
                "message: at most {MAX_MESSAGE_CHARS} characters"
            )));
        }
        if message.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ServiceError::invalid_argument(
                "message: no control characters (line breaks are allowed)",
            ));
        }
        self.ensure_unlocked().await?;
        let (account, suite) = {
            let vault = self.vault().lock().await;
            self.touch();
            let a = find(vault.accounts()?, reference)?;
            let suite: OcraSuite = a
                .ocra_suite
                .parse()
                .map_err(|e| ServiceError::internal(format!("account {}: {e}", a.id)))?;
            (AccountInfo::from(a), suite)
        };
        if !account.notifications {
            return Err(ServiceError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "the account {:?} does not allow approvals through notifications \
                     (it was not allowed at the activation's notification step)",
                    account.label
                ),
            ));
        }
        let notifier = self.notifier().ok_or_else(|| {
            ServiceError::new(
                ErrorCode::Unsupported,
                "approvals need the desktop's notifications, and the daemon is not on a \
                 session bus (DBUS_SESSION_BUS_ADDRESS)",
            )
        })?;
        let question = suite.message_question(message);
        let summary = match &account.issuer {
            Some(issuer) => format!("Approve for {} ({issuer})?", account.label),
            None => format!("Approve for {}?", account.label),
        };
        let timeout = Duration::from_secs(u64::from(config.notifications.approval_timeout_seconds));
        tracing::info!(account = %account.id, "approval requested");
        let answer = notifier
            .ask(&summary, message, timeout)
            .await
            .map_err(|e| ServiceError::new(ErrorCode::Unsupported, e))?;
        tracing::info!(account = %account.id, answer = answer.name(), "approval answered");
        let mut approval = Approval {
            answer,
            response: None,
            suite: suite.to_string(),
            question,
            account,
        };
        if answer != Answer::Approved {
            return Ok(approval);
        }
        match config.notifications.approval_verify {
            ApprovalVerify::None => {}
            ApprovalVerify::Biometrics => {
                if !self.verify_biometric_for_approval().await? {
                    tracing::info!(account = %approval.account.id, "approval not verified");
                    approval.answer = Answer::NotVerified;
                    return Ok(approval);
                }
            }
        }
        let id = approval.account.id.to_string();
        let (response, _) = self.respond(&id, &approval.question).await?;
        approval.response = Some(response);
        Ok(approval)
    }
}

impl Service {
    /// `notifications.approval_verify = "biometrics"`: one verify after
    /// Approve. `false` for a finger that did not match; an error when
    /// biometrics cannot be used.
    async fn verify_biometric_for_approval(&self) -> ServiceResult<bool> {
        match self.verify_finger().await {
            Ok(Verify::Match) => Ok(true),
            Ok(Verify::NoMatch(_)) => Ok(false),
            Err(e) => Err(ServiceError::new(
                e.code,
                format!(
                    "policy asks for a fingerprint after Approve \
                     (notifications.approval_verify = \"biometrics\"), and {}; \
                     the request is not approved",
                    e.message
                ),
            )),
        }
    }
}
