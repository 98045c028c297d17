//! Fuzzes the PSKC importer (`tessera-import`): never a panic, and every
//! skipped entry has its reason. With a pre-shared key as the password, so
//! the AES-CBC, MAC and padding paths run on every input that has an
//! EncryptionKey without a DerivedKey (a derived key would run PBKDF2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::SecretString;
use tessera_import::{Importer, Pskc};

fuzz_target!(|data: &[u8]| {
    let key = SecretString::new("12345678901234567890123456789012".into());
    for password in [None, Some(&key)] {
        if let Ok(read) = Pskc.read(data, password) {
            assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
        }
    }
});
