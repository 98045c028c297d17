//! Fuzzes the 2fas importer (`tessera-import`): never a panic, without or
//! with a password, and every skipped entry has its reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::SecretString;
use tessera_import::{Importer, TwoFas};

fuzz_target!(|data: &[u8]| {
    let password = SecretString::from("fuzz-password");
    for read in [TwoFas.read(data, None), TwoFas.read(data, Some(&password))] {
        if let Ok(read) = read {
            assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
        }
    }
});
