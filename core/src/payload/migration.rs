//! PLACEHOLDER, replaced by the payload work in progress.
use super::PayloadError;
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationBatch;
pub fn parse(_text: &str) -> Result<MigrationBatch, PayloadError> { todo!() }
