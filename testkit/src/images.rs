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

/// One frame of a camera in tests ([`camera_frames`]), 640×480.
#[derive(Clone, Copy, Debug)]
pub enum CameraFrame<'a> {
    /// A wall of one grey.
    Grey(u8),
    /// A QR code of the text, whole, on white.
    Code(&'a str),
    /// The lower half of a QR code of the text at the top edge of a wall
    /// of the grey, as when the code is held too high: seen, not readable.
    HalfCode(u8, &'a str),
}

/// Fills `dir` with a camera's frames for the camera plugin's frame folder
/// (`TESSERA_CAMERA_FRAMES`), in order (named `000.png`, `001.png`, …).
pub fn camera_frames(dir: &std::path::Path, frames: &[CameraFrame<'_>]) {
    let qr = |text: &str| {
        image::load_from_memory(&qr_png(text))
            .expect("our own PNG")
            .into_luma8()
    };
    for (i, frame) in frames.iter().enumerate() {
        let img = match *frame {
            CameraFrame::Grey(grey) => image::GrayImage::from_pixel(640, 480, image::Luma([grey])),
            CameraFrame::Code(text) => {
                let qr = qr(text);
                let mut img = image::GrayImage::from_pixel(640, 480, image::Luma([255]));
                let (x, y) = ((640 - qr.width()) / 2, (480 - qr.height()) / 2);
                image::imageops::overlay(&mut img, &qr, x.into(), y.into());
                img
            }
            CameraFrame::HalfCode(grey, text) => {
                let qr = qr(text);
                let mut img = image::GrayImage::from_pixel(640, 480, image::Luma([grey]));
                let x = (640 - qr.width()) / 2;
                let y = -i64::from(qr.height() / 2);
                image::imageops::overlay(&mut img, &qr, x.into(), y);
                img
            }
        };
        img.save(dir.join(format!("{i:03}.png")))
            .expect("writes a frame");
    }
}
