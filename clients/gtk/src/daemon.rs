//! The app's one way to the daemon: `org.tessera.Authenticator1` on the
//! session bus through GDBus (gio), which runs on GTK's own main loop, so
//! the app needs no second runtime. Every method here is one D-Bus call of
//! docs/dbus.md; the app keeps no vault, no OTP logic and no activation
//! state machine of its own.
//!
//! The proxy follows the bus name: when the daemon restarts, the same
//! proxy reaches the new one (`g-name-owner` tells the window to reload).
//! Creating the proxy asks the bus to start the daemon (D-Bus activation,
//! `org.tessera.Authenticator1.service`) when it is installed.

use gtk::gio::{self, prelude::*};
use gtk::glib::{self, Variant};
use gtk::prelude::ToVariant;

use crate::model::{Account, BiometricStatus, Code, PreviewFrame, Setting, Signing, Status, View};

pub const NAME: &str = "org.tessera.Authenticator1";
pub const PATH: &str = "/org/tessera/Authenticator1";
const ERROR_PREFIX: &str = "org.tessera.Authenticator1.Error.";

/// Long enough for a fingerprint enrolment step or an approval; the
/// daemon answers everything else in milliseconds.
const CALL_TIMEOUT_MS: i32 = 120_000;

/// A failed call: the daemon's error name without its prefix
/// (`VaultLocked`, `WrongPin`, …, docs/dbus.md "Errors") and its message,
/// or [`NO_DAEMON`] when nothing answers on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonError {
    pub name: String,
    pub message: String,
}

/// The name of a [`DaemonError`] for "no daemon on the bus".
pub const NO_DAEMON: &str = "NoDaemon";

impl DaemonError {
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }

    fn from_glib(mut e: glib::Error) -> Self {
        let remote = gio::DBusError::remote_error(&e).map(|n| n.to_string());
        gio::DBusError::strip_remote_error(&mut e);
        let message = e.message().to_owned();
        let name = match remote.as_deref() {
            Some(n) if n.starts_with(ERROR_PREFIX) => n[ERROR_PREFIX.len()..].to_owned(),
            Some(
                "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
                | "org.freedesktop.DBus.Error.NoReply"
                | "org.freedesktop.DBus.Error.Disconnected"
                | "org.freedesktop.DBus.Error.Spawn.ChildExited"
                | "org.freedesktop.DBus.Error.Spawn.ExecFailed",
            ) => NO_DAEMON.to_owned(),
            Some(other) => other.to_owned(),
            None if e.matches(gio::IOErrorEnum::Closed)
                || e.matches(gio::DBusError::ServiceUnknown) =>
            {
                NO_DAEMON.to_owned()
            }
            None => "Internal".to_owned(),
        };
        DaemonError { name, message }
    }
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T> = std::result::Result<T, DaemonError>;

/// The daemon's object on the session bus.
#[derive(Clone, Debug)]
pub struct Daemon {
    proxy: gio::DBusProxy,
}

impl Daemon {
    /// Connects to the session bus (`DBUS_SESSION_BUS_ADDRESS`) and makes
    /// the proxy; this asks the bus to start the daemon when it can.
    pub async fn connect() -> std::result::Result<Daemon, glib::Error> {
        let proxy = gio::DBusProxy::for_bus_future(
            gio::BusType::Session,
            gio::DBusProxyFlags::DO_NOT_LOAD_PROPERTIES,
            None,
            NAME,
            PATH,
            NAME,
        )
        .await?;
        Ok(Daemon { proxy })
    }

    /// Whether a daemon owns the name now.
    pub fn is_running(&self) -> bool {
        self.proxy.name_owner().is_some()
    }

    /// Calls `f` when the daemon appears (`true`) or goes (`false`).
    pub fn connect_running_changed(&self, f: impl Fn(bool) + 'static) {
        self.proxy
            .connect_notify_local(Some("g-name-owner"), move |p, _| {
                f(p.name_owner().is_some())
            });
    }

    /// Calls `f` with every `ActivationChanged` view, whichever client
    /// drove the activation.
    pub fn connect_activation_changed(&self, f: impl Fn(View) + 'static) {
        self.proxy.connect_local("g-signal", false, move |values| {
            let signal = values.get(2).and_then(|v| v.get::<String>().ok());
            let params = values.get(3).and_then(|v| v.get::<Variant>().ok());
            if let (Some("ActivationChanged"), Some(params)) = (signal.as_deref(), params)
                && params.n_children() == 2
            {
                f(View::from_variant(&params.child_value(1)));
            }
            None
        });
    }

    async fn call(&self, method: &str, args: Variant) -> Result<Variant> {
        self.proxy
            .call_future(
                method,
                Some(&args),
                gio::DBusCallFlags::NONE,
                CALL_TIMEOUT_MS,
            )
            .await
            .map_err(DaemonError::from_glib)
    }

    /// The first out argument of `method`.
    async fn call1(&self, method: &str, args: Variant) -> Result<Variant> {
        let reply = self.call(method, args).await?;
        Ok(reply.child_value(0))
    }

    /// The newest frame of the camera's live preview of activation `id`
    /// (`PreviewFrame`; sequence 0 and no pixels when there is none).
    pub async fn preview_frame(&self, id: &str) -> Result<PreviewFrame> {
        let reply = self.call("PreviewFrame", (id,).to_variant()).await?;
        Ok(PreviewFrame::from_reply(&reply))
    }

    pub async fn ping(&self) -> Result<()> {
        self.call("Ping", ().to_variant()).await.map(drop)
    }

    pub async fn status(&self) -> Result<Status> {
        Ok(Status::from_variant(
            &self.call1("Status", ().to_variant()).await?,
        ))
    }

    pub async fn lock(&self) -> Result<Status> {
        Ok(Status::from_variant(
            &self.call1("Lock", ().to_variant()).await?,
        ))
    }

    /// `method`: "auto", "pin" or "biometric".
    pub async fn unlock(&self, method: &str, pin: &str) -> Result<Status> {
        Ok(Status::from_variant(
            &self.call1("UnlockWith", (method, pin).to_variant()).await?,
        ))
    }

    pub async fn change_pin(&self, old: &str, new: &str) -> Result<Status> {
        Ok(Status::from_variant(
            &self.call1("ChangePin", (old, new).to_variant()).await?,
        ))
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>> {
        let list = self.call1("ListAccounts", ().to_variant()).await?;
        Ok(list.iter().map(|a| Account::from_variant(&a)).collect())
    }

    /// The current codes of the time-based accounts (HOTP accounts have
    /// none: listing never uses a counter value).
    pub async fn list_codes(&self) -> Result<Vec<Code>> {
        let list = self.call1("ListCodes", ().to_variant()).await?;
        Ok(list.iter().map(|c| Code::from_variant(&c)).collect())
    }

    /// The code now; for HOTP the next one, and the counter advances.
    pub async fn code(&self, account: &str) -> Result<Code> {
        Ok(Code::from_variant(
            &self.call1("GetCode", (account,).to_variant()).await?,
        ))
    }

    /// The OCRA response to `challenge` and the suite it used.
    pub async fn respond(&self, account: &str, challenge: &str) -> Result<(String, String)> {
        let reply = self
            .call("Respond", (account, challenge).to_variant())
            .await?;
        let get = |i| reply.child_value(i).get::<String>().unwrap_or_default();
        Ok((get(0), get(1)))
    }

    pub async fn rename(&self, account: &str, label: &str) -> Result<Account> {
        Ok(Account::from_variant(
            &self
                .call1("RenameAccount", (account, label).to_variant())
                .await?,
        ))
    }

    pub async fn delete(&self, account: &str) -> Result<Account> {
        Ok(Account::from_variant(
            &self.call1("DeleteAccount", (account,).to_variant()).await?,
        ))
    }

    pub async fn set_notifications(&self, account: &str, allowed: bool) -> Result<Account> {
        Ok(Account::from_variant(
            &self
                .call1("SetNotifications", (account, allowed).to_variant())
                .await?,
        ))
    }

    pub async fn biometric_status(&self) -> Result<BiometricStatus> {
        Ok(BiometricStatus::from_variant(
            &self.call1("BiometricStatus", ().to_variant()).await?,
        ))
    }

    /// Turns fingerprint unlock on or off (`pin` empty when unlocked).
    pub async fn set_biometrics(&self, enable: bool, pin: &str) -> Result<BiometricStatus> {
        let method = if enable {
            "EnableBiometrics"
        } else {
            "DisableBiometrics"
        };
        Ok(BiometricStatus::from_variant(
            &self.call1(method, (pin,).to_variant()).await?,
        ))
    }

    pub async fn settings(&self) -> Result<Vec<Setting>> {
        Ok(Setting::list(
            &self.call1("ShowConfig", ().to_variant()).await?,
        ))
    }

    /// Reads a signing request from a source dictionary (`model::source`:
    /// `payload` for its text, `image` for its picture) for review.
    pub async fn start_signing(&self, source: Variant) -> Result<Signing> {
        Ok(Signing::from_variant(
            &self
                .call1("StartSigning", Variant::tuple_from_iter([source]))
                .await?,
        ))
    }

    /// Approves a signing with the PIN (empty for a vault without one).
    pub async fn approve_signing(&self, id: &str, pin: &str) -> Result<Signing> {
        Ok(Signing::from_variant(
            &self
                .call1("ApproveSigning", (id, pin, false).to_variant())
                .await?,
        ))
    }

    pub async fn decline_signing(&self, id: &str) -> Result<Signing> {
        Ok(Signing::from_variant(
            &self.call1("DeclineSigning", (id,).to_variant()).await?,
        ))
    }

    /// Starts an activation from a source dictionary (`model::source`).
    pub async fn start_activation(&self, source: Variant) -> Result<View> {
        Ok(View::from_variant(
            &self
                .call1("StartActivation", Variant::tuple_from_iter([source]))
                .await?,
        ))
    }

    /// Sends `event` to the activation at `revision` (the daemon refuses
    /// an event meant for an older view with `InvalidEvent`).
    pub async fn send_event(
        &self,
        id: &str,
        revision: u64,
        event: &str,
        argument: &str,
    ) -> Result<View> {
        Ok(View::from_variant(
            &self
                .call1("SendEvent", (id, revision, event, argument).to_variant())
                .await?,
        ))
    }

    /// Scans again into the activation at `home` (after "Start over") from
    /// a source dictionary.
    pub async fn rescan(&self, id: &str, revision: u64, source: Variant) -> Result<View> {
        let args = Variant::tuple_from_iter([id.to_variant(), revision.to_variant(), source]);
        Ok(View::from_variant(&self.call1("Rescan", args).await?))
    }

    /// The activations the daemon knows now (`Activations` property),
    /// read fresh: the proxy caches no properties.
    pub async fn activations(&self) -> Result<Vec<View>> {
        let reply = self
            .proxy
            .connection()
            .call_future(
                Some(NAME),
                PATH,
                "org.freedesktop.DBus.Properties",
                "Get",
                Some(&(NAME, "Activations").to_variant()),
                None,
                gio::DBusCallFlags::NONE,
                CALL_TIMEOUT_MS,
            )
            .await
            .map_err(DaemonError::from_glib)?;
        // (v) holding a{sa{sv}}.
        let map = reply.child_value(0).as_variant().unwrap_or(reply);
        Ok(map
            .iter()
            .filter(|entry| entry.n_children() == 2)
            .map(|entry| {
                let view = entry.child_value(1);
                View::from_variant(view.as_variant().as_ref().unwrap_or(&view))
            })
            .collect())
    }
}
