//! Fuzzes `payload::parse`, which picks the format from the text: it must
//! never panic, and whatever it accepts must parse again to the same value
//! once written (in its own form; a longer rewrite may exceed the limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::payload::{self, Form, MAX_PAYLOAD_BYTES, Payload, migration, otpauth};

fuzz_target!(|text: &str| {
    let Ok(parsed) = payload::parse(text) else {
        return;
    };
    let again = match &parsed {
        Payload::Tessera(p) if text.trim_start().starts_with('<') => p.write(Form::Tag),
        Payload::Tessera(p) => p.write(Form::Uri),
        Payload::OtpAuth(a) => otpauth::write(a),
        Payload::Migration(b) => migration::write(b).expect("a parsed batch can be written"),
    };
    if again.len() <= MAX_PAYLOAD_BYTES {
        assert_eq!(payload::parse(&again), Ok(parsed), "rewritten: {again}");
    }
});
