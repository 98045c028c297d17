//! Decoding real and synthetic images, and refusing bad input clearly.

use std::io::Cursor;

use image::{GrayImage, ImageFormat};
use tessera_scan::{MAX_IMAGE_BYTES, MAX_TEXT_BYTES, ScanError, decode, load_luma};

const PAYLOAD: &str =
    "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example";

fn testdata(set: &str, name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/qr")
        .join(set)
        .join(name)
}

/// A white canvas with one code per text, side by side.
fn canvas(texts: &[&str]) -> GrayImage {
    let codes: Vec<GrayImage> = texts
        .iter()
        .map(|t| {
            qrcode::QrCode::new(t.as_bytes())
                .unwrap()
                .render::<image::Luma<u8>>()
                .module_dimensions(4, 4)
                .build()
        })
        .collect();
    let width = codes.iter().map(|c| c.width() + 40).sum::<u32>() + 40;
    let height = codes.iter().map(GrayImage::height).max().unwrap() + 80;
    let mut img = GrayImage::from_pixel(width, height, image::Luma([255]));
    let mut x = 40;
    for code in &codes {
        image::imageops::replace(&mut img, code, i64::from(x), 40);
        x += code.width() + 40;
    }
    img
}

fn encode(img: &GrayImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let rgb = image::DynamicImage::ImageLuma8(img.clone()).into_rgb8();
    rgb.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

#[test]
fn decodes_a_photographed_code_from_the_shared_test_data() {
    let image = std::fs::read(testdata("zxing-qrcode-1", "1.png")).unwrap();
    let want = std::fs::read_to_string(testdata("zxing-qrcode-1", "1.txt")).unwrap();
    assert_eq!(decode(&image).unwrap(), vec![want]);
}

#[test]
fn decodes_every_supported_format() {
    let img = canvas(&[PAYLOAD]);
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::WebP,
    ] {
        let bytes = encode(&img, format);
        assert_eq!(decode(&bytes), Ok(vec![PAYLOAD.to_owned()]), "{format:?}");
    }
}

#[test]
fn returns_every_code_in_the_image() {
    let texts = [
        "otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP",
        "second code",
        "third",
    ];
    let bytes = encode(&canvas(&texts), ImageFormat::Png);
    let mut found = decode(&bytes).unwrap();
    found.sort();
    let mut want: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
}

#[test]
fn ignores_a_code_over_the_text_limit() {
    let long = "7".repeat(MAX_TEXT_BYTES + 1);
    let bytes = encode(&canvas(&[&long]), ImageFormat::Png);
    assert_eq!(decode(&bytes), Err(ScanError::NoCode));
}

#[test]
fn refuses_an_empty_file() {
    assert_eq!(decode(b""), Err(ScanError::Empty));
}

#[test]
fn refuses_a_non_image() {
    assert_eq!(
        decode(b"%PDF-1.7 not an image"),
        Err(ScanError::UnknownFormat)
    );
    assert_eq!(decode(&[0u8; 1000]), Err(ScanError::UnknownFormat));
    // A format the image crate knows but Tessera does not take.
    assert_eq!(decode(b"II*\0\x08\0\0\0"), Err(ScanError::UnknownFormat));
}

#[test]
fn refuses_truncated_and_corrupt_images() {
    let png = encode(&canvas(&[PAYLOAD]), ImageFormat::Png);
    for cut in [8, 30, png.len() / 2, png.len() - 13] {
        let err = decode(&png[..cut]).unwrap_err();
        assert!(
            matches!(err, ScanError::Corrupt(_)),
            "cut at {cut}: {err:?}"
        );
        assert!(err.to_string().starts_with("image: cannot be decoded"));
    }
    let jpeg = encode(&canvas(&[PAYLOAD]), ImageFormat::Jpeg);
    assert!(decode(&jpeg[..jpeg.len() / 3]).is_err());
    let mut flipped = png.clone();
    for b in flipped.iter_mut().skip(100).step_by(7) {
        *b ^= 0x5a;
    }
    assert!(matches!(decode(&flipped), Err(ScanError::Corrupt(_))));
}

#[test]
fn refuses_image_bombs_from_their_headers() {
    // A PNG claiming 100000×100000 pixels: refused before any pixel is decoded.
    let mut bomb = encode(&GrayImage::new(1, 1), ImageFormat::Png);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    // With a valid checksum, as a real bomb has.
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        decode(&bomb),
        Err(ScanError::TooManyPixels {
            width: 100_000,
            height: 100_000
        })
    );
    // A GIF's logical screen of 65535×65535.
    let mut gif = encode(&GrayImage::new(1, 1), ImageFormat::Gif);
    gif[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    assert!(decode(&gif).is_err());
    // A BMP header claiming 60000×60000.
    let mut bmp = encode(&GrayImage::new(1, 1), ImageFormat::Bmp);
    bmp[18..22].copy_from_slice(&60_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&60_000i32.to_le_bytes());
    assert!(matches!(decode(&bmp), Err(ScanError::TooManyPixels { .. })));
    assert_eq!(
        decode(&vec![0u8; MAX_IMAGE_BYTES + 1]),
        Err(ScanError::TooLarge(MAX_IMAGE_BYTES + 1))
    );
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn says_when_there_is_no_code() {
    let blank = encode(
        &GrayImage::from_pixel(300, 200, image::Luma([200])),
        ImageFormat::Png,
    );
    let err = decode(&blank).unwrap_err();
    assert_eq!(err, ScanError::NoCode);
    assert!(err.to_string().contains("no QR code found"));
    let photo = std::fs::read(testdata("zxing-qrcode-1", "1.png")).unwrap();
    assert!(load_luma(&photo).is_ok());
}

/// Writes the fuzz target's seeds (`fuzz/seeds/scan_image/`): one small code
/// in each supported format. Run by hand:
/// `cargo test -p tessera-scan --test decode -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand to refresh the fuzz seeds"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/scan_image");
    std::fs::create_dir_all(&dir).unwrap();
    let code = qrcode::QrCode::new(b"otpauth://totp/A:a?secret=JBSWY3DPEHPK3PXP")
        .unwrap()
        .render::<image::Luma<u8>>()
        .module_dimensions(2, 2)
        .build();
    for (format, name) in [
        (ImageFormat::Png, "code.png"),
        (ImageFormat::Jpeg, "code.jpg"),
        (ImageFormat::Gif, "code.gif"),
        (ImageFormat::Bmp, "code.bmp"),
        (ImageFormat::WebP, "code.webp"),
    ] {
        let bytes = encode(&code, format);
        assert!(decode(&bytes).is_ok(), "{name}");
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
