//! Fuzzes the Aegis importer: it must never panic, a file it reads gives
//! each entry once (an account or a skipped entry with a reason), and a
//! password given to a plain file changes nothing. (The encrypted path is
//! reached with a password; its scrypt cost is bounded by the importer,
//! so a hostile file cannot make a run take minutes of memory.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::SecretString;
use tessera_import::{Aegis, Importer};

fuzz_target!(|data: &[u8]| {
    let plain = Aegis.read(data, None);
    if let Ok(read) = &plain {
        assert!(read.skipped.iter().all(|s| !s.reason.is_empty()));
    }
    let password = SecretString::from("fuzz-password");
    if let (Ok(a), Ok(b)) = (&plain, Aegis.read(data, Some(&password))) {
        assert_eq!(a.accounts.len(), b.accounts.len());
        assert_eq!(a.skipped, b.skipped);
    }
});
