//! FreeOTP+'s JSON export (`freeotp-backup.json`), as Aegis's
//! `FreeOtpPlusImporter` reads it: `{"tokenOrder": [...], "tokens":
//! [{"algo", "counter", "digits", "issuerExt", "issuerInt", "label",
//! "period", "secret": [signed bytes], "type": TOTP | HOTP}]}`. Plain
//! only: FreeOTP+ does not encrypt this export.

use serde::Deserialize;
use serde_json::Value;
use tessera_core::{SecretBytes, SecretString};
use zeroize::{Zeroize, Zeroizing};

use crate::{
    AsRaw, ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, collect, entry_name,
};

const NAME: &str = "freeotp-plus";

pub struct FreeOtpPlus;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    tokens: Vec<Value>,
}

/// A FreeOTP token's settings, as FreeOTP+ and FreeOTP 2 (`freeotp.rs`)
/// both write them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Settings {
    #[serde(default)]
    issuer_ext: Option<String>,
    #[serde(default)]
    issuer_int: Option<String>,
    #[serde(default)]
    pub label: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    algo: Option<String>,
    digits: Option<u32>,
    period: Option<u32>,
    counter: Option<u64>,
}

impl Settings {
    /// The issuer shown: the external one, else the internal.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer_ext
            .as_deref()
            .filter(|i| !i.is_empty())
            .or(self.issuer_int.as_deref())
    }

    /// The entry these settings and `secret` make.
    pub fn raw(&self, secret: SecretBytes) -> RawEntry<'_> {
        RawEntry {
            issuer: self.issuer(),
            name: &self.label,
            kind: self.kind.as_deref().unwrap_or("TOTP"),
            algorithm: self.algo.as_deref(),
            digits: self.digits,
            period: self.period,
            counter: self.counter,
            secret: RawSecret::Bytes(secret),
            pin: None,
        }
    }
}

/// Java's signed bytes (-128 to 127) as bytes; `None` for anything else.
pub(crate) fn java_bytes(list: &[i16]) -> Option<Zeroizing<Vec<u8>>> {
    list.iter()
        .map(|&b| i8::try_from(b).ok().map(|b| b as u8))
        .collect::<Option<Vec<u8>>>()
        .map(Zeroizing::new)
}

#[derive(Deserialize)]
struct Token {
    #[serde(flatten)]
    settings: Settings,
    /// Java's signed bytes.
    secret: Vec<i16>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// A token with its secret as bytes.
struct Parsed {
    token: Token,
    secret: SecretBytes,
}

impl AsRaw for Parsed {
    fn raw(&self) -> RawEntry<'_> {
        self.token.settings.raw(self.secret.clone())
    }
}

fn token(value: &Value) -> Result<Parsed, Skipped> {
    let name = || {
        entry_name(
            value.get("issuerExt").and_then(Value::as_str),
            value
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or("(no name)"),
        )
    };
    let token: Token = serde_json::from_value(value.clone()).map_err(|err| Skipped {
        name: name(),
        reason: format!("not a token: {err}"),
    })?;
    let Some(bytes) = java_bytes(&token.secret) else {
        return Err(Skipped {
            name: name(),
            reason: "its secret is not a list of bytes (-128 to 127)".into(),
        });
    };
    Ok(Parsed {
        token,
        secret: SecretBytes::from(&bytes[..]),
    })
}

impl Importer for FreeOtpPlus {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<Value>(bytes).is_ok_and(|v| {
            v.get("tokens").is_some_and(Value::is_array) && v.get("tokenOrder").is_some()
        })
    }

    fn read(
        &self,
        bytes: &[u8],
        _password: Option<&SecretString>,
    ) -> Result<Imported, ImportError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| ImportError::Malformed {
            format: NAME,
            reason: e.to_string(),
        })?;
        let tokens: Vec<Result<Parsed, Skipped>> = file.tokens.iter().map(token).collect();
        Ok(collect(&tokens))
    }
}
