//! The `fprintd` plugin, loaded by the real plugin host, against a mock
//! fprintd: a small zbus service with fprintd's names, object paths,
//! method signatures, signals and errors (fprintd's `src/device.xml` and
//! `src/manager.xml`), on a private `dbus-daemon` that the plugin finds
//! through `DBUS_SYSTEM_BUS_ADDRESS`. Each scenario scripts the mock's
//! answers; the mock counts `Claim` and `Release` and refuses a second
//! `Claim` (`AlreadyInUse`), so a device left claimed fails the next step.
//!
//! The bus address is process-wide, so the scenarios share one bus and one
//! mock and run one at a time (`serial()`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tessera_plugin_host::{
    PluginError, PluginFolder, PluginHost, PluginKind, PluginStatus, ProgressKind,
};
use tessera_testkit::bus::PrivateBus;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedObjectPath;
use zbus::{Connection, interface};

const DEVICE_PATH: &str = "/net/reactivated/Fprint/Device/0";

/// fprintd's named errors.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "net.reactivated.Fprint.Error")]
enum FprintError {
    #[zbus(error)]
    ZBus(zbus::Error),
    ClaimDevice(String),
    AlreadyInUse(String),
    Internal(String),
    PermissionDenied(String),
    NoEnrolledPrints(String),
    NoActionInProgress(String),
    InvalidFingername(String),
    NoSuchDevice(String),
}

/// How the mock answers.
#[derive(Debug, Clone, Default)]
struct Script {
    no_device: bool,
    claim_error: Option<&'static str>,
    enrolled: Vec<String>,
    /// VerifyStatus signals sent after VerifyStart; none: the mock waits
    /// for VerifyStop.
    verify: Vec<(&'static str, bool)>,
    /// EnrollStatus signals sent after EnrollStart.
    enroll: Vec<(&'static str, bool)>,
    stages: i32,
}

#[derive(Default)]
struct Seen {
    claims: AtomicUsize,
    releases: AtomicUsize,
    verify_stops: AtomicUsize,
    enroll_stops: AtomicUsize,
    claimed: Mutex<bool>,
    claimed_for: Mutex<Option<String>>,
    enrolling: Mutex<Option<String>>,
}

#[derive(Clone)]
struct Mock {
    script: Arc<Mutex<Script>>,
    seen: Arc<Seen>,
}

struct Manager {
    mock: Mock,
}

#[interface(name = "net.reactivated.Fprint.Manager")]
impl Manager {
    async fn get_devices(&self) -> Vec<OwnedObjectPath> {
        if self.mock.script.lock().unwrap().no_device {
            Vec::new()
        } else {
            vec![OwnedObjectPath::try_from(DEVICE_PATH).unwrap()]
        }
    }

    async fn get_default_device(&self) -> Result<OwnedObjectPath, FprintError> {
        if self.mock.script.lock().unwrap().no_device {
            return Err(FprintError::NoSuchDevice("No devices available".into()));
        }
        Ok(OwnedObjectPath::try_from(DEVICE_PATH).unwrap())
    }
}

struct Device {
    mock: Mock,
}

impl Device {
    fn require_claim(&self) -> Result<(), FprintError> {
        if *self.mock.seen.claimed.lock().unwrap() {
            Ok(())
        } else {
            Err(FprintError::ClaimDevice(
                "Device was not claimed before use".into(),
            ))
        }
    }
}

/// Sends `signals` on the device after the method's reply is out.
fn emit_later(connection: &Connection, signals: Vec<(&'static str, bool)>, enroll: bool) {
    let connection = connection.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let emitter = SignalEmitter::new(&connection, DEVICE_PATH).unwrap();
        for (result, done) in signals {
            if enroll {
                Device::enroll_status(&emitter, result, done).await.unwrap();
            } else {
                Device::verify_status(&emitter, result, done).await.unwrap();
            }
        }
    });
}

#[interface(name = "net.reactivated.Fprint.Device")]
impl Device {
    async fn list_enrolled_fingers(&self, username: &str) -> Result<Vec<String>, FprintError> {
        assert_eq!(username, "", "the plugin asks for the current user");
        let enrolled = self.mock.script.lock().unwrap().enrolled.clone();
        if enrolled.is_empty() {
            return Err(FprintError::NoEnrolledPrints(
                "Failed to discover prints".into(),
            ));
        }
        Ok(enrolled)
    }

    async fn delete_enrolled_fingers(&self, _username: &str) -> Result<(), FprintError> {
        Err(FprintError::PermissionDenied("not in the mock".into()))
    }

    async fn delete_enrolled_fingers2(&self) -> Result<(), FprintError> {
        Err(FprintError::PermissionDenied("not in the mock".into()))
    }

    async fn claim(&self, username: &str) -> Result<(), FprintError> {
        if let Some(error) = self.mock.script.lock().unwrap().claim_error {
            return Err(match error {
                "AlreadyInUse" => FprintError::AlreadyInUse("Device was already claimed".into()),
                "PermissionDenied" => FprintError::PermissionDenied(
                    "Not Authorized: net.reactivated.fprint.device.verify".into(),
                ),
                other => FprintError::Internal(other.into()),
            });
        }
        let mut claimed = self.mock.seen.claimed.lock().unwrap();
        if *claimed {
            return Err(FprintError::AlreadyInUse(
                "Device was already claimed".into(),
            ));
        }
        *claimed = true;
        *self.mock.seen.claimed_for.lock().unwrap() = Some(username.to_owned());
        self.mock.seen.claims.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn release(&self) -> Result<(), FprintError> {
        self.require_claim()?;
        *self.mock.seen.claimed.lock().unwrap() = false;
        self.mock.seen.releases.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn verify_start(
        &self,
        #[zbus(connection)] connection: &Connection,
        finger_name: &str,
    ) -> Result<(), FprintError> {
        self.require_claim()?;
        assert_eq!(finger_name, "any");
        let script = self.mock.script.lock().unwrap().clone();
        if script.enrolled.is_empty() {
            return Err(FprintError::NoEnrolledPrints(
                "No fingerprints enrolled".into(),
            ));
        }
        emit_later(connection, script.verify, false);
        Ok(())
    }

    async fn verify_stop(&self) -> Result<(), FprintError> {
        self.require_claim()?;
        self.mock.seen.verify_stops.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn enroll_start(
        &self,
        #[zbus(connection)] connection: &Connection,
        finger_name: &str,
    ) -> Result<(), FprintError> {
        self.require_claim()?;
        if finger_name == "any" || !finger_name.contains("-") {
            return Err(FprintError::InvalidFingername("Invalid finger name".into()));
        }
        *self.mock.seen.enrolling.lock().unwrap() = Some(finger_name.to_owned());
        let script = self.mock.script.lock().unwrap().clone();
        emit_later(connection, script.enroll, true);
        Ok(())
    }

    async fn enroll_stop(&self) -> Result<(), FprintError> {
        self.require_claim()?;
        self.mock.seen.enroll_stops.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[zbus(signal)]
    async fn verify_finger_selected(
        emitter: &SignalEmitter<'_>,
        finger_name: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn verify_status(
        emitter: &SignalEmitter<'_>,
        result: &str,
        done: bool,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn enroll_status(
        emitter: &SignalEmitter<'_>,
        result: &str,
        done: bool,
    ) -> zbus::Result<()>;

    #[zbus(property, name = "name")]
    async fn name(&self) -> String {
        "Mock Fingerprint Reader".into()
    }

    #[zbus(property, name = "num-enroll-stages")]
    async fn num_enroll_stages(&self) -> i32 {
        if *self.mock.seen.claimed.lock().unwrap() {
            self.mock.script.lock().unwrap().stages
        } else {
            -1
        }
    }

    #[zbus(property, name = "scan-type")]
    async fn scan_type(&self) -> String {
        "press".into()
    }

    #[zbus(property, name = "finger-present")]
    async fn finger_present(&self) -> bool {
        false
    }

    #[zbus(property, name = "finger-needed")]
    async fn finger_needed(&self) -> bool {
        false
    }
}

/// A private bus (ended at exit), the mock on it, and a runtime serving it.
struct World {
    _bus: PrivateBus,
    _runtime: tokio::runtime::Runtime,
    _connection: Connection,
    mock: Mock,
    host: PluginHost,
}

/// The plugin library cargo built for these tests: in `target/<profile>/deps/`
/// next to the test binary (or in `target/<profile>/` when another crate's
/// dev-dependency built it).
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .iter()
        .map(|dir| dir.join("libtessera_biometric_fprintd.so"))
        .find(|path| path.exists())
        .expect("cargo built libtessera_biometric_fprintd.so")
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let bus = PrivateBus::start();
        let address = bus.address().to_owned();
        // SAFETY: set once, before the plugin (the only reader) is loaded;
        // the tests of this file run their scenarios one at a time.
        unsafe { std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", &address) };

        let mock = Mock {
            script: Arc::default(),
            seen: Arc::default(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let connection = runtime.block_on(async {
            zbus::connection::Builder::address(address.as_str())
                .unwrap()
                .name("net.reactivated.Fprint")
                .unwrap()
                .serve_at(
                    "/net/reactivated/Fprint/Manager",
                    Manager { mock: mock.clone() },
                )
                .unwrap()
                .serve_at(DEVICE_PATH, Device { mock: mock.clone() })
                .unwrap()
                .build()
                .await
                .expect("the mock fprintd takes its name")
        });

        // The plugin, copied into a private folder the host trusts.
        let dir = tempfile::tempdir().unwrap().keep();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let so = built_library();
        std::fs::copy(&so, dir.join("libtessera_biometric_fprintd.so"))
            .unwrap_or_else(|e| panic!("copy {}: {e}", so.display()));
        let host = PluginHost::load(&[PluginFolder::new(&dir)], None);
        World {
            _bus: bus,
            _runtime: runtime,
            _connection: connection,
            mock,
            host,
        }
    })
}

/// One scenario at a time, with `script`; the counters start at zero.
fn serial(script: Script) -> (MutexGuard<'static, ()>, &'static World) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let w = world();
    *w.mock.script.lock().unwrap() = Script {
        stages: if script.stages == 0 { 5 } else { script.stages },
        ..script
    };
    let seen = &w.mock.seen;
    for counter in [
        &seen.claims,
        &seen.releases,
        &seen.verify_stops,
        &seen.enroll_stops,
    ] {
        counter.store(0, Ordering::SeqCst);
    }
    (guard, w)
}

fn enrolled() -> Vec<String> {
    vec!["right-index-finger".to_owned()]
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn verify(
    w: &World,
) -> (
    Result<(), PluginError>,
    Vec<tessera_plugin_host::BiometricProgress>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let result = rt().block_on(w.host.biometric_verify("fprintd", TIMEOUT, tx));
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    (result, progress)
}

/// Claimed once, released once, not claimed now.
fn released_once(w: &World) {
    let seen = &w.mock.seen;
    assert_eq!(seen.claims.load(Ordering::SeqCst), 1, "claimed once");
    assert_eq!(seen.releases.load(Ordering::SeqCst), 1, "released once");
    assert!(!*seen.claimed.lock().unwrap(), "the device is released");
    assert_eq!(seen.claimed_for.lock().unwrap().as_deref(), Some(""));
}

fn unavailable_message(e: PluginError) -> String {
    match e {
        PluginError::SourceUnavailable { message, .. } => message,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[test]
fn the_plugin_loads_as_a_biometric_plugin() {
    let (_g, w) = serial(Script::default());
    let info = &w.host.plugins()[0];
    assert_eq!(info.name, "fprintd");
    assert_eq!(info.kind, Some(PluginKind::Biometric));
    assert_eq!(info.status, PluginStatus::Loaded);
    assert_eq!(w.host.biometrics().len(), 1);
}

#[test]
fn availability_reports_the_device_and_enrolled_fingers() {
    let (_g, w) = serial(Script {
        enrolled: vec!["right-index-finger".into(), "left-thumb".into()],
        ..Script::default()
    });
    let a = rt()
        .block_on(w.host.biometric_availability("fprintd", TIMEOUT))
        .unwrap();
    assert!(a.device_present);
    assert_eq!(a.enrolled, 2);
    assert_eq!(a.message, "Mock Fingerprint Reader");

    // NoEnrolledPrints is an answer: none enrolled.
    let (_g2, w) = {
        drop(_g);
        serial(Script::default())
    };
    let a = rt()
        .block_on(w.host.biometric_availability("fprintd", TIMEOUT))
        .unwrap();
    assert_eq!(a.enrolled, 0);
}

#[test]
fn no_device_is_unavailable_with_the_reason() {
    let (_g, w) = serial(Script {
        no_device: true,
        ..Script::default()
    });
    let e = rt()
        .block_on(w.host.biometric_availability("fprintd", TIMEOUT))
        .unwrap_err();
    assert_eq!(
        unavailable_message(e),
        "fprintd: no fingerprint reader was found"
    );
    let (result, _) = verify(w);
    assert!(unavailable_message(result.unwrap_err()).contains("no fingerprint reader"));
    assert_eq!(w.mock.seen.claims.load(Ordering::SeqCst), 0);
}

#[test]
fn verify_match_releases_the_device() {
    let (_g, w) = serial(Script {
        enrolled: enrolled(),
        verify: vec![("verify-match", true)],
        ..Script::default()
    });
    let (result, progress) = verify(w);
    result.unwrap();
    assert!(progress.is_empty());
    released_once(w);
    assert_eq!(w.mock.seen.verify_stops.load(Ordering::SeqCst), 1);
}

#[test]
fn verify_no_match_releases_the_device() {
    let (_g, w) = serial(Script {
        enrolled: enrolled(),
        verify: vec![("verify-no-match", true)],
        ..Script::default()
    });
    let (result, _) = verify(w);
    match result.unwrap_err() {
        PluginError::NoMatch { message, .. } => {
            assert_eq!(message, "the fingerprint did not match")
        }
        other => panic!("expected no match, got {other:?}"),
    }
    released_once(w);
    assert_eq!(w.mock.seen.verify_stops.load(Ordering::SeqCst), 1);
}

#[test]
fn verify_retry_scan_reports_and_goes_on() {
    let (_g, w) = serial(Script {
        enrolled: enrolled(),
        verify: vec![
            ("verify-retry-scan", false),
            ("verify-swipe-too-short", false),
            ("verify-match", true),
        ],
        ..Script::default()
    });
    let (result, progress) = verify(w);
    result.unwrap();
    assert_eq!(progress.len(), 2, "{progress:?}");
    assert!(progress.iter().all(|p| p.kind == ProgressKind::Retry));
    assert_eq!(
        progress[0].message,
        "The reading was not good enough; place your finger on the reader again"
    );
    assert_eq!(
        progress[1].message,
        "The swipe was too short; swipe your finger again"
    );
    released_once(w);
}

#[test]
fn verify_disconnected_fails_and_releases() {
    let (_g, w) = serial(Script {
        enrolled: enrolled(),
        verify: vec![("verify-disconnected", true)],
        ..Script::default()
    });
    let (result, _) = verify(w);
    match result.unwrap_err() {
        PluginError::Failed { message, .. } => {
            assert_eq!(message, "fprintd: the fingerprint reader was disconnected")
        }
        other => panic!("expected failed, got {other:?}"),
    }
    released_once(w);
    // The plugin stays usable.
    assert_eq!(w.host.biometrics().len(), 1);
}

#[test]
fn named_errors_become_clear_messages() {
    let (g, w) = serial(Script {
        enrolled: enrolled(),
        claim_error: Some("AlreadyInUse"),
        ..Script::default()
    });
    let (result, _) = verify(w);
    assert!(
        unavailable_message(result.unwrap_err())
            .starts_with("fprintd: the fingerprint reader is in use by another program")
    );
    drop(g);

    let (g, w) = serial(Script {
        enrolled: enrolled(),
        claim_error: Some("PermissionDenied"),
        ..Script::default()
    });
    let (result, _) = verify(w);
    assert!(
        unavailable_message(result.unwrap_err())
            .starts_with("fprintd: this user is not allowed to use the fingerprint reader")
    );
    drop(g);

    // Nothing enrolled: VerifyStart answers NoEnrolledPrints; the device
    // claimed for it is released.
    let (_g, w) = serial(Script::default());
    let (result, _) = verify(w);
    assert!(
        unavailable_message(result.unwrap_err())
            .starts_with("fprintd: no fingerprint is enrolled for this user")
    );
    released_once(w);
}

#[test]
fn enroll_reports_each_stage_and_releases() {
    let (_g, w) = serial(Script {
        stages: 3,
        enroll: vec![
            ("enroll-stage-passed", false),
            ("enroll-retry-scan", false),
            ("enroll-stage-passed", false),
            ("enroll-stage-passed", false),
            ("enroll-completed", true),
        ],
        ..Script::default()
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    rt().block_on(w.host.biometric_enroll("fprintd", TIMEOUT, tx))
        .unwrap();
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push((p.kind, p.stage, p.stages));
    }
    assert_eq!(
        progress,
        vec![
            (ProgressKind::Stage, 1, 3),
            (ProgressKind::Retry, 1, 3),
            (ProgressKind::Stage, 2, 3),
            (ProgressKind::Stage, 3, 3),
        ]
    );
    released_once(w);
    assert_eq!(w.mock.seen.enroll_stops.load(Ordering::SeqCst), 1);
    assert_eq!(
        w.mock.seen.enrolling.lock().unwrap().as_deref(),
        Some("right-index-finger")
    );
}

#[test]
fn enroll_failure_releases_the_device() {
    let (_g, w) = serial(Script {
        enroll: vec![
            ("enroll-stage-passed", false),
            ("enroll-disconnected", true),
        ],
        ..Script::default()
    });
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let e = rt()
        .block_on(w.host.biometric_enroll("fprintd", TIMEOUT, tx))
        .unwrap_err();
    assert!(matches!(&e, PluginError::Failed { message, .. } if message.contains("disconnected")));
    released_once(w);
}

#[test]
fn a_cancelled_verify_stops_and_releases() {
    // The mock sends no status: the verify waits until cancelled.
    let (_g, w) = serial(Script {
        enrolled: enrolled(),
        ..Script::default()
    });
    rt().block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let call = w.host.biometric_verify("fprintd", TIMEOUT, tx);
        // Drop the call once the device is claimed: that cancels it.
        let wait_claimed = async {
            while w.mock.seen.claims.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            _ = call => panic!("the verify ended by itself"),
            _ = wait_claimed => {}
        }
    });
    // The plugin sees the cancel within its poll interval; the next call
    // waits for the plugin (one call at a time), so it starts after the
    // release.
    rt().block_on(w.host.biometric_availability("fprintd", TIMEOUT))
        .unwrap();
    assert_eq!(w.mock.seen.releases.load(Ordering::SeqCst), 1);
    assert_eq!(w.mock.seen.verify_stops.load(Ordering::SeqCst), 1);
    assert!(!*w.mock.seen.claimed.lock().unwrap());
}

#[test]
fn a_verify_over_its_timeout_is_stopped_and_released() {
    let (_g, w) = serial(Script {
        enrolled: enrolled(),
        ..Script::default()
    });
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let e = rt()
        .block_on(
            w.host
                .biometric_verify("fprintd", Duration::from_secs(1), tx),
        )
        .unwrap_err();
    match e {
        PluginError::NoSample { message, .. } => {
            assert!(message.contains("no finger on the reader"), "{message}")
        }
        other => panic!("expected no sample, got {other:?}"),
    }
    released_once(w);
    assert_eq!(w.mock.seen.verify_stops.load(Ordering::SeqCst), 1);
    assert_eq!(w.host.biometrics().len(), 1, "the plugin stays loaded");
}
