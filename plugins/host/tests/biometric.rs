//! The biometric kind through the host: a biometric plugin written in C
//! (`tests/c/biometric_plugin.c`, built here with the system compiler
//! against the checked-in header), well-behaved and misbehaving. The
//! `fprintd` plugin's own tests (`plugins/biometric-fprintd/tests/`) cover
//! a Rust plugin against a mock fprintd.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use tessera_plugin_host::{
    PluginError, PluginFolder, PluginHost, PluginKind, PluginStatus, ProgressKind,
};

/// A host with the C biometric plugin `name` built with `define`.
fn host(name: &str, define: Option<&str>) -> (tempfile::TempDir, PluginHost) {
    let dir = plugin_dir();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/biometric_plugin.c");
    let name_define = format!("PLUGIN_NAME=\"{name}\"");
    let mut defines = vec![name_define.as_str()];
    defines.extend(define);
    build_c(&source, dir.path(), "libbio.so", &defines);
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], None);
    (dir, host)
}

fn verify(
    host: &PluginHost,
    name: &str,
    timeout: Duration,
) -> (
    Result<(), PluginError>,
    Vec<tessera_plugin_host::BiometricProgress>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(host.biometric_verify(name, timeout, tx));
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    (result, progress)
}

fn status(host: &PluginHost) -> PluginStatus {
    host.plugins()[0].status.clone()
}

#[test]
fn a_c_biometric_plugin_answers() {
    let (_dir, host) = host("c-bio", None);
    let info = &host.plugins()[0];
    assert_eq!(info.kind, Some(PluginKind::Biometric));
    assert_eq!(info.status, PluginStatus::Loaded);
    assert_eq!(host.biometrics().len(), 1);
    assert!(host.scanners().is_empty());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = rt
        .block_on(host.biometric_availability("c-bio", Duration::from_secs(5)))
        .unwrap();
    assert!(a.device_present);
    assert_eq!((a.enrolled, a.message.as_str()), (1, "C reader"));

    let (result, progress) = verify(&host, "c-bio", Duration::from_secs(5));
    result.unwrap();
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0].kind, ProgressKind::Retry);
    assert_eq!(progress[0].message, "too short");

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    rt.block_on(host.biometric_enroll("c-bio", Duration::from_secs(5), tx))
        .unwrap();
    let mut stages = Vec::new();
    while let Ok(p) = rx.try_recv() {
        stages.push((p.kind, p.stage, p.stages));
    }
    assert_eq!(
        stages,
        (1..=3)
            .map(|s| (ProgressKind::Stage, s, 3))
            .collect::<Vec<_>>()
    );

    // A scanner call to a biometric plugin is refused, not attempted.
    let e = rt
        .block_on(host.scan("c-bio", Vec::new(), Duration::from_secs(1), None))
        .unwrap_err();
    assert!(matches!(e, PluginError::NotAScanner(_)), "{e:?}");
}

#[test]
fn a_no_match_is_an_answer() {
    let (_dir, host) = host("c-bio", Some("NO_MATCH"));
    let (result, _) = verify(&host, "c-bio", Duration::from_secs(5));
    match result.unwrap_err() {
        PluginError::NoMatch { message, .. } => assert_eq!(message, "not your finger"),
        other => panic!("expected no match, got {other:?}"),
    }
    assert_eq!(status(&host), PluginStatus::Loaded);
}

/// Over the timeout the host calls `cancel`; a plugin that stops is no
/// failure (the user gave no finger), and stays loaded.
#[test]
fn a_call_over_its_timeout_is_cancelled() {
    let (_dir, host) = host("c-bio", Some("WAITS_FOR_CANCEL"));
    let (result, _) = verify(&host, "c-bio", Duration::from_millis(300));
    assert!(
        matches!(result, Err(PluginError::NoSample { .. })),
        "{result:?}"
    );
    assert_eq!(status(&host), PluginStatus::Loaded);
    // Dropping a call (the caller went away) cancels it too: the next call
    // gets the plugin once the cancelled one has ended.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let call = host.biometric_verify("c-bio", Duration::from_secs(60), tx);
        let _ = tokio::time::timeout(Duration::from_millis(100), call).await;
    });
    let a = rt.block_on(host.biometric_availability("c-bio", Duration::from_secs(10)));
    assert!(a.is_ok(), "{a:?}");
}

/// A plugin that does not answer even after `cancel` is disabled.
#[test]
fn a_plugin_that_ignores_cancel_is_disabled() {
    let (_dir, host) = host("c-bio", Some("BAD_IGNORES_CANCEL"));
    let (result, _) = verify(&host, "c-bio", Duration::from_millis(300));
    assert!(
        matches!(result, Err(PluginError::TimedOut { .. })),
        "{result:?}"
    );
    match status(&host) {
        PluginStatus::Failed(reason) => {
            assert!(reason.contains("nor after being cancelled"), "{reason}")
        }
        other => panic!("expected disabled, got {other:?}"),
    }
    assert!(host.biometrics().is_empty());
}

#[test]
fn bad_progress_or_status_disables_the_plugin() {
    for (define, expected) in [
        ("BAD_PROGRESS", "unknown kind 9"),
        ("BAD_STATUS", "status 42"),
    ] {
        let (_dir, host) = host("c-bio", Some(define));
        let (result, _) = verify(&host, "c-bio", Duration::from_secs(5));
        assert!(
            matches!(&result, Err(PluginError::Misbehaved { reason, .. }) if reason.contains(expected)),
            "{define}: {result:?}"
        );
        assert!(matches!(status(&host), PluginStatus::Failed(_)), "{define}");
    }
}
