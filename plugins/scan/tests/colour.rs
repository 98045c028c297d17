//! The colour code read back from generated pictures, clean and with what a
//! webcam, a printer or a photo of a screen does to them; each layer checked
//! against an independent reader (zbar) where it is installed.

use image::RgbImage;
use tessera_colour::{ColourCode, LayerError, layers};
use tessera_scan::colour::{self, ColourFailure, Method};
use tessera_scan::{Rgb, ScanError, decode};
use tessera_testkit::perturb::{Perturbation, png};

const PAYLOAD: &str = "<QRCode><SN>TSR0000001</SN><AC>00000523310060624280605095539573136129562</AC>\
<USERID>alice.example@bank.example</USERID><ISS>Example Bank — Retail</ISS>\
<LBL>alice@example.com</LBL><OTP>totp:SHA256:8:30</OTP></QRCode>";

fn picture(payload: &str, module_pixels: u32) -> RgbImage {
    let rgb = ColourCode::new(payload).unwrap().to_rgb(module_pixels);
    RgbImage::from_raw(rgb.width, rgb.height, rgb.data).unwrap()
}

fn rgb(img: &RgbImage) -> Rgb {
    Rgb {
        width: img.width(),
        height: img.height(),
        data: img.as_raw().clone(),
    }
}

#[test]
fn a_clean_code_reads_back_through_the_image_path() {
    let img = picture(PAYLOAD, 6);
    assert_eq!(decode(&png(&img)).unwrap(), vec![PAYLOAD.to_owned()]);
}

#[test]
fn a_colour_code_carries_more_than_a_qr_code() {
    // 3,500 bytes: over the 2,331 of a version 40-M QR code.
    let long = format!("{PAYLOAD}{}", "x".repeat(3500 - PAYLOAD.len()));
    assert!(
        qrcode::QrCode::with_error_correction_level(long.as_bytes(), qrcode::EcLevel::M).is_err()
    );
    let img = picture(&long, 4);
    assert_eq!(colour::decode(&rgb(&img)).unwrap(), long);
}

#[test]
fn a_plain_qr_code_is_still_read_as_one() {
    let plain = tessera_testkit::images::qr_png(PAYLOAD);
    assert_eq!(decode(&plain).unwrap(), vec![PAYLOAD.to_owned()]);
}

/// Perturbations a reader must survive, each at a strength a webcam or a
/// printer gives. Rates at more strengths are in `docs/benchmarks.md`.
#[test]
fn perturbed_codes_still_read() {
    let img = picture(PAYLOAD, 6);
    for p in [
        Perturbation::Jpeg(40),
        Perturbation::Blur(1.2),
        Perturbation::Noise(18.0),
        Perturbation::Gamma(2.2),
        Perturbation::Gamma(0.5),
        Perturbation::WhiteBalance([1.0, 0.85, 0.6]),
        Perturbation::Crosstalk(0.25),
        Perturbation::Perspective(0.2),
        Perturbation::Moire(0.25),
        Perturbation::Scale(0.6),
        Perturbation::Print(1.0),
    ] {
        let seen = p.apply(&img, 3);
        assert_eq!(
            colour::decode(&rgb(&seen)),
            Ok(PAYLOAD.to_owned()),
            "{}",
            p.name()
        );
    }
}

#[test]
fn calibration_reads_what_per_channel_thresholds_miss() {
    // Print: magenta ink also takes half the blue, so a blue module (cyan
    // and magenta ink) is darker in blue than the middle of the range, and
    // a threshold there calls it black; its own calibrated centre keeps it
    // blue.
    let img = picture(PAYLOAD, 6);
    let seen = Perturbation::Print(1.0).apply(&img, 0);
    assert_eq!(
        colour::decode_with(&rgb(&seen), Method::Calibrated),
        Ok(PAYLOAD.to_owned())
    );
    assert!(colour::decode_with(&rgb(&seen), Method::Thresholds).is_err());
}

#[test]
fn damaged_codes_are_refused_by_name() {
    // Two layers of one code and one of another: never a mixed payload.
    let a = ColourCode::new("payload of code A, long enough")
        .unwrap()
        .to_rgb(6);
    let b = ColourCode::new("payload of code B, long enough")
        .unwrap()
        .to_rgb(6);
    let mut mixed = a.clone();
    for (i, px) in mixed.data.chunks_exact_mut(3).enumerate() {
        px[2] = b.data[i * 3 + 2];
    }
    assert_eq!(
        colour::decode(&mixed),
        Err(ColourFailure::Layers(LayerError::Mismatch))
    );
    // A layer wiped out (blue on wherever the module is not black, so the
    // finders stay): that layer is named.
    let mut wiped = a.clone();
    for px in wiped.data.chunks_exact_mut(3) {
        if px != [0, 0, 0] {
            px[2] = 255;
        }
    }
    let img = RgbImage::from_raw(wiped.width, wiped.height, wiped.data.clone()).unwrap();
    assert_eq!(
        decode(&png(&img)),
        Err(ScanError::Colour(LayerError::MissingLayer(2)))
    );
    let message = ScanError::Colour(LayerError::MissingLayer(2)).to_string();
    assert!(message.contains("layer 2 of 3"), "{message}");
    // Noise only, and nothing at all.
    let blank = RgbImage::from_pixel(200, 200, image::Rgb([40, 200, 90]));
    assert_eq!(decode(&png(&blank)), Err(ScanError::NoCode));
}

#[test]
fn a_code_with_another_layer_count_is_refused() {
    // Layers that say there are 2: made by hand, as another encoder might.
    let text = "TCC1:0/2:00000000:abc";
    let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
    let img = code
        .render::<image::Luma<u8>>()
        .module_dimensions(6, 6)
        .build();
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    assert_eq!(
        decode(&bytes),
        Err(ScanError::Colour(LayerError::WrongLayerCount { found: 2 }))
    );
}

/// Each channel of the picture is a standard QR code: zbar, an independent
/// reader, reads every layer's text from it.
#[test]
fn zbar_reads_every_layer() {
    assert!(
        std::process::Command::new("zbarimg")
            .arg("--version")
            .output()
            .is_ok(),
        "zbarimg is missing: install zbar-tools (scripts/test does)"
    );
    let code = ColourCode::new(PAYLOAD).unwrap();
    let img = code.to_rgb(6);
    let texts = layers::split(PAYLOAD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let channel: Vec<u8> = img.data.chunks_exact(3).map(|p| p[i]).collect();
        let grey = image::GrayImage::from_raw(img.width, img.height, channel).unwrap();
        let path = dir.path().join(format!("layer{i}.png"));
        grey.save(&path).unwrap();
        let out = std::process::Command::new("zbarimg")
            .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "zbar found nothing in layer {i}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            text,
            "layer {i}"
        );
    }
}

#[test]
fn only_pictures_with_colour_are_read_in_colour() {
    let img = picture(PAYLOAD, 6);
    assert!(colour::has_colour(&rgb(&img)));
    let grey = image::DynamicImage::ImageRgb8(img).to_luma8();
    let grey = image::DynamicImage::ImageLuma8(grey).to_rgb8();
    assert!(!colour::has_colour(&rgb(&grey)));
    assert!(!colour::has_colour(&Rgb {
        width: 0,
        height: 0,
        data: Vec::new()
    }));
}
