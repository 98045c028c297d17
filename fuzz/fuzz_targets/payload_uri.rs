//! Fuzzes the parser of the URI form, `tessera://activate?…`: it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::payload::uri;

fuzz_target!(|text: &str| {
    let _ = uri::parse(text);
});
