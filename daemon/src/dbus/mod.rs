//! The D-Bus adapter: the daemon on the session bus as
//! `org.tessera.Authenticator1`, with the desktop shells' search interfaces.
//! Like the gRPC adapter it only translates: every operation is a
//! [`Service`] call, and callers are admitted by [`crate::peer`].
//!
//! | object path | interface | where |
//! | --- | --- | --- |
//! | `/org/tessera/Authenticator1` | `org.tessera.Authenticator1` | [`authenticator`] |
//! | `/org/tessera/Authenticator1/SearchProvider` | `org.gnome.Shell.SearchProvider2` | [`search`] |
//! | `/org/tessera/Authenticator1/KRunner` | `org.kde.krunner1` | [`krunner`] |
//!
//! The interface is documented in `daemon/dbus/org.tessera.Authenticator1.xml`
//! (a test compares it with what the daemon serves) and in `docs/dbus.md`.

pub mod authenticator;
pub mod checked;
pub mod errors;
pub mod krunner;
pub mod search;
pub mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use zbus::Connection;
use zbus::fdo::{DBusProxy, RequestNameFlags, RequestNameReply};
use zbus::message::Header;
use zbus::names::BusName;

use crate::error::ServiceError;
use crate::service::Service;

use checked::Checked;
pub use errors::Error;

/// The well-known name and the object paths.
pub const BUS_NAME: &str = "org.tessera.Authenticator1";
pub const PATH: &str = "/org/tessera/Authenticator1";
pub const SEARCH_PATH: &str = "/org/tessera/Authenticator1/SearchProvider";
pub const KRUNNER_PATH: &str = "/org/tessera/Authenticator1/KRunner";

/// The interface's introspection XML with its documentation, as kept in
/// the repository.
pub const INTERFACE_XML: &str = include_str!("../../dbus/org.tessera.Authenticator1.xml");

/// How the daemon is on the bus.
pub struct Bus {
    pub connection: Connection,
    /// Whether it owns [`BUS_NAME`] (another daemon may own it: then it is
    /// reachable over gRPC only, and still sends notifications).
    pub owns_name: bool,
}

/// Connects to the session bus (`DBUS_SESSION_BUS_ADDRESS`, else
/// `$XDG_RUNTIME_DIR/bus`), serves the objects, asks for [`BUS_NAME`] and
/// forwards activation changes as signals. `None` when there is no session
/// bus: the daemon then serves gRPC only.
pub async fn connect(service: &Service) -> Option<Bus> {
    let connection = match serve(service).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("no session bus ({e}); serving gRPC only, without notifications");
            return None;
        }
    };
    let owns_name = match connection
        .request_name_with_flags(BUS_NAME, RequestNameFlags::DoNotQueue.into())
        .await
    {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => true,
        Ok(reply) => {
            tracing::warn!(
                ?reply,
                "{BUS_NAME} is owned by another process (another tesserad?); \
                 the D-Bus interface is not offered, gRPC is"
            );
            false
        }
        Err(e) => {
            tracing::warn!(
                "cannot own {BUS_NAME} ({e}); the D-Bus interface is not offered, gRPC is"
            );
            false
        }
    };
    tokio::spawn(forward_activations(service.clone(), connection.clone()));
    Some(Bus {
        connection,
        owns_name,
    })
}

async fn serve(service: &Service) -> zbus::Result<Connection> {
    let peers = Peers::default();
    zbus::connection::Builder::session()?
        .serve_at(
            PATH,
            Checked::new(authenticator::Authenticator::new(
                service.clone(),
                peers.clone(),
            )),
        )?
        .serve_at(
            SEARCH_PATH,
            Checked::new(search::SearchProvider::new(service.clone(), peers.clone())),
        )?
        .serve_at(
            KRUNNER_PATH,
            Checked::new(krunner::KRunner::new(service.clone(), peers)),
        )?
        .build()
        .await
}

/// Sends `ActivationChanged` for each change of any activation, and
/// invalidates the `Activations` property.
async fn forward_activations(service: Service, connection: Connection) {
    use tokio::sync::broadcast::error::RecvError;
    let mut updates = service.activation_updates();
    let iface = match connection
        .object_server()
        .interface::<_, Checked<authenticator::Authenticator>>(PATH)
        .await
    {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("activation signals are off: {e}");
            return;
        }
    };
    loop {
        let view = match updates.recv().await {
            Ok(view) => view,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("{n} activation changes were not signalled (slow bus)");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let emitter = iface.signal_emitter();
        let dict = types::view(&service.activation_view_shown(view).await);
        if let Err(e) =
            authenticator::Authenticator::activation_changed(emitter, &dict.id, dict.clone()).await
        {
            tracing::debug!("ActivationChanged not sent: {e}");
        }
        if let Err(e) = iface
            .get()
            .await
            .inner()
            .activations_invalidate(emitter)
            .await
        {
            tracing::debug!("Activations change not sent: {e}");
        }
    }
}

/// The uids of the bus's clients, by unique name (unique names are never
/// reused on a bus, so a cached uid stays right), and the bus proxy that
/// asks for them.
#[derive(Clone, Default)]
pub struct Peers {
    uids: Arc<Mutex<HashMap<String, u32>>>,
    proxy: Arc<OnceCell<DBusProxy<'static>>>,
}

/// How many callers' uids are remembered before the cache starts over.
const MAX_CACHED_PEERS: usize = 1024;

impl Peers {
    /// Admits the sender of a call (same uid as the daemon), through the
    /// one check in [`crate::peer`].
    pub async fn admit(&self, connection: &Connection, header: &Header<'_>) -> Result<(), Error> {
        let uid = match header.sender() {
            Some(sender) => self.uid(connection, sender.as_str()).await?,
            // A peer-to-peer connection without a bus: no credentials.
            None => None,
        };
        crate::peer::admit(uid).map_err(Error::from)
    }

    async fn uid(&self, connection: &Connection, sender: &str) -> Result<Option<u32>, Error> {
        if let Some(uid) = self.uids.lock().expect("peer cache poisoned").get(sender) {
            return Ok(Some(*uid));
        }
        let proxy = self
            .proxy
            .get_or_try_init(|| DBusProxy::new(connection))
            .await?;
        let name = BusName::try_from(sender).map_err(zbus::Error::from)?;
        let uid = match proxy.get_connection_unix_user(name).await {
            Ok(uid) => uid,
            Err(e) => {
                tracing::warn!(sender, "the bus does not say who called: {e}");
                return Ok(None);
            }
        };
        let mut uids = self.uids.lock().expect("peer cache poisoned");
        if uids.len() >= MAX_CACHED_PEERS {
            uids.clear();
        }
        uids.insert(sender.to_owned(), uid);
        Ok(Some(uid))
    }
}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        errors::from_service(e)
    }
}
