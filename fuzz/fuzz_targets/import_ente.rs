//! Fuzzes the Ente Auth importer (`tessera-import`): never a panic, and
//! every skipped entry has its reason. Without a password: with one, each
//! input would run Argon2id at the file's limits; the decrypted text goes
//! through the uri-list reader, fuzzed on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_import::{Ente, Importer};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = Ente.read(data, None) {
        assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
    }
});
