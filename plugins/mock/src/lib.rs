//! A scanner plugin that misbehaves on request, for the host's tests. The
//! image bytes say what to do:
//!
//! - `panic`: panics (the helper catches it and reports it);
//! - `hang`: sleeps for an hour;
//! - `many`: returns 40 codes (the helper sends the first 16);
//! - `long`: returns one code of 10000 bytes (the helper drops it);
//! - `fail`: fails with a message;
//! - anything else: returns the bytes as text, one code per line.
//!
//! Set `TESSERA_MOCK_PANIC_AT_LOAD` to make the entry function panic while
//! making the scanner.

use std::time::Duration;

use tessera_plugin_api::{ScanFailure, ScanRequest, Scanner, export_scanner};

struct Mock;

impl Mock {
    fn new() -> Self {
        if std::env::var_os("TESSERA_MOCK_PANIC_AT_LOAD").is_some() {
            panic!("the mock was asked to panic at load");
        }
        Mock
    }
}

impl Scanner for Mock {
    fn scan(&self, request: &ScanRequest<'_>) -> Result<Vec<String>, ScanFailure> {
        match request.image {
            b"panic" => panic!("the mock was asked to panic"),
            b"hang" => {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(Vec::new())
            }
            b"many" => Ok((0..40).map(|i| format!("code {i}")).collect()),
            b"long" => Ok(vec!["x".repeat(10_000)]),
            b"fail" => Err(ScanFailure::Failed("the mock failed as asked".into())),
            text => {
                let text = std::str::from_utf8(text)
                    .map_err(|_| ScanFailure::BadInput("the mock reads UTF-8 text only".into()))?;
                Ok(text.lines().map(str::to_owned).collect())
            }
        }
    }
}

export_scanner! {
    name: "mock",
    version: "1.2.3-test",
    input: Image,
    scanner: Mock::new(),
}
