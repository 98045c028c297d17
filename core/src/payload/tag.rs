//! PLACEHOLDER, replaced by the payload work in progress.
use super::{PayloadError, TesseraPayload};
pub fn parse(_text: &str) -> Result<TesseraPayload, PayloadError> { todo!() }
pub fn write(_p: &TesseraPayload) -> String { todo!() }
