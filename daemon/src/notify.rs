//! A client of the desktop's notification server
//! (`org.freedesktop.Notifications`, the Desktop Notifications
//! Specification): approval questions with Approve and Deny, and plain
//! messages (a code shown from the shell's search).

use std::collections::HashMap;
use std::time::Duration;

use tokio_stream::StreamExt;
use zbus::Connection;
use zbus::zvariant::Value;

/// The action keys of an approval notification.
pub const APPROVE: &str = "approve";
pub const DENY: &str = "deny";

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
pub trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;

    fn close_notification(&self, id: u32) -> zbus::Result<()>;

    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;

    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;
}

/// How the user answered an approval notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Denied,
    /// Closed without choosing (dismissed, or closed by the server).
    Dismissed,
    /// No answer in time; the notification was withdrawn.
    TimedOut,
    /// Approved, but the check policy asks for after Approve (a
    /// fingerprint) failed: not approved.
    NotVerified,
}

impl Answer {
    pub fn name(self) -> &'static str {
        match self {
            Answer::Approved => "approved",
            Answer::Denied => "denied",
            Answer::Dismissed => "dismissed",
            Answer::TimedOut => "timed-out",
            Answer::NotVerified => "not-verified",
        }
    }
}

/// Notification failures: there is no notification server, or it failed.
#[derive(Debug, thiserror::Error)]
#[error("the desktop's notification service (org.freedesktop.Notifications) failed: {0}")]
pub struct NotifyError(#[from] zbus::Error);

/// The notification client on the daemon's session bus connection.
#[derive(Clone)]
pub struct Notifier {
    connection: Connection,
}

const APP_NAME: &str = "Tessera";
const ICON: &str = "dialog-password";

impl Notifier {
    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }

    async fn proxy(&self) -> Result<NotificationsProxy<'static>, NotifyError> {
        Ok(NotificationsProxy::new(&self.connection).await?)
    }

    /// Shows a question with Approve and Deny and waits up to `timeout` for
    /// the answer; on time-out the notification is closed.
    pub async fn ask(
        &self,
        summary: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<Answer, NotifyError> {
        let proxy = self.proxy().await?;
        // Subscribe before the notification exists, so an answer cannot
        // arrive before anyone listens.
        let mut actions = proxy.receive_action_invoked().await?;
        let mut closed = proxy.receive_notification_closed().await?;
        let mut hints = HashMap::new();
        hints.insert("urgency", Value::U8(2));
        hints.insert("resident", Value::Bool(true));
        hints.insert("desktop-entry", Value::from("org.tessera.Authenticator"));
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let id = proxy
            .notify(
                APP_NAME,
                0,
                ICON,
                &shown(summary),
                &escape_markup(&shown(body)),
                &[APPROVE, "Approve", DENY, "Deny"],
                hints,
                ms,
            )
            .await?;
        let answer = tokio::time::timeout(timeout, async {
            loop {
                tokio::select! {
                    Some(signal) = actions.next() => {
                        let Ok(args) = signal.args() else { continue };
                        if args.id != id {
                            continue;
                        }
                        return match args.action_key.as_str() {
                            APPROVE => Answer::Approved,
                            DENY => Answer::Denied,
                            // The default action (a click on the body) or
                            // anything else decides nothing: keep waiting.
                            _ => continue,
                        };
                    }
                    Some(signal) = closed.next() => {
                        if signal.args().is_ok_and(|a| a.id == id) {
                            return Answer::Dismissed;
                        }
                    }
                    else => return Answer::Dismissed,
                }
            }
        })
        .await
        .unwrap_or(Answer::TimedOut);
        if matches!(answer, Answer::TimedOut | Answer::Approved | Answer::Denied) {
            // Resident notifications stay after an action; withdraw it.
            if let Err(e) = proxy.close_notification(id).await {
                tracing::debug!("closing notification {id}: {e}");
            }
        }
        Ok(answer)
    }

    /// Shows a message (no actions), e.g. a code asked for from the shell.
    pub async fn show(&self, summary: &str, body: &str) -> Result<u32, NotifyError> {
        let proxy = self.proxy().await?;
        let mut hints = HashMap::new();
        hints.insert("transient", Value::Bool(true));
        Ok(proxy
            .notify(
                APP_NAME,
                0,
                ICON,
                &shown(summary),
                &escape_markup(&shown(body)),
                &[],
                hints,
                -1,
            )
            .await?)
    }
}

/// Text as a person may read it: every character that could make it look
/// like other text written `<U+XXXX>` (the one rule,
/// [`crate::account::escape_name`]), line by line, so line breaks stay.
fn shown(text: &str) -> String {
    text.split('\n')
        .map(|line| crate::account::escape_name(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Bodies may be read as markup by the server: show the text as it is.
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn spoofing_characters_are_shown_escaped_and_lines_kept() {
        assert_eq!(
            super::shown("Pay \u{202E}01$\nto Bob\u{200B}"),
            "Pay <U+202E>01$\nto Bob<U+200B>"
        );
        assert_eq!(super::shown("plain"), "plain");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            super::escape_markup("<b>a & b</b>"),
            "&lt;b&gt;a &amp; b&lt;/b&gt;"
        );
    }
}
