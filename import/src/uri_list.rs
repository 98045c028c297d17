//! A plain text file of `otpauth://` (and `otpauth-migration://`) links,
//! one per line, as most apps export and as Ente's plain export is.
//! Each line goes through the core payload parser, the one for QR codes.

use tessera_core::SecretString;

use crate::{ImportError, Imported, Importer};

pub struct UriList;

fn lines(bytes: &[u8]) -> Option<impl Iterator<Item = (usize, &str)>> {
    let text = std::str::from_utf8(bytes).ok()?;
    Some(
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#')),
    )
}

impl Importer for UriList {
    fn name(&self) -> &'static str {
        "uri-list"
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        lines(bytes).is_some_and(|mut l| l.next().is_some_and(|(_, l)| l.starts_with("otpauth")))
    }

    fn read(
        &self,
        bytes: &[u8],
        _password: Option<&SecretString>,
    ) -> Result<Imported, ImportError> {
        let lines = lines(bytes).ok_or_else(|| ImportError::Malformed {
            format: "uri-list",
            reason: "it is not UTF-8 text".into(),
        })?;
        let mut out = Imported::default();
        for (n, line) in lines {
            match crate::uri_accounts(&|| format!("line {n}"), line) {
                Ok(accounts) => out.accounts.extend(accounts),
                Err(skipped) => out.skipped.push(skipped),
            }
        }
        Ok(out)
    }
}

/// A list of `otpauth://` links, one per account, as this module reads it.
pub fn write(accounts: &[tessera_core::payload::OtpAuthAccount]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::new());
    for a in accounts {
        let link = zeroize::Zeroizing::new(tessera_core::payload::otpauth::write(a));
        out.extend_from_slice(link.as_bytes());
        out.push(b'\n');
    }
    out
}
