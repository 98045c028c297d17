//! PLACEHOLDER, replaced by the payload work in progress.
use super::PayloadError;
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpAuthAccount;
pub fn parse(_text: &str) -> Result<OtpAuthAccount, PayloadError> { todo!() }
