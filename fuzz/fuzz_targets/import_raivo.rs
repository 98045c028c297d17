//! Fuzzes the Raivo importer (`tessera-import`): ZIP and JSON, never a
//! panic, and every skipped entry has its reason. With a password too, so
//! the WinZip AES path (PBKDF2 of 1,000 rounds, cheap) and the bounded
//! unpacking run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::SecretString;
use tessera_import::{Importer, Raivo};

fuzz_target!(|data: &[u8]| {
    let password = SecretString::new("test-password-1234".into());
    for p in [None, Some(&password)] {
        if let Ok(read) = Raivo.read(data, p) {
            assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
        }
    }
});
