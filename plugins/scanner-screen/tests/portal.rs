//! The portal flow against a mock xdg-desktop-portal on a private bus.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use tessera_plugin_api::ScanFailure;
use tessera_scanner_screen::{Bus, ScreenError, scan_screen};

const URI: &str = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn respond(code: u32, uri: Option<String>) -> Answer {
    Answer::Respond {
        code,
        uri,
        after: None,
    }
}

#[test]
fn a_screenshot_with_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let png = screenshot_png(dir.path(), "Screenshot from today.png", Some(URI));
    let bus = PrivateBus::start();
    // The answer comes before the method's reply: only a client that
    // subscribed first sees it.
    let portal = MockPortalService::start(bus.address(), respond(0, Some(file_uri(&png))));
    assert_eq!(
        scan_screen(Bus::Address(bus.address()), soon()),
        Ok(vec![URI.to_owned()])
    );
    assert_eq!(portal.seen.calls.load(Ordering::SeqCst), 1);
    assert!(portal.seen.interactive.load(Ordering::SeqCst));
    // The screenshot is the user's: it is left in place.
    assert!(png.exists());
}

#[test]
fn an_answer_after_the_user_took_a_while() {
    let dir = tempfile::tempdir().unwrap();
    let png = screenshot_png(dir.path(), "shot.png", Some("tessera://a?b=c"));
    let bus = PrivateBus::start();
    let _portal = MockPortalService::start(
        bus.address(),
        Answer::Respond {
            code: 0,
            uri: Some(file_uri(&png)),
            after: Some(Duration::from_millis(300)),
        },
    );
    assert_eq!(
        scan_screen(Bus::Address(bus.address()), soon()),
        Ok(vec!["tessera://a?b=c".to_owned()])
    );
}

#[test]
fn the_user_cancels() {
    let bus = PrivateBus::start();
    let _portal = MockPortalService::start(bus.address(), respond(1, None));
    let err = scan_screen(Bus::Address(bus.address()), soon()).unwrap_err();
    assert_eq!(err, ScreenError::Cancelled);
    assert_eq!(err.to_string(), "screen: the screenshot was cancelled");
}

#[test]
fn the_portal_ends_the_request_otherwise() {
    let bus = PrivateBus::start();
    let _portal = MockPortalService::start(bus.address(), respond(2, None));
    assert_eq!(
        scan_screen(Bus::Address(bus.address()), soon()),
        Err(ScreenError::Ended(2))
    );
}

#[test]
fn a_screenshot_without_a_code() {
    let dir = tempfile::tempdir().unwrap();
    let png = screenshot_png(dir.path(), "empty.png", None);
    let bus = PrivateBus::start();
    let _portal = MockPortalService::start(bus.address(), respond(0, Some(file_uri(&png))));
    let err = scan_screen(Bus::Address(bus.address()), soon()).unwrap_err();
    assert_eq!(err, ScreenError::NoCode);
    assert!(matches!(
        err.failure(),
        ScanFailure::NotFound(m) if m.starts_with("screen: no QR code found in the screenshot")
    ));
}

#[test]
fn a_uri_that_is_not_a_local_file() {
    let bus = PrivateBus::start();
    let _portal = MockPortalService::start(
        bus.address(),
        respond(0, Some("https://example.com/shot.png".into())),
    );
    assert!(matches!(
        scan_screen(Bus::Address(bus.address()), soon()),
        Err(ScreenError::BadUri(_))
    ));
}

#[test]
fn a_file_that_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shot.png");
    std::fs::write(&path, b"not a picture").unwrap();
    let bus = PrivateBus::start();
    let _portal = MockPortalService::start(bus.address(), respond(0, Some(file_uri(&path))));
    let err = scan_screen(Bus::Address(bus.address()), soon()).unwrap_err();
    assert!(
        matches!(err.clone().failure(), ScanFailure::BadInput(_)),
        "{err}"
    );
}

#[test]
fn no_bus() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no-bus").display());
    let err = scan_screen(Bus::Address(&address), soon()).unwrap_err();
    assert!(matches!(err, ScreenError::NoBus(_)), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "screen: no D-Bus session bus: the screen scanner needs a desktop session"
        ),
        "{err}"
    );
    assert!(matches!(err.failure(), ScanFailure::Unavailable(_)));
}

#[test]
fn a_bus_without_the_portal() {
    let bus = PrivateBus::start();
    let err = scan_screen(Bus::Address(bus.address()), soon()).unwrap_err();
    assert!(matches!(err, ScreenError::NoPortal(_)), "{err:?}");
    assert!(
        err.to_string().contains("install xdg-desktop-portal"),
        "{err}"
    );
    assert!(matches!(err.failure(), ScanFailure::Unavailable(_)));
}

#[test]
fn no_answer_in_time_closes_the_request() {
    let bus = PrivateBus::start();
    let portal = MockPortalService::start(bus.address(), Answer::Never);
    let started = Instant::now();
    let deadline = started + Duration::from_millis(700);
    let err = scan_screen(Bus::Address(bus.address()), deadline).unwrap_err();
    assert_eq!(err, ScreenError::TimedOut(Duration::from_secs(1)));
    assert_eq!(
        err.to_string(),
        "screen: no screenshot within 1 s; start again and take it sooner"
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(
        portal.seen.closed.load(Ordering::SeqCst),
        "Request.Close was not called"
    );
}
