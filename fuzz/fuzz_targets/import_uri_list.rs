//! Fuzzes the list-of-links importer and the format detection: never a
//! panic, every line that is not a link named in the skipped entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_import::{Importer, UriList};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = UriList.read(data, None) {
        assert!(read.skipped.iter().all(|s| s.name.starts_with("line ")));
    }
    let _ = tessera_import::import(None, data, None);
});
