//! The D-Bus interface end to end: the real `tesserad` on a private
//! `dbus-daemon` of each test. Activation over D-Bus with its signals and
//! property, the introspection XML against the running interface, gRPC and
//! D-Bus giving the same results, the shells' search, approvals through a
//! mock notification server, named errors, refused callers, and a second
//! daemon that finds the name taken.

mod common;
mod dbus_bus;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::*;
use dbus_bus::*;
use tessera_proto::v1 as pb;
use tesserad::dbus::types::{Account, ApprovalResult, Code, Status, View};
use tokio_stream::StreamExt;
use zbus::zvariant::{OwnedValue, Value};

const PIN: &str = "482915";
const OTPAUTH: &str = "otpauth://totp/Example:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";
const HOTP: &str = "otpauth://hotp/Counter:bob?secret=JBSWY3DPEHPK3PXP&issuer=Counter&counter=5";
const NOTIFY_CONFIG: &str = "[activation]\nnotifications = true\n";

fn config(extra: &str) -> String {
    format!("{FAST_CONFIG}{extra}")
}

/// Activates `text` over D-Bus with [`PIN`] ([`activate_with`]).
async fn activate(p: &zbus::Proxy<'_>, text: &str, allow: bool) -> View {
    activate_with(p, text, PIN, allow).await
}

#[tokio::test]
async fn an_activation_over_dbus_with_signals_and_the_property() {
    let bus = PrivateBus::start();
    let _d = daemon_on(&bus, &config(NOTIFY_CONFIG)).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let mut signals = p.receive_signal("ActivationChanged").await.unwrap();

    let status: Status = call(&p, "Status", &()).await.unwrap();
    assert!(!status.exists);
    let e = call::<Vec<Account>>(&p, "ListAccounts", &())
        .await
        .unwrap_err();
    assert_eq!(dbus_error(&e).0, "org.tessera.Authenticator1.Error.NoVault");

    let first: View = call(&p, "StartActivation", &(payload(OTPAUTH),))
        .await
        .unwrap();
    assert_eq!(first.state, "choose_pin");
    assert_eq!(first.accounts[0].label, "alice@example.com");
    let id = first.id.clone();
    // The property lists it.
    let running: HashMap<String, View> = p.get_property("Activations").await.unwrap();
    assert_eq!(running[&id].state, "choose_pin");

    let v = send_event(&p, &id, "pin", PIN).await;
    assert_eq!(v.state, "confirm_pin");
    // A stale revision is refused with the named error.
    let e = call::<View>(&p, "SendEvent", &(id.as_str(), 1u64, "pin", PIN))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidEvent");
    assert!(message.contains("revision"), "{message}");
    let e = call::<View>(&p, "SendEvent", &(id.as_str(), 0u64, "jump", ""))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidArgument"
    );

    let v = send_event(&p, &id, "pin", PIN).await;
    assert_eq!(v.state, "finalize_code");
    assert_eq!(v.code.len(), 6, "the current code is shown: {v:?}");
    let v = send_event(&p, &id, "continue", "").await;
    assert_eq!(v.state, "notification_permission");
    let v = send_event(&p, &id, "allow", "").await;
    assert_eq!(v.state, "activated");
    assert!(v.accounts[0].notifications);
    let got: View = call(&p, "GetActivation", &(id.as_str(),)).await.unwrap();
    assert_eq!(got, v);

    // Every step came as a signal, in order.
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("activated") {
        let s = tokio::time::timeout(Duration::from_secs(10), signals.next())
            .await
            .expect("an ActivationChanged signal")
            .unwrap();
        let (sid, view): (String, View) = s.body().deserialize().unwrap();
        assert_eq!(sid, id);
        states.push(view.state);
    }
    assert_eq!(
        states,
        [
            "choose_pin",
            "confirm_pin",
            "finalize_code",
            "notification_permission",
            "activated"
        ]
    );

    // The account is there, with codes.
    let accounts: Vec<Account> = call(&p, "ListAccounts", &()).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].kind, "totp");
    assert_eq!(accounts[0].issuer, "Example");
    let code: Code = call(&p, "GetCode", &("alice",)).await.unwrap();
    assert_eq!(code.code.len(), 6);
    assert_eq!(code.valid_until_unix - code.valid_from_unix, 30);
    let (response, suite): (String, String) =
        call(&p, "Respond", &("alice", "12345678")).await.unwrap();
    assert_eq!(suite, "OCRA-1:HOTP-SHA256-8:QN08");
    assert_eq!(response.len(), 8);

    // Lock: named errors; a wrong PIN; unlock.
    let status: Status = call(&p, "Lock", &()).await.unwrap();
    assert!(status.locked);
    let e = call::<Code>(&p, "GetCode", &("alice",)).await.unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.VaultLocked"
    );
    let e = call::<Status>(&p, "Unlock", &("000000",))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.WrongPin"
    );
    let status: Status = call(&p, "Unlock", &(PIN,)).await.unwrap();
    assert!(!status.locked);
    assert_eq!(status.account_count, 1);
    assert_eq!(status.failed_attempts, 0);

    let renamed: Account = call(&p, "RenameAccount", &("alice", "work")).await.unwrap();
    assert_eq!(renamed.label, "work");
    let e = call::<Account>(&p, "GetAccount", &("nobody",))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.NotFound");
    assert!(message.contains("tessera list"), "{message}");
    let deleted: Account = call(&p, "DeleteAccount", &("work",)).await.unwrap();
    assert_eq!(deleted.id, renamed.id);

    // Bad input: a clear error naming what was wrong; the daemon lives on.
    let e = call::<View>(
        &p,
        "StartActivation",
        &(HashMap::<String, OwnedValue>::new(),),
    )
    .await
    .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(message.contains("payload (s)"), "{message}");
    let bad = HashMap::from([(
        "payload".to_owned(),
        OwnedValue::try_from(Value::from(7u32)).unwrap(),
    )]);
    let e = call::<View>(&p, "StartActivation", &(bad,))
        .await
        .unwrap_err();
    assert!(dbus_error(&e).1.contains("\"payload\" must be a string"));
    // A bad payload fails the activation, naming the field.
    let v: View = call(
        &p,
        "StartActivation",
        &(payload("otpauth://totp/x?secret=!!"),),
    )
    .await
    .unwrap();
    assert_eq!(v.state, "failed");
    assert_eq!(
        v.error_name,
        "org.tessera.Authenticator1.Error.InvalidPayload"
    );
    assert!(v.error_message.contains("secret"), "{v:?}");
    call::<()>(&p, "Ping", &()).await.unwrap();
}

/// The repository's XML and the running interface have the same methods,
/// arguments, signals and properties.
#[tokio::test]
async fn the_interface_matches_its_xml() {
    let bus = PrivateBus::start();
    let _d = daemon_on(&bus, FAST_CONFIG).await;
    let c = bus.connect().await;
    let introspectable = zbus::fdo::IntrospectableProxy::builder(&c)
        .destination(tesserad::dbus::BUS_NAME)
        .unwrap()
        .path(tesserad::dbus::PATH)
        .unwrap()
        .build()
        .await
        .unwrap();
    let live = introspectable.introspect().await.unwrap();
    let live = normalized(&live);
    let kept = normalized(tesserad::dbus::INTERFACE_XML);
    assert!(!kept.is_empty() && kept.len() > 20, "{kept:#?}");
    let missing: Vec<_> = live.iter().filter(|l| !kept.contains(l)).collect();
    let extra: Vec<_> = kept.iter().filter(|l| !live.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "daemon/dbus/org.tessera.Authenticator1.xml and the daemon disagree.\n\
         served but not in the XML: {missing:#?}\nin the XML but not served: {extra:#?}"
    );
}

/// A call with arguments of the wrong D-Bus types gets our named
/// InvalidArgument naming the method and both signatures (not zbus's
/// InvalidArgs), for every method of every object; the daemon goes on.
#[tokio::test]
async fn every_method_with_wrong_argument_types_gets_a_named_error() {
    let bus = PrivateBus::start();
    let mut d = daemon_on(&bus, FAST_CONFIG).await;
    let c = bus.connect().await;
    // Every method of every object, as the daemon introspects them.
    let mut objects = Vec::new();
    for path in [
        tesserad::dbus::PATH,
        tesserad::dbus::SEARCH_PATH,
        tesserad::dbus::KRUNNER_PATH,
    ] {
        let xml = zbus::fdo::IntrospectableProxy::builder(&c)
            .destination(tesserad::dbus::BUS_NAME)
            .unwrap()
            .path(path)
            .unwrap()
            .build()
            .await
            .unwrap()
            .introspect()
            .await
            .unwrap();
        let node = zbus_xml::Node::from_reader(xml.as_bytes()).unwrap();
        for i in node.interfaces() {
            if !i.name().starts_with("org.freedesktop.DBus.") {
                let methods: Vec<String> =
                    i.methods().iter().map(|m| m.name().to_string()).collect();
                objects.push((path, i.name().to_string(), methods));
            }
        }
    }
    assert_eq!(objects.len(), 3, "{objects:?}");
    let mut checked = 0;
    for (path, interface, methods) in objects {
        let p = zbus::Proxy::new(&c, tesserad::dbus::BUS_NAME, path, interface.as_str())
            .await
            .unwrap();
        for method in methods {
            // A double is what no method takes; Ping and the like take
            // nothing, and a double is wrong for them too.
            let e = p
                .call_method(method.as_str(), &(0.5f64,))
                .await
                .unwrap_err();
            let (name, text) = dbus_error(&e);
            assert_eq!(
                name, "org.tessera.Authenticator1.Error.InvalidArgument",
                "{interface}.{method}: {text}"
            );
            assert!(
                text.starts_with(&format!("{method} takes arguments of type (")),
                "{text}"
            );
            assert!(text.ends_with("not (d)"), "{text}");
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} methods were tried");
    println!("figures: bad D-Bus input: {checked} methods refused wrong argument types");
    // Too few arguments: the expected signature is named.
    let p = authenticator(&c).await;
    let e = p.call_method("GetAccount", &()).await.unwrap_err();
    assert_eq!(
        dbus_error(&e),
        (
            "org.tessera.Authenticator1.Error.InvalidArgument".into(),
            "GetAccount takes arguments of type (s), not ()".into()
        )
    );
    // Right types still reach the method, and the daemon is still there.
    call::<()>(&p, "Ping", &()).await.unwrap();
    // (No vault yet: the method ran and says so.)
    let e = p
        .call_method("GetAccount", &("nothing-here",))
        .await
        .unwrap_err();
    assert_eq!(dbus_error(&e).0, "org.tessera.Authenticator1.Error.NoVault");
    assert!(d.child.as_mut().unwrap().try_wait().unwrap().is_none());
}

/// One line per method, argument, signal and property of
/// org.tessera.Authenticator1, in order.
fn normalized(xml: &str) -> Vec<String> {
    let node = zbus_xml::Node::from_reader(xml.as_bytes()).expect("valid introspection XML");
    let iface = node
        .interfaces()
        .iter()
        .find(|i| i.name() == "org.tessera.Authenticator1")
        .expect("the interface is there");
    let arg = |a: &zbus_xml::Arg| {
        format!(
            "  {} {:?} {:?}",
            a.name().unwrap_or("-"),
            a.ty(),
            a.direction()
        )
    };
    let mut lines = Vec::new();
    let mut methods: Vec<_> = iface.methods().iter().collect();
    methods.sort_by_key(|m| m.name().to_string());
    for m in methods {
        lines.push(format!("method {}", m.name()));
        lines.extend(m.args().iter().map(arg));
    }
    for s in iface.signals() {
        lines.push(format!("signal {}", s.name()));
        lines.extend(s.args().iter().map(arg));
    }
    for p in iface.properties() {
        lines.push(format!(
            "property {} {:?} {:?}",
            p.name(),
            p.ty(),
            p.access()
        ));
    }
    lines
}

/// A Steam Guard account: the same kind and the same 5-character code over
/// both interfaces, and the code Steam's own algorithm gives.
#[tokio::test]
async fn a_steam_guard_account_is_the_same_over_both_interfaces() {
    let bus = PrivateBus::start();
    let d = daemon_on(&bus, FAST_CONFIG).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    activate(
        &p,
        "otpauth://steam/Steam:gamer?secret=JBSWY3DPEHPK3PXP&issuer=Steam",
        false,
    )
    .await;
    let dbus: Vec<Account> = call(&p, "ListAccounts", &()).await.unwrap();
    assert_eq!(dbus[0].kind, "steam", "{dbus:?}");
    let mut accounts = d.accounts().await;
    for _ in 0..3 {
        let g = accounts
            .code(pb::AccountRef {
                account: "gamer".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let b: Code = call(&p, "GetCode", &("gamer",)).await.unwrap();
        assert_eq!(g.account.as_ref().unwrap().kind(), pb::AccountKind::Steam);
        if g.valid_from_unix == b.valid_from_unix {
            assert_eq!(g.code, b.code);
            let want =
                tessera_core::otp::steam(b"Hello!\xde\xad\xbe\xef", g.valid_from_unix as u64);
            assert_eq!(g.code, want.as_str());
            assert_eq!(g.valid_until_unix - g.valid_from_unix, 30);
            return;
        }
    }
    panic!("never in the same TOTP window");
}

/// One scenario over both interfaces of one daemon gives the same results.
#[tokio::test]
async fn grpc_and_dbus_give_the_same_results() {
    let bus = PrivateBus::start();
    let d = daemon_on(&bus, FAST_CONFIG).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;

    // Activate a TOTP account over gRPC, an HOTP one over D-Bus.
    activate_payload(&d, OTPAUTH, PIN).await;
    activate(&p, HOTP, false).await;

    // Accounts: the same fields both ways.
    let grpc: Vec<Account> = d
        .accounts()
        .await
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap()
        .into_inner()
        .accounts
        .iter()
        .map(from_grpc)
        .collect();
    let dbus: Vec<Account> = call(&p, "ListAccounts", &()).await.unwrap();
    assert_eq!(grpc.len(), 2);
    assert_eq!(grpc, dbus);

    // Codes: TOTP the same in the same window; HOTP continues the counter.
    let mut accounts = d.accounts().await;
    for _ in 0..3 {
        let g = accounts
            .code(pb::AccountRef {
                account: "alice".into(),
            })
            .await
            .unwrap()
            .into_inner();
        let b: Code = call(&p, "GetCode", &("alice",)).await.unwrap();
        if g.valid_from_unix == b.valid_from_unix {
            assert_eq!(g.code, b.code);
            assert_eq!(g.valid_until_unix, b.valid_until_unix);
            assert_eq!(from_grpc(g.account.as_ref().unwrap()), b.account);
            break;
        }
    }
    let g = accounts
        .code(pb::AccountRef {
            account: "bob".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let b: Code = call(&p, "GetCode", &("bob",)).await.unwrap();
    // (The activation showed counter 5's code, so bob starts at 6.)
    assert_eq!((g.counter, b.counter), (6, 7));
    // RFC 4226's test key "12345678901234567890" is not this one: the two
    // codes differ, and each is the HOTP of its counter (checked in core).
    assert_eq!(g.code.len(), b.code.len());

    // OCRA responses.
    let g = accounts
        .respond(pb::RespondRequest {
            account: "alice".into(),
            challenge: "00001234".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let b: (String, String) = call(&p, "Respond", &("alice", "00001234")).await.unwrap();
    assert_eq!((g.response, g.suite), b);

    // Vault status.
    let g = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let b: Status = call(&p, "Status", &()).await.unwrap();
    assert_eq!(
        (
            g.exists,
            g.locked,
            g.account_count,
            g.failed_attempts,
            g.auto_lock_minutes
        ),
        (
            b.exists,
            b.locked,
            b.account_count,
            b.failed_attempts,
            b.auto_lock_minutes
        )
    );
    assert_eq!(
        (g.protection(), b.protection.as_str()),
        (pb::Protection::Pin, "pin")
    );

    // Errors: the same code and message.
    let g = accounts
        .get(pb::AccountRef {
            account: "carol".into(),
        })
        .await
        .unwrap_err();
    let b = call::<Account>(&p, "GetAccount", &("carol",))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&b);
    assert_eq!(error_code(&g), "ERROR_CODE_NOT_FOUND");
    assert_eq!(name, "org.tessera.Authenticator1.Error.NotFound");
    assert_eq!(g.message(), message);

    // Scanner sources and plugins.
    let g = d.channel().await;
    let sources = pb::scanner_client::ScannerClient::new(g.clone())
        .sources(pb::ListSourcesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sources;
    let b: Vec<tesserad::dbus::types::ScanSourceInfo> = call(&p, "ScanSources", &()).await.unwrap();
    assert_eq!(
        sources
            .iter()
            .map(|s| (
                s.source.clone(),
                s.available,
                s.plugin.clone(),
                s.reason.clone()
            ))
            .collect::<Vec<_>>(),
        b.iter()
            .map(|s| (
                s.source.clone(),
                s.available,
                s.plugin.clone(),
                s.reason.clone()
            ))
            .collect::<Vec<_>>()
    );
    let plugins = pb::plugins_client::PluginsClient::new(g)
        .list(pb::ListPluginsRequest {})
        .await
        .unwrap()
        .into_inner()
        .plugins;
    let b: Vec<tesserad::dbus::types::Plugin> = call(&p, "ListPlugins", &()).await.unwrap();
    assert_eq!(
        plugins
            .iter()
            .map(|p| (p.name.clone(), p.path.clone()))
            .collect::<Vec<_>>(),
        b.iter()
            .map(|p| (p.name.clone(), p.path.clone()))
            .collect::<Vec<_>>()
    );

    let shown = pb::config_client::ConfigClient::new(d.channel().await)
        .show(pb::ShowConfigRequest {})
        .await
        .unwrap()
        .into_inner();
    let b: tesserad::dbus::types::ConfigReport = call(&p, "ShowConfig", &()).await.unwrap();
    assert!(shown.entries.iter().any(|e| e.key == "pin.min_length"));
    assert_eq!(
        shown
            .entries
            .iter()
            .map(|e| (
                e.key.clone(),
                e.value.clone(),
                e.layer.clone(),
                e.file.clone()
            ))
            .collect::<Vec<_>>(),
        b.entries
            .iter()
            .map(|e| (
                e.key.clone(),
                e.value.clone(),
                e.layer.clone(),
                e.file.clone()
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        (shown.noncompliant, shown.accounts_checked),
        (b.noncompliant, b.accounts_checked)
    );

    // A new scan from home after "Start over": D-Bus `Rescan`, gRPC's
    // `Scan` event; the same image gives the same step and accounts.
    const CAROL: &str = "otpauth://totp/Example:carol?secret=JBSWY3DPEHPK3PXP&issuer=Example";
    let png = tessera_testkit::images::qr_png(CAROL);
    let broken = "otpauth://totp/Broken?secret=not*base32";
    let mut activation = d.activation().await;
    let start_over = |id: String| pb::SendEventRequest {
        activation_id: id,
        revision: 0,
        event: Some(pb::Event {
            kind: Some(pb::event::Kind::StartOver(pb::Empty {})),
        }),
    };
    let failed = activation
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Payload(broken.into())),
        })
        .await
        .unwrap()
        .into_inner();
    activation
        .send_event(start_over(failed.id.clone()))
        .await
        .unwrap();
    let g = activation
        .send_event(pb::SendEventRequest {
            activation_id: failed.id,
            revision: 0,
            event: Some(pb::Event {
                kind: Some(pb::event::Kind::Scan(pb::StartActivationRequest {
                    source: Some(pb::start_activation_request::Source::Image(png.clone())),
                })),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let failed: View = call(&p, "StartActivation", &(payload(broken),))
        .await
        .unwrap();
    send_event(&p, &failed.id, "start_over", "").await;
    let image = HashMap::from([(
        "image".to_owned(),
        OwnedValue::try_from(Value::from(png)).unwrap(),
    )]);
    let b: View = call(&p, "Rescan", &(failed.id.as_str(), 0u64, image))
        .await
        .unwrap();
    assert!(
        matches!(
            g.state.as_ref().and_then(|s| s.kind.as_ref()),
            Some(pb::activation_state::Kind::EnterPin(_))
        ),
        "{g:?}"
    );
    assert_eq!(b.state, "enter_pin");
    assert_eq!(
        g.accounts
            .iter()
            .map(|a| (a.issuer.clone(), a.label.clone()))
            .collect::<Vec<_>>(),
        b.accounts
            .iter()
            .map(|a| (a.issuer.clone(), a.label.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(b.accounts[0].label, "carol");

    // The camera preview of an activation that scans no camera: no frame
    // both ways; of an unknown one, the same error.
    let g = activation
        .get_preview_frame(pb::GetPreviewFrameRequest {
            activation_id: b.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let frame: (u64, u32, u32, Vec<u8>) =
        call(&p, "PreviewFrame", &(b.id.as_str(),)).await.unwrap();
    assert_eq!((g.sequence, g.width, g.height, g.pixels), frame);
    let g = activation
        .get_preview_frame(pb::GetPreviewFrameRequest {
            activation_id: "gone".into(),
        })
        .await
        .unwrap_err();
    let e = call::<(u64, u32, u32, Vec<u8>)>(&p, "PreviewFrame", &("gone",))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(error_code(&g), "ERROR_CODE_NOT_FOUND");
    assert_eq!(name, "org.tessera.Authenticator1.Error.NotFound");
    assert_eq!(g.message(), message);

    // An import's preview: the same accounts, duplicates and skipped
    // entries both ways; a wrong password the same typed error.
    let list = format!("{OTPAUTH}\notpauth://totp/New:dave?secret=GEZDGNBVGY3TQOJQ\nnonsense\n");
    let g = d
        .backup()
        .await
        .import(pb::ImportRequest {
            file: list.clone().into_bytes(),
            ..pb::ImportRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let b: tesserad::dbus::types::ImportResult =
        call(&p, "ImportFile", &("", list.as_bytes(), "", "", false))
            .await
            .unwrap();
    assert_eq!(g.format, b.format);
    assert_eq!(g.format, "uri-list");
    let labels = |l: &[pb::PendingAccount]| l.iter().map(|a| a.label.clone()).collect::<Vec<_>>();
    let dbus_labels = |l: &[Account]| l.iter().map(|a| a.label.clone()).collect::<Vec<_>>();
    assert_eq!(labels(&g.added), ["dave"]);
    assert_eq!(labels(&g.added), dbus_labels(&b.added));
    assert_eq!(labels(&g.duplicates), dbus_labels(&b.duplicates));
    assert_eq!(g.duplicates.len(), 1);
    let skipped: Vec<_> = g
        .skipped
        .iter()
        .map(|s| (s.name.clone(), s.reason.clone()))
        .collect();
    assert_eq!(skipped, b.skipped);
    assert_eq!(skipped.len(), 1);
    assert!(!g.applied && !b.applied);
    let aegis = include_bytes!("../../import/tests/fixtures/aegis_encrypted.json");
    let g = d
        .backup()
        .await
        .import(pb::ImportRequest {
            file: aegis.to_vec(),
            password: "wrong password".into(),
            ..pb::ImportRequest::default()
        })
        .await
        .unwrap_err();
    let e = call::<tesserad::dbus::types::ImportResult>(
        &p,
        "ImportFile",
        &("", &aegis[..], "wrong password", "", false),
    )
    .await
    .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(error_code(&g), "ERROR_CODE_WRONG_PASSWORD", "{message}");
    assert_eq!(name, "org.tessera.Authenticator1.Error.WrongPassword");
    assert_eq!(g.message(), message);

    // Export: the same file and the same accounts both ways; a wrong PIN
    // the same error, counted once for each call.
    let g = d
        .backup()
        .await
        .export(pb::ExportRequest {
            format: "uri-list".into(),
            pin: PIN.into(),
            password: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let (file, b): (Vec<u8>, tesserad::dbus::types::ExportResult) =
        call(&p, "ExportFile", &("uri-list", PIN, ""))
            .await
            .unwrap();
    assert_eq!(g.file, file);
    assert!(String::from_utf8(file).unwrap().starts_with("otpauth://"));
    assert_eq!(labels(&g.exported), dbus_labels(&b.exported));
    assert!(!g.exported.is_empty());
    let g_exported = g.exported;
    let e = call::<(Vec<u8>, tesserad::dbus::types::ExportResult)>(
        &p,
        "ExportFile",
        &("uri-list", "000000", ""),
    )
    .await
    .unwrap_err();
    let (name, _) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.WrongPin");
    let e =
        call::<(Vec<u8>, tesserad::dbus::types::ExportResult)>(&p, "ExportFile", &("pdf", PIN, ""))
            .await
            .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(message.contains("aegis-encrypted"), "{message}");

    // Backups: the same list; a backup made over D-Bus opens over gRPC,
    // and the same plan comes back both ways.
    let g = d
        .backup()
        .await
        .list(pb::ListBackupsRequest {})
        .await
        .unwrap()
        .into_inner();
    let (folder, list): (String, Vec<(String, u64, i64)>) =
        call(&p, "ListBackups", &()).await.unwrap();
    assert_eq!(g.folder, folder);
    let grpc_list: Vec<_> = g
        .backups
        .iter()
        .map(|b| (b.path.clone(), b.bytes, b.modified_unix))
        .collect();
    assert_eq!(grpc_list, list);
    let password = "correct horse battery";
    let (file, count): (Vec<u8>, u32) = call(&p, "CreateBackup", &(password, false)).await.unwrap();
    assert_eq!(count as usize, labels(&g_exported).len());
    let g = d
        .backup()
        .await
        .restore(pb::RestoreBackupRequest {
            name: "made over D-Bus".into(),
            file: file.clone(),
            pin: password.into(),
            mode: pb::RestoreMode::Merge as i32,
            apply: false,
        })
        .await
        .unwrap()
        .into_inner();
    let b: tesserad::dbus::types::RestoreResult = call(
        &p,
        "RestoreBackup",
        &("made over D-Bus", &file[..], password, "merge", false),
    )
    .await
    .unwrap();
    assert_eq!((g.in_backup, g.unchanged), (b.in_backup, b.unchanged));
    assert_eq!(g.unchanged, count, "the vault holds every account already");
    assert!(g.added.is_empty() && b.added.is_empty() && !b.applied);
    let e = call::<tesserad::dbus::types::RestoreResult>(
        &p,
        "RestoreBackup",
        &("x", &file[..], password, "sideways", false),
    )
    .await
    .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(message.contains("\"merge\""), "{message}");

    // Lock over gRPC: D-Bus sees it.
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    let b: Status = call(&p, "Status", &()).await.unwrap();
    assert!(b.locked);
}

fn from_grpc(a: &pb::Account) -> Account {
    Account {
        id: a.id.clone(),
        label: a.label.clone(),
        issuer: a.issuer.clone(),
        kind: match a.kind() {
            pb::AccountKind::Tessera => "tessera",
            pb::AccountKind::Totp => "totp",
            pb::AccountKind::Hotp => "hotp",
            pb::AccountKind::Steam => "steam",
            pb::AccountKind::Motp => "motp",
            pb::AccountKind::Yandex => "yandex",
            pb::AccountKind::Unspecified => "",
        }
        .into(),
        otp_type: a.otp_type.clone(),
        algorithm: a.algorithm.clone(),
        digits: a.digits,
        period: a.period,
        counter: a.counter,
        created_unix: a.created_unix,
        serial: a.serial.clone(),
        user_id: a.user_id.clone(),
        ocra_suite: a.ocra_suite.clone(),
        issuer_verified: false,
        notifications: a.notifications,
        extra: a.extra.clone().into_iter().collect(),
    }
}

/// GNOME Shell's provider and KRunner: "Unlock Tessera" while locked; the
/// account with its current code while unlocked; activating a result shows
/// the code in a notification.
#[tokio::test]
async fn the_shells_search_finds_accounts_with_their_codes() {
    let bus = PrivateBus::start();
    let (_n, mock) = mock_notifications(&bus, Reply::Never).await;
    let _d = daemon_on(&bus, FAST_CONFIG).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let gnome = zbus::Proxy::new(
        &c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::SEARCH_PATH,
        "org.gnome.Shell.SearchProvider2",
    )
    .await
    .unwrap();
    let krunner = zbus::Proxy::new(
        &c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::KRUNNER_PATH,
        "org.kde.krunner1",
    )
    .await
    .unwrap();
    let terms = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // No vault yet: nothing.
    let ids: Vec<String> = call(&gnome, "GetInitialResultSet", &(terms(&["ali"]),))
        .await
        .unwrap();
    assert!(ids.is_empty());

    activate(&p, OTPAUTH, false).await;
    activate(&p, HOTP, false).await;

    let ids: Vec<String> = call(&gnome, "GetInitialResultSet", &(terms(&["ALI"]),))
        .await
        .unwrap();
    let alice: Account = call(&p, "GetAccount", &("alice",)).await.unwrap();
    assert_eq!(ids, [format!("account:{}", alice.id)]);
    let ids: Vec<String> = call(
        &gnome,
        "GetInitialResultSet",
        &(terms(&["example", "alice"]),),
    )
    .await
    .unwrap();
    assert_eq!(ids.len(), 1, "terms match label or issuer, all of them");
    let none: Vec<String> = call(
        &gnome,
        "GetSubsearchResultSet",
        &(ids.clone(), terms(&["alice", "zzz"])),
    )
    .await
    .unwrap();
    assert!(none.is_empty());

    let metas: Vec<HashMap<String, OwnedValue>> = call(&gnome, "GetResultMetas", &(ids.clone(),))
        .await
        .unwrap();
    let text = |m: &HashMap<String, OwnedValue>, k: &str| {
        String::try_from(m[k].try_clone().unwrap()).unwrap()
    };
    assert_eq!(text(&metas[0], "name"), "alice@example.com");
    let description = text(&metas[0], "description");
    let code: Code = call(&p, "GetCode", &("alice",)).await.unwrap();
    let grouped = format!("{} {}", &code.code[..3], &code.code[3..]);
    // The window may turn between the two calls; then the next one matches.
    if !description.starts_with(&grouped) {
        let again: Vec<HashMap<String, OwnedValue>> =
            call(&gnome, "GetResultMetas", &(ids.clone(),))
                .await
                .unwrap();
        let code: Code = call(&p, "GetCode", &("alice",)).await.unwrap();
        assert!(
            text(&again[0], "description").starts_with(&format!(
                "{} {}",
                &code.code[..3],
                &code.code[3..]
            )),
            "{description}"
        );
    }
    assert!(description.ends_with("· Example"), "{description}");

    // HOTP: no code is used up by searching.
    let bob: Vec<String> = call(&gnome, "GetInitialResultSet", &(terms(&["bob"]),))
        .await
        .unwrap();
    let metas: Vec<HashMap<String, OwnedValue>> = call(&gnome, "GetResultMetas", &(bob.clone(),))
        .await
        .unwrap();
    assert!(text(&metas[0], "description").starts_with("press Enter"));
    let bob_account: Account = call(&p, "GetAccount", &("bob",)).await.unwrap();
    assert_eq!(bob_account.counter, 6, "the activation used counter 5");

    // KRunner: the same results.
    type Match = (
        String,
        String,
        String,
        i32,
        f64,
        HashMap<String, OwnedValue>,
    );
    let matches: Vec<Match> = call(&krunner, "Match", &("alice@example.com",))
        .await
        .unwrap();
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0].0, ids[0]);
    assert_eq!(matches[0].1, "alice@example.com");
    assert_eq!(matches[0].3, 100, "an exact label is an exact match");
    let actions: Vec<(String, String, String)> = call(&krunner, "Actions", &()).await.unwrap();
    assert_eq!(actions[0].0, "show");

    // Activating a result shows the code (HOTP: the next one).
    call::<()>(
        &gnome,
        "ActivateResult",
        &(bob[0].as_str(), terms(&["bob"]), 0u32),
    )
    .await
    .unwrap();
    call::<()>(&krunner, "Run", &(ids[0].as_str(), "show"))
        .await
        .unwrap();
    {
        let shown = mock.shown.lock().unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].summary, "bob");
        assert_eq!(
            shown[0].body.len(),
            7,
            "6 digits grouped: {:?}",
            shown[0].body
        );
        assert_eq!(shown[1].summary, "alice@example.com");
        assert!(shown[1].body.contains("valid for"), "{:?}", shown[1].body);
    }
    let bob_account: Account = call(&p, "GetAccount", &("bob",)).await.unwrap();
    assert_eq!(bob_account.counter, 7, "the shown HOTP code used counter 6");

    // Locked: one result, "Unlock Tessera".
    call::<Status>(&p, "Lock", &()).await.unwrap();
    let ids: Vec<String> = call(&gnome, "GetInitialResultSet", &(terms(&["ali"]),))
        .await
        .unwrap();
    assert_eq!(ids, ["unlock"]);
    let metas: Vec<HashMap<String, OwnedValue>> =
        call(&gnome, "GetResultMetas", &(ids,)).await.unwrap();
    assert_eq!(text(&metas[0], "name"), "Unlock Tessera");
    let matches: Vec<Match> = call(&krunner, "Match", &("ali",)).await.unwrap();
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0].1, "Unlock Tessera");
    let e = call::<()>(&gnome, "ActivateResult", &("bogus", terms(&[]), 0u32))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidArgument"
    );
}

/// RequestApproval: a notification with Approve and Deny on a mock
/// notification server; approved → the OCRA response over the message's
/// question; denied, dismissed; refused without permission.
#[tokio::test]
async fn approvals_through_a_notification_server() {
    let bus = PrivateBus::start();
    let (_n, mock) = mock_notifications(&bus, Reply::Action("approve")).await;
    let d = daemon_on(&bus, &config(NOTIFY_CONFIG)).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    activate(&p, OTPAUTH, true).await;
    activate(&p, HOTP, false).await;

    let message = "Sign in to vpn.example.com from 192.0.2.7?";
    let r: ApprovalResult = call(&p, "RequestApproval", &("alice", message))
        .await
        .unwrap();
    assert!(r.approved, "{r:?}");
    assert_eq!(r.answer, "approved");
    assert_eq!(r.suite, "OCRA-1:HOTP-SHA256-8:QN08");
    assert_eq!(r.question.len(), 8);
    // The response is the account's OCRA response to the derived question.
    let (expected, _): (String, String) = call(&p, "Respond", &("alice", r.question.as_str()))
        .await
        .unwrap();
    assert_eq!(r.response, expected);
    {
        let shown = mock.shown.lock().unwrap();
        let n = shown.last().unwrap();
        assert_eq!(n.body, message);
        assert_eq!(n.summary, "Approve for alice@example.com (Example)?");
        assert_eq!(n.actions, ["approve", "Approve", "deny", "Deny"]);
        assert_eq!(n.expire_timeout, 60_000);
    }

    // Over gRPC too; the user denies this time.
    *mock.reply.lock().unwrap() = Reply::Action("deny");
    let g = d
        .accounts()
        .await
        .request_approval(pb::RequestApprovalRequest {
            account: "alice".into(),
            message: message.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!g.approved);
    assert_eq!(g.answer, "denied");
    assert!(g.response.is_empty());
    assert_eq!(
        g.question, r.question,
        "the same message, the same question"
    );
    // Dismissed.
    *mock.reply.lock().unwrap() = Reply::Dismiss;
    let r: ApprovalResult = call(&p, "RequestApproval", &("alice", message))
        .await
        .unwrap();
    assert_eq!((r.approved, r.answer.as_str()), (false, "dismissed"));

    // The HOTP account's activation denied notifications.
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("bob", message))
        .await
        .unwrap_err();
    let (name, text) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.PermissionDenied");
    assert!(text.contains("does not allow approvals"), "{text}");
    // Allowed later, the same account asks and is approved; refused again,
    // it is refused.
    let a: Account = call(&p, "SetNotifications", &("bob", true)).await.unwrap();
    assert!(a.notifications);
    *mock.reply.lock().unwrap() = Reply::Action("approve");
    let r: ApprovalResult = call(&p, "RequestApproval", &("bob", message))
        .await
        .unwrap();
    assert!(r.approved, "{r:?}");
    let a: Account = call(&p, "SetNotifications", &("bob", false)).await.unwrap();
    assert!(!a.notifications);
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("bob", message))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.PermissionDenied"
    );
    // Bad messages.
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("alice", " "))
        .await
        .unwrap_err();
    assert!(dbus_error(&e).1.starts_with("message:"));
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("alice", "a\u{7}b"))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidArgument"
    );
    // Locked: no approval.
    call::<Status>(&p, "Lock", &()).await.unwrap();
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("alice", message))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.VaultLocked"
    );
    assert_eq!(
        mock.shown.lock().unwrap().len(),
        4,
        "no notification for refusals"
    );
}

#[tokio::test]
async fn approvals_time_out_and_policy_can_turn_them_off() {
    let bus = PrivateBus::start();
    let (_n, mock) = mock_notifications(&bus, Reply::Never).await;
    let d = daemon_on(
        &bus,
        &config(
            "[activation]\nnotifications = true\n[notifications]\napproval_timeout_seconds = 5\n",
        ),
    )
    .await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    activate(&p, OTPAUTH, true).await;
    let waiting = {
        let p = p.clone();
        tokio::spawn(async move {
            call::<ApprovalResult>(&p, "RequestApproval", &("alice", "ok?")).await
        })
    };
    // Other calls are served while an approval waits for the user.
    while mock.shown.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let code: Code = call(&p, "GetCode", &("alice",)).await.unwrap();
    assert_eq!(code.code.len(), 6);
    assert!(!waiting.is_finished(), "the approval waits for an answer");
    let r = waiting.await.unwrap().unwrap();
    assert_eq!((r.approved, r.answer.as_str()), (false, "timed-out"));
    assert_eq!(
        *mock.closed.lock().unwrap(),
        [1],
        "the notification is withdrawn"
    );
    drop(d);

    // notifications.allowed = false: refused, and the activation never asks.
    let bus = PrivateBus::start();
    let (_n, mock) = mock_notifications(&bus, Reply::Action("approve")).await;
    let _d = daemon_on(
        &bus,
        &config("[activation]\nnotifications = true\n[notifications]\nallowed = false\n"),
    )
    .await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let v = activate(&p, OTPAUTH, true).await;
    assert!(!v.accounts[0].notifications);
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("alice", "ok?"))
        .await
        .unwrap_err();
    let (name, text) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.PermissionDenied");
    assert!(text.contains("notifications.allowed = false"), "{text}");
    // Nor can they be allowed afterwards (over gRPC here).
    let e = _d
        .accounts()
        .await
        .set_notifications(pb::SetNotificationsRequest {
            account: "alice".into(),
            allowed: true,
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_POLICY");
    assert!(
        e.message().contains("notifications.allowed = false"),
        "{}",
        e.message()
    );
    assert!(mock.shown.lock().unwrap().is_empty());
}

/// Without a notification server an approval says so.
#[tokio::test]
async fn approvals_without_a_notification_server_say_so() {
    let bus = PrivateBus::start();
    let _d = daemon_on(&bus, &config(NOTIFY_CONFIG)).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    activate(&p, OTPAUTH, true).await;
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("alice", "ok?"))
        .await
        .unwrap_err();
    let (name, text) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.Unsupported");
    assert!(text.contains("org.freedesktop.Notifications"), "{text}");
}

/// A second daemon on a bus whose name is taken serves gRPC and keeps
/// running; the first keeps the name.
#[tokio::test]
async fn a_second_daemon_finds_the_name_taken_and_serves_grpc() {
    let bus = PrivateBus::start();
    let first = daemon_on(&bus, FAST_CONFIG).await;
    let mut second = spawn_on(&bus, FAST_CONFIG);
    let status = second
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!status.exists);
    assert!(second.child.as_mut().unwrap().try_wait().unwrap().is_none());
    // The name's owner is still the first daemon.
    let c = bus.connect().await;
    let dbus = zbus::fdo::DBusProxy::new(&c).await.unwrap();
    let owner = dbus
        .get_connection_unix_process_id(tesserad::dbus::BUS_NAME.try_into().unwrap())
        .await
        .unwrap();
    assert_eq!(owner, first.child.as_ref().unwrap().id());
}

/// Callers of another uid are refused over D-Bus as over gRPC: the daemon
/// runs as nobody, root calls it through the bus.
#[tokio::test]
async fn a_bus_caller_of_another_uid_is_refused() {
    use std::os::unix::fs::{PermissionsExt, chown};
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to run the daemon as another user (CI runs as root)");
        return;
    }
    let bus = PrivateBus::start();
    let mut d = Daemon::unstarted();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.config_path(), FAST_CONFIG).unwrap();
    std::fs::set_permissions(d.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    for dir in [d.data_dir(), d.runtime_dir()] {
        std::fs::create_dir(&dir).unwrap();
        chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mut cmd = d.command();
    cmd.uid(NOBODY)
        .gid(NOBODY)
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address());
    d.spawn(cmd);
    bus.wait_for_name(tesserad::dbus::BUS_NAME).await;

    let c = bus.connect().await;
    let p = authenticator(&c).await;
    for method in ["Ping", "Status", "ListAccounts"] {
        let e = p.call_method(method, &()).await.unwrap_err();
        let (name, text) = dbus_error(&e);
        assert_eq!(name, "org.tessera.Authenticator1.Error.PermissionDenied");
        assert!(text.contains("serves only uid 65534"), "{text}");
    }
    let gnome = zbus::Proxy::new(
        &c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::SEARCH_PATH,
        "org.gnome.Shell.SearchProvider2",
    )
    .await
    .unwrap();
    let e = gnome
        .call_method("GetInitialResultSet", &(vec!["a"],))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.PermissionDenied"
    );
    let e = p
        .get_property::<HashMap<String, View>>("Activations")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("AccessDenied"), "{e}");
    assert!(d.child.as_mut().unwrap().try_wait().unwrap().is_none());
}

#[allow(dead_code)]
fn sorted<K: Ord, V>(m: HashMap<K, V>) -> BTreeMap<K, V> {
    m.into_iter().collect()
}

/// The built `biometric-mock` plugin (a dev-dependency).
fn biometric_mock() -> std::path::PathBuf {
    let name = "libtessera_plugin_biometric_mock.so";
    let exe = std::env::current_exe().unwrap();
    let out = exe.parent().and_then(std::path::Path::parent).unwrap();
    [out.join("deps").join(name), out.join(name)]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("cargo built libtessera_plugin_biometric_mock.so (a dev-dependency)")
}

/// `notifications.approval_verify = "biometrics"`: after Approve a finger
/// is verified (the scripted `biometric-mock` plugin): a match gives the
/// response, a no-match `not-verified`; without a plugin, a clear error.
#[tokio::test]
async fn approvals_with_a_fingerprint_after_approve() {
    use std::os::unix::fs::PermissionsExt;
    let bus = PrivateBus::start();
    let (_n, _mock) = mock_notifications(&bus, Reply::Action("approve")).await;
    let plugins = tempfile::tempdir().unwrap();
    std::fs::set_permissions(plugins.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(
        biometric_mock(),
        plugins.path().join("libtessera_plugin_biometric_mock.so"),
    )
    .unwrap();
    let script = plugins.path().join("script");
    std::fs::write(&script, "verify match\n").unwrap();
    let mut d = Daemon::unstarted();
    std::fs::write(
        d.config_path(),
        format!(
            "{}[plugins]\nfolders = [{:?}]\n[notifications]\napproval_verify = \"biometrics\"\n",
            config(NOTIFY_CONFIG),
            plugins.path().to_str().unwrap()
        ),
    )
    .unwrap();
    let mut cmd = d.command();
    cmd.env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env("TESSERA_BIOMETRIC_MOCK", &script);
    d.spawn(cmd);
    bus.wait_for_name(tesserad::dbus::BUS_NAME).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    activate(&p, OTPAUTH, true).await;

    // The vault's biometric calls are on D-Bus too, with gRPC's answers.
    let b: tesserad::dbus::types::BiometricStatus = call(&p, "BiometricStatus", &()).await.unwrap();
    let g = d
        .vault()
        .await
        .biometric_status(pb::BiometricStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.plugin, "biometric-mock");
    assert_eq!(
        (
            g.allowed,
            g.enabled,
            g.available,
            g.plugin,
            g.enrolled,
            g.max_failures
        ),
        (
            b.allowed,
            b.enabled,
            b.available,
            b.plugin,
            b.enrolled,
            b.max_failures
        )
    );
    let e = call::<Status>(&p, "UnlockWith", &("iris", ""))
        .await
        .unwrap_err();
    let (name, text) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(text.contains("auto, pin and biometric"), "{text}");
    // No method is not AUTO either: it is named as unknown.
    let e = call::<Status>(&p, "UnlockWith", &("", PIN))
        .await
        .unwrap_err();
    let (name, text) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(text.contains("unknown unlock method \"\""), "{text}");
    let s: Status = call(&p, "UnlockWith", &("pin", PIN)).await.unwrap();
    assert!(!s.locked);

    let r: ApprovalResult = call(&p, "RequestApproval", &("alice", "ok?"))
        .await
        .unwrap();
    assert!(r.approved, "{r:?}");
    assert_eq!(r.response.len(), 8);
    std::fs::write(&script, "verify no-match\n").unwrap();
    let r: ApprovalResult = call(&p, "RequestApproval", &("alice", "ok?"))
        .await
        .unwrap();
    assert_eq!((r.approved, r.answer.as_str()), (false, "not-verified"));
    assert!(r.response.is_empty());
    std::fs::write(&script, "verify fail the sensor broke\n").unwrap();
    let e = call::<ApprovalResult>(&p, "RequestApproval", &("alice", "ok?"))
        .await
        .unwrap_err();
    let (name, text) = dbus_error(&e);
    assert_eq!(
        name,
        "org.tessera.Authenticator1.Error.BiometricsUnavailable"
    );
    assert!(
        text.contains("approval_verify") && text.contains("the sensor broke"),
        "{text}"
    );
}

/// Queries over D-Bus follow the service's one rule (several matches are
/// the named error `Ambiguous` and advance nothing); ListCodes, PeekCode
/// and CommitCode never use up an HOTP code by accident; codes carry their
/// grouped `display`; DeleteAccount takes exact names only; names that
/// could pass for others are refused naming the character.
#[tokio::test]
async fn queries_codes_and_names_over_dbus() {
    let bus = PrivateBus::start();
    let _d = daemon_on(&bus, FAST_CONFIG).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    activate(&p, OTPAUTH, false).await;
    activate(&p, HOTP, false).await;
    activate(
        &p,
        "otpauth://totp/Other:alice@example.com?secret=MFRGGZDFMZTWQ2LK&issuer=Other&digits=8",
        false,
    )
    .await;
    let bob: Account = call(&p, "GetAccount", &("counter:BOB",)).await.unwrap();
    let n = bob.counter;

    // The same label under two issuers: listed, nothing done.
    let e = call::<Code>(&p, "GetCode", &("alice@example.com",))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.Ambiguous");
    assert!(
        message.contains("Example:alice@example.com  (id "),
        "{message}"
    );
    assert!(
        message.contains("Other:alice@example.com  (id "),
        "{message}"
    );
    let e = call::<Code>(&p, "GetCode", &("o",)).await.unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.Ambiguous"
    );
    let other: Code = call(&p, "GetCode", &("other:alice@example.com",))
        .await
        .unwrap();
    assert_eq!(other.code.len(), 8);
    assert_eq!(
        other.display,
        format!("{} {}", &other.code[..4], &other.code[4..])
    );

    // Every code; HOTP without one, its counter untouched.
    let codes: Vec<Code> = call(&p, "ListCodes", &()).await.unwrap();
    assert_eq!(codes.len(), 3);
    let hotp = codes.iter().find(|c| c.account.id == bob.id).unwrap();
    assert!(hotp.code.is_empty() && hotp.display.is_empty(), "{hotp:?}");
    assert_eq!(hotp.counter, n);
    let totp = codes
        .iter()
        .find(|c| c.account.issuer == "Example")
        .unwrap();
    assert_eq!(
        totp.display,
        format!("{} {}", &totp.code[..3], &totp.code[3..])
    );

    // Peek twice: the same code, the counter stays; commit once.
    let a: Code = call(&p, "PeekCode", &(bob.id.as_str(),)).await.unwrap();
    let b: Code = call(&p, "PeekCode", &("bob",)).await.unwrap();
    assert_eq!((a.code.as_str(), a.counter), (b.code.as_str(), n));
    let still: Account = call(&p, "GetAccount", &("bob",)).await.unwrap();
    assert_eq!(still.counter, n);
    let committed: Code = call(&p, "CommitCode", &("bob", n)).await.unwrap();
    assert_eq!(committed.code, a.code);
    assert_eq!(committed.account.counter, n + 1);
    let e = call::<Code>(&p, "CommitCode", &("bob", n))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(message.contains("already used"), "{message}");
    let next: Code = call(&p, "GetCode", &("bob",)).await.unwrap();
    assert_eq!(next.counter, n + 1);

    // Names that could pass for others.
    let e = call::<Account>(&p, "RenameAccount", &("bob", "b\u{202E}ob"))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidArgument");
    assert!(
        message.contains("label") && message.contains("U+202E"),
        "{message}"
    );
    let started = call::<View>(
        &p,
        "StartActivation",
        &(payload(
            "otpauth://totp/x?secret=MFRGGZDFMZTWQ2LK&issuer=Ex%E2%80%8Bample",
        ),),
    )
    .await;
    let (name, message) = match started {
        Ok(v) => (v.error_name, v.error_message),
        Err(e) => dbus_error(&e),
    };
    assert_eq!(name, "org.tessera.Authenticator1.Error.InvalidPayload");
    assert!(
        message.contains("issuer") && message.contains("U+200B"),
        "{message}"
    );
    let accounts: Vec<Account> = call(&p, "ListAccounts", &()).await.unwrap();
    assert_eq!(accounts.len(), 3);

    // Delete: a part of a name is refused; the exact name deletes.
    let e = call::<Account>(&p, "DeleteAccount", &("bo",))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidArgument"
    );
    let gone: Account = call(&p, "DeleteAccount", &("Counter:bob",)).await.unwrap();
    assert_eq!(gone.id, bob.id);
}

/// Every label the `Activations` property shows.
/// (Read fresh: a proxy's cache only changes on the property's signal.)
async fn labels_in_activations(p: &zbus::Proxy<'_>) -> Vec<String> {
    let fresh: zbus::Proxy<'_> = zbus::proxy::Builder::new(p.connection())
        .destination(tesserad::dbus::BUS_NAME)
        .unwrap()
        .path(tesserad::dbus::PATH)
        .unwrap()
        .interface("org.tessera.Authenticator1")
        .unwrap()
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .unwrap();
    let running: HashMap<String, View> = fresh.get_property("Activations").await.unwrap();
    running
        .values()
        .flat_map(|v| v.accounts.iter().map(|a| a.label.clone()))
        .collect()
}

#[tokio::test]
async fn the_activations_property_hides_a_locked_vaults_and_deleted_accounts() {
    let bus = PrivateBus::start();
    let _d = daemon_on(&bus, &config("")).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let done = activate(&p, OTPAUTH, false).await;
    assert_eq!(done.accounts[0].label, "alice@example.com");
    assert_eq!(labels_in_activations(&p).await, ["alice@example.com"]);

    // Locked: the finished activation no longer names the account, in the
    // property or when asked for by id.
    let _: Status = call(&p, "Lock", &()).await.unwrap();
    assert_eq!(labels_in_activations(&p).await, Vec::<String>::new());
    let asked: View = call(&p, "GetActivation", &(done.id.as_str(),))
        .await
        .unwrap();
    assert_eq!(asked.state, "activated");
    assert!(asked.accounts.is_empty(), "{:?}", asked.accounts);
    let _: Status = call(&p, "Unlock", &(PIN,)).await.unwrap();
    assert_eq!(labels_in_activations(&p).await, ["alice@example.com"]);

    // Deleted: gone for good, even unlocked.
    let _: Account = call(&p, "DeleteAccount", &(done.accounts[0].id.as_str(),))
        .await
        .unwrap();
    assert_eq!(labels_in_activations(&p).await, Vec::<String>::new());
}

/// After "Start over" an activation at `home` scans again from any source
/// with `Rescan` (here an image, which `SendEvent`'s text argument cannot
/// carry), in the same activation; a source that does not fit is a named
/// error and a step other than `home` refuses it.
#[tokio::test]
async fn rescan_from_home_takes_any_source() {
    let bus = PrivateBus::start();
    let _d = daemon_on(&bus, &config("")).await;
    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let failed: View = call(
        &p,
        "StartActivation",
        &(payload("otpauth://totp/Broken?secret=not*base32"),),
    )
    .await
    .unwrap();
    assert_eq!(failed.state, "failed");
    let id = failed.id.clone();
    let home = send_event(&p, &id, "start_over", "").await;
    assert_eq!(home.state, "home");

    let bad = HashMap::from([(
        "image".to_owned(),
        OwnedValue::try_from(Value::from("not bytes")).unwrap(),
    )]);
    let e = call::<View>(&p, "Rescan", &(id.as_str(), home.revision, bad))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidArgument"
    );

    let image = HashMap::from([(
        "image".to_owned(),
        OwnedValue::try_from(Value::from(tessera_testkit::images::qr_png(OTPAUTH))).unwrap(),
    )]);
    let v: View = call(&p, "Rescan", &(id.as_str(), home.revision, image.clone()))
        .await
        .unwrap();
    assert_eq!(v.id, id, "the same activation");
    assert_eq!(v.state, "choose_pin", "{v:?}");
    assert_eq!(v.accounts[0].label, "alice@example.com");
    // Not at home any more: refused, nothing changes.
    let e = call::<View>(&p, "Rescan", &(id.as_str(), 0u64, image))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidEvent"
    );
}

/// Transaction signing over D-Bus and gRPC: the same decoded fields, the
/// same response, the same refusals.
#[tokio::test]
async fn signing_over_dbus_matches_grpc() {
    use tessera_core::activation::{ActivationCode, ActivationKey, Serial, instance_key};
    use tessera_core::otp::Algorithm;
    use tessera_core::payload::{Form, TesseraPayload};
    use tessera_core::transaction::{Currency, Payment, Transaction, TransactionKeys};
    use tesserad::dbus::types::SigningView;

    let bus = PrivateBus::start();
    let d = daemon_on(&bus, FAST_CONFIG).await;
    let serial: Serial = "TSRDBUS001".parse().unwrap();
    let ak = ActivationKey::from_bytes([0x42; 16]);
    let mut payload = TesseraPayload::new(serial.clone(), ActivationCode::new(&serial, &ak));
    payload.issuer = Some("Example Bank".into());
    payload.label = Some("alice".into());
    let (_, device_code) = tessera_testkit::activation::activate_seeing_device_code(
        d.channel().await,
        &payload.write(Form::Tag),
        PIN,
    )
    .await;
    let nonce: u32 = device_code.unwrap()[..10].parse().unwrap();
    let keys = TransactionKeys::derive(
        &serial,
        instance_key(&ak, &serial, nonce, Algorithm::Sha1).expose(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let request = |n: u8, expires_at: u64| {
        let tx = Transaction::new(
            serial.clone(),
            [n; 16],
            expires_at,
            Currency::new("EUR").unwrap(),
            vec![Payment {
                amount: 12_500,
                payee_name: "ACME Ltd".into(),
                payee_account: "GB82WEST12345698765432".into(),
                reference: format!("order {n}"),
            }],
        )
        .unwrap();
        (
            keys.seal(&tx, [n; 24]).unwrap(),
            keys.respond(&tx).as_str().to_owned(),
        )
    };

    let c = bus.connect().await;
    let p = authenticator(&c).await;
    let mut signing = d.signing().await;

    // One request each way: the same fields.
    let (text, want) = request(1, now + 300);
    let g = signing
        .start(pb::StartSigningRequest {
            source: Some(pb::start_signing_request::Source::Text(text.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    let b: SigningView = call(&p, "StartSigning", &(payload_dict(&text),))
        .await
        .unwrap();
    assert_eq!((g.state.as_str(), b.state.as_str()), ("review", "review"));
    assert_eq!(g.payments[0].amount, "125.00 EUR");
    assert_eq!(
        b.payments,
        vec![(
            "125.00 EUR".to_owned(),
            "ACME Ltd".to_owned(),
            "GB82WEST12345698765432".to_owned(),
            "order 1".to_owned()
        )]
    );
    assert_eq!(
        (g.total.as_str(), b.total.as_str()),
        ("125.00 EUR", "125.00 EUR")
    );
    assert_eq!(b.account.issuer, "Example Bank");
    assert!(b.response.is_empty() && g.response.is_empty());

    // A wrong PIN over D-Bus: WrongPin, still under review.
    let e = call::<SigningView>(&p, "ApproveSigning", &(&b.id, "000000", false))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.WrongPin"
    );
    let again: SigningView = call(&p, "GetSigning", &(&b.id,)).await.unwrap();
    assert_eq!(again.state, "review");

    // Approved over D-Bus: the response core computes; the gRPC review of
    // the same request can no longer be signed (once only).
    let signed: SigningView = call(&p, "ApproveSigning", &(&b.id, PIN, false))
        .await
        .unwrap();
    assert_eq!(
        (signed.state.as_str(), signed.response.as_str()),
        ("signed", want.as_str())
    );
    let e = signing
        .approve(pb::ApproveSigningRequest {
            id: g.id.clone(),
            with: Some(pb::approve_signing_request::With::Pin(PIN.into())),
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_ALREADY_EXISTS");

    // Declined over gRPC: nothing signed; then it takes no approval.
    let (text2, _) = request(2, now + 300);
    let g2 = signing
        .start(pb::StartSigningRequest {
            source: Some(pb::start_signing_request::Source::Text(text2)),
        })
        .await
        .unwrap()
        .into_inner();
    let declined: SigningView = call(&p, "DeclineSigning", &(&g2.id,)).await.unwrap();
    assert_eq!(declined.state, "declined");
    let e = call::<SigningView>(&p, "ApproveSigning", &(&g2.id, PIN, false))
        .await
        .unwrap_err();
    assert_eq!(
        dbus_error(&e).0,
        "org.tessera.Authenticator1.Error.InvalidEvent"
    );

    // Expired: the same refusal both ways.
    let (old, _) = request(3, now - 1);
    let g = signing
        .start(pb::StartSigningRequest {
            source: Some(pb::start_signing_request::Source::Text(old.clone())),
        })
        .await
        .unwrap_err();
    let e = call::<SigningView>(&p, "StartSigning", &(payload_dict(&old),))
        .await
        .unwrap_err();
    let (name, message) = dbus_error(&e);
    assert_eq!(error_code(&g), "ERROR_CODE_EXPIRED");
    assert_eq!(name, "org.tessera.Authenticator1.Error.Expired");
    assert_eq!(g.message(), message);

    // Malformed: the same message both ways; the daemon serves on.
    let bad = "tessera://sign?v=1&sn=TSRDBUS001&tx=AAAA";
    let g = signing
        .start(pb::StartSigningRequest {
            source: Some(pb::start_signing_request::Source::Text(bad.into())),
        })
        .await
        .unwrap_err();
    let e = call::<SigningView>(&p, "StartSigning", &(payload_dict(bad),))
        .await
        .unwrap_err();
    assert_eq!(dbus_error(&e).1, g.message());
    assert!(g.message().contains("too short"), "{}", g.message());
    call::<()>(&p, "Ping", &()).await.unwrap();
}

fn payload_dict(text: &str) -> HashMap<String, OwnedValue> {
    payload(text)
}
