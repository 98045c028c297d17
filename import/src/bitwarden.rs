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
//! Encrypted exports (password-protected, or tied to the Bitwarden
//! account) are refused with what to do instead.

use serde::Deserialize;
use tessera_core::SecretString;

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

    fn read(
        &self,
        bytes: &[u8],
        _password: Option<&SecretString>,
    ) -> Result<Imported, ImportError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| ImportError::Malformed {
            format: JSON,
            reason: e.to_string(),
        })?;
        if file.encrypted {
            let reason = if file.password_protected {
                "password-protected exports are not read yet; export the vault again as \
                 unencrypted .json (or .csv) and delete that file once imported"
            } else {
                "this export is encrypted with the Bitwarden account's key, which only Bitwarden \
                 can open; export the vault again as unencrypted .json (or .csv)"
            };
            return Err(ImportError::Unsupported {
                format: JSON,
                reason: reason.into(),
            });
        }
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
        Ok(out)
    }
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
