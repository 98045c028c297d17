//! Fuzzes the colour code reader: the input's first 4 bytes are a width and
//! height (each 1–512), the rest RGB pixels (repeated to fill the picture),
//! then `tessera_scan::colour::decode`. It must never panic, and a payload
//! it reads keeps the payload limit. The layer texts themselves go through
//! `tessera_colour::layers::parse` and `join` with the input as text too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_colour::layers;
use tessera_scan::Rgb;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let parsed: Vec<_> = text.lines().filter_map(|l| layers::parse(l).ok()).collect();
        if let Ok(payload) = layers::join(&parsed) {
            assert!(payload.len() <= layers::MAX_PAYLOAD_BYTES);
        }
    }
    if bytes.len() < 7 {
        return;
    }
    let width = u32::from(u16::from_le_bytes([bytes[0], bytes[1]]) % 512) + 1;
    let height = u32::from(u16::from_le_bytes([bytes[2], bytes[3]]) % 512) + 1;
    let pixels = &bytes[4..];
    let len = (width * height * 3) as usize;
    let data: Vec<u8> = pixels.iter().copied().cycle().take(len).collect();
    let rgb = Rgb {
        width,
        height,
        data,
    };
    if let Ok(payload) = tessera_scan::colour::decode(&rgb) {
        assert!(payload.len() <= layers::MAX_PAYLOAD_BYTES);
    }
});
