//! Fuzzes the parser of the tag form, `<QRCode>…</QRCode>`: it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::payload::tag;

fuzz_target!(|text: &str| {
    let _ = tag::parse(text);
});
