//! Fuzzes the parser of `otpauth://totp|hotp/…` Key URIs: it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::payload::otpauth;

fuzz_target!(|text: &str| {
    let _ = otpauth::parse(text);
});
