//! The frame loop fed with image frames, as a camera would feed it: blank
//! frames, then a code; a source that never shows one; a source that fails.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::{GrayImage, Luma as Grey};
use qrcode::QrCode;
use tessera_scan::Luma;
use tessera_scanner_camera::{CameraError, Frame, FrameSource, scan_frames};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

/// Hands out its frames in order, then blank frames for ever.
struct Frames(VecDeque<Result<Frame, CameraError>>);

impl FrameSource for Frames {
    fn next_frame(&mut self, _deadline: Instant) -> Result<Option<Frame>, CameraError> {
        self.0.pop_front().unwrap_or_else(|| Ok(blank())).map(Some)
    }
}

/// A grey frame, as a camera pointed at a wall sees.
fn blank() -> Frame {
    Frame::Luma(Luma {
        pixels: vec![200; (WIDTH * HEIGHT) as usize],
        width: WIDTH,
        height: HEIGHT,
    })
}

/// A camera-sized frame with a QR code of `text` in it.
fn qr_frame(text: &str) -> GrayImage {
    let code = QrCode::new(text.as_bytes())
        .unwrap()
        .render::<Grey<u8>>()
        .min_dimensions(200, 200)
        .build();
    let mut frame = GrayImage::from_pixel(WIDTH, HEIGHT, Grey([210]));
    let (x, y) = ((WIDTH - code.width()) / 2, (HEIGHT - code.height()) / 3);
    image::imageops::overlay(&mut frame, &code, x.into(), y.into());
    frame
}

fn luma(image: GrayImage) -> Frame {
    let (width, height) = image.dimensions();
    Frame::Luma(Luma {
        pixels: image.into_raw(),
        width,
        height,
    })
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

const URI: &str = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

#[test]
fn blank_frames_then_a_code() {
    let mut source = Frames(VecDeque::from([
        Ok(blank()),
        Ok(blank()),
        Ok(luma(qr_frame(URI))),
        Err(CameraError::Source("read past the code".into())),
    ]));
    let mut shown = Vec::new();
    assert_eq!(
        scan_frames(&mut source, soon(), &mut |f| {
            shown.push(f.pixels[0]);
            true
        }),
        Ok(vec![URI.to_owned()])
    );
    // It stopped at the frame with the code, and showed each frame it read.
    assert_eq!(source.0.len(), 1);
    assert_eq!(shown, [200, 200, 210]);
}

#[test]
fn rgb_frames_are_decoded_too() {
    let rgb = image::DynamicImage::ImageLuma8(qr_frame("tessera://activate?x=1")).into_rgb8();
    let (width, height) = rgb.dimensions();
    let mut source = Frames(VecDeque::from([
        Ok(blank()),
        Ok(Frame::Rgb {
            pixels: rgb.into_raw(),
            width,
            height,
        }),
    ]));
    assert_eq!(
        scan_frames(&mut source, soon(), &mut |_| true),
        Ok(vec!["tessera://activate?x=1".to_owned()])
    );
}

fn shared_qr(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/qr/zxing-qrcode-1")
        .join(name)
}

#[test]
fn a_real_photo_of_a_code() {
    let photo = std::fs::read(shared_qr("1.png")).unwrap();
    let want = std::fs::read_to_string(shared_qr("1.txt")).unwrap();
    let photo = tessera_scan::load_luma(&photo).unwrap();
    let mut source = Frames(VecDeque::from([Ok(blank()), Ok(Frame::Luma(photo))]));
    assert_eq!(
        scan_frames(&mut source, soon(), &mut |_| true),
        Ok(vec![want])
    );
}

#[test]
fn no_code_before_the_deadline_times_out() {
    let started = Instant::now();
    let deadline = started + Duration::from_millis(400);
    let err = scan_frames(&mut Frames(VecDeque::new()), deadline, &mut |_| true).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, CameraError::TimedOut(Duration::from_secs(1)));
    assert_eq!(
        err.to_string(),
        "camera: no QR code seen within 1 s; hold the code steady, flat and whole in front of \
         the camera"
    );
    assert!(took >= Duration::from_millis(400), "{took:?}");
    // One blank frame decodes in far less than this, even unoptimised.
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// A camera that sends nothing: waits for the deadline, then gives up.
struct Silent;

impl FrameSource for Silent {
    fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>, CameraError> {
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        Ok(None)
    }
}

#[test]
fn a_silent_camera_times_out() {
    let deadline = Instant::now() + Duration::from_millis(1500);
    assert_eq!(
        scan_frames(&mut Silent, deadline, &mut |_| true),
        Err(CameraError::TimedOut(Duration::from_secs(2)))
    );
}

#[test]
fn a_failing_source_reports_its_error() {
    let mut source = Frames(VecDeque::from([
        Ok(blank()),
        Err(CameraError::Source("camera disconnected".into())),
    ]));
    let err = scan_frames(&mut source, soon(), &mut |_| true).unwrap_err();
    assert_eq!(err.to_string(), "camera: camera disconnected");
    assert!(matches!(
        err.failure(),
        tessera_plugin_api::ScanFailure::Failed(m) if m == "camera: camera disconnected"
    ));
}

#[test]
fn a_malformed_frame_is_an_error() {
    let mut source = Frames(VecDeque::from([Ok(Frame::Luma(Luma {
        pixels: vec![0; 10],
        width: 4,
        height: 4,
    }))]));
    assert!(matches!(
        scan_frames(&mut source, soon(), &mut |_| true),
        Err(CameraError::BadFrame(_))
    ));
}

#[test]
fn the_scan_stops_when_the_preview_says_so() {
    let mut source = Frames(VecDeque::new());
    let mut shown = 0;
    let err = scan_frames(&mut source, soon(), &mut |_| {
        shown += 1;
        shown < 3
    })
    .unwrap_err();
    assert_eq!(err, CameraError::Stopped);
    assert_eq!(shown, 3);
}

/// A colour frame holding a Tessera colour code, after a few blank frames:
/// the loop reads its colours, not only its grey scale.
#[test]
fn a_colour_code_in_a_colour_frame_is_read() {
    let payload = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC><LBL>alice@example.com</LBL></QRCode>";
    let code = tessera_colour::ColourCode::new(payload).unwrap().to_rgb(5);
    let code = image::RgbImage::from_raw(code.width, code.height, code.data).unwrap();
    let mut frame = image::RgbImage::from_pixel(WIDTH, HEIGHT, image::Rgb([190, 186, 180]));
    image::imageops::overlay(&mut frame, &code, 120, 40);
    let colour = Frame::Rgb {
        pixels: frame.into_raw(),
        width: WIDTH,
        height: HEIGHT,
    };
    let mut source = Frames(VecDeque::from([
        Ok(blank()),
        Ok(blank()),
        Ok(colour.clone()),
    ]));
    let mut shown = 0;
    let found = scan_frames(&mut source, soon(), &mut |_| {
        shown += 1;
        true
    });
    assert_eq!(found.unwrap(), vec![payload.to_owned()]);
    assert_eq!(shown, 3);
    // Its grey scale alone holds no code.
    let mut grey_only = Frames(VecDeque::from([Ok(luma_of(colour))]));
    let deadline = Instant::now() + Duration::from_millis(300);
    assert!(matches!(
        scan_frames(&mut grey_only, deadline, &mut |_| true),
        Err(CameraError::TimedOut(_))
    ));
}

fn luma_of(frame: Frame) -> Frame {
    Frame::Luma(frame.into_luma().unwrap())
}
