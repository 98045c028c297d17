//! Fleet policy through the real daemon: layered files under a moved root
//! (`--config-root`) and a user file (`$XDG_CONFIG_HOME`), locks, each
//! policy key's enforcement through the gRPC API, reload on SIGHUP and on a
//! changed file with clients staying connected, non-compliance reports, and
//! bad files at start-up.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tessera_core::activation::{ActivationCode, ActivationKey, Serial};
use tessera_core::payload::{Form, TesseraPayload};
use tessera_core::signature::IssuerSigningKey;
use tessera_proto::v1 as pb;

const PIN: &str = "482915";
const OTPAUTH_SHA1: &str = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";
const OTPAUTH_SHA256: &str =
    "otpauth://totp/Example:bob?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA256";

const ADMIN: &str = "root/etc/tessera/tessera.toml";
const DROP_IN: &str = "root/etc/tessera/tessera.d/50-policy.toml";
const VENDOR: &str = "root/usr/share/tessera/tessera.toml";
const USER: &str = "home/tessera/tessera.toml";

type Client = pb::activation_client::ActivationClient<tonic::transport::Channel>;

/// A daemon reading the standard layers under a temporary root, with its
/// stderr collected (the log, at `info`).
struct Layered {
    d: Daemon,
    log: Arc<Mutex<String>>,
}

impl Layered {
    /// Writes `files` (paths relative to the temporary folder; the vendor
    /// file carries the fast Argon2 settings unless given) and starts.
    fn start(files: &[(&str, &str)]) -> Layered {
        let d = Daemon::unstarted();
        if !files.iter().any(|(f, _)| *f == VENDOR) {
            write(&d, VENDOR, FAST_CONFIG);
        }
        for (f, text) in files {
            write(&d, f, text);
        }
        let mut l = Layered {
            d,
            log: Arc::default(),
        };
        let mut child = l
            .command()
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tesserad starts");
        let stderr = child.stderr.take().unwrap();
        let log = l.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        l.d.child = Some(child);
        l.d.wait_for_socket();
        l
    }

    fn command(&self) -> Command {
        layered_command(&self.d)
    }

    fn write(&self, rel: &str, text: &str) {
        write(&self.d, rel, text);
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log has `needle` (a reload is logged as it happens).
    fn wait_for_log(&self, needle: &str) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the daemon never logged {needle:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn hangup(&self) {
        let pid = self.d.child.as_ref().unwrap().id() as i32;
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(pid, libc::SIGHUP) };
    }
}

fn write(d: &Daemon, rel: &str, text: &str) {
    let p = d.dir.path().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    // Replace by renaming, as configuration management does.
    let tmp = p.with_extension("tmp-write");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
}

fn layered_command(d: &Daemon) -> Command {
    let mut c = d.layered_command();
    c.env("RUST_LOG", "info");
    c
}

fn path(d: &Daemon, rel: &str) -> String {
    d.dir.path().join(rel).display().to_string()
}

async fn show(ch: tonic::transport::Channel) -> pb::ShowConfigResponse {
    pb::config_client::ConfigClient::new(ch)
        .show(pb::ShowConfigRequest {})
        .await
        .expect("config show")
        .into_inner()
}

fn entry<'a>(r: &'a pb::ShowConfigResponse, key: &str) -> &'a pb::ConfigEntry {
    r.entries
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no entry {key}"))
}

async fn start(c: &mut Client, payload: &str) -> pb::ActivationView {
    c.start(pb::StartActivationRequest {
        source: Some(pb::start_activation_request::Source::Payload(
            payload.into(),
        )),
    })
    .await
    .expect("start")
    .into_inner()
}

async fn send(c: &mut Client, v: &pb::ActivationView, kind: pb::event::Kind) -> pb::ActivationView {
    c.send_event(pb::SendEventRequest {
        activation_id: v.id.clone(),
        revision: v.revision,
        event: event(kind),
    })
    .await
    .expect("event")
    .into_inner()
}

/// The failed state's error code and message.
fn failure(v: &pb::ActivationView) -> (String, String) {
    match v.state.as_ref().and_then(|s| s.kind.as_ref()) {
        Some(pb::activation_state::Kind::Failed(f)) => {
            let e = f.error.clone().unwrap_or_default();
            (e.code, e.message)
        }
        other => panic!("expected failed, got {other:?}"),
    }
}

fn choose_pin_reason(v: &pb::ActivationView) -> String {
    match v.state.as_ref().and_then(|s| s.kind.as_ref()) {
        Some(pb::activation_state::Kind::ChoosePin(p)) => p.reason.clone(),
        other => panic!("expected choose_pin, got {other:?}"),
    }
}

/// Activates an otpauth payload with [`PIN`], answering whatever the
/// policy asks.
async fn activate_otpauth(d: &Daemon, payload: &str) {
    activate_payload(d, payload, PIN).await;
}

#[tokio::test]
async fn layers_locks_and_origins_through_config_show() {
    let l = Layered::start(&[
        (VENDOR, &format!("{FAST_CONFIG}[pin]\nmin_length = 5\n")),
        (
            ADMIN,
            "locked = [\"pin.min_length\", \"biometrics.allowed\"]\n\n[pin]\nmin_length = 6\n[biometrics]\nallowed = false\n",
        ),
        (
            DROP_IN,
            "[notifications]\nallowed = false\n[accounts]\nmax = 7\n",
        ),
        (
            USER,
            "[pin]\nmin_length = 9\n[biometrics]\nallowed = true\n[vault]\nauto_lock_minutes = 2\n",
        ),
    ]);
    let d = &l.d;
    let r = show(d.channel().await).await;

    let e = entry(&r, "pin.min_length");
    assert_eq!((e.value.as_str(), e.layer.as_str()), ("6", "admin"));
    assert_eq!((e.file.clone(), e.line), (path(d, ADMIN), 4));
    assert_eq!(e.locked_by, format!("{}:1", path(d, ADMIN)));
    let e = entry(&r, "biometrics.allowed");
    assert_eq!((e.value.as_str(), e.layer.as_str()), ("false", "admin"));
    let e = entry(&r, "notifications.allowed");
    assert_eq!(
        (e.value.as_str(), e.file.clone()),
        ("false", path(d, DROP_IN))
    );
    assert_eq!(entry(&r, "accounts.max").value, "7");
    let e = entry(&r, "vault.auto_lock_minutes");
    assert_eq!(
        (e.value.as_str(), e.layer.as_str(), e.line),
        ("2", "user", 6)
    );
    let e = entry(&r, "vault.argon2_iterations");
    assert_eq!((e.value.as_str(), e.layer.as_str()), ("1", "vendor"));
    let e = entry(&r, "activation.timeout_minutes");
    assert_eq!(
        (e.value.as_str(), e.layer.as_str(), e.file.as_str()),
        ("10", "default", "")
    );
    let e = entry(&r, "plugins.allow");
    assert!(!e.is_set && e.restart_required);
    assert_eq!(
        r.entries.len(),
        tessera_config::KEYS.len(),
        "every key of the schema (docs/admin.md)"
    );

    let files: Vec<(&str, String)> = r
        .files
        .iter()
        .map(|f| (f.layer.as_str(), f.path.clone()))
        .collect();
    assert_eq!(
        files,
        [
            ("vendor", path(d, VENDOR)),
            ("admin", path(d, ADMIN)),
            ("admin", path(d, DROP_IN)),
            ("user", path(d, USER)),
        ]
    );
    // The user's values for the locked keys are refused, each naming the
    // file that locked it; the log says so too.
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    for w in &r.warnings {
        assert!(w.starts_with(&format!("{}: line ", path(d, USER))), "{w}");
        assert!(
            w.contains(&format!("is locked by {} (line 1)", path(d, ADMIN))),
            "{w}"
        );
    }
    assert!(
        l.log().contains("pin.min_length is locked by"),
        "{}",
        l.log()
    );

    // Status reports the user's auto-lock.
    let s = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.auto_lock_minutes, 2);
}

#[tokio::test]
async fn pin_rules_come_from_policy() {
    use pb::event::Kind as E;
    let l = Layered::start(&[(
        ADMIN,
        "[pin]\nmin_length = 8\ndigits_only = true\nrefuse_trivial = true\n",
    )]);
    let mut c = l.d.activation().await;
    let v = start(&mut c, OTPAUTH_SHA1).await;
    assert_eq!(state_name(&v), "choose_pin");
    let v = send(&mut c, &v, E::Pin("4829157".into())).await;
    assert!(
        choose_pin_reason(&v).contains("at least 8"),
        "{}",
        choose_pin_reason(&v)
    );
    let v = send(&mut c, &v, E::Pin("4829157a".into())).await;
    assert!(
        choose_pin_reason(&v).contains("digits only"),
        "{}",
        choose_pin_reason(&v)
    );
    let v = send(&mut c, &v, E::Pin("12345678".into())).await;
    assert!(
        choose_pin_reason(&v).contains("too easy"),
        "{}",
        choose_pin_reason(&v)
    );
    let v = send(&mut c, &v, E::Pin("48291573".into())).await;
    assert_eq!(state_name(&v), "confirm_pin");

    // Without the rules the same PINs pass.
    let l = Layered::start(&[(ADMIN, "[pin]\nmin_length = 4\nrefuse_trivial = false\n")]);
    let mut c = l.d.activation().await;
    let v = start(&mut c, OTPAUTH_SHA1).await;
    let v = send(&mut c, &v, E::Pin("1234".into())).await;
    assert_eq!(state_name(&v), "confirm_pin");
}

#[tokio::test]
async fn wrong_pins_are_delayed_then_locked_out_per_policy() {
    let l = Layered::start(&[(
        ADMIN,
        "[pin]\nfree_attempts = 1\ndelay_seconds = 600\nlockout_after = 3\n",
    )]);
    activate_otpauth(&l.d, OTPAUTH_SHA1).await;
    let mut vault = l.d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    let unlock = |pin: &str| pb::UnlockRequest {
        pin: pin.into(),
        ..Default::default()
    };
    let e = vault.unlock(unlock("000000")).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    // One free wrong PIN, then the 600 s delay: even the right PIN waits.
    let e = vault.unlock(unlock(PIN)).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED");
    let s = vault
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(s.retry_after_seconds > 60, "{s:?}");

    // Lock-out: no delays, a lock-out after two wrong PINs.
    let l = Layered::start(&[(ADMIN, "[pin]\nfree_attempts = 5\nlockout_after = 2\n")]);
    activate_otpauth(&l.d, OTPAUTH_SHA1).await;
    let mut vault = l.d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    let e = vault.unlock(unlock("000000")).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    // The second wrong PIN locks PIN unlocking out; the right one too, then.
    let e = vault.unlock(unlock("000001")).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED");
    let e = vault.unlock(unlock(PIN)).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED");
}

#[tokio::test]
async fn otpauth_payloads_and_algorithms_are_refused_by_policy() {
    let l = Layered::start(&[(ADMIN, "[accounts]\notpauth = false\n")]);
    let mut c = l.d.activation().await;
    let v = start(&mut c, OTPAUTH_SHA256).await;
    let (code, message) = failure(&v);
    assert_eq!(code, "ERROR_CODE_POLICY");
    assert!(message.contains("accounts.otpauth"), "{message}");
    // Tessera payloads still activate.
    let (payload, _) = tessera_payload(None);
    assert_eq!(state_name(&start(&mut c, &payload).await), "device_code");

    let l = Layered::start(&[(ADMIN, "[accounts]\nalgorithms = [\"SHA256\", \"SHA512\"]\n")]);
    let mut c = l.d.activation().await;
    let (code, message) = failure(&start(&mut c, OTPAUTH_SHA1).await);
    assert_eq!(code, "ERROR_CODE_POLICY");
    assert!(
        message.contains("SHA1") && message.contains("accounts.algorithms"),
        "{message}"
    );
    assert_eq!(
        state_name(&start(&mut c, OTPAUTH_SHA256).await),
        "choose_pin"
    );
    // A Tessera payload's algorithm (SHA1 by default) is checked too.
    let (payload, _) = tessera_payload(None);
    assert_eq!(
        failure(&start(&mut c, &payload).await).0,
        "ERROR_CODE_POLICY"
    );
}

#[tokio::test]
async fn the_vault_holds_at_most_accounts_max() {
    let l = Layered::start(&[(ADMIN, "[accounts]\nmax = 1\n")]);
    activate_otpauth(&l.d, OTPAUTH_SHA1).await;
    let mut c = l.d.activation().await;
    let (code, message) = failure(&start(&mut c, OTPAUTH_SHA256).await);
    assert_eq!(code, "ERROR_CODE_POLICY");
    assert!(message.contains("accounts.max"), "{message}");
    let list =
        l.d.accounts()
            .await
            .list(pb::ListAccountsRequest {})
            .await
            .unwrap();
    assert_eq!(list.into_inner().accounts.len(), 1);
}

#[tokio::test]
async fn scanner_sources_not_allowed_are_refused() {
    let l = Layered::start(&[(ADMIN, "[scanner]\nsources = [\"camera\"]\n")]);
    let ch = l.d.channel().await;
    let sources = pb::scanner_client::ScannerClient::new(ch.clone())
        .sources(pb::ListSourcesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sources;
    for s in sources.iter().filter(|s| s.source != "camera") {
        assert!(!s.available, "{s:?}");
        assert!(s.reason.contains("scanner.sources"), "{s:?}");
    }
    let e = pb::scanner_client::ScannerClient::new(ch)
        .scan(pb::ScanRequest {
            source: Some(pb::scan_request::Source::Image(vec![
                0x89, b'P', b'N', b'G',
            ])),
            raw: false,
        })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_POLICY");
    assert!(e.message().contains("scanner.sources"), "{}", e.message());
    // An activation from an image is refused the same way.
    let v =
        l.d.activation()
            .await
            .start(pb::StartActivationRequest {
                source: Some(pb::start_activation_request::Source::Image(vec![1, 2, 3])),
            })
            .await
            .unwrap()
            .into_inner();
    assert_eq!(failure(&v).0, "ERROR_CODE_POLICY");
}

/// A Tessera payload, signed by `signer` when given; and its serial.
fn tessera_payload(signer: Option<&IssuerSigningKey>) -> (String, Serial) {
    let serial: Serial = "TSRPOLICY1".parse().unwrap();
    let key = ActivationKey::from_bytes(rand::random());
    let mut p = TesseraPayload::new(serial.clone(), ActivationCode::new(&serial, &key));
    p.label = Some("dave".into());
    if let Some(s) = signer {
        s.sign(&mut p);
    }
    (p.write(Form::Tag), serial)
}

#[tokio::test]
async fn trusted_issuers_and_unsigned_payloads() {
    let trusted = IssuerSigningKey::generate(&mut rand::rngs::OsRng);
    let other = IssuerSigningKey::generate(&mut rand::rngs::OsRng);
    let l = Layered::start(&[(
        ADMIN,
        &format!(
            "[issuers]\ntrusted = [\"{}\"]\nrequire_signature = true\n",
            trusted.public_key()
        ),
    )]);
    let mut c = l.d.activation().await;
    let (unsigned, _) = tessera_payload(None);
    let (code, message) = failure(&start(&mut c, &unsigned).await);
    assert_eq!(code, "ERROR_CODE_INVALID_PAYLOAD");
    assert!(message.contains("not signed"), "{message}");
    let (by_other, _) = tessera_payload(Some(&other));
    assert_eq!(
        failure(&start(&mut c, &by_other).await).0,
        "ERROR_CODE_INVALID_PAYLOAD"
    );
    let (signed, _) = tessera_payload(Some(&trusted));
    assert_eq!(state_name(&start(&mut c, &signed).await), "device_code");

    // Without require_signature an unsigned payload activates.
    let l = Layered::start(&[(ADMIN, "[issuers]\nrequire_signature = false\n")]);
    let mut c = l.d.activation().await;
    assert_eq!(state_name(&start(&mut c, &unsigned).await), "device_code");
}

#[tokio::test]
async fn a_pin_is_required_when_the_keyring_is_not_allowed() {
    // The user asks for keyring protection; the admin requires a PIN: the
    // user's key is dropped with a warning, and the activation asks a PIN.
    let l = Layered::start(&[
        (
            ADMIN,
            "locked = [\"vault.allow_keyring\"]\n[vault]\nallow_keyring = false\n",
        ),
        (USER, "[vault]\nprotection = \"keyring\"\n"),
    ]);
    let r = show(l.d.channel().await).await;
    assert_eq!(entry(&r, "vault.protection").value, "\"pin\"");
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("vault.allow_keyring is false"),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings[0].contains("this key is ignored; the rest of the file applies"),
        "{:?}",
        r.warnings
    );
    let mut c = l.d.activation().await;
    assert_eq!(state_name(&start(&mut c, OTPAUTH_SHA1).await), "choose_pin");

    // Where the keyring is allowed, the user's choice skips the PIN.
    let l = Layered::start(&[(USER, "[vault]\nprotection = \"keyring\"\n")]);
    let mut c = l.d.activation().await;
    let first = state_name(&start(&mut c, OTPAUTH_SHA1).await);
    assert!(!["choose_pin", "failed"].contains(&first), "{first}");
}

async fn plugin_list(d: &Daemon) -> Vec<pb::PluginInfo> {
    pb::plugins_client::PluginsClient::new(d.channel().await)
        .list(pb::ListPluginsRequest {})
        .await
        .unwrap()
        .into_inner()
        .plugins
}

#[tokio::test]
async fn plugin_allow_list_by_name_only() {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().unwrap();
    let build = exe.parent().and_then(std::path::Path::parent).unwrap();
    let plugins = tempfile::tempdir().unwrap();
    std::fs::set_permissions(plugins.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(
        build.join("libtessera_scanner_image.so"),
        plugins.path().join("libtessera_scanner_image.so"),
    )
    .expect("cargo builds the image plugin as a dev-dependency");
    let folder = plugins.path().display();
    let l = Layered::start(&[(
        ADMIN,
        &format!("[plugins]\nfolders = [\"{folder}\"]\nallow = [{{ name = \"image\" }}]\n"),
    )]);
    let p = plugin_list(&l.d).await;
    assert_eq!(p.len(), 1);
    assert!(p[0].reason.is_empty(), "loaded: {p:?}");
    let l = Layered::start(&[(
        ADMIN,
        &format!("[plugins]\nfolders = [\"{folder}\"]\nallow = [{{ name = \"camera\" }}]\n"),
    )]);
    let p = plugin_list(&l.d).await;
    assert!(p[0].reason.contains("allow-list"), "{p:?}");
}

#[tokio::test]
async fn sighup_reloads_and_connected_clients_carry_on() {
    let l = Layered::start(&[(
        ADMIN,
        "[pin]\nmin_length = 4\n[vault]\nauto_lock_minutes = 5\n",
    )]);
    let ch = l.d.channel().await;
    assert_eq!(entry(&show(ch.clone()).await, "pin.min_length").value, "4");

    l.write(
        ADMIN,
        "[pin]\nmin_length = 8\n[vault]\nauto_lock_minutes = 9\n",
    );
    l.hangup();
    l.wait_for_log("SIGHUP: configuration reloaded");
    // The channel opened before the reload still works, and sees the new values.
    let r = show(ch.clone()).await;
    assert_eq!(entry(&r, "pin.min_length").value, "8");
    let s = pb::vault_client::VaultClient::new(ch.clone())
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.auto_lock_minutes, 9);
    let mut c = pb::activation_client::ActivationClient::new(ch.clone());
    let v = start(&mut c, OTPAUTH_SHA1).await;
    let v = send(&mut c, &v, pb::event::Kind::Pin(PIN.into())).await;
    assert!(choose_pin_reason(&v).contains("at least 8"));

    // An invalid admin file keeps the settings in force and says why.
    l.write(DROP_IN, "[pin]\nmin_length = 0\n");
    l.hangup();
    l.wait_for_log("configuration not reloaded");
    assert!(
        l.log().contains(
            "50-policy.toml: line 2, column 14: pin.min_length must be a whole number from 1 to 64"
        ),
        "{}",
        l.log()
    );
    assert_eq!(entry(&show(ch).await, "pin.min_length").value, "8");
    assert!(l.d.child.as_ref().unwrap().id() > 0);
}

#[tokio::test]
async fn a_changed_file_is_reloaded_without_a_signal() {
    let l = Layered::start(&[]);
    let ch = l.d.channel().await;
    assert_eq!(
        entry(&show(ch.clone()).await, "accounts.otpauth").value,
        "true"
    );
    // A new drop-in appears (its folder did not exist at start).
    l.write(DROP_IN, "[accounts]\notpauth = false\n");
    l.wait_for_log("a configuration file changed: configuration reloaded");
    let r = show(ch.clone()).await;
    let e = entry(&r, "accounts.otpauth");
    assert_eq!(
        (e.value.as_str(), e.file.clone()),
        ("false", path(&l.d, DROP_IN))
    );
    let mut c = pb::activation_client::ActivationClient::new(ch);
    assert_eq!(
        failure(&start(&mut c, OTPAUTH_SHA1).await).0,
        "ERROR_CODE_POLICY"
    );
}

#[tokio::test]
async fn accounts_that_no_longer_comply_are_reported_not_deleted() {
    let l = Layered::start(&[]);
    activate_otpauth(&l.d, OTPAUTH_SHA1).await;
    activate_otpauth(&l.d, OTPAUTH_SHA256).await;
    let ch = l.d.channel().await;
    let r = show(ch.clone()).await;
    assert!(r.accounts_checked && r.noncompliant.is_empty(), "{r:?}");

    l.write(
        DROP_IN,
        "[accounts]\nalgorithms = [\"SHA256\"]\nmax = 1\n[plugins]\nallow = [{ name = \"image\" }]\n",
    );
    l.hangup();
    l.wait_for_log("SIGHUP: configuration reloaded");
    let r = show(ch.clone()).await;
    assert_eq!(r.noncompliant.len(), 2, "{:?}", r.noncompliant);
    assert!(
        r.noncompliant[0].contains("\"alice\"") && r.noncompliant[0].contains("SHA1"),
        "{:?}",
        r.noncompliant
    );
    assert!(
        r.noncompliant[1].contains("more than accounts.max = 1"),
        "{:?}",
        r.noncompliant
    );
    assert!(l.log().contains("policy: account \"alice\""), "{}", l.log());
    // Kept: both accounts still give codes.
    let list = pb::accounts_client::AccountsClient::new(ch.clone())
        .list(pb::ListAccountsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts.len(), 2);
    // The plugin allow-list takes effect at restart only, and says so.
    let e = entry(&r, "plugins.allow");
    assert!(e.is_set && e.restart_required && e.restart_pending, "{e:?}");
    assert!(
        l.log()
            .contains("plugins.allow changed; it takes effect when tesserad restarts"),
        "{}",
        l.log()
    );

    // A locked vault cannot be checked until it is opened.
    pb::vault_client::VaultClient::new(ch.clone())
        .lock(pb::LockRequest {})
        .await
        .unwrap();
    assert!(!show(ch).await.accounts_checked);
}

#[test]
fn an_invalid_admin_file_stops_start_up_and_says_where() {
    let d = Daemon::unstarted();
    write(&d, ADMIN, "[pin]\nmin_length = 6\n");
    write(&d, DROP_IN, "[accounts]\nalgorithms = [\"MD5\"]\n");
    let out = layered_command(&d).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "tesserad: invalid configuration, not starting: {}: line 2, column 14: accounts.algorithms must be a list of names from: SHA1, SHA256, SHA512 (e.g. [\"SHA1\"]); \"MD5\" is not one of them",
            path(&d, DROP_IN)
        )),
        "{err}"
    );
    // Logged too (the journal, under systemd).
    assert!(err.contains("ERROR"), "{err}");
    assert!(!d.socket().exists());
}

#[tokio::test]
async fn a_typo_in_the_user_file_drops_only_that_key() {
    let l = Layered::start(&[(USER, "[pin]\nmin_length = 7\nmin_lenght = 8\n")]);
    let r = show(l.d.channel().await).await;
    // The good key still applies; the typo is named, with its place.
    assert_eq!(entry(&r, "pin.min_length").value, "7");
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    let w = &r.warnings[0];
    assert!(
        w.starts_with(&format!(
            "{}: line 3, column 1: `min_lenght` is not a key of [pin] (did you mean min_length?)",
            path(&l.d, USER)
        )),
        "{w}"
    );
    assert!(
        w.ends_with("this key is ignored; the rest of the file applies"),
        "{w}"
    );
    // `tessera status` shows the same warning (the Status reply carries it).
    let status = pb::vault_client::VaultClient::new(l.d.channel().await)
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.settings_warnings, r.warnings);
    assert!(l.log().contains("WARN"), "{}", l.log());
}

/// `--config FILE` (the test harnesses' way) reads that file only.
#[tokio::test]
async fn config_file_option_reads_only_that_file() {
    let d = Daemon::start(&format!("{FAST_CONFIG}[pin]\nmin_length = 5\n"));
    let r = show(d.channel().await).await;
    let e = entry(&r, "pin.min_length");
    assert_eq!(
        (e.value.as_str(), e.file.clone(), e.line),
        ("5", d.config_path().display().to_string(), 5)
    );
    assert_eq!(r.files.len(), 1);
}
