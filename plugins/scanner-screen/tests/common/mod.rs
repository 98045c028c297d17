//! A private D-Bus bus and a mock xdg-desktop-portal on it, for the tests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use image::Luma;
use qrcode::QrCode;
use tessera_scanner_screen::{PORTAL_NAME, PORTAL_PATH, REQUEST_INTERFACE};
pub use tessera_testkit::bus::PrivateBus;
use zbus::message::Header;
use zbus::names::BusName;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};
use zbus::{Connection, interface};

/// How the mock portal answers `Screenshot`.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `Response(code, {"uri": uri})`, sent before the method's reply (the
    /// race a client must survive) or `after` the reply.
    Respond {
        code: u32,
        uri: Option<String>,
        after: Option<Duration>,
    },
    /// Never answers; records whether the request was closed.
    Never,
}

/// What the mock saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub calls: AtomicUsize,
    pub interactive: AtomicBool,
    pub closed: AtomicBool,
}

struct MockPortal {
    answer: Answer,
    seen: Arc<Seen>,
}

#[interface(name = "org.freedesktop.portal.Screenshot")]
impl MockPortal {
    async fn screenshot(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
        _parent_window: &str,
        options: HashMap<String, OwnedValue>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        self.seen.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(Value::Bool(true)) = options.get("interactive").map(|v| &**v) {
            self.seen.interactive.store(true, Ordering::SeqCst);
        }
        let Some(Value::Str(token)) = options.get("handle_token").map(|v| &**v) else {
            return Err(zbus::fdo::Error::InvalidArgs("no handle_token".into()));
        };
        let sender = header
            .sender()
            .unwrap()
            .trim_start_matches(':')
            .replace('.', "_");
        let path = format!("{PORTAL_PATH}/request/{sender}/{}", token.as_str());
        match self.answer.clone() {
            Answer::Respond { code, uri, after } => {
                let connection = connection.clone();
                let signal_path = path.clone();
                let respond = async move {
                    let mut results: HashMap<&str, Value<'_>> = HashMap::new();
                    if let Some(uri) = &uri {
                        results.insert("uri", Value::from(uri.as_str()));
                    }
                    connection
                        .emit_signal(
                            None::<BusName<'_>>,
                            signal_path.as_str(),
                            REQUEST_INTERFACE,
                            "Response",
                            &(code, results),
                        )
                        .await
                        .unwrap();
                };
                match after {
                    None => respond.await,
                    Some(delay) => {
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            respond.await;
                        });
                    }
                }
            }
            Answer::Never => {
                connection
                    .object_server()
                    .at(
                        path.as_str(),
                        MockRequest {
                            seen: self.seen.clone(),
                        },
                    )
                    .await?;
            }
        }
        Ok(OwnedObjectPath::try_from(path).unwrap())
    }

    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        2
    }
}

struct MockRequest {
    seen: Arc<Seen>,
}

#[interface(name = "org.freedesktop.portal.Request")]
impl MockRequest {
    fn close(&self) {
        self.seen.closed.store(true, Ordering::SeqCst);
    }
}

/// The mock portal, serving on its own runtime until dropped.
pub struct MockPortalService {
    pub seen: Arc<Seen>,
    _connection: Connection,
    _runtime: tokio::runtime::Runtime,
}

impl MockPortalService {
    pub fn start(address: &str, answer: Answer) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Seen::default());
        let portal = MockPortal {
            answer,
            seen: seen.clone(),
        };
        let connection = runtime
            .block_on(async {
                zbus::connection::Builder::address(address)?
                    .name(PORTAL_NAME)?
                    .serve_at(PORTAL_PATH, portal)?
                    .build()
                    .await
            })
            .unwrap();
        MockPortalService {
            seen,
            _connection: connection,
            _runtime: runtime,
        }
    }
}

/// A PNG screenshot with a QR code of `text`, or without one when `None`.
pub fn screenshot_png(dir: &Path, name: &str, text: Option<&str>) -> PathBuf {
    let mut screen = image::GrayImage::from_pixel(800, 600, Luma([235]));
    if let Some(text) = text {
        let code = QrCode::new(text.as_bytes())
            .unwrap()
            .render::<Luma<u8>>()
            .min_dimensions(240, 240)
            .build();
        image::imageops::overlay(&mut screen, &code, 420, 120);
    }
    let path = dir.join(name);
    screen.save(&path).unwrap();
    path
}

/// The `file://` URI of `path`, spaces percent-encoded as a portal does.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display().to_string().replace(' ', "%20"))
}
