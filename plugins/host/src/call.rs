//! One scanner call, run on a thread of its own: the host's sink callbacks
//! copy and check everything the plugin sends.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use tessera_plugin_api::abi::*;

use crate::load::ScanFn;

/// What a scan call produced, before the host judges it.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub status: i32,
    pub texts: Vec<String>,
    pub message: Option<String>,
    /// The first rule the plugin broke, if any.
    pub violation: Option<String>,
}

/// Calls `scan` with `image` and collects its output. Runs on the calling
/// (dedicated) thread; everything the plugin may touch lives here, so
/// abandoning this thread leaves nothing dangling.
pub(crate) fn call_scan(scan: ScanFn, image: &[u8], timeout_ms: u32) -> Outcome {
    let mut outcome = Outcome::default();
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
    };
    // SAFETY: the ABI's scan function, with a request and sink valid for the call.
    let status = unsafe { scan(&request, &sink) };
    outcome.status = status;
    outcome
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
        let outcome = call_scan(sends_many, b"", 100);
        assert_eq!(outcome.texts.len(), TESSERA_MAX_RESULTS);
        assert!(outcome.violation.unwrap().contains("more than 16"));
        let outcome = call_scan(sends_bad, b"1", 100);
        assert!(outcome.violation.unwrap().contains("not UTF-8"));
        assert_eq!(outcome.message.as_deref(), Some("hello"));
        let outcome = call_scan(sends_bad, b"22", 100);
        assert!(outcome.violation.unwrap().contains("4097 bytes"));
        let outcome = call_scan(sends_bad, b"333", 100);
        assert!(outcome.violation.unwrap().contains("NULL"));
    }
}
