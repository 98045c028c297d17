//! Scanning: a source (image bytes, a camera, the screen) in, payload texts
//! out, through the scanner plugins; and what each decoded text is, for
//! `tessera scan` (the `Scanner` API). Activations decode their image,
//! camera and screen sources here too.
//!
//! - Image bytes go to the scanner plugin named `image`. When no plugin of
//!   that name was loaded at start-up (not installed, or refused), they are
//!   decoded in process with `tessera-scan`, the library the plugin wraps
//!   (`tessera_scan::decode`); the log says which path was used. An
//!   `image` plugin that loaded and was later disabled (it hung, panicked,
//!   sent garbage) is an error (`PLUGIN_FAILED`), not a silent fallback.
//! - A camera or the screen goes to the capture scanner plugin named
//!   `camera` or `screen`; without one the answer is `UNSUPPORTED`.
//!
//! At most [`DECODES_AT_ONCE`] images are decoded at a time, in process or
//! by the plugin, whoever asks: a decoded image can take hundreds of MB
//! (`tessera_scan::MAX_IMAGE_PIXELS`), and 32 decodes at once once reached
//! 1.56 GB. The others wait their turn.
//!
//! A [`DecodedCode`] shows a payload's kind and fields but never its
//! activation code, secret or key; the raw text is kept apart and sent only
//! to a client that asks for it.

use std::collections::BTreeMap;

use tokio::sync::Semaphore;

use tessera_core::SecretString;
use tessera_core::payload::{self, OtpAuthAccount, Payload};
use tessera_core::signature::{self, IssuerPublicKey};
use tessera_plugin_host::{PluginError, PluginInfo, PluginKind, PluginStatus, PreviewSink};

use super::Service;
use crate::error::{ErrorCode, ServiceError, ServiceResult};

/// The scanner plugin that decodes image bytes.
pub const IMAGE_PLUGIN: &str = "image";
/// The capture scanner plugin that reads a camera.
pub const CAMERA_PLUGIN: &str = "camera";
/// The capture scanner plugin that reads the screen.
pub const SCREEN_PLUGIN: &str = "screen";
/// What [`SourceInfo::plugin`] says for the daemon's own image decoder.
pub const BUILTIN: &str = "built-in";

/// What to scan.
#[derive(Clone, PartialEq, Eq)]
pub enum ScanSource {
    /// An image file's bytes (PNG, JPEG, GIF, BMP, WebP).
    Image(Vec<u8>),
    /// A camera: its number (0, 1, … in the camera plugin's list), or the
    /// first that opens.
    Camera { device: Option<u32> },
    /// The screen.
    Screen,
}

impl std::fmt::Debug for ScanSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanSource::Image(bytes) => write!(f, "Image({} bytes)", bytes.len()),
            ScanSource::Camera { device } => write!(f, "Camera {{ device: {device:?} }}"),
            ScanSource::Screen => f.write_str("Screen"),
        }
    }
}

impl ScanSource {
    /// "image", "camera" or "screen".
    pub fn name(&self) -> &'static str {
        match self {
            ScanSource::Image(_) => IMAGE_PLUGIN,
            ScanSource::Camera { .. } => CAMERA_PLUGIN,
            ScanSource::Screen => SCREEN_PLUGIN,
        }
    }
}

/// Whether a source can be scanned, and by what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// "image", "camera" or "screen".
    pub source: &'static str,
    pub available: bool,
    /// The plugin's name, or [`BUILTIN`].
    pub plugin: String,
    /// Why it is not available.
    pub reason: Option<String>,
}

/// One decoded code: the text (a secret as a whole) and what it shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedCode {
    /// Exactly as encoded. Holds the activation code or secret: only for a
    /// client that asked for the raw text.
    pub text: SecretString,
    /// "tessera", "otpauth", "otpauth-migration" or "unknown".
    pub kind: &'static str,
    /// Why the text is not a valid payload (of its kind).
    pub error: Option<String>,
    /// Displayable fields: never a secret.
    pub fields: CodeFields,
}

/// What a payload shows; empty for a text that is not a valid payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeFields {
    pub serial: Option<String>,
    /// Tessera: LBL; otpauth: the account name.
    pub label: Option<String>,
    pub issuer: Option<String>,
    pub user_id: Option<String>,
    /// `totp:SHA1:6:30`, `hotp:SHA1:6`.
    pub otp: Option<String>,
    /// otpauth HOTP: the initial counter.
    pub counter: Option<u64>,
    pub signed: bool,
    pub issuer_verified: bool,
    pub extra: BTreeMap<String, String>,
    /// otpauth-migration: each account (no secrets).
    pub accounts: Vec<CodeFields>,
    /// otpauth-migration: (index, size) of the batch.
    pub batch: Option<(u32, u32)>,
}

impl Service {
    /// Every plugin file found at start-up, with its current status.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.inner.plugins.plugins()
    }

    /// The sources this daemon can scan now.
    pub fn scan_sources(&self) -> Vec<SourceInfo> {
        let plugins = self.plugins();
        let image = match scanner_named(&plugins, IMAGE_PLUGIN) {
            Some(p) => plugin_source(IMAGE_PLUGIN, p),
            None => SourceInfo {
                source: IMAGE_PLUGIN,
                available: true,
                plugin: BUILTIN.to_owned(),
                reason: None,
            },
        };
        let capture = |source: &'static str| match scanner_named(&plugins, source) {
            Some(p) => plugin_source(source, p),
            None => SourceInfo {
                source,
                available: false,
                plugin: String::new(),
                reason: Some(not_installed(source)),
            },
        };
        let config = self.config();
        let mut sources = vec![image, capture(CAMERA_PLUGIN), capture(SCREEN_PLUGIN)];
        for s in sources
            .iter_mut()
            .filter(|s| !config.scanner.allows(s.source))
        {
            s.available = false;
            s.reason = Some(source_refused(s.source));
        }
        sources
    }

    /// Decodes every code of `source` and says what each is.
    pub async fn scan(&self, source: ScanSource) -> ServiceResult<Vec<DecodedCode>> {
        let texts = self.scan_texts(source, None).await?;
        let trusted = self
            .config()
            .trusted_issuers()
            .map_err(ServiceError::internal)?;
        Ok(texts.into_iter().map(|t| describe(t, &trusted)).collect())
    }

    /// The texts of every code in `source`, in the order found (at least
    /// one). A capture's preview frames go to `preview`. See the module
    /// documentation for the paths.
    pub(crate) async fn scan_texts(
        &self,
        source: ScanSource,
        preview: Option<PreviewSink>,
    ) -> ServiceResult<Vec<String>> {
        let plugins = self.plugins();
        let what = source.name();
        let config = self.config();
        if !config.scanner.allows(what) {
            return Err(ServiceError::new(ErrorCode::Policy, source_refused(what)));
        }
        let config = &config.plugins;
        let mut turn = None;
        let (image, timeout) = match source {
            ScanSource::Image(bytes) => {
                if scanner_named(&plugins, IMAGE_PLUGIN).is_none() {
                    let _turn = decode_turn().await?;
                    return decode_builtin(bytes).await;
                }
                turn = Some(decode_turn().await?);
                (bytes, config.image_timeout())
            }
            ScanSource::Camera { device } => {
                if scanner_named(&plugins, CAMERA_PLUGIN).is_none() {
                    return Err(ServiceError::new(
                        ErrorCode::Unsupported,
                        not_installed(CAMERA_PLUGIN),
                    ));
                }
                (capture_request(device), config.capture_timeout())
            }
            ScanSource::Screen => {
                if scanner_named(&plugins, SCREEN_PLUGIN).is_none() {
                    return Err(ServiceError::new(
                        ErrorCode::Unsupported,
                        not_installed(SCREEN_PLUGIN),
                    ));
                }
                (Vec::new(), config.capture_timeout())
            }
        };
        let started = std::time::Instant::now();
        let result = self.inner.plugins.scan(what, image, timeout, preview).await;
        drop(turn);
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(texts) => {
                tracing::info!(
                    plugin = what,
                    codes = texts.len(),
                    ms,
                    "scanned with the plugin"
                );
                Ok(texts)
            }
            Err(e) => {
                tracing::info!(plugin = what, ms, error = %e, "the plugin gave no code");
                Err(plugin_error(what, e))
            }
        }
    }
}

/// Images decoded at once (the decoded pixels are the large part).
pub const DECODES_AT_ONCE: usize = 2;

/// The turns of image decoding, shared by every caller of the daemon.
static DECODES: Semaphore = Semaphore::const_new(DECODES_AT_ONCE);

/// Waits for a turn to decode an image.
async fn decode_turn() -> ServiceResult<tokio::sync::SemaphorePermit<'static>> {
    DECODES
        .acquire()
        .await
        .map_err(|e| ServiceError::internal(format!("the image decoder is closed: {e}")))
}

/// The request bytes of a capture scanner. ABI 1 passes no image to a
/// capture scanner and has no field for options, so the daemon sends them
/// in the request's bytes as an options text of `key=value` lines, as the
/// `camera` plugin reads them: `device=N`. No options: no bytes (the image
/// pointer is NULL), and the plugin's defaults hold.
pub fn capture_request(device: Option<u32>) -> Vec<u8> {
    match device {
        Some(device) => format!("device={device}\n").into_bytes(),
        None => Vec::new(),
    }
}

/// Why policy refuses a scanner source (`scanner.sources`).
fn source_refused(source: &str) -> String {
    format!(
        "scanning from the {source} is turned off by policy (scanner.sources); ask your administrator"
    )
}

/// The loaded-at-start-up scanner called `name` (usable now or disabled
/// since), if any.
fn scanner_named<'a>(plugins: &'a [PluginInfo], name: &str) -> Option<&'a PluginInfo> {
    let scanners = || {
        plugins
            .iter()
            .filter(|p| p.name == name && p.kind == Some(PluginKind::Scanner))
    };
    scanners()
        .find(|p| p.status == PluginStatus::Loaded)
        .or_else(|| scanners().next())
}

fn plugin_source(source: &'static str, p: &PluginInfo) -> SourceInfo {
    SourceInfo {
        source,
        available: p.status == PluginStatus::Loaded,
        plugin: p.name.clone(),
        reason: match &p.status {
            PluginStatus::Loaded => None,
            PluginStatus::Failed(reason) => Some(format!("the {source} plugin failed: {reason}")),
        },
    }
}

fn not_installed(source: &str) -> String {
    format!(
        "no {source} scanner plugin is installed (scanner-{source}); `tessera plugins` lists the plugins found"
    )
}

/// The in-process decoder, used when no `image` plugin is loaded.
async fn decode_builtin(bytes: Vec<u8>) -> ServiceResult<Vec<String>> {
    let started = std::time::Instant::now();
    let len = bytes.len();
    let result = tokio::task::spawn_blocking(move || tessera_scan::decode(&bytes))
        .await
        .map_err(|e| ServiceError::internal(format!("the image decoder failed: {e}")))?;
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(texts) => {
            tracing::info!(
                bytes = len,
                codes = texts.len(),
                ms,
                "no image plugin is loaded: decoded the image in process"
            );
            Ok(texts)
        }
        Err(e) => {
            tracing::info!(bytes = len, ms, error = %e, "no image plugin is loaded: decoded the image in process");
            Err(ServiceError::new(ErrorCode::InvalidImage, e))
        }
    }
}

/// How a plugin's answer looks to clients.
fn plugin_error(source: &str, e: PluginError) -> ServiceError {
    match e {
        // Answers of a working plugin: its message is for the user.
        PluginError::NoCode { message, .. } | PluginError::BadInput { message, .. } => {
            ServiceError::new(ErrorCode::InvalidImage, message)
        }
        PluginError::SourceUnavailable { message, .. } => {
            ServiceError::new(ErrorCode::Unsupported, message)
        }
        // The plugin works but could not do it (a cancelled screenshot, an
        // unplugged camera): its message, and the plugin stays loaded.
        PluginError::Failed { message, .. } => ServiceError::new(ErrorCode::PluginFailed, message),
        PluginError::NotFound(_) => {
            ServiceError::new(ErrorCode::Unsupported, not_installed(source))
        }
        PluginError::Busy { .. } => ServiceError::new(
            ErrorCode::PluginFailed,
            format!("the {source} plugin is busy with another scan; try again"),
        ),
        other => ServiceError::new(
            ErrorCode::PluginFailed,
            format!("the {source} plugin failed: {other}; see `tessera plugins`"),
        ),
    }
}

/// The kind of payload a text claims to be, from its start (as
/// `payload::parse` dispatches).
fn kind_of(text: &str) -> &'static str {
    let text = text.trim();
    let starts = |prefix: &str| {
        text.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if text.starts_with('<') || starts("tessera:") {
        "tessera"
    } else if starts("otpauth-migration:") {
        "otpauth-migration"
    } else if starts("otpauth:") {
        "otpauth"
    } else {
        "unknown"
    }
}

fn otp_fields(a: &OtpAuthAccount) -> CodeFields {
    use tessera_core::otp::OtpKind;
    CodeFields {
        label: Some(a.account.clone()),
        issuer: a.issuer.clone(),
        otp: Some(a.params.to_string()),
        counter: match a.params.kind() {
            OtpKind::Hotp { counter } => Some(counter),
            OtpKind::Totp { .. } => None,
        },
        ..CodeFields::default()
    }
}

/// What a decoded text is, without its secrets. `trusted` are the issuer
/// keys a Tessera signature is checked against.
pub fn describe(text: String, trusted: &[IssuerPublicKey]) -> DecodedCode {
    let kind = kind_of(&text);
    let (error, fields) = match payload::parse(&text) {
        Err(e) => (Some(e.to_string()), CodeFields::default()),
        Ok(Payload::Tessera(p)) => (
            None,
            CodeFields {
                serial: Some(p.serial.to_string()),
                label: p.label.clone(),
                issuer: p.issuer.clone(),
                user_id: p.user_id.clone(),
                otp: Some(p.otp_params().to_string()),
                signed: p.signature.is_some(),
                issuer_verified: signature::verify(&p, trusted).is_ok(),
                extra: p
                    .extra
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ..CodeFields::default()
            },
        ),
        Ok(Payload::OtpAuth(a)) => (None, otp_fields(&a)),
        Ok(Payload::Migration(batch)) => (
            None,
            CodeFields {
                accounts: batch.accounts.iter().map(otp_fields).collect(),
                batch: Some((
                    u32::try_from(batch.batch_index).unwrap_or(0),
                    u32::try_from(batch.batch_size).unwrap_or(0),
                )),
                ..CodeFields::default()
            },
        ),
    };
    DecodedCode {
        text: SecretString::new(text),
        kind,
        error,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tessera_core::activation::{ActivationCode, ActivationKey, Serial};
    use tessera_core::payload::{Form, TesseraPayload};

    fn tessera_text() -> (String, String) {
        let serial: Serial = "TSR0000001".parse().unwrap();
        let code = ActivationCode::new(&serial, &ActivationKey::from_bytes([0x11; 16]));
        let digits = code.expose().to_owned();
        let mut p = TesseraPayload::new(serial, code);
        p.label = Some("alice".into());
        p.issuer = Some("Bank".into());
        p.user_id = Some("u-1".into());
        (p.write(Form::Tag), digits)
    }

    #[test]
    fn tessera_fields_without_the_activation_code() {
        let (text, ac) = tessera_text();
        let d = describe(text.clone(), &[]);
        assert_eq!(d.kind, "tessera");
        assert_eq!(d.error, None);
        assert_eq!(d.text.expose(), text);
        assert_eq!(d.fields.serial.as_deref(), Some("TSR0000001"));
        assert_eq!(d.fields.label.as_deref(), Some("alice"));
        assert_eq!(d.fields.issuer.as_deref(), Some("Bank"));
        assert_eq!(d.fields.user_id.as_deref(), Some("u-1"));
        assert_eq!(d.fields.otp.as_deref(), Some("totp:SHA1:6:30"));
        assert!(!d.fields.signed);
        let shown = format!("{:?}", d.fields);
        assert!(!shown.contains(&ac), "{shown}");
        assert!(!format!("{d:?}").contains(&ac));
    }

    #[test]
    fn otpauth_and_migration_fields_without_secrets() {
        let d = describe(
            "otpauth://hotp/Site:bob?secret=JBSWY3DPEHPK3PXP&issuer=Site&counter=7".into(),
            &[],
        );
        assert_eq!(d.kind, "otpauth");
        assert_eq!(d.fields.label.as_deref(), Some("bob"));
        assert_eq!(d.fields.issuer.as_deref(), Some("Site"));
        assert_eq!(d.fields.otp.as_deref(), Some("hotp:SHA1:6"));
        assert_eq!(d.fields.counter, Some(7));
        assert!(!format!("{d:?}").contains("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn bad_and_unknown_texts_keep_their_kind_and_error() {
        let d = describe("otpauth://totp/x?secret=".into(), &[]);
        assert_eq!(d.kind, "otpauth");
        assert!(d.error.is_some());
        assert_eq!(d.fields, CodeFields::default());
        let d = describe("MEBKM:URL:http\\://example.com;;".into(), &[]);
        assert_eq!(d.kind, "unknown");
        assert!(d.error.unwrap().starts_with("payload: not a known format"));
        assert_eq!(kind_of("  TESSERA://activate?SN=1"), "tessera");
        assert_eq!(
            kind_of("otpauth-migration://offline?data="),
            "otpauth-migration"
        );
    }

    #[test]
    fn capture_options() {
        assert_eq!(capture_request(None), b"");
        assert_eq!(capture_request(Some(2)), b"device=2\n");
    }

    #[test]
    fn plugin_errors_map_to_codes() {
        let e = plugin_error(
            "image",
            PluginError::NoCode {
                name: "image".into(),
                message: "image: no QR code found".into(),
            },
        );
        assert_eq!(e.code, ErrorCode::InvalidImage);
        assert_eq!(e.message, "image: no QR code found");
        let e = plugin_error(
            "image",
            PluginError::TimedOut {
                name: "image".into(),
                after: Duration::from_secs(10),
            },
        );
        assert_eq!(e.code, ErrorCode::PluginFailed);
        assert!(
            e.message.starts_with("the image plugin failed: "),
            "{}",
            e.message
        );
        assert!(e.message.ends_with("; see `tessera plugins`"));
        let e = plugin_error(
            "camera",
            PluginError::SourceUnavailable {
                name: "camera".into(),
                message: "camera: no camera found".into(),
            },
        );
        assert_eq!(e.code, ErrorCode::Unsupported);
        let e = plugin_error(
            "screen",
            PluginError::Failed {
                name: "screen".into(),
                message: "screen: the screenshot was cancelled".into(),
            },
        );
        assert_eq!(e.code, ErrorCode::PluginFailed);
        assert_eq!(e.message, "screen: the screenshot was cancelled");
        let e = plugin_error("camera", PluginError::NotFound("camera".into()));
        assert_eq!(
            e.message,
            "no camera scanner plugin is installed (scanner-camera); `tessera plugins` lists the plugins found"
        );
    }

    /// While every decoding turn is taken, an image waits; it is decoded as
    /// soon as a turn is free. (Not a timing test: the scan cannot finish
    /// while the turns are held, however long the test waits.)
    #[tokio::test]
    async fn images_wait_for_a_decoding_turn() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::vault::Vault::open(dir.path()).unwrap();
        let service = Service::new(
            vault,
            crate::config::Config::default(),
            std::sync::Arc::new(tessera_plugin_host::PluginHost::empty()),
        );
        let text = "otpauth://totp/Site:bob?secret=JBSWY3DPEHPK3PXP&issuer=Site";
        let png = tessera_testkit::images::qr_png(text);

        let held = DECODES.acquire_many(DECODES_AT_ONCE as u32).await.unwrap();
        let scan = tokio::spawn({
            let service = service.clone();
            async move { service.scan_texts(ScanSource::Image(png), None).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!scan.is_finished(), "decoded while every turn was taken");
        drop(held);
        let texts = scan.await.unwrap().expect("decodes once a turn is free");
        assert_eq!(texts, vec![text.to_owned()]);
    }
}
