//! Secret byte strings: zeroized when dropped, compared in constant time,
//! never printed.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Key material (an activation key, an instance key, an OTP secret).
///
/// `Debug` prints only the length, so a secret inside a struct that derives
/// `Debug` cannot end up in a log line or an error message.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes. Call sites are the places a secret is used; keep them few.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// A secret typed by a user (a PIN): zeroized on drop, never printed.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl From<String> for SecretString {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_bytes() {
        let s = SecretBytes::from(&b"\x01\x02hunter2"[..]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "SecretBytes(<9 bytes redacted>)");
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn secret_strings_compare_and_hide() {
        let pin = SecretString::from("482915");
        assert_eq!(pin, SecretString::from("482915"));
        assert_ne!(pin, SecretString::from("482916"));
        assert_eq!(format!("{pin:?}"), "SecretString(<redacted>)");
    }

    #[test]
    fn equality_compares_contents() {
        assert_eq!(
            SecretBytes::from(&b"abc"[..]),
            SecretBytes::from(&b"abc"[..])
        );
        assert_ne!(
            SecretBytes::from(&b"abc"[..]),
            SecretBytes::from(&b"abd"[..])
        );
        assert_ne!(
            SecretBytes::from(&b"abc"[..]),
            SecretBytes::from(&b"abcd"[..])
        );
    }
}
