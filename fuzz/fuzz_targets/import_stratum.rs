//! Fuzzes the Stratum (Authenticator Pro) importer (`tessera-import`):
//! never a panic, and every skipped entry has its reason. Without a
//! password: with one, each input would run Stratum's fixed Argon2id
//! (64 MiB) or PBKDF2, and the decrypted JSON goes through the plain reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_import::{Importer, Stratum};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = Stratum.read(data, None) {
        assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
    }
});
