//! The `screen` scanner plugin: QR codes from an interactive screenshot.
//!
//! It asks the desktop for a screenshot through xdg-desktop-portal
//! (`org.freedesktop.portal.Screenshot` on the session bus), so it works on
//! Wayland and X11 and the desktop shows the user what is shared; the user
//! picks the area (or the whole screen) in the desktop's own dialog. The
//! portal answers with a `file://` URI of a PNG, which is read within the
//! size limits and decoded with `tessera-scan`. The file is left where the
//! portal put it.
//!
//! The flow, as the portal documents it: subscribe to the `Response` signal
//! of the request object first (its path is known in advance from the
//! connection's unique name and the `handle_token` sent), then call
//! `Screenshot`, then wait for `Response(u response, a{sv} results)`:
//! 0 is success with `results["uri"]`, 1 is cancelled by the user, 2 is any
//! other end. Subscribing first means an answer that comes back before the
//! method's reply is not missed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera_plugin_api::{ScanFailure, ScanRequest, Scanner, export_scanner};
use tessera_scan::{MAX_IMAGE_BYTES, ScanError};
use tokio_stream::StreamExt;
use zbus::message::Type as MessageType;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, MatchRule, MessageStream};

/// The portal's well-known bus name.
pub const PORTAL_NAME: &str = "org.freedesktop.portal.Desktop";
/// The portal's object.
pub const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
/// The screenshot interface.
pub const SCREENSHOT_INTERFACE: &str = "org.freedesktop.portal.Screenshot";
/// The interface of the request objects that carry the answer.
pub const REQUEST_INTERFACE: &str = "org.freedesktop.portal.Request";

/// Why the screen gave no code. Each message is for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScreenError {
    #[error("screen: no D-Bus session bus: the screen scanner needs a desktop session ({0})")]
    NoBus(String),
    #[error(
        "screen: no screenshot portal on the session bus ({0}); install xdg-desktop-portal and \
         the portal of your desktop (xdg-desktop-portal-gnome, -kde, -wlr, …)"
    )]
    NoPortal(String),
    #[error("screen: the screenshot portal failed: {0}")]
    Portal(String),
    #[error("screen: the screenshot was cancelled")]
    Cancelled,
    #[error("screen: no screenshot was taken (the portal ended the request with code {0})")]
    Ended(u32),
    #[error(
        "screen: no screenshot within {} s; start again and take it sooner",
        .0.as_secs()
    )]
    TimedOut(Duration),
    #[error("screen: the portal's answer is not a local file: {0}")]
    BadUri(String),
    #[error("screen: cannot read the screenshot {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("screen: the screenshot cannot be used: {0}")]
    Image(ScanError),
    #[error(
        "screen: no QR code found in the screenshot; show the whole code on the screen and \
         select it"
    )]
    NoCode,
}

impl ScreenError {
    /// The plugin status and message for this error.
    pub fn failure(self) -> ScanFailure {
        let message = self.to_string();
        match self {
            ScreenError::NoBus(_) | ScreenError::NoPortal(_) => ScanFailure::Unavailable(message),
            ScreenError::NoCode => ScanFailure::NotFound(message),
            ScreenError::Image(_) => ScanFailure::BadInput(message),
            ScreenError::Portal(_)
            | ScreenError::Cancelled
            | ScreenError::Ended(_)
            | ScreenError::TimedOut(_)
            | ScreenError::BadUri(_)
            | ScreenError::Read { .. } => ScanFailure::Failed(message),
        }
    }
}

/// Which bus to find the portal on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus<'a> {
    /// The session bus (`DBUS_SESSION_BUS_ADDRESS`, else
    /// `$XDG_RUNTIME_DIR/bus`).
    Session,
    /// A D-Bus address, such as `unix:path=/run/user/1000/bus`.
    Address(&'a str),
}

/// Asks the portal for an interactive screenshot and decodes its QR codes.
/// Gives up at `deadline`.
pub fn scan_screen(bus: Bus<'_>, deadline: Instant) -> Result<Vec<String>, ScreenError> {
    let uri = take_screenshot(bus, deadline)?;
    let path = file_path(&uri)?;
    let bytes = read_screenshot(&path)?;
    tessera_scan::decode(&bytes).map_err(|e| match e {
        ScanError::NoCode => ScreenError::NoCode,
        other => ScreenError::Image(other),
    })
}

/// Asks the portal for an interactive screenshot; returns the URI of the
/// file it wrote. Blocks the calling thread (which must not be running an
/// async runtime) until the answer or `deadline`.
pub fn take_screenshot(bus: Bus<'_>, deadline: Instant) -> Result<String, ScreenError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ScreenError::Portal(format!("cannot start the D-Bus client: {e}")))?;
    let started = Instant::now();
    runtime.block_on(async {
        let connection = tokio::time::timeout_at(deadline.into(), connect(bus))
            .await
            .map_err(|_| ScreenError::NoBus("connecting took too long".into()))??;
        let mut handle = None;
        let answer = tokio::time::timeout_at(
            deadline.into(),
            request_screenshot(&connection, &mut handle),
        )
        .await;
        match answer {
            Ok(answer) => answer,
            Err(_elapsed) => {
                // Take the dialog off the screen; the answer no longer matters.
                if let Some(handle) = handle {
                    let close = connection.call_method(
                        Some(PORTAL_NAME),
                        handle.as_str(),
                        Some(REQUEST_INTERFACE),
                        "Close",
                        &(),
                    );
                    let _ = tokio::time::timeout(Duration::from_millis(500), close).await;
                }
                Err(ScreenError::TimedOut(round_up(
                    deadline.saturating_duration_since(started),
                )))
            }
        }
    })
}

async fn connect(bus: Bus<'_>) -> Result<Connection, ScreenError> {
    let connection = match bus {
        Bus::Session => Connection::session().await,
        Bus::Address(address) => match zbus::connection::Builder::address(address) {
            Ok(builder) => builder.build().await,
            Err(e) => Err(e),
        },
    };
    connection.map_err(|e| ScreenError::NoBus(e.to_string()))
}

/// Sends the request and waits for its answer. `handle` is set to the
/// request object's path as soon as it is known, for closing it on a timeout.
async fn request_screenshot(
    connection: &Connection,
    handle: &mut Option<OwnedObjectPath>,
) -> Result<String, ScreenError> {
    let failed = |e: zbus::Error| ScreenError::Portal(e.to_string());
    let sender = connection
        .unique_name()
        .ok_or_else(|| ScreenError::NoBus("the bus gave no name to this connection".into()))?
        .trim_start_matches(':')
        .replace('.', "_");
    let token = handle_token();
    let requests = format!("{PORTAL_PATH}/request/{sender}");
    let expected = format!("{requests}/{token}");
    // Subscribe before calling, so that an early answer is not missed.
    // The namespace also covers portals older than 0.9, which chose the
    // path themselves.
    let rule = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .interface(REQUEST_INTERFACE)
        .and_then(|r| r.member("Response"))
        .and_then(|r| r.path_namespace(requests.as_str()))
        .map_err(failed)?
        .build();
    let mut answers = MessageStream::for_match_rule(rule, connection, Some(64))
        .await
        .map_err(failed)?;
    *handle = Some(
        OwnedObjectPath::try_from(expected)
            .map_err(|e| ScreenError::Portal(format!("bad request path: {e}")))?,
    );

    let options: HashMap<&str, Value<'_>> = HashMap::from([
        ("handle_token", Value::from(token.as_str())),
        ("interactive", Value::from(true)),
    ]);
    let reply = connection
        .call_method(
            Some(PORTAL_NAME),
            PORTAL_PATH,
            Some(SCREENSHOT_INTERFACE),
            "Screenshot",
            &("", options),
        )
        .await
        .map_err(call_error)?;
    let returned: OwnedObjectPath = reply
        .body()
        .deserialize()
        .map_err(|e| ScreenError::Portal(format!("a bad reply to Screenshot: {e}")))?;
    *handle = Some(returned.clone());

    while let Some(message) = answers.next().await {
        let message = message.map_err(failed)?;
        let header = message.header();
        if header.path().map(|p| p.as_str()) != Some(returned.as_str()) {
            continue;
        }
        let (response, results): (u32, HashMap<String, OwnedValue>) = message
            .body()
            .deserialize()
            .map_err(|e| ScreenError::Portal(format!("a bad Response signal: {e}")))?;
        return match response {
            0 => match results.get("uri").map(|v| &**v) {
                Some(Value::Str(uri)) => Ok(uri.as_str().to_owned()),
                Some(_) => Err(ScreenError::Portal("its \"uri\" is not a string".into())),
                None => Err(ScreenError::Portal("it answered without a \"uri\"".into())),
            },
            1 => Err(ScreenError::Cancelled),
            other => Err(ScreenError::Ended(other)),
        };
    }
    Err(ScreenError::Portal(
        "the bus connection closed before the answer".into(),
    ))
}

/// The error of the `Screenshot` call: a missing portal is told apart.
fn call_error(error: zbus::Error) -> ScreenError {
    if let zbus::Error::MethodError(name, description, _) = &error {
        let detail = || description.clone().unwrap_or_else(|| name.to_string());
        match name.as_str() {
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound" => {
                return ScreenError::NoPortal(format!("{PORTAL_NAME} is not running"));
            }
            "org.freedesktop.DBus.Error.UnknownMethod"
            | "org.freedesktop.DBus.Error.UnknownInterface"
            | "org.freedesktop.DBus.Error.UnknownObject" => {
                return ScreenError::NoPortal(format!(
                    "the portal has no {SCREENSHOT_INTERFACE}: {}",
                    detail()
                ));
            }
            _ => return ScreenError::Portal(detail()),
        }
    }
    ScreenError::Portal(error.to_string())
}

/// A token unique within this process: `[A-Za-z0-9_]`, as an object path
/// element must be.
fn handle_token() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("tessera_{}_{n}_{nanos}", std::process::id())
}

/// The local path of a `file://` URI (host empty or `localhost`),
/// percent-decoded.
pub fn file_path(uri: &str) -> Result<PathBuf, ScreenError> {
    let bad = || ScreenError::BadUri(uri.chars().take(200).collect());
    let rest = uri.strip_prefix("file://").ok_or_else(bad)?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') || rest.contains(['?', '#']) {
        return Err(bad());
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(rest).collect();
    if bytes.contains(&0) {
        return Err(bad());
    }
    Ok(PathBuf::from(OsString::from_vec(bytes)))
}

/// Reads the screenshot file, refusing more than [`MAX_IMAGE_BYTES`].
pub fn read_screenshot(path: &Path) -> Result<Vec<u8>, ScreenError> {
    let read_error = |e: std::io::Error| ScreenError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ScreenError::Image(ScanError::TooLarge(bytes.len())));
    }
    Ok(bytes)
}

/// The scan's deadline for a call the host waits `timeout` for: a margin is
/// kept to close the request and answer before the host gives up.
pub fn deadline(start: Instant, timeout: Duration) -> Instant {
    let margin = (timeout / 5).min(Duration::from_secs(1));
    start + timeout.saturating_sub(margin)
}

/// `d` rounded up to whole seconds, for messages.
fn round_up(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// The scanner behind the plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScreenScanner;

impl Scanner for ScreenScanner {
    fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure> {
        let deadline = deadline(Instant::now(), request.timeout);
        scan_screen(Bus::Session, deadline).map_err(ScreenError::failure)
    }
}

export_scanner! {
    name: "screen",
    version: env!("CARGO_PKG_VERSION"),
    input: Capture,
    scanner: ScreenScanner,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_paths() {
        assert_eq!(
            file_path("file:///home/a/Pictures/Screenshot%20from%202026.png"),
            Ok(PathBuf::from("/home/a/Pictures/Screenshot from 2026.png"))
        );
        assert_eq!(
            file_path("file://localhost/tmp/x.png"),
            Ok(PathBuf::from("/tmp/x.png"))
        );
        assert_eq!(
            file_path("file:///tmp/%C3%A9t%C3%A9.png"),
            Ok(PathBuf::from("/tmp/été.png"))
        );
        for bad in [
            "http://example.com/x.png",
            "file://host/x.png",
            "file:relative.png",
            "/tmp/x.png",
            "file:///tmp/a%00b.png",
            "file:///tmp/x.png?y",
        ] {
            assert!(
                matches!(file_path(bad), Err(ScreenError::BadUri(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_are_path_elements_and_unique() {
        let (a, b) = (handle_token(), handle_token());
        assert_ne!(a, b);
        assert!(
            a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'),
            "{a}"
        );
    }

    #[test]
    fn reading_is_limited() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.png");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_IMAGE_BYTES as u64 + 10)
            .unwrap();
        assert!(matches!(
            read_screenshot(&big),
            Err(ScreenError::Image(ScanError::TooLarge(_)))
        ));
        let missing = dir.path().join("missing.png");
        let err = read_screenshot(&missing).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "screen: cannot read the screenshot {}",
                missing.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn errors_map_to_statuses() {
        assert!(matches!(
            ScreenError::NoBus("x".into()).failure(),
            ScanFailure::Unavailable(m) if m.contains("the screen scanner needs a desktop session")
        ));
        assert!(matches!(
            ScreenError::NoCode.failure(),
            ScanFailure::NotFound(_)
        ));
        assert_eq!(
            ScreenError::Cancelled.failure(),
            ScanFailure::Failed("screen: the screenshot was cancelled".into())
        );
    }
}
