//! The frame loop: pictures in, QR code texts out. Pure and independent of
//! any camera library, so the tests feed it image frames.

use std::time::{Duration, Instant};

use tessera_scan::{Luma, MAX_IMAGE_PIXELS, Rgb, grey};

use crate::CameraError;

/// One picture from a frame source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Grey scale, one byte per pixel, row after row.
    Luma(Luma),
    /// Red, green and blue, three bytes per pixel, row after row.
    Rgb {
        pixels: Vec<u8>,
        width: u32,
        height: u32,
    },
}

impl Frame {
    /// The frame in grey scale and, for a colour frame, its colours (for a
    /// colour code), checked for size.
    pub fn into_parts(self) -> Result<(Luma, Option<Rgb>), CameraError> {
        match self {
            Frame::Luma(luma) => Ok((Frame::Luma(luma).into_luma()?, None)),
            Frame::Rgb {
                pixels,
                width,
                height,
            } => {
                need(width, height, 3, pixels.len())?;
                let rgb = Rgb {
                    width,
                    height,
                    data: pixels,
                };
                Ok((tessera_scan::luma_of_rgb(&rgb), Some(rgb)))
            }
        }
    }

    /// The frame in grey scale, checked for size.
    pub fn into_luma(self) -> Result<Luma, CameraError> {
        match self {
            Frame::Luma(luma) => {
                need(luma.width, luma.height, 1, luma.pixels.len())?;
                Ok(luma)
            }
            Frame::Rgb {
                pixels,
                width,
                height,
            } => {
                need(width, height, 3, pixels.len())?;
                Ok(Luma {
                    pixels: pixels
                        .chunks_exact(3)
                        .map(|p| grey(p[0], p[1], p[2]))
                        .collect(),
                    width,
                    height,
                })
            }
        }
    }
}

/// How a camera lays out a raw frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// A JPEG picture per frame (Motion JPEG).
    Mjpeg,
    /// Packed 4:2:2: Y0 U Y1 V, two bytes per pixel.
    Yuyv,
    /// Planar 4:2:0: a full-size Y plane, then interleaved U and V at half size.
    Nv12,
    /// Grey, one byte per pixel.
    Gray,
    /// Red, green, blue: three bytes per pixel.
    Rgb,
    /// Blue, green, red: three bytes per pixel.
    Bgr,
}

/// Turns a raw camera frame into a [`Frame`]: in colour when the camera
/// sends colour that needs no conversion (Motion JPEG, packed RGB or BGR
/// without row padding), so a colour code can be read; in grey scale
/// otherwise ([`luma_from_raw`]: YUYV and NV12 frames are read by their Y
/// plane, and converting their chroma is left out).
pub fn frame_from_raw(
    format: PixelFormat,
    width: u32,
    height: u32,
    bytes: &[u8],
) -> Result<Frame, CameraError> {
    let packed = width as usize * height as usize * 3;
    let rgb = match format {
        PixelFormat::Mjpeg => {
            let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
                .map_err(|e| CameraError::BadFrame(format!("a Motion JPEG frame: {e}")))?
                .into_rgb8();
            let (width, height) = image.dimensions();
            check_pixels(width, height)?;
            Some((image.into_raw(), width, height))
        }
        PixelFormat::Rgb if bytes.len() == packed => {
            check_pixels(width, height)?;
            Some((bytes.to_vec(), width, height))
        }
        PixelFormat::Bgr if bytes.len() == packed => {
            check_pixels(width, height)?;
            let pixels = bytes
                .chunks_exact(3)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect();
            Some((pixels, width, height))
        }
        _ => None,
    };
    match rgb {
        Some((pixels, width, height)) => Ok(Frame::Rgb {
            pixels,
            width,
            height,
        }),
        None => luma_from_raw(format, width, height, bytes).map(Frame::Luma),
    }
}

/// Turns a raw camera frame into grey scale. Rows may carry padding: a
/// buffer longer than needed whose length is a multiple of the height is
/// read with that row stride.
pub fn luma_from_raw(
    format: PixelFormat,
    width: u32,
    height: u32,
    bytes: &[u8],
) -> Result<Luma, CameraError> {
    if format == PixelFormat::Mjpeg {
        let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
            .map_err(|e| CameraError::BadFrame(format!("a Motion JPEG frame: {e}")))?;
        let luma = image.into_luma8();
        let (width, height) = luma.dimensions();
        check_pixels(width, height)?;
        return Ok(Luma {
            pixels: luma.into_raw(),
            width,
            height,
        });
    }
    check_pixels(width, height)?;
    let (w, h) = (width as usize, height as usize);
    let per_pixel = match format {
        PixelFormat::Yuyv => 2,
        PixelFormat::Rgb | PixelFormat::Bgr => 3,
        PixelFormat::Gray | PixelFormat::Nv12 | PixelFormat::Mjpeg => 1,
    };
    let row = w * per_pixel;
    // The planes that follow the Y plane of NV12 are not read.
    let rows_len = if format == PixelFormat::Nv12 {
        bytes.len().min(row * h)
    } else {
        bytes.len()
    };
    let stride = if rows_len > row * h && rows_len % h == 0 {
        rows_len / h
    } else {
        row
    };
    if rows_len < stride * (h - 1) + row {
        return Err(CameraError::BadFrame(format!(
            "a {width}×{height} frame has {} bytes, too few for its format",
            bytes.len()
        )));
    }
    let rows = (0..h).map(|y| &bytes[y * stride..y * stride + row]);
    let pixels: Vec<u8> = match format {
        PixelFormat::Gray | PixelFormat::Nv12 | PixelFormat::Mjpeg => {
            rows.flatten().copied().collect()
        }
        PixelFormat::Yuyv => rows.flat_map(|r| r.iter().step_by(2).copied()).collect(),
        PixelFormat::Rgb => rows
            .flat_map(|r| r.chunks_exact(3).map(|p| grey(p[0], p[1], p[2])))
            .collect(),
        PixelFormat::Bgr => rows
            .flat_map(|r| r.chunks_exact(3).map(|p| grey(p[2], p[1], p[0])))
            .collect(),
    };
    Ok(Luma {
        pixels,
        width,
        height,
    })
}

fn check_pixels(width: u32, height: u32) -> Result<(), CameraError> {
    if width == 0 || height == 0 {
        return Err(CameraError::BadFrame("a frame has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(CameraError::BadFrame(format!(
            "a {width}×{height} frame is over the limit of {MAX_IMAGE_PIXELS} pixels"
        )));
    }
    Ok(())
}

fn need(width: u32, height: u32, per_pixel: usize, len: usize) -> Result<(), CameraError> {
    check_pixels(width, height)?;
    let want = width as usize * height as usize * per_pixel;
    if len != want {
        return Err(CameraError::BadFrame(format!(
            "a {width}×{height} frame has {len} bytes, not {want}"
        )));
    }
    Ok(())
}

/// Somewhere frames come from: a camera, or a list of pictures in tests.
pub trait FrameSource {
    /// The next frame. May wait for it, but not past `deadline`: `Ok(None)`
    /// when no frame came in time. An error ends the scan (the camera was
    /// disconnected, for one).
    fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>, CameraError>;
}

/// Decodes frames from `source` with `tessera-scan`'s cascade until one
/// holds a code, and returns that frame's codes. Each frame is shown to
/// `show` (the live preview) before it is decoded; when `show` returns
/// false (the user went away) the scan ends with [`CameraError::Stopped`].
/// Gives up with [`CameraError::TimedOut`] once `deadline` has passed, and
/// with the source's error when it fails.
pub fn scan_frames(
    source: &mut dyn FrameSource,
    deadline: Instant,
    show: &mut dyn FnMut(&Luma) -> bool,
) -> Result<Vec<String>, CameraError> {
    let started = Instant::now();
    let timed_out = || CameraError::TimedOut(round_up(deadline.saturating_duration_since(started)));
    loop {
        if Instant::now() >= deadline {
            return Err(timed_out());
        }
        let Some(frame) = source.next_frame(deadline)? else {
            return Err(timed_out());
        };
        let (luma, rgb) = frame.into_parts()?;
        if !show(&luma) {
            return Err(CameraError::Stopped);
        }
        // Plain QR codes first, then a colour frame's colour code. Nothing
        // read (or a colour code half seen): try the next frame.
        if let Ok(codes) = tessera_scan::decode_frame(&luma, rgb.as_ref()) {
            return Ok(codes);
        }
    }
}

/// `d` rounded up to whole seconds, for messages.
fn round_up(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_formats_stay_in_colour() {
        let rgb = [0, 0, 0, 255, 255, 255, 128, 128, 128, 255, 0, 0];
        let want = Frame::Rgb {
            pixels: rgb.to_vec(),
            width: 2,
            height: 2,
        };
        assert_eq!(frame_from_raw(PixelFormat::Rgb, 2, 2, &rgb).unwrap(), want);
        let bgr: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
        assert_eq!(frame_from_raw(PixelFormat::Bgr, 2, 2, &bgr).unwrap(), want);
        let yuyv = [0, 128, 255, 128, 100, 128, 76, 128];
        assert!(matches!(
            frame_from_raw(PixelFormat::Yuyv, 2, 2, &yuyv).unwrap(),
            Frame::Luma(_)
        ));
    }

    #[test]
    fn raw_formats_become_grey() {
        // 2×2 pixels: black, white / mid grey, red.
        let yuyv = [0, 128, 255, 128, 100, 90, 76, 240];
        let luma = luma_from_raw(PixelFormat::Yuyv, 2, 2, &yuyv).unwrap();
        assert_eq!(luma.pixels, vec![0, 255, 100, 76]);

        let rgb = [0, 0, 0, 255, 255, 255, 128, 128, 128, 255, 0, 0];
        let luma = luma_from_raw(PixelFormat::Rgb, 2, 2, &rgb).unwrap();
        assert_eq!(luma.pixels, vec![0, 255, 128, 77]);
        let bgr: Vec<u8> = rgb.chunks(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
        assert_eq!(luma_from_raw(PixelFormat::Bgr, 2, 2, &bgr).unwrap(), luma);

        // NV12: the Y plane, then the chroma plane that is not read.
        let nv12 = [1, 2, 3, 4, 9, 9];
        assert_eq!(
            luma_from_raw(PixelFormat::Nv12, 2, 2, &nv12)
                .unwrap()
                .pixels,
            vec![1, 2, 3, 4]
        );

        // Rows padded to 4 bytes.
        let gray = [1, 2, 0, 0, 3, 4, 0, 0];
        assert_eq!(
            luma_from_raw(PixelFormat::Gray, 2, 2, &gray)
                .unwrap()
                .pixels,
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn short_empty_and_huge_frames_are_refused() {
        for (format, w, h, len) in [
            (PixelFormat::Yuyv, 2, 2, 7),
            (PixelFormat::Gray, 0, 0, 0),
            (PixelFormat::Gray, 100_000, 100_000, 16),
            (PixelFormat::Mjpeg, 2, 2, 16),
        ] {
            let err = luma_from_raw(format, w, h, &vec![0; len]).unwrap_err();
            assert!(matches!(err, CameraError::BadFrame(_)), "{format:?}: {err}");
        }
        let bad = Frame::Rgb {
            pixels: vec![0; 5],
            width: 1,
            height: 2,
        };
        assert_eq!(
            bad.into_luma().unwrap_err().to_string(),
            "camera: a bad frame: a 1×2 frame has 5 bytes, not 6"
        );
    }

    #[test]
    fn rounds_seconds_up() {
        assert_eq!(round_up(Duration::from_millis(1)), Duration::from_secs(1));
        assert_eq!(round_up(Duration::from_secs(3)), Duration::from_secs(3));
    }
}
