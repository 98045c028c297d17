//! FreeOTP 2's backup (`externalBackup.xml`, which is not XML), as Aegis's
//! `FreeOtpImporter` describes it: a Java-serialized `HashMap<String,
//! String>` whose values are JSON:
//!
//! - `masterKey`: `{"mAlgorithm": "PBKDF2withHmacSHA512" (or SHA1),
//!   "mIterations", "mSalt": [signed bytes], "mEncryptedKey": {"mCipher":
//!   "AES/GCM/NoPadding", "mCipherText", "mParameters", "mToken": "AES"}}`:
//!   the 32-byte master key, AES-GCM under PBKDF2 of the password, its
//!   `mToken` the associated data and `mParameters` the DER of its nonce;
//! - per token, `UUID`: `{"key": "<the token's secret encrypted the same
//!   way under the master key, as JSON text>"}` and `UUID-token`: `{"algo",
//!   "counter", "digits", "issuerExt", "label", "period", "type": TOTP |
//!   HOTP}`.
//!
//! A wrong password fails the master key's tag; PBKDF2's rounds are
//! bounded before they run.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::Deserialize;
use serde_json::Value;
use tessera_core::{SecretBytes, SecretString};
use zeroize::Zeroizing;

use crate::freeotp_plus::{Settings, java_bytes};
use crate::{ImportError, Imported, Importer, Skipped, entry_name};

const NAME: &str = "freeotp";
/// The most PBKDF2 rounds run (FreeOTP writes 100,000).
const MAX_ROUNDS: u32 = 2_000_000;
/// The most entries the map may declare.
const MAX_ENTRIES: usize = 100_000;

pub struct FreeOtp;

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

/// Reads the one shape of Java serialization a FreeOTP backup is: a
/// `java.util.HashMap` of strings. Hand-written because a general Java
/// deserializer accepts whole object graphs and class definitions a
/// backup never needs; this reader accepts that one shape and refuses the
/// rest by name (Java Object Serialization Specification, chapter 6).
mod java {
    const MAGIC: [u8; 4] = [0xAC, 0xED, 0x00, 0x05];
    const TC_NULL: u8 = 0x70;
    const TC_REFERENCE: u8 = 0x71;
    const TC_CLASSDESC: u8 = 0x72;
    const TC_OBJECT: u8 = 0x73;
    const TC_STRING: u8 = 0x74;
    const TC_BLOCKDATA: u8 = 0x77;
    const TC_ENDBLOCKDATA: u8 = 0x78;
    const TC_LONGSTRING: u8 = 0x7C;
    const BASE_HANDLE: u32 = 0x7E_0000;

    pub fn is_serialized(bytes: &[u8]) -> bool {
        bytes.starts_with(&MAGIC)
    }

    struct Reader<'a> {
        bytes: &'a [u8],
        at: usize,
        /// Each handle's string (`None` for the class and the map).
        handles: Vec<Option<String>>,
    }

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
            let end = end.ok_or("it ends early")?;
            let out = &self.bytes[self.at..end];
            self.at = end;
            Ok(out)
        }

        fn u8(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }

        fn u16(&mut self) -> Result<u16, String> {
            Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2")))
        }

        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")))
        }

        fn utf(&mut self, len: usize) -> Result<String, String> {
            String::from_utf8(self.take(len)?.to_vec())
                .map_err(|_| "a string is not UTF-8 (characters outside the BMP)".to_owned())
        }

        fn expect(&mut self, byte: u8, what: &str) -> Result<(), String> {
            match self.u8()? {
                b if b == byte => Ok(()),
                b => Err(format!("expected {what}, found the tag {b:#04x}")),
            }
        }

        /// A string, new (given the next handle) or a reference to one.
        fn string(&mut self) -> Result<String, String> {
            let text = match self.u8()? {
                TC_STRING => {
                    let len = self.u16()? as usize;
                    self.utf(len)?
                }
                TC_LONGSTRING => {
                    let len = u64::from_be_bytes(self.take(8)?.try_into().expect("8"));
                    self.utf(usize::try_from(len).map_err(|_| "a string is too long")?)?
                }
                TC_REFERENCE => {
                    let handle = self.u32()?;
                    return handle
                        .checked_sub(BASE_HANDLE)
                        .and_then(|i| self.handles.get(i as usize).cloned().flatten())
                        .ok_or_else(|| format!("the reference {handle:#x} is not to a string"));
                }
                b => return Err(format!("expected a string, found the tag {b:#04x}")),
            };
            self.handles.push(Some(text.clone()));
            Ok(text)
        }
    }

    /// The map's entries, in the file's order.
    pub fn hash_map(bytes: &[u8], max: usize) -> Result<Vec<(String, String)>, String> {
        let mut r = Reader {
            bytes,
            at: 0,
            handles: Vec::new(),
        };
        if r.take(4)? != MAGIC {
            return Err("it is not Java serialization".into());
        }
        r.expect(TC_OBJECT, "an object")?;
        r.expect(TC_CLASSDESC, "a class description")?;
        let len = r.u16()? as usize;
        let class = r.utf(len)?;
        if class != "java.util.HashMap" {
            return Err(format!("it holds a {class}, not a java.util.HashMap"));
        }
        r.take(8)?; // serialVersionUID
        r.u8()?; // flags
        let fields = r.u16()?;
        for _ in 0..fields {
            r.u8()?;
            let len = r.u16()? as usize;
            r.take(len)?;
        }
        r.expect(TC_ENDBLOCKDATA, "the end of the class annotation")?;
        r.expect(TC_NULL, "no superclass")?;
        r.handles.push(None); // the class description
        r.handles.push(None); // the map
        r.take(8)?; // loadFactor, threshold
        r.expect(TC_BLOCKDATA, "the map's size")?;
        if r.u8()? != 8 {
            return Err("the map's size block is not 8 bytes".into());
        }
        r.u32()?; // buckets
        let size = r.u32()? as usize;
        if size > max {
            return Err(format!(
                "it declares {size} entries; at most {max} are read"
            ));
        }
        let mut out = Vec::with_capacity(size);
        for _ in 0..size {
            let key = r.string()?;
            let value = r.string()?;
            out.push((key, value));
        }
        r.expect(TC_ENDBLOCKDATA, "the end of the map")?;
        Ok(out)
    }
}

/// An AES-GCM value as FreeOTP writes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sealed {
    m_cipher: String,
    m_cipher_text: Vec<i16>,
    m_parameters: Vec<i16>,
    m_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MasterKey {
    m_algorithm: String,
    m_iterations: u32,
    m_salt: Vec<i16>,
    m_encrypted_key: Sealed,
}

/// The nonce in DER `GCMParameters`: `SEQUENCE { OCTET STRING nonce,
/// INTEGER tag length }`.
fn nonce(der: &[u8]) -> Option<[u8; 12]> {
    match der {
        [0x30, _, 0x04, 12, rest @ ..] if rest.len() >= 12 => rest[..12].try_into().ok(),
        _ => None,
    }
}

impl Sealed {
    /// The plaintext under `key`; `None` when the tag fails.
    fn open(&self, key: &[u8; 32]) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        if self.m_cipher != "AES/GCM/NoPadding" {
            return Err(format!(
                "its cipher {:?} is not read (AES/GCM is)",
                self.m_cipher
            ));
        }
        let sealed = java_bytes(&self.m_cipher_text).ok_or("its ciphertext is not bytes")?;
        let params = java_bytes(&self.m_parameters).ok_or("its parameters are not bytes")?;
        let nonce = nonce(&params).ok_or("its parameters are not a 12-byte GCM nonce")?;
        Ok(Aes256Gcm::new(key.into())
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &sealed,
                    aad: self.m_token.as_bytes(),
                },
            )
            .ok()
            .map(Zeroizing::new))
    }
}

fn master_key(json: &str, password: &SecretString) -> Result<Zeroizing<[u8; 32]>, ImportError> {
    let mk: MasterKey = serde_json::from_str(json)
        .map_err(|e| malformed(format!("its masterKey is not valid: {e}")))?;
    if mk.m_iterations > MAX_ROUNDS {
        return Err(ImportError::Unsafe {
            format: NAME,
            reason: format!(
                "it asks for {} PBKDF2 rounds; at most {MAX_ROUNDS} are run",
                mk.m_iterations
            ),
        });
    }
    let salt = java_bytes(&mk.m_salt).ok_or_else(|| malformed("its salt is not bytes"))?;
    let mut kek = Zeroizing::new([0u8; 32]);
    let pw = password.expose().as_bytes();
    match mk.m_algorithm.as_str() {
        "PBKDF2withHmacSHA512" => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pw, &salt, mk.m_iterations, &mut kek[..])
        }
        "PBKDF2withHmacSHA1" => {
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, &salt, mk.m_iterations, &mut kek[..])
        }
        other => {
            return Err(ImportError::Unsupported {
                format: NAME,
                reason: format!("its key derivation {other:?} is not read"),
            });
        }
    }
    let plain = mk
        .m_encrypted_key
        .open(&kek)
        .map_err(malformed)?
        .ok_or(ImportError::WrongPassword(NAME))?;
    let key: [u8; 32] = plain[..]
        .try_into()
        .map_err(|_| malformed("its master key is not 32 bytes"))?;
    Ok(Zeroizing::new(key))
}

/// One token: its secret opened with the master key, its settings read.
fn token(
    id: &str,
    key_json: &str,
    settings: Option<&str>,
    master: &[u8; 32],
) -> Result<tessera_core::payload::OtpAuthAccount, Skipped> {
    let settings: Option<Settings> = settings.and_then(|s| serde_json::from_str(s).ok());
    let name = settings
        .as_ref()
        .map(|t| entry_name(t.issuer(), &t.label))
        .unwrap_or_else(|| format!("token {id}"));
    let skip = |reason: String| Skipped {
        name: name.clone(),
        reason,
    };
    let t = settings
        .as_ref()
        .ok_or_else(|| skip("its settings are missing".into()))?;
    let wrapper: Value = serde_json::from_str(key_json).map_err(|e| skip(e.to_string()))?;
    let sealed: Sealed = wrapper
        .get("key")
        .and_then(Value::as_str)
        .ok_or("it has no key")
        .map_err(|e| skip(e.into()))
        .and_then(|k| serde_json::from_str(k).map_err(|e| skip(e.to_string())))?;
    let secret = sealed
        .open(master)
        .map_err(skip)?
        .ok_or_else(|| skip("its secret does not open with the master key (changed?)".into()))?;
    t.raw(SecretBytes::from(&secret[..])).account()
}

impl Importer for FreeOtp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        java::is_serialized(bytes)
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let entries = java::hash_map(bytes, MAX_ENTRIES).map_err(malformed)?;
        let find = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let mk = find("masterKey").ok_or_else(|| malformed("it has no masterKey"))?;
        let password = password.ok_or(ImportError::NeedsPassword(NAME))?;
        let master = master_key(mk, password)?;
        let mut out = Imported::default();
        for (id, value) in &entries {
            if id == "masterKey" || id.ends_with("-token") {
                continue;
            }
            match token(id, value, find(&format!("{id}-token")), &master) {
                Ok(a) => out.accounts.push(a),
                Err(s) => out.skipped.push(s),
            }
        }
        Ok(out)
    }
}
