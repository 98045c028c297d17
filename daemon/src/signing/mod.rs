//! Transaction signing's state machine (pure, [`machine`]); the service
//! runs it (`service/signing.rs`).

pub mod machine;

pub use machine::{Event, Refusal, State, transition};
