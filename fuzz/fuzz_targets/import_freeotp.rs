//! Fuzzes the FreeOTP 2 importer (`tessera-import`): its Java
//! serialization reader above all; never a panic. Without a password: with
//! one, each input with a masterKey would run PBKDF2.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_import::{FreeOtp, Importer};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = FreeOtp.read(data, None) {
        assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
    }
});
