//! Fuzzes the proton importer (`tessera-import`): never a panic, and every
//! skipped entry has its reason. Without a password: with one, each input
//! would run Proton's fixed Argon2id (19 MiB), and the decrypted text goes
//! through the same reader as the plain form anyway.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_import::{Proton, Importer};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = Proton.read(data, None) {
        assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
    }
});
