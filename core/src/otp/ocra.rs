//! PLACEHOLDER, replaced by the OCRA work in progress.
#[derive(Debug)]
pub struct OcraSuite;
#[derive(Debug, thiserror::Error)]
#[error("ocra")]
pub struct OcraError;
