//! One scanner call, run on a thread of its own: the host's sink callbacks
//! copy and check everything the plugin sends.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use tessera_plugin_api::abi::*;

use crate::load::ScanFn;
use crate::{FrameReply, PreviewFrame, PreviewSink};

/// What a scan call produced, before the host judges it.
#[derive(Default)]
pub(crate) struct Outcome {
    pub status: i32,
    pub texts: Vec<String>,
    pub message: Option<String>,
    /// The first rule the plugin broke, if any.
    pub violation: Option<String>,
    /// Where preview frames go; `None` once the sink wants no more.
    preview: Option<PreviewSink>,
}

/// Calls `scan` with `image` and collects its output; preview frames go to
/// `preview` as they come. Runs on the calling (dedicated) thread;
/// everything the plugin may touch lives here, so abandoning this thread
/// leaves nothing dangling.
pub(crate) fn call_scan(
    scan: ScanFn,
    image: &[u8],
    timeout_ms: u32,
    preview: Option<PreviewSink>,
) -> Outcome {
    let wants_frames = preview.is_some();
    let mut outcome = Outcome {
        preview,
        ..Outcome::default()
    };
    let request = TesseraScanRequest {
        image: if image.is_empty() {
            std::ptr::null()
        } else {
            image.as_ptr()
        },
        image_len: image.len(),
        timeout_ms,
    };
    let sink = TesseraScanSink {
        ctx: (&raw mut outcome).cast::<c_void>(),
        emit: Some(emit),
        message: Some(message),
        frame: if wants_frames { Some(frame) } else { None },
    };
    // SAFETY: the ABI's scan function, with a request and sink valid for the call.
    let status = unsafe { scan(&request, &sink) };
    outcome.status = status;
    outcome.preview = None;
    outcome
}

unsafe extern "C" fn frame(
    ctx: *mut c_void,
    format: u32,
    width: u32,
    height: u32,
    pixels: *const u8,
    len: usize,
) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the Outcome passed in the sink, alive for the call.
        let Some(outcome) = (unsafe { ctx.cast::<Outcome>().as_mut() }) else {
            return 1;
        };
        if outcome.violation.is_some() {
            return TESSERA_FRAME_ENOUGH;
        }
        let Some(sink) = outcome.preview.clone() else {
            return TESSERA_FRAME_ENOUGH;
        };
        let rule = if format != TESSERA_FRAME_GREY8 {
            Some(format!(
                "it sent a preview frame of the unknown format {format}"
            ))
        } else if !(1..=TESSERA_MAX_FRAME_WIDTH).contains(&width)
            || !(1..=TESSERA_MAX_FRAME_HEIGHT).contains(&height)
        {
            Some(format!(
                "it sent a {width}×{height} preview frame (at most \
                 {TESSERA_MAX_FRAME_WIDTH}×{TESSERA_MAX_FRAME_HEIGHT})"
            ))
        } else if len != width as usize * height as usize {
            Some(format!(
                "it sent a {width}×{height} preview frame of {len} bytes"
            ))
        } else if pixels.is_null() {
            Some("it sent a NULL preview frame".to_owned())
        } else {
            None
        };
        if let Some(rule) = rule {
            outcome.violation = Some(rule);
            outcome.preview = None;
            return TESSERA_FRAME_ENOUGH;
        }
        // SAFETY: the plugin passes `len` readable bytes, per the ABI.
        let pixels = unsafe { std::slice::from_raw_parts(pixels, len) }.to_vec();
        let reply = sink(PreviewFrame {
            width,
            height,
            pixels,
        });
        if reply == FrameReply::Enough {
            outcome.preview = None;
        }
        reply.code()
    }))
    .unwrap_or(TESSERA_FRAME_ENOUGH)
}

unsafe extern "C" fn emit(ctx: *mut c_void, text: *const u8, len: usize) -> i32 {
    // Nothing here may unwind into the plugin.
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the Outcome passed in the sink, alive for the call.
        let Some(outcome) = (unsafe { ctx.cast::<Outcome>().as_mut() }) else {
            return 1;
        };
        if outcome.violation.is_some() {
            return 1;
        }
        let broke = |outcome: &mut Outcome, rule: String| {
            outcome.violation = Some(rule);
            1
        };
        if outcome.texts.len() == TESSERA_MAX_RESULTS {
            return broke(
                outcome,
                format!("it sent more than {TESSERA_MAX_RESULTS} results"),
            );
        }
        if len > TESSERA_MAX_RESULT_BYTES {
            return broke(
                outcome,
                format!(
                    "it sent a result of {len} bytes (the limit is {TESSERA_MAX_RESULT_BYTES})"
                ),
            );
        }
        if len == 0 {
            return 0;
        }
        if text.is_null() {
            return broke(outcome, "it sent a NULL result".to_owned());
        }
        // SAFETY: the plugin passes `len` readable bytes, per the ABI.
        let bytes = unsafe { std::slice::from_raw_parts(text, len) };
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                outcome.texts.push(text.to_owned());
                0
            }
            Err(_) => broke(outcome, "it sent a result that is not UTF-8".to_owned()),
        }
    }))
    .unwrap_or(1)
}

unsafe extern "C" fn message(ctx: *mut c_void, text: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the Outcome passed in the sink, alive for the call.
        let Some(outcome) = (unsafe { ctx.cast::<Outcome>().as_mut() }) else {
            return;
        };
        if text.is_null() || len == 0 {
            outcome.message = None;
            return;
        }
        // Only the kept part is read.
        let kept = len.min(TESSERA_MAX_MESSAGE_BYTES);
        // SAFETY: the plugin passes `len` readable bytes, per the ABI.
        let bytes = unsafe { std::slice::from_raw_parts(text, kept) };
        outcome.message = Some(clean_message(bytes));
    }));
}

/// A message fit to show: valid UTF-8 (a character cut at the limit is
/// dropped), control characters replaced by spaces, trimmed.
pub(crate) fn clean_message(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cleaned() {
        assert_eq!(clean_message(b"  no code\n"), "no code");
        assert_eq!(clean_message(b"a\x1b[31mb"), "a [31mb");
        assert_eq!(clean_message("é".as_bytes()), "é");
        // A character cut by the length limit is dropped.
        assert_eq!(clean_message(&"xé".as_bytes()[..2]), "x");
        assert_eq!(clean_message(b"bad \xff byte"), "bad \u{fffd} byte");
    }

    unsafe extern "C" fn sends_many(
        _: *const TesseraScanRequest,
        sink: *const TesseraScanSink,
    ) -> i32 {
        // SAFETY: the host's sink.
        let sink = unsafe { &*sink };
        for _ in 0..100 {
            // SAFETY: the host's callback with a valid buffer.
            if unsafe { (sink.emit.unwrap())(sink.ctx, b"x".as_ptr(), 1) } != 0 {
                break;
            }
        }
        TESSERA_STATUS_OK
    }

    unsafe extern "C" fn sends_bad(
        request: *const TesseraScanRequest,
        sink: *const TesseraScanSink,
    ) -> i32 {
        // SAFETY: the host's request and sink.
        let (request, sink) = unsafe { (&*request, &*sink) };
        let text = [0xffu8, 0xfe];
        let long = vec![b'a'; TESSERA_MAX_RESULT_BYTES + 1];
        let (ptr, len) = match request.image_len {
            1 => (text.as_ptr(), text.len()),
            2 => (long.as_ptr(), long.len()),
            _ => (std::ptr::null(), 5),
        };
        // SAFETY: the host's callbacks; the NULL case is what is tested.
        unsafe {
            (sink.message.unwrap())(sink.ctx, b"hello".as_ptr(), 5);
            (sink.emit.unwrap())(sink.ctx, ptr, len);
        }
        TESSERA_STATUS_OK
    }

    #[test]
    fn output_over_the_limits_is_refused() {
        let outcome = call_scan(sends_many, b"", 100, None);
        assert_eq!(outcome.texts.len(), TESSERA_MAX_RESULTS);
        assert!(outcome.violation.unwrap().contains("more than 16"));
        let outcome = call_scan(sends_bad, b"1", 100, None);
        assert!(outcome.violation.unwrap().contains("not UTF-8"));
        assert_eq!(outcome.message.as_deref(), Some("hello"));
        let outcome = call_scan(sends_bad, b"22", 100, None);
        assert!(outcome.violation.unwrap().contains("4097 bytes"));
        let outcome = call_scan(sends_bad, b"333", 100, None);
        assert!(outcome.violation.unwrap().contains("NULL"));
    }

    /// Sends the frames its image's bytes ask for: `w h len format` per
    /// line, 1 pixel value each.
    unsafe extern "C" fn sends_frames(
        request: *const TesseraScanRequest,
        sink: *const TesseraScanSink,
    ) -> i32 {
        // SAFETY: the host's request and sink.
        let (request, sink) = unsafe { (&*request, &*sink) };
        // SAFETY: the host's bytes.
        let spec = unsafe { std::slice::from_raw_parts(request.image, request.image_len) };
        let Some(frame) = sink.frame else {
            return TESSERA_STATUS_NOT_FOUND;
        };
        let mut answers = Vec::new();
        for line in std::str::from_utf8(spec).unwrap().lines() {
            let n: Vec<usize> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            let pixels = vec![7u8; n[2]];
            // SAFETY: the host's callback with `len` readable bytes.
            answers.push(unsafe {
                frame(
                    sink.ctx,
                    n[3] as u32,
                    n[0] as u32,
                    n[1] as u32,
                    pixels.as_ptr(),
                    n[2],
                )
            });
        }
        let text = format!("{answers:?}");
        // SAFETY: the host's callback.
        unsafe { (sink.emit.unwrap())(sink.ctx, text.as_ptr(), text.len()) };
        TESSERA_STATUS_OK
    }

    fn collecting(
        keep: usize,
    ) -> (
        PreviewSink,
        std::sync::Arc<std::sync::Mutex<Vec<PreviewFrame>>>,
    ) {
        let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = frames.clone();
        let sink: PreviewSink = std::sync::Arc::new(move |f: PreviewFrame| {
            let mut seen = seen.lock().unwrap();
            seen.push(f);
            match seen.len() {
                n if n < keep => FrameReply::More,
                n if n == keep => FrameReply::Enough,
                _ => FrameReply::Stop,
            }
        });
        (sink, frames)
    }

    #[test]
    fn preview_frames_reach_the_sink_until_it_wants_no_more() {
        let (sink, frames) = collecting(2);
        let outcome = call_scan(sends_frames, b"4 3 12 1\n2 2 4 1\n1 1 1 1", 100, Some(sink));
        assert_eq!(outcome.violation, None);
        assert_eq!(
            outcome.texts,
            ["[0, 1, 1]"],
            "the second frame says: no more"
        );
        let frames = frames.lock().unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].width, frames[0].height), (4, 3));
        assert_eq!(frames[0].pixels, vec![7; 12]);
        // A sink that asks the scan to stop says so to every frame.
        let stop: PreviewSink = std::sync::Arc::new(|_| FrameReply::Stop);
        let outcome = call_scan(sends_frames, b"1 1 1 1\n1 1 1 1", 100, Some(stop));
        assert_eq!(outcome.texts, ["[2, 2]"]);
        // Without a sink the plugin is given no callback.
        let outcome = call_scan(sends_frames, b"1 1 1 1", 100, None);
        assert_eq!(outcome.status, TESSERA_STATUS_NOT_FOUND);
    }

    #[test]
    fn preview_frames_over_the_rules_are_violations() {
        for (spec, rule) in [
            (&b"2 2 4 9"[..], "unknown format 9"),
            (b"641 1 641 1", "641×1 preview frame (at most 640×480)"),
            (b"1 481 481 1", "(at most 640×480)"),
            (b"0 5 0 1", "0×5"),
            (b"2 2 5 1", "2×2 preview frame of 5 bytes"),
        ] {
            let (sink, frames) = collecting(10);
            let outcome = call_scan(sends_frames, spec, 100, Some(sink));
            let violation = outcome.violation.expect("a violation");
            assert!(violation.contains(rule), "{violation}");
            assert!(frames.lock().unwrap().is_empty());
        }
    }
}
