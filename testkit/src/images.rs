//! Activation images for tests: a QR code of a text as PNG bytes.

/// A PNG (at least 300×300 pixels, grey) of a QR code holding `text`.
pub fn qr_png(text: &str) -> Vec<u8> {
    let img = qrcode::QrCode::new(text.as_bytes())
        .expect("the text fits in a QR code")
        .render::<image::Luma<u8>>()
        .min_dimensions(300, 300)
        .build();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encodes a PNG in memory");
    png
}
