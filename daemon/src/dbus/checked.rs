//! Calls whose arguments have the wrong D-Bus types get our named error.
//!
//! zbus's generated dispatch decodes a method's arguments before our method
//! runs, and on a mismatch answers `org.freedesktop.DBus.Error.InvalidArgs`
//! with a message about its own deserializer. A client of
//! `org.tessera.Authenticator1` is promised one of *our* errors, naming what
//! was wrong. zbus has no hook before dispatch, so [`Checked`] wraps an
//! interface: it compares each call's body signature with the method's
//! input signature (read once from the interface's own introspection, so it
//! cannot drift from the methods) and answers
//! `org.tessera.Authenticator1.Error.InvalidArgument` naming the method, the
//! expected and the given signature; every other call goes to the interface
//! unchanged.
//!
//! This is hand-written against `zbus::object_server::Interface`, which zbus
//! marks unstable across minor versions; Cargo.lock pins zbus, and
//! `daemon/tests/dbus.rs` fails if a bump changes how it behaves.

use std::collections::HashMap;
use std::fmt::Write;

use async_trait::async_trait;
use zbus::message::{Flags, Header, Message};
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult2, Interface, ObjectServer, SignalEmitter};
use zbus::zvariant::{OwnedValue, Signature, Value};
use zbus::{Connection, fdo};

use super::Error;

/// An interface whose method calls are checked for their argument types.
pub struct Checked<I> {
    inner: I,
    /// Method name → the signature of its input arguments, as a body's
    /// signature reads without its enclosing parentheses (`sa{sv}`).
    inputs: HashMap<String, String>,
}

impl<I: Interface> Checked<I> {
    pub fn new(inner: I) -> Self {
        let inputs = input_signatures(&inner);
        Self { inner, inputs }
    }

    /// The wrapped interface.
    pub fn inner(&self) -> &I {
        &self.inner
    }

    /// The error for the call `msg` of `method`, or `None` when its
    /// argument types are right (or the method is not ours: the interface
    /// then answers UnknownMethod as usual).
    fn mismatch(&self, method: &str, msg: &Message) -> Option<Error> {
        self.signature_mismatch(method, &msg.body().signature().to_string_no_parens())
    }

    /// As [`Self::mismatch`], for a body signature `given` (without its
    /// enclosing parentheses).
    fn signature_mismatch(&self, method: &str, given: &str) -> Option<Error> {
        let expected = self.inputs.get(method)?;
        (expected != given).then(|| {
            Error::InvalidArgument(format!(
                "{method} takes arguments of type ({expected}), not ({given})"
            ))
        })
    }
}

/// Each method's input signature, from the interface's introspection XML.
fn input_signatures(iface: &impl Interface) -> HashMap<String, String> {
    let mut xml = String::from("<node>");
    iface.introspect_to_writer(&mut xml, 0);
    xml.push_str("</node>");
    let node = zbus_xml::Node::from_reader(xml.as_bytes())
        .expect("zbus writes introspection XML that zbus_xml reads");
    node.interfaces()
        .iter()
        .flat_map(|i| i.methods())
        .map(|m| {
            let mut signature = String::new();
            for arg in m.args() {
                if arg.direction() != Some(zbus_xml::ArgDirection::Out) {
                    let _ = write!(signature, "{}", arg.ty().inner());
                }
            }
            // Read as a body's signature is, so that both compare alike.
            let signature = Signature::try_from(signature.as_str())
                .expect("a signature of valid types")
                .to_string_no_parens();
            (m.name().to_string(), signature)
        })
        .collect()
}

#[async_trait]
impl<I: Interface> Interface for Checked<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.inner.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<OwnedValue>> {
        self.inner
            .get(property_name, server, connection, header, emitter)
            .await
    }

    async fn get_all(
        &self,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, OwnedValue>> {
        self.inner
            .get_all(server, connection, header, emitter)
            .await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call Value<'_>,
        server: &'call ObjectServer,
        connection: &'call Connection,
        header: Option<&'call Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> DispatchResult2<'call> {
        self.inner
            .set(property_name, value, server, connection, header, emitter)
    }

    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &Value<'_>,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<()>> {
        self.inner
            .set_mut(property_name, value, server, connection, header, emitter)
            .await
    }

    fn call<'call>(
        &'call self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult2<'call> {
        match self.mismatch(&name, msg) {
            Some(error) => refuse(connection, msg, error),
            None => self.inner.call(server, connection, msg, name),
        }
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult2<'call> {
        match self.mismatch(&name, msg) {
            Some(error) => refuse(connection, msg, error),
            None => self.inner.call_mut(server, connection, msg, name),
        }
    }

    fn introspect_to_writer(&self, writer: &mut dyn Write, level: usize) {
        self.inner.introspect_to_writer(writer, level)
    }
}

/// Answers `msg` with `error` (unless the caller asked for no reply).
fn refuse<'call>(
    connection: &'call Connection,
    msg: &'call Message,
    error: Error,
) -> DispatchResult2<'call> {
    DispatchResult2::Async(Box::pin(async move {
        let header = msg.header();
        if header.primary().flags().contains(Flags::NoReplyExpected) {
            return Ok(());
        }
        connection
            .reply_dbus_error(&header, error)
            .await
            .map(|_| ())
            .map_err(|e| fdo::Error::Failed(e.to_string()))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Example;

    #[zbus::interface(name = "org.tessera.Example")]
    impl Example {
        fn take(&self, _name: &str, _options: HashMap<String, OwnedValue>) -> u32 {
            1
        }
        fn nothing(&self) {}
    }

    #[test]
    fn the_input_signatures_come_from_the_methods() {
        let checked = Checked::new(Example);
        assert_eq!(checked.inputs["Take"], "sa{sv}");
        assert_eq!(checked.inputs["Nothing"], "");
    }

    #[test]
    fn a_wrong_signature_is_named_and_a_right_one_passes() {
        let checked = Checked::new(Example);
        assert!(checked.signature_mismatch("Take", "sa{sv}").is_none());
        assert!(checked.signature_mismatch("Unknown", "x").is_none());
        let Some(Error::InvalidArgument(message)) = checked.signature_mismatch("Take", "u") else {
            panic!("a u for (sa{{sv}}) is an InvalidArgument");
        };
        assert_eq!(message, "Take takes arguments of type (sa{sv}), not (u)");
        assert!(checked.signature_mismatch("Nothing", "s").is_some());
    }
}
