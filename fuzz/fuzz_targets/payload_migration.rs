//! Fuzzes the parser of `otpauth-migration://offline?data=…` exports: it
//! must never panic. The input is parsed as text, and also as the protobuf
//! itself behind a well-formed URI, so the fuzzer reaches the account
//! conversion without having to discover base64 first.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use tessera_core::payload::migration;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = migration::parse(text);
    }
    let uri = format!(
        "otpauth-migration://offline?data={}",
        STANDARD
            .encode(data)
            .replace('+', "%2B")
            .replace('/', "%2F")
    );
    let _ = migration::parse(&uri);
});
