//! Fuzzes the image path of the `image` scanner: `tessera_scan::decode`,
//! image bytes (any format) → QR texts. It must never panic, and what it
//! returns keeps the limits: 1 to 16 distinct non-empty texts, each at most
//! 4096 bytes. (Image bombs are refused from their headers, so a run stays
//! within libFuzzer's default memory limit.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_scan::{MAX_CODES, MAX_TEXT_BYTES, decode};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(texts) = decode(bytes) {
        assert!(
            !texts.is_empty() && texts.len() <= MAX_CODES,
            "{} texts",
            texts.len()
        );
        for (i, text) in texts.iter().enumerate() {
            assert!(!text.is_empty() && text.len() <= MAX_TEXT_BYTES);
            assert!(!texts[..i].contains(text), "{text:?} twice");
        }
    }
});
