//! Bitwarden's vault export, JSON and CSV, unencrypted, as its help pages
//! and Aegis's `BitwardenImporter` describe them. Only login items with a
//! TOTP field are authenticator accounts; the rest of the vault (passwords,
//! notes, cards) is not read into memory beyond the file's bytes.
//!
//! - JSON: `{"encrypted": false, "items": [{"type": 1, "name", "login":
//!   {"username", "totp"}}]}`;
//! - CSV: a header row naming `name`, `login_username` and `login_totp`;
//! - the TOTP field is an `otpauth://` link, a `steam://` secret, or a bare
//!   base32 secret (TOTP, SHA1, 6 digits, 30 s).
//!
//! A password-protected JSON export (Bitwarden's own description of its
//! clients' export: `{"encrypted": true, "passwordProtected": true,
//! "salt", "kdfType", "kdfIterations", "kdfMemory", "kdfParallelism",
//! "encKeyValidation_DO_NOT_EDIT", "data"}`) is opened with the password:
//! the key is PBKDF2-HMAC-SHA256 of it over the salt's text (`kdfType` 0)
//! or Argon2id over the salt text's SHA-256 (`kdfType` 1, memory in MiB),
//! stretched by HKDF-Expand-SHA256 into an AES-256 key ("enc") and an
//! HMAC-SHA256 key ("mac"); `data` and the validation field are encrypted
//! strings `2.IV|CIPHERTEXT|MAC` (base64; AES-256-CBC, HMAC over IV ‖
//! ciphertext). The validation field's MAC tells a wrong password from a
//! damaged `data`. The costs are bounded before any is paid. An export
//! encrypted with the Bitwarden account's own key is refused with what to
//! do instead.

use serde::Deserialize;
use tessera_core::SecretString;
use zeroize::Zeroizing;

use crate::{ImportError, Imported, RawEntry, RawSecret, Skipped, entry_name, uri_accounts};

pub struct BitwardenJson;
pub struct BitwardenCsv;

const JSON: &str = "bitwarden";
const CSV: &str = "bitwarden-csv";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    password_protected: bool,
    #[serde(default)]
    items: Vec<Item>,
    salt: Option<String>,
    kdf_type: Option<u32>,
    kdf_iterations: Option<u32>,
    kdf_memory: Option<u32>,
    kdf_parallelism: Option<u32>,
    #[serde(rename = "encKeyValidation_DO_NOT_EDIT")]
    validation: Option<String>,
    data: Option<String>,
}

/// The most PBKDF2 rounds run (Bitwarden's default is 600,000).
const MAX_ROUNDS: u32 = 2_000_000;
/// Argon2id's bounds: memory in MiB (Bitwarden allows up to 1024), passes,
/// lanes.
const MAX_MEMORY_MIB: u32 = 1024;
const MAX_PASSES: u32 = 10;
const MAX_LANES: u32 = 16;

fn unsafe_kdf(reason: String) -> ImportError {
    ImportError::Unsafe {
        format: JSON,
        reason,
    }
}

/// A 32-byte key, wiped when dropped.
type Key = Zeroizing<[u8; 32]>;

/// The export's AES and MAC keys from `password` and its KDF settings.
fn protected_keys(file: &File, password: &SecretString) -> Result<(Key, Key), ImportError> {
    let malformed = |reason: &str| ImportError::Malformed {
        format: JSON,
        reason: reason.into(),
    };
    let salt = file
        .salt
        .as_deref()
        .ok_or_else(|| malformed("there is no salt"))?;
    let iterations = file
        .kdf_iterations
        .filter(|&n| n > 0)
        .ok_or_else(|| malformed("there is no kdfIterations"))?;
    let pw = password.expose().as_bytes();
    let mut key = Zeroizing::new([0u8; 32]);
    match file.kdf_type {
        Some(0) => {
            if iterations > MAX_ROUNDS {
                return Err(unsafe_kdf(format!(
                    "it asks for {iterations} PBKDF2 rounds; at most {MAX_ROUNDS} are run"
                )));
            }
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, salt.as_bytes(), iterations, &mut key[..]);
        }
        Some(1) => {
            let memory = file.kdf_memory.unwrap_or(64);
            let lanes = file.kdf_parallelism.unwrap_or(4);
            if memory > MAX_MEMORY_MIB || iterations > MAX_PASSES || lanes > MAX_LANES {
                return Err(unsafe_kdf(format!(
                    "its Argon2id asks for {memory} MiB, {iterations} passes and {lanes} lanes; \
                     at most {MAX_MEMORY_MIB} MiB, {MAX_PASSES} passes and {MAX_LANES} lanes run"
                )));
            }
            let params = argon2::Params::new(memory * 1024, iterations, lanes, Some(32))
                .map_err(|e| malformed(&format!("its Argon2id settings are not valid: {e}")))?;
            let salt = <sha2::Sha256 as sha2::Digest>::digest(salt.as_bytes());
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(pw, &salt, &mut key[..])
                .map_err(|e| malformed(&format!("Argon2id failed: {e}")))?;
        }
        other => {
            return Err(ImportError::Unsupported {
                format: JSON,
                reason: format!("its key derivation (kdfType {other:?}) is not known"),
            });
        }
    }
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::from_prk(&key[..]).expect("a 32-byte PRK");
    let (mut enc, mut mac) = (Zeroizing::new([0u8; 32]), Zeroizing::new([0u8; 32]));
    hkdf.expand(b"enc", &mut enc[..]).expect("32 bytes");
    hkdf.expand(b"mac", &mut mac[..]).expect("32 bytes");
    Ok((enc, mac))
}

/// Why an encrypted string did not open.
enum Open {
    Malformed(&'static str),
    /// Its MAC does not match (a wrong key).
    Mac,
}

/// An encrypted string `2.IV|CT|MAC` opened with the keys.
fn open(text: &str, enc: &[u8; 32], mac: &[u8; 32]) -> Result<Zeroizing<Vec<u8>>, Open> {
    use base64::Engine;
    use hmac::Mac;
    let b64 = base64::engine::general_purpose::STANDARD;
    let rest = text.strip_prefix("2.").ok_or(Open::Malformed(
        "an encrypted field is not of type 2 (AES-CBC + HMAC)",
    ))?;
    let parts: Vec<_> = rest.split('|').collect();
    let [iv, ct, tag] = parts[..] else {
        return Err(Open::Malformed(
            "an encrypted field is not IV|CIPHERTEXT|MAC",
        ));
    };
    let decode = |p: &str| {
        b64.decode(p)
            .map_err(|_| Open::Malformed("an encrypted field is not base64"))
    };
    let (iv, ct, tag) = (decode(iv)?, decode(ct)?, decode(tag)?);
    let mut check =
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(mac).expect("any key");
    check.update(&iv);
    check.update(&ct);
    check.verify_slice(&tag).map_err(|_| Open::Mac)?;
    crate::crypto::cbc_decrypt(enc, &[iv, ct].concat()).ok_or(Open::Malformed(
        "an encrypted field's padding is wrong although its MAC matches",
    ))
}

/// The plain export inside a password-protected one.
fn open_protected(
    file: &File,
    password: Option<&SecretString>,
) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let password = password.ok_or(ImportError::NeedsPassword(JSON))?;
    let malformed = |reason: &str| ImportError::Malformed {
        format: JSON,
        reason: reason.into(),
    };
    let (validation, data) = match (&file.validation, &file.data) {
        (Some(v), Some(d)) => (v, d),
        _ => {
            return Err(malformed(
                "the encKeyValidation_DO_NOT_EDIT or data field is missing",
            ));
        }
    };
    let (enc, mac) = protected_keys(file, password)?;
    match open(validation, &enc, &mac) {
        Ok(_) => {}
        Err(Open::Mac) => return Err(ImportError::WrongPassword(JSON)),
        Err(Open::Malformed(reason)) => return Err(malformed(reason)),
    }
    open(data, &enc, &mac).map_err(|e| match e {
        Open::Mac => {
            malformed("the data was changed: its MAC does not match, though the password is right")
        }
        Open::Malformed(reason) => malformed(reason),
    })
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    name: String,
    login: Option<Login>,
}

#[derive(Deserialize)]
struct Login {
    username: Option<String>,
    totp: Option<String>,
}

/// The accounts of one item's TOTP field (`None`: the item has none).
fn item(out: &mut Imported, name: &str, username: Option<&str>, totp: Option<&str>) {
    let Some(totp) = totp.map(str::trim).filter(|t| !t.is_empty()) else {
        return;
    };
    let label = username.map(str::trim).filter(|u| !u.is_empty());
    let display = || entry_name(Some(name), label.unwrap_or("(no username)"));
    let lower = totp.get(..10).unwrap_or(totp).to_ascii_lowercase();
    // `steam://SECRET`: Bitwarden's form of a Steam Guard secret.
    let steam = lower.starts_with("steam://");
    let read = if lower.starts_with("otpauth:") {
        uri_accounts(&display, totp)
    } else {
        RawEntry {
            issuer: Some(name),
            name: label.unwrap_or(name),
            kind: if steam { "steam" } else { "totp" },
            algorithm: None,
            digits: None,
            period: None,
            counter: None,
            secret: RawSecret::Base32(if steam { &totp[8..] } else { totp }),
            pin: None,
        }
        .account()
        .map(|a| vec![a])
    };
    match read {
        Ok(accounts) => out.accounts.extend(accounts),
        Err(skipped) => out.skipped.push(skipped),
    }
}

impl crate::Importer for BitwardenJson {
    fn name(&self) -> &'static str {
        JSON
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| {
            v.get("encrypted").is_some() && (v.get("items").is_some() || v.get("data").is_some())
        })
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| ImportError::Malformed {
            format: JSON,
            reason: e.to_string(),
        })?;
        if file.encrypted && file.password_protected {
            let plain = open_protected(&file, password)?;
            let inner: File =
                serde_json::from_slice(&plain).map_err(|e| ImportError::Malformed {
                    format: JSON,
                    reason: format!("the decrypted export is not Bitwarden's JSON: {e}"),
                })?;
            if inner.encrypted {
                return Err(ImportError::Malformed {
                    format: JSON,
                    reason: "the decrypted export is itself encrypted".into(),
                });
            }
            return Ok(items(&inner));
        }
        if file.encrypted {
            return Err(ImportError::Unsupported {
                format: JSON,
                reason: "this export is encrypted with the Bitwarden account's key, which only \
                         Bitwarden can open; export the vault again as a password-protected or \
                         unencrypted .json (or .csv)"
                    .into(),
            });
        }
        Ok(items(&file))
    }
}

/// The accounts of an unencrypted export's items.
fn items(file: &File) -> Imported {
    let mut out = Imported::default();
    for i in &file.items {
        if let Some(login) = &i.login {
            item(
                &mut out,
                &i.name,
                login.username.as_deref(),
                login.totp.as_deref(),
            );
        }
    }
    out
}

impl crate::Importer for BitwardenCsv {
    fn name(&self) -> &'static str {
        CSV
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        std::str::from_utf8(first).is_ok_and(|h| h.split(',').any(|c| c.trim() == "login_totp"))
    }

    fn read(
        &self,
        bytes: &[u8],
        _password: Option<&SecretString>,
    ) -> Result<Imported, ImportError> {
        let malformed = |reason: String| ImportError::Malformed {
            format: CSV,
            reason,
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| malformed(e.to_string()))?
            .clone();
        let column = |name: &str| headers.iter().position(|h| h.trim() == name);
        let totp = column("login_totp")
            .ok_or_else(|| malformed("there is no login_totp column".into()))?;
        let (name, username) = (column("name"), column("login_username"));
        let mut out = Imported::default();
        for (n, record) in reader.records().enumerate() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    out.skipped.push(Skipped {
                        name: format!("row {}", n + 2),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let field = |i: Option<usize>| i.and_then(|i| record.get(i));
            let title = field(name)
                .filter(|t| !t.trim().is_empty())
                .unwrap_or("(no name)");
            item(&mut out, title, field(username), field(Some(totp)));
        }
        Ok(out)
    }
}
