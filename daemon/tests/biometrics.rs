//! Biometric protection through the real daemon: the `biometric-mock`
//! plugin (scripted by the file in `TESSERA_BIOMETRIC_MOCK`; no fingerprint
//! reader exists here) and the real Secret Service (gnome-keyring on the
//! test's session bus), looked at with `secret-tool`.
//!
//! Run with `scripts/test` (inside `dbus-run-session` with
//! `gnome-keyring-daemon --unlock`). Without a session bus these tests fail,
//! saying so: they are not skipped.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::keyring::*;
use common::*;
use tessera_proto::v1 as pb;
use tessera_testkit::bus::PrivateBus;
use tokio_stream::StreamExt;

const PIN: &str = "482915";
const TOTP_SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

type Activation = pb::activation_client::ActivationClient<tonic::transport::Channel>;

/// cargo's output folder (`target/debug`): this test is in its `deps/`.
fn build_output() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The mock plugin cargo built: the newer of `target/<profile>/deps/` (a
/// dev-dependency's build) and `target/<profile>/` (`cargo build`).
fn mock_library() -> PathBuf {
    let name = "libtessera_plugin_biometric_mock.so";
    let out = build_output();
    [out.join("deps").join(name), out.join(name)]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("cargo built libtessera_plugin_biometric_mock.so (a dev-dependency)")
}

/// A daemon with the `biometric-mock` plugin (only) and its script.
struct Bio {
    d: Daemon,
    script: PathBuf,
    /// The session bus the daemon is given (None: the test's own).
    bus: Option<String>,
}

impl Bio {
    fn start(script: &str, extra_config: &str) -> Bio {
        Self::start_on(script, extra_config, None)
    }

    fn start_on(script: &str, extra_config: &str, bus: Option<String>) -> Bio {
        require_secret_service("biometrics");
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o700)).unwrap();
        let from = mock_library();
        std::fs::copy(&from, plugins.join("libtessera_plugin_biometric_mock.so")).unwrap_or_else(
            |e| {
                panic!(
                    "copy {}: {e} (cargo builds it as a dev-dependency)",
                    from.display()
                )
            },
        );
        let script_path = dir.path().join("script");
        std::fs::write(&script_path, script).unwrap();
        let d = Daemon::in_dir(dir);
        std::fs::write(
            d.config_path(),
            format!(
                "{FAST_CONFIG}[plugins]\nfolders = [{:?}]\n[biometrics]\ntimeout_seconds = 10\n{extra_config}",
                plugins.to_str().unwrap()
            ),
        )
        .unwrap();
        let mut bio = Bio {
            d,
            script: script_path,
            bus,
        };
        bio.restart();
        bio
    }

    fn restart(&mut self) {
        self.d.stop();
        let mut command = self.d.command();
        command
            .env("TESSERA_BIOMETRIC_MOCK", &self.script)
            .stdin(Stdio::null());
        if let Some(bus) = &self.bus {
            command.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
        self.d.spawn(command);
    }

    /// What the plugin was asked, one call a line.
    fn log(&self) -> Vec<String> {
        let mut path = self.script.clone().into_os_string();
        path.push(".log");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    async fn unlock(
        &self,
        method: pb::UnlockMethod,
        pin: &str,
    ) -> Result<pb::VaultStatus, tonic::Status> {
        self.d
            .vault()
            .await
            .unlock(pb::UnlockRequest {
                pin: pin.into(),
                method: method.into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    async fn lock(&self) {
        let s = self
            .d
            .vault()
            .await
            .lock(pb::LockRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(s.locked);
    }

    async fn bio_status(&self) -> pb::BiometricStatusResponse {
        self.d
            .vault()
            .await
            .biometric_status(pb::BiometricStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }
}

async fn send(
    c: &mut Activation,
    view: &pb::ActivationView,
    kind: pb::event::Kind,
) -> pb::ActivationView {
    c.send_event(pb::SendEventRequest {
        activation_id: view.id.clone(),
        revision: 0,
        event: event(kind),
    })
    .await
    .unwrap_or_else(|e| panic!("event refused at {}: {e}", state_name(view)))
    .into_inner()
}

/// Starts an otpauth activation and answers the PIN steps (choosing `PIN`).
async fn start_with_pin(d: &Daemon, label: &str) -> (Activation, pb::ActivationView) {
    use pb::event::Kind as E;
    let mut c = d.activation().await;
    let uri = format!("otpauth://totp/Example:{label}?secret={TOTP_SECRET_B32}&issuer=Example");
    let v = c
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Payload(uri)),
        })
        .await
        .expect("start")
        .into_inner();
    assert_eq!(state_name(&v), "choose_pin", "{v:?}");
    let v = send(&mut c, &v, E::Pin(PIN.into())).await;
    assert_eq!(state_name(&v), "confirm_pin");
    let v = send(&mut c, &v, E::Pin(PIN.into())).await;
    (c, v)
}

/// Watches the activation until it leaves `biometric_enroll`; returns the
/// enroll views seen and the view after them.
async fn through_enroll(
    c: &mut Activation,
    id: &str,
) -> (Vec<pb::EnrollProgress>, pb::ActivationView) {
    let mut stream = c
        .watch(pb::WatchActivationRequest {
            activation_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while let Some(v) = stream.next().await {
        let v = v.unwrap();
        match v.state.as_ref().and_then(|s| s.kind.as_ref()) {
            Some(pb::activation_state::Kind::BiometricEnroll(p)) => seen.push(p.clone()),
            _ => return (seen, v),
        }
    }
    panic!("the watch ended during the enrollment");
}

/// From `choose_method`: biometrics, allowed; through the enrollment (or
/// verify) to the finalize code; then stored.
async fn choose_biometrics(c: &mut Activation, v: pb::ActivationView) -> Vec<pb::EnrollProgress> {
    use pb::event::Kind as E;
    assert_eq!(state_name(&v), "choose_method", "{v:?}");
    let Some(pb::activation_state::Kind::ChooseMethod(choice)) =
        v.state.as_ref().and_then(|s| s.kind.as_ref())
    else {
        unreachable!()
    };
    assert!(choice.biometric_available, "{choice:?}");
    let v = send(c, &v, E::Biometric(pb::Empty {})).await;
    assert_eq!(state_name(&v), "biometric_permission");
    let v = send(c, &v, E::Allow(pb::Empty {})).await;
    let (progress, v) = through_enroll(c, &v.id).await;
    assert_eq!(state_name(&v), "finalize_code", "{v:?}");
    let v = send(c, &v, E::Continue(pb::Empty {})).await;
    assert!(
        matches!(state_name(&v), "activated" | "notification_permission"),
        "{v:?}"
    );
    progress
}

fn code_of(status: &tonic::Status) -> String {
    error_code(status)
}

/// Activation steps 6–8 with enrollment (no finger enrolled yet), then the
/// vault opens with a finger; the key is in the Secret Service.
#[tokio::test]
async fn activation_with_biometrics_then_unlock_by_finger() {
    let b = Bio::start("enrolled 0\nenroll 3\nverify match\n", "");
    let (mut c, v) = start_with_pin(&b.d, "alice").await;
    choose_biometrics(&mut c, v).await;
    // (Each stage's view is checked in the cancel test, where the
    // enrollment stops at its last stage.)
    assert!(b.log().contains(&"enroll 3".to_owned()), "{:?}", b.log());

    let id = vault_id(&b.d);
    assert_eq!(
        keyring_items_for(&id, Some("biometric")),
        1,
        "the biometric key is in the keyring"
    );
    let s = b.bio_status().await;
    assert!(s.enabled && s.available && s.allowed, "{s:?}");
    assert_eq!(s.plugin, "biometric-mock");

    b.lock().await;
    let s = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap();
    assert!(!s.locked);
    assert!(b.log().contains(&"verify match".to_owned()));

    // `auto` with no PIN uses the finger too; a PIN given is used instead.
    b.lock().await;
    let verifies = b.log().iter().filter(|l| l.starts_with("verify")).count();
    assert!(!b.unlock(pb::UnlockMethod::Auto, "").await.unwrap().locked);
    let after = b.log().iter().filter(|l| l.starts_with("verify")).count();
    assert_eq!(after, verifies + 1);
    b.lock().await;
    assert!(!b.unlock(pb::UnlockMethod::Auto, PIN).await.unwrap().locked);
    let last = b.log().iter().filter(|l| l.starts_with("verify")).count();
    assert_eq!(last, after, "a PIN was given: no finger asked");

    secret_tool(
        &["clear", "application", "tessera", "tessera-vault", &id],
        None,
    );
}

/// No-matches count against the policy's limit; then the PIN is the way in,
/// and a PIN unlock resets the count.
#[tokio::test]
async fn no_match_then_the_pin_still_works() {
    let b = Bio::start(
        "enrolled 1\nverify match\nverify no-match\n",
        "max_failures = 2\n",
    );
    let (mut c, v) = start_with_pin(&b.d, "bob").await;
    choose_biometrics(&mut c, v).await;
    // A finger already enrolled is verified once (no enrollment).
    assert_eq!(b.log().iter().filter(|l| *l == "verify match").count(), 1);
    assert!(!b.log().iter().any(|l| l.starts_with("enroll")));
    let id = vault_id(&b.d);

    b.lock().await;
    let e = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_NO_MATCH");
    assert_eq!(
        e.message(),
        "the fingerprint did not match (1 of 2 tries); try again"
    );
    let e = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_BIOMETRICS_UNAVAILABLE");
    assert_eq!(
        e.message(),
        "the fingerprint did not match (2 of 2 tries): unlock with the PIN"
    );
    let asked = b.log().len();
    let e = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_BIOMETRICS_UNAVAILABLE");
    assert_eq!(
        e.message(),
        "2 fingerprints in a row did not match: unlock with the PIN"
    );
    assert_eq!(
        b.log().len(),
        asked,
        "over the limit the plugin is not asked"
    );
    assert_eq!(b.bio_status().await.failures, 2);

    let s = b.unlock(pb::UnlockMethod::Pin, PIN).await.unwrap();
    assert!(!s.locked);
    assert_eq!(
        b.bio_status().await.failures,
        0,
        "a PIN unlock resets the count"
    );

    secret_tool(
        &["clear", "application", "tessera", "tessera-vault", &id],
        None,
    );
}

/// Without a reachable Secret Service biometrics are not offered, the views
/// and the status say why, and the PIN works.
#[tokio::test]
async fn without_a_secret_service_biometrics_are_unavailable_and_the_pin_works() {
    use pb::event::Kind as E;
    // A private bus with no keyring on it.
    let bus = PrivateBus::start();
    let b = Bio::start_on(
        "enrolled 1\nverify match\n",
        "",
        Some(bus.address().to_owned()),
    );

    let (mut c, v) = start_with_pin(&b.d, "carol").await;
    assert_eq!(
        state_name(&v),
        "finalize_code",
        "biometrics not offered: {v:?}"
    );
    assert!(
        v.biometric_unavailable_reason.starts_with(
            "the login keyring (Secret Service), which keeps the biometric key, is not available"
        ),
        "{}",
        v.biometric_unavailable_reason
    );
    let v = send(&mut c, &v, E::Continue(pb::Empty {})).await;
    assert!(matches!(
        state_name(&v),
        "activated" | "notification_permission"
    ));

    let s = b.bio_status().await;
    assert!(!s.available && !s.enabled, "{s:?}");
    assert!(s.unavailable_reason.contains("Secret Service"), "{s:?}");
    let e =
        b.d.vault()
            .await
            .enable_biometrics(pb::EnableBiometricsRequest { pin: String::new() })
            .await
            .unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_BIOMETRICS_UNAVAILABLE");
    assert!(e.message().contains("Secret Service"), "{}", e.message());

    b.lock().await;
    assert!(!b.unlock(pb::UnlockMethod::Pin, PIN).await.unwrap().locked);
    drop(bus);
}

/// A keyring item whose key does not open this vault: a clear error after
/// the match, and the PIN still opens the vault.
#[tokio::test]
async fn a_keyring_item_that_does_not_open_this_vault() {
    let b = Bio::start("enrolled 1\nverify match\n", "");
    let (mut c, v) = start_with_pin(&b.d, "dave").await;
    choose_biometrics(&mut c, v).await;
    let id = vault_id(&b.d);
    assert_eq!(keyring_items_for(&id, Some("biometric")), 1);
    // Another key under the same attributes (secret-tool replaces the item).
    secret_tool(
        &[
            "store",
            "--label=Tessera vault key (biometric)",
            "application",
            "tessera",
            "tessera-vault",
            &id,
            "tessera-slot",
            "biometric",
        ],
        Some(&[0x5a; 32]),
    );
    assert_eq!(keyring_items_for(&id, Some("biometric")), 1);

    b.lock().await;
    let e = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_BIOMETRICS_UNAVAILABLE");
    assert!(
        e.message()
            .starts_with("the fingerprint matched, but the biometric key in the login keyring")
            && e.message().contains("does not open this vault"),
        "{}",
        e.message()
    );
    assert!(!b.unlock(pb::UnlockMethod::Pin, PIN).await.unwrap().locked);

    secret_tool(
        &["clear", "application", "tessera", "tessera-vault", &id],
        None,
    );
}

/// Skipped during the activation, turned on later with the PIN, turned off
/// again: the keyring item goes with it (`secret-tool search`).
#[tokio::test]
async fn enable_later_and_disable_removes_the_keyring_item() {
    use pb::event::Kind as E;
    let b = Bio::start("enrolled 1\nverify match\n", "");
    let (mut c, v) = start_with_pin(&b.d, "erin").await;
    assert_eq!(state_name(&v), "choose_method");
    let v = send(&mut c, &v, E::PinOnly(pb::Empty {})).await;
    assert_eq!(state_name(&v), "finalize_code");
    send(&mut c, &v, E::Continue(pb::Empty {})).await;
    let id = vault_id(&b.d);
    assert_eq!(
        keyring_items_for(&id, Some("biometric")),
        0,
        "skipped: nothing in the keyring"
    );
    assert!(!b.bio_status().await.enabled);

    // Locked and no PIN: refused; with the PIN: verified once, then on.
    b.lock().await;
    let mut vault = b.d.vault().await;
    let e = vault
        .enable_biometrics(pb::EnableBiometricsRequest { pin: String::new() })
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_VAULT_LOCKED");
    let s = vault
        .enable_biometrics(pb::EnableBiometricsRequest { pin: PIN.into() })
        .await
        .unwrap()
        .into_inner();
    assert!(s.enabled, "{s:?}");
    assert_eq!(keyring_items_for(&id, Some("biometric")), 1);

    b.lock().await;
    assert!(
        !b.unlock(pb::UnlockMethod::Biometric, "")
            .await
            .unwrap()
            .locked
    );

    let s = vault
        .disable_biometrics(pb::DisableBiometricsRequest { pin: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert!(!s.enabled);
    assert_eq!(
        keyring_items_for(&id, Some("biometric")),
        0,
        "disable removes the keyring item"
    );
    b.lock().await;
    let e = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_BIOMETRICS_UNAVAILABLE");
    assert!(
        e.message().starts_with("biometrics are not enabled"),
        "{}",
        e.message()
    );
    assert!(!b.unlock(pb::UnlockMethod::Pin, PIN).await.unwrap().locked);
}

/// The enrollment's stages reach the views; cancelling during it cancels
/// the plugin's call and stores nothing.
#[tokio::test]
async fn cancelling_the_enrollment_cancels_the_plugin_call() {
    use pb::event::Kind as E;
    let b = Bio::start("enrolled 0\nenroll 2 hang\n", "");
    let (mut c, v) = start_with_pin(&b.d, "frank").await;
    let v = send(&mut c, &v, E::Biometric(pb::Empty {})).await;
    let v = send(&mut c, &v, E::Allow(pb::Empty {})).await;
    assert_eq!(state_name(&v), "biometric_enroll");
    // The view shows the last stage reported while the plugin waits.
    let mut stream = c
        .watch(pb::WatchActivationRequest {
            activation_id: v.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    loop {
        let v = stream.next().await.expect("views").unwrap();
        let Some(pb::activation_state::Kind::BiometricEnroll(p)) =
            v.state.as_ref().and_then(|s| s.kind.as_ref())
        else {
            panic!("left the enrollment: {v:?}")
        };
        if (p.stage, p.stages) == (2, 2) {
            assert_eq!(p.message, "Place your finger on the reader again");
            break;
        }
    }
    let v = send(&mut c, &v, E::Cancel(pb::Empty {})).await;
    let v = send(&mut c, &v, E::ConfirmCancel(pb::Empty {})).await;
    assert_eq!(state_name(&v), "home");
    // The plugin notices the cancel (it polls every 20 ms).
    let start = Instant::now();
    while !b.log().contains(&"cancelled".to_owned()) {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "the plugin was not cancelled: {:?}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!b.d.data_dir().join("vault").exists(), "nothing was stored");
}

/// Policy `biometrics.allowed = false`: an activation does not offer
/// biometrics, they cannot be turned on, and a vault that already has a
/// biometric slot is not opened by a finger (the plugin is not even asked);
/// the PIN still works.
#[tokio::test]
async fn policy_turns_biometrics_off() {
    use pb::event::Kind as E;
    // A first activation under the policy: straight from the PIN to the
    // finalize code, saying why.
    let b = Bio::start("enrolled 1\nverify match\n", "allowed = false\n");
    let (mut c, v) = start_with_pin(&b.d, "grace").await;
    assert_eq!(state_name(&v), "finalize_code", "{v:?}");
    assert!(
        v.biometric_unavailable_reason
            .contains("biometrics.allowed = false"),
        "{}",
        v.biometric_unavailable_reason
    );
    send(&mut c, &v, E::Continue(pb::Empty {})).await;
    let e =
        b.d.vault()
            .await
            .enable_biometrics(pb::EnableBiometricsRequest { pin: PIN.into() })
            .await
            .unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_POLICY");
    let s = b.bio_status().await;
    assert!(!s.allowed && !s.available && !s.enabled, "{s:?}");
    assert!(b.log().is_empty(), "the plugin was asked: {:?}", b.log());

    // Biometrics on, then the administrator turns them off.
    let mut b = Bio::start(
        "enrolled 1\nverify match\nverify match\n",
        "allowed = true\n",
    );
    let (mut c, v) = start_with_pin(&b.d, "heidi").await;
    choose_biometrics(&mut c, v).await;
    assert!(b.bio_status().await.enabled);
    let config = std::fs::read_to_string(b.d.config_path()).unwrap();
    std::fs::write(
        b.d.config_path(),
        config.replace("allowed = true", "allowed = false"),
    )
    .unwrap();
    b.restart();
    let asked = b.log().len();
    let e = b.unlock(pb::UnlockMethod::Biometric, "").await.unwrap_err();
    assert_eq!(code_of(&e), "ERROR_CODE_BIOMETRICS_UNAVAILABLE");
    assert!(
        e.message().contains("biometrics.allowed = false"),
        "{}",
        e.message()
    );
    assert!(b.unlock(pb::UnlockMethod::Auto, "").await.is_err());
    assert_eq!(b.log().len(), asked, "no finger asked: {:?}", b.log());
    assert!(!b.unlock(pb::UnlockMethod::Pin, PIN).await.unwrap().locked);
}
