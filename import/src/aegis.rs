//! Aegis Authenticator's vault export (`aegis-export-*.json`), plain or
//! encrypted, from its public format description (Aegis's `docs/vault.md`):
//!
//! - `{"version": 1, "header": {"slots": …, "params": …}, "db": …}`;
//! - plain: `slots` and `params` are null and `db` is the database object;
//! - encrypted: `db` is base64 of the database JSON sealed with AES-256-GCM
//!   under a master key (`params`: hex `nonce` and `tag`); each slot wraps
//!   the master key with AES-256-GCM; a password slot (`type` 1) derives its
//!   key with scrypt (`n`, `r`, `p`, hex `salt`) from the password;
//! - the database: `{"version": 2 or 3, "entries": [{"type": "totp" |
//!   "hotp" | "steam" | "motp" | "yandex", "name", "issuer", "info":
//!   {"secret" (base32), "algo", "digits", "period" | "counter"}}]}`.
//!
//! scrypt's cost is bounded before it runs: a file asking for more than
//! 1 GiB of memory is refused, not obeyed.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use tessera_core::SecretString;
use tessera_core::otp::OtpKind;
use tessera_core::payload::OtpAuthAccount;
use zeroize::Zeroizing;

use crate::{
    AsRaw, ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, collect, json_entry,
};

const NAME: &str = "aegis";
/// Password slots: the key is scrypt of the password.
const SLOT_PASSWORD: u32 = 1;
/// The most memory scrypt may use (128 · r · n bytes).
const MAX_SCRYPT_BYTES: u64 = 1 << 30;
const MAX_SCRYPT_P: u32 = 16;

pub struct Aegis;

#[derive(Deserialize)]
struct File {
    version: u32,
    header: Header,
    db: Value,
}

#[derive(Deserialize)]
struct Header {
    slots: Option<Vec<Slot>>,
    params: Option<Sealed>,
}

#[derive(Deserialize)]
struct Slot {
    #[serde(rename = "type")]
    kind: u32,
    key: String,
    key_params: Sealed,
    n: Option<u64>,
    r: Option<u32>,
    p: Option<u32>,
    salt: Option<String>,
}

#[derive(Deserialize)]
struct Sealed {
    nonce: String,
    tag: String,
}

#[derive(Deserialize)]
struct Db {
    version: u32,
    entries: Vec<Value>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: Option<String>,
    info: Info,
}

#[derive(Deserialize)]
struct Info {
    secret: String,
    #[serde(default)]
    algo: Option<String>,
    #[serde(default)]
    digits: Option<u32>,
    #[serde(default)]
    period: Option<u32>,
    #[serde(default)]
    counter: Option<u64>,
    /// An mOTP entry's PIN.
    #[serde(default)]
    pin: Option<String>,
}

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

fn hex_field<const N: usize>(what: &str, text: &str) -> Result<[u8; N], ImportError> {
    hex::decode(text)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| malformed(format!("{what} is not {N} bytes of hex")))
}

/// AES-256-GCM: `ciphertext` and its separate `tag` under `key`.
fn open(
    key: &[u8; 32],
    sealed: &Sealed,
    ciphertext: &[u8],
) -> Result<Option<Zeroizing<Vec<u8>>>, ImportError> {
    let nonce: [u8; 12] = hex_field("a nonce", &sealed.nonce)?;
    let tag: [u8; 16] = hex_field("a tag", &sealed.tag)?;
    let mut msg = ciphertext.to_vec();
    msg.extend_from_slice(&tag);
    Ok(crate::crypto::aes_gcm_open(key, &nonce, &msg, &[]))
}

/// The master key from the first password slot `password` opens.
fn master_key(slots: &[Slot], password: &SecretString) -> Result<Zeroizing<[u8; 32]>, ImportError> {
    let mut any = false;
    for slot in slots.iter().filter(|s| s.kind == SLOT_PASSWORD) {
        any = true;
        let (n, r, p) = match (slot.n, slot.r, slot.p) {
            (Some(n), Some(r), Some(p)) => (n, r, p),
            _ => return Err(malformed("a password slot lacks its scrypt n, r or p")),
        };
        if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 || p > MAX_SCRYPT_P {
            return Err(ImportError::Unsafe {
                format: NAME,
                reason: format!("its scrypt parameters n={n}, r={r}, p={p} are not valid"),
            });
        }
        let memory = 128u64.saturating_mul(u64::from(r)).saturating_mul(n);
        if memory > MAX_SCRYPT_BYTES {
            return Err(ImportError::Unsafe {
                format: NAME,
                reason: format!(
                    "it asks scrypt for {} MiB of memory (n={n}, r={r}); at most {} MiB is given",
                    memory >> 20,
                    MAX_SCRYPT_BYTES >> 20
                ),
            });
        }
        let salt = hex::decode(slot.salt.as_deref().unwrap_or_default())
            .map_err(|_| malformed("a slot's salt is not hex"))?;
        let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32)
            .map_err(|e| malformed(format!("scrypt parameters: {e}")))?;
        let mut key = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(password.expose().as_bytes(), &salt, &params, &mut key[..])
            .map_err(|e| malformed(format!("scrypt: {e}")))?;
        let wrapped: [u8; 32] = hex_field("a slot's key", &slot.key)?;
        if let Some(master) = open(&key, &slot.key_params, &wrapped)? {
            let master: [u8; 32] = master[..]
                .try_into()
                .map_err(|_| malformed("a slot holds a key that is not 32 bytes"))?;
            return Ok(Zeroizing::new(master));
        }
    }
    if !any {
        return Err(malformed("it is encrypted but has no password slot"));
    }
    Err(ImportError::WrongPassword(NAME))
}

fn entry(value: &Value) -> Result<Entry, Skipped> {
    json_entry(value, "/issuer", "/name", "an entry")
}

impl AsRaw for Entry {
    fn raw(&self) -> RawEntry<'_> {
        RawEntry {
            issuer: self.issuer.as_deref(),
            name: &self.name,
            kind: &self.kind,
            algorithm: self.info.algo.as_deref(),
            digits: self.info.digits,
            period: self.info.period,
            counter: self.info.counter,
            secret: RawSecret::Base32(&self.info.secret),
            pin: self.info.pin.as_deref(),
        }
    }
}

impl Importer for Aegis {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
            v.get("header").is_some_and(|h| h.get("slots").is_some())
                && v.get("db").is_some()
                && v.get("version").is_some()
        })
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        if file.version != 1 {
            return Err(malformed(format!(
                "version {} is not known (1 is)",
                file.version
            )));
        }
        let db: Db = match (file.header.slots, file.header.params, file.db) {
            (None, _, db @ Value::Object(_)) => {
                serde_json::from_value(db).map_err(|e| malformed(format!("db: {e}")))?
            }
            (Some(slots), Some(params), Value::String(sealed)) => {
                let password = password.ok_or(ImportError::NeedsPassword(NAME))?;
                let master = master_key(&slots, password)?;
                let ciphertext = base64::engine::general_purpose::STANDARD
                    .decode(sealed.as_bytes())
                    .map_err(|_| malformed("db is not base64"))?;
                let plain = open(&master, &params, &ciphertext)?.ok_or_else(|| {
                    malformed("the database does not open with the key its slot holds (damaged)")
                })?;
                serde_json::from_slice(&plain).map_err(|e| malformed(format!("db: {e}")))?
            }
            _ => return Err(malformed("the header and db do not fit together")),
        };
        if !(1..=3).contains(&db.version) {
            return Err(malformed(format!(
                "database version {} is not known (1 to 3 are)",
                db.version
            )));
        }
        let entries: Vec<Result<Entry, Skipped>> = db.entries.iter().map(entry).collect();
        Ok(collect(&entries))
    }
}

/// Aegis's own scrypt cost (`n = 2^15, r = 8, p = 1`, 32 MiB), for the
/// files Tessera writes.
const WRITE_SCRYPT_LOG_N: u8 = 15;

/// A random (version 4) UUID, as Aegis gives each entry and slot.
fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn entry_json(a: &OtpAuthAccount) -> Value {
    use tessera_core::otp::Encoding;
    let (kind, info_last) = match a.params.kind() {
        OtpKind::Totp { period } if a.params.encoding() == Encoding::Steam => {
            ("steam", ("period", Value::from(period)))
        }
        OtpKind::Totp { period } if a.params.encoding() == Encoding::Motp => {
            ("motp", ("period", Value::from(period)))
        }
        OtpKind::Totp { period } if a.params.encoding() == Encoding::Yandex => {
            ("yandex", ("period", Value::from(period)))
        }
        OtpKind::Totp { period } => ("totp", ("period", Value::from(period))),
        OtpKind::Hotp { counter } => ("hotp", ("counter", Value::from(counter))),
    };
    let mut info = serde_json::Map::new();
    info.insert(
        "secret".into(),
        data_encoding::BASE32_NOPAD.encode(a.secret.expose()).into(),
    );
    let algo = match a.params.encoding() {
        Encoding::Motp => "MD5",
        _ => a.params.algorithm().name(),
    };
    info.insert("algo".into(), algo.into());
    if let Some(pin) = &a.pin {
        info.insert("pin".into(), pin.expose().into());
    }
    info.insert("digits".into(), a.params.digits().into());
    info.insert(info_last.0.into(), info_last.1);
    serde_json::json!({
        "type": kind,
        "uuid": new_uuid(),
        "name": a.account,
        "issuer": a.issuer.clone().unwrap_or_default(),
        "note": "",
        "favorite": false,
        "icon": null,
        "info": info,
    })
}

/// AES-256-GCM under `key` with a fresh nonce: the ciphertext and the
/// header's `{"nonce", "tag"}`.
fn seal(key: &[u8; 32], plain: &[u8]) -> (Vec<u8>, Value) {
    let nonce: [u8; 12] = rand::random();
    let mut sealed = crate::crypto::aes_gcm_seal(key, &nonce, plain);
    let tag = sealed.split_off(sealed.len() - 16);
    (
        sealed,
        serde_json::json!({"nonce": hex::encode(nonce), "tag": hex::encode(tag)}),
    )
}

/// An Aegis export of `accounts`: plain, or with `password` encrypted as
/// Aegis encrypts its vaults (one scrypt password slot). Aegis and this
/// module's reader both open it.
pub fn write(accounts: &[OtpAuthAccount], password: Option<&SecretString>) -> Zeroizing<Vec<u8>> {
    let db = serde_json::json!({
        "version": 2,
        "entries": accounts.iter().map(entry_json).collect::<Vec<_>>(),
        "groups": [],
    });
    let file = match password {
        None => serde_json::json!({
            "version": 1,
            "header": {"slots": null, "params": null},
            "db": db,
        }),
        Some(password) => {
            let master = Zeroizing::new(rand::random::<[u8; 32]>());
            let salt: [u8; 32] = rand::random();
            let (r, p) = (8, 1);
            let params =
                scrypt::Params::new(WRITE_SCRYPT_LOG_N, r, p, 32).expect("valid scrypt parameters");
            let mut kek = Zeroizing::new([0u8; 32]);
            scrypt::scrypt(password.expose().as_bytes(), &salt, &params, &mut kek[..])
                .expect("a 32-byte scrypt output");
            let (wrapped, key_params) = seal(&kek, &master[..]);
            let plain = Zeroizing::new(serde_json::to_vec(&db).expect("JSON encodes"));
            let (body, db_params) = seal(&master, &plain);
            serde_json::json!({
                "version": 1,
                "header": {
                    "slots": [{
                        "type": SLOT_PASSWORD,
                        "uuid": new_uuid(),
                        "key": hex::encode(wrapped),
                        "key_params": key_params,
                        "n": 1u64 << WRITE_SCRYPT_LOG_N, "r": r, "p": p,
                        "salt": hex::encode(salt),
                        "repaired": true,
                        "is_backup": false,
                    }],
                    "params": db_params,
                },
                "db": base64::engine::general_purpose::STANDARD.encode(body),
            })
        }
    };
    let mut out = Zeroizing::new(serde_json::to_vec_pretty(&file).expect("JSON encodes"));
    out.push(b'\n');
    out
}
