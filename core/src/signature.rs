//! The issuer's Ed25519 signature over a Tessera payload (PROTOCOL.md §7).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use zeroize::Zeroizing;

use crate::payload::TesseraPayload;

const DOMAIN: &[u8] = b"tessera-activation-v1\n";
const PUBLIC_KEY_PREFIX: &str = "ed25519:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("SIG: the payload is not signed")]
    Unsigned,
    #[error("SIG: the signature does not match any trusted issuer key")]
    NotTrusted,
    #[error("issuer key: expected ed25519:<43 base64url characters>, got {0:?}")]
    PublicKeyFormat(String),
    #[error("issuer key: not a valid Ed25519 public key")]
    PublicKeyValue,
    #[error("signing key: not a PKCS#8 PEM Ed25519 private key")]
    SigningKeyFormat,
}

/// The bytes §7 signs: the domain line, then `NAME=VALUE\n` for each present
/// field in the order SN, AC, USERID, CHALLENGE, ISS, LBL, OTP.
pub fn signed_message(payload: &TesseraPayload) -> Zeroizing<Vec<u8>> {
    let mut msg = Zeroizing::new(DOMAIN.to_vec());
    let required = [
        ("SN", payload.serial.as_str()),
        ("AC", payload.activation_code.expose()),
    ];
    for (name, value) in required.into_iter().chain(payload.optional_fields()) {
        msg.extend_from_slice(name.as_bytes());
        msg.push(b'=');
        msg.extend_from_slice(value.as_bytes());
        msg.push(b'\n');
    }
    msg
}

/// An issuer's public key, written `ed25519:<base64url>` in configuration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IssuerPublicKey(VerifyingKey);

impl IssuerPublicKey {
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

impl fmt::Display for IssuerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PUBLIC_KEY_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(self.0.as_bytes())
        )
    }
}

impl fmt::Debug for IssuerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerPublicKey({self})")
    }
}

impl FromStr for IssuerPublicKey {
    type Err = SignatureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let format_err = || SignatureError::PublicKeyFormat(s.chars().take(80).collect());
        let b64 = s.strip_prefix(PUBLIC_KEY_PREFIX).ok_or_else(format_err)?;
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(b64)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(format_err)?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| SignatureError::PublicKeyValue)
    }
}

/// An issuer's signing key. Zeroized on drop (ed25519-dalek's `zeroize`).
pub struct IssuerSigningKey(SigningKey);

impl IssuerSigningKey {
    /// A new key from a cryptographic random number generator.
    pub fn generate<R: rand_core::CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        Self(SigningKey::generate(rng))
    }

    pub fn public_key(&self) -> IssuerPublicKey {
        IssuerPublicKey(self.0.verifying_key())
    }

    /// PKCS#8 PEM, readable by OpenSSL (`openssl pkey -in KEY -pubout`).
    pub fn to_pem(&self) -> Zeroizing<String> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 key always encodes")
    }

    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self)
            .map_err(|_| SignatureError::SigningKeyFormat)
    }

    /// Signs `payload` in place (sets `SIG`).
    pub fn sign(&self, payload: &mut TesseraPayload) {
        payload.signature = Some(self.0.sign(&signed_message(payload)).to_bytes());
    }
}

impl fmt::Debug for IssuerSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IssuerSigningKey(<redacted>, public {})",
            self.public_key()
        )
    }
}

/// Checks `payload`'s signature against the trusted keys; returns the key
/// that signed it.
pub fn verify(
    payload: &TesseraPayload,
    trusted: &[IssuerPublicKey],
) -> Result<IssuerPublicKey, SignatureError> {
    let sig = payload.signature.ok_or(SignatureError::Unsigned)?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig);
    let msg = signed_message(payload);
    trusted
        .iter()
        .find(|k| k.0.verify(&msg, &sig).is_ok())
        .copied()
        .ok_or(SignatureError::NotTrusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::{ActivationCode, ActivationKey, Serial};

    fn payload() -> TesseraPayload {
        let sn: Serial = "TSR0000001".parse().unwrap();
        let ac = ActivationCode::new(&sn, &ActivationKey::from_bytes([1; 16]));
        let mut p = TesseraPayload::new(sn, ac);
        p.label = Some("alice@example.com".into());
        p.challenge = Some("42".parse().unwrap());
        p
    }

    fn key(seed: u8) -> IssuerSigningKey {
        IssuerSigningKey(SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn message_lists_present_fields_in_protocol_order() {
        let p = payload();
        let msg = String::from_utf8(signed_message(&p).to_vec()).unwrap();
        assert_eq!(
            msg,
            format!(
                "tessera-activation-v1\nSN=TSR0000001\nAC={}\nCHALLENGE=42\nLBL=alice@example.com\n",
                p.activation_code.expose()
            )
        );
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let k = key(9);
        let mut p = payload();
        assert_eq!(verify(&p, &[k.public_key()]), Err(SignatureError::Unsigned));
        k.sign(&mut p);
        assert_eq!(
            verify(&p, &[key(1).public_key(), k.public_key()]),
            Ok(k.public_key())
        );
        assert_eq!(
            verify(&p, &[key(1).public_key()]),
            Err(SignatureError::NotTrusted)
        );
        let mut tampered = p.clone();
        tampered.label = Some("mallory@example.com".into());
        assert_eq!(
            verify(&tampered, &[k.public_key()]),
            Err(SignatureError::NotTrusted)
        );
    }

    #[test]
    fn keys_round_trip_through_text() {
        let k = key(3);
        let text = k.public_key().to_string();
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.parse::<IssuerPublicKey>().unwrap(), k.public_key());
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            IssuerSigningKey::from_pem(&pem).unwrap().public_key(),
            k.public_key()
        );
        assert!(!format!("{k:?}").contains(&pem[30..50]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(matches!(
            "rsa:AAAA".parse::<IssuerPublicKey>(),
            Err(SignatureError::PublicKeyFormat(_))
        ));
        assert!(matches!(
            "ed25519:AAAA".parse::<IssuerPublicKey>(),
            Err(SignatureError::PublicKeyFormat(_))
        ));
        assert_eq!(
            IssuerSigningKey::from_pem("not a key").unwrap_err(),
            SignatureError::SigningKeyFormat
        );
    }
}
