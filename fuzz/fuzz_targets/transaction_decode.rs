//! Fuzzes transaction signing's decoders: `Transaction::decode` on the
//! input as bytes (whatever it accepts encodes back to the same bytes: the
//! encoding is canonical), and `SignRequest::parse` on the input as text,
//! opened with a fixed account's keys. Neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::transaction::{SignRequest, Transaction, TransactionKeys};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(tx) = Transaction::decode(bytes) {
        assert_eq!(tx.encode(), bytes, "the encoding is canonical");
    }
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(request) = SignRequest::parse(text)
    {
        let keys = TransactionKeys::derive(&request.serial, &[7; 20]);
        let _ = keys.open(&request);
    }
});
