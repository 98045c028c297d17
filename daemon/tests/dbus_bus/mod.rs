//! A private `dbus-daemon` per test, a `tesserad` on it, and a mock
//! notification server speaking the real `org.freedesktop.Notifications`
//! interface (there is no notification UI here).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tesserad::dbus::types::View;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};
use zbus::{Connection, interface};

pub use tessera_testkit::bus::PrivateBus;

use crate::common::{Daemon, Tesserad};

/// A daemon on `bus` with `config`: waits for its socket and (when
/// `owns_name`) for it to own org.tessera.Authenticator1.
pub async fn daemon_on(bus: &PrivateBus, config: &str) -> Daemon {
    let d = spawn_on(bus, config);
    bus.wait_for_name(tesserad::dbus::BUS_NAME).await;
    d
}

/// Starts a daemon on `bus` and waits for its socket only.
pub fn spawn_on(bus: &PrivateBus, config: &str) -> Daemon {
    let mut d = Daemon(
        Tesserad::new(env!("CARGO_BIN_EXE_tesserad"))
            .with_env("DBUS_SESSION_BUS_ADDRESS", bus.address()),
    );
    d.write_config(config);
    d.restart();
    d
}

/// How the mock notification server answers an approval notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Emit `ActionInvoked(id, key)` after the `Notify` reply.
    Action(&'static str),
    /// Emit `NotificationClosed(id, 2)` (dismissed by the user).
    Dismiss,
    /// Never answer.
    Never,
}

/// One `Notify` call as the mock saw it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub id: u32,
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
    pub expire_timeout: i32,
}

#[derive(Clone)]
pub struct MockNotifications {
    pub reply: Arc<Mutex<Reply>>,
    pub shown: Arc<Mutex<Vec<Shown>>>,
    pub closed: Arc<Mutex<Vec<u32>>>,
}

#[interface(name = "org.freedesktop.Notifications")]
impl MockNotifications {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> u32 {
        let id = {
            let mut shown = self.shown.lock().unwrap();
            let id = shown.len() as u32 + 1;
            shown.push(Shown {
                id,
                app_name,
                summary,
                body,
                actions: actions.clone(),
                expire_timeout,
            });
            id
        };
        let reply = *self.reply.lock().unwrap();
        if !actions.is_empty() && reply != Reply::Never {
            // After the method's reply, as a real server does.
            let emitter = emitter.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = match reply {
                    Reply::Action(key) => Self::action_invoked(&emitter, id, key).await,
                    Reply::Dismiss => Self::notification_closed(&emitter, id, 2).await,
                    Reply::Never => Ok(()),
                };
            });
        }
        id
    }

    async fn close_notification(
        &self,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
        id: u32,
    ) {
        self.closed.lock().unwrap().push(id);
        let _ = Self::notification_closed(&emitter, id, 3).await;
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "mock".into(),
            "tessera tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

/// Serves the mock on `bus`; keep the connection alive.
pub async fn mock_notifications(bus: &PrivateBus, reply: Reply) -> (Connection, MockNotifications) {
    let mock = MockNotifications {
        reply: Arc::new(Mutex::new(reply)),
        shown: Arc::default(),
        closed: Arc::default(),
    };
    let c = zbus::connection::Builder::address(bus.address())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at("/org/freedesktop/Notifications", mock.clone())
        .unwrap()
        .build()
        .await
        .unwrap();
    (c, mock)
}

/// A client proxy of org.tessera.Authenticator1.
pub async fn authenticator(c: &Connection) -> zbus::Proxy<'static> {
    zbus::Proxy::new(
        c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::PATH,
        "org.tessera.Authenticator1",
    )
    .await
    .unwrap()
}

/// The named error of a failed call, and its message.
pub fn dbus_error(e: &zbus::Error) -> (String, String) {
    match e {
        zbus::Error::MethodError(name, message, _) => {
            (name.to_string(), message.clone().unwrap_or_default())
        }
        other => panic!("not a method error: {other:?}"),
    }
}

pub fn payload(text: &str) -> HashMap<String, OwnedValue> {
    HashMap::from([(
        "payload".to_owned(),
        OwnedValue::try_from(Value::from(text)).unwrap(),
    )])
}

pub async fn call<R>(
    p: &zbus::Proxy<'_>,
    method: &str,
    args: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) -> zbus::Result<R>
where
    R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
{
    p.call(method, args).await
}

pub async fn send_event(p: &zbus::Proxy<'_>, id: &str, name: &str, arg: &str) -> View {
    call(p, "SendEvent", &(id, 0u64, name, arg)).await.unwrap()
}

/// Activates `text` over D-Bus with `pin` (chosen for a first vault, or
/// entered); answers the notification question with `allow` when asked.
pub async fn activate_with(p: &zbus::Proxy<'_>, text: &str, pin: &str, allow: bool) -> View {
    let mut v: View = call(p, "StartActivation", &(payload(text),)).await.unwrap();
    loop {
        v = match v.state.as_str() {
            "choose_pin" | "confirm_pin" | "enter_pin" => send_event(p, &v.id, "pin", pin).await,
            "finalize_code" | "device_code" => send_event(p, &v.id, "continue", "").await,
            "notification_permission" => {
                send_event(p, &v.id, if allow { "allow" } else { "deny" }, "").await
            }
            "activated" => return v,
            other => panic!("unexpected state {other}: {v:?}"),
        }
    }
}
