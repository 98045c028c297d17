//! Fuzzes the bitwarden importer (`tessera-import`): never a panic, and every
//! skipped entry has its reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_import::{BitwardenJson, Importer};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = BitwardenJson.read(data, None) {
        assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
    }
});
