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

/// Accounts per `otpauth-migration://` code: a QR code of five accounts
/// stays small enough to show in an 80-column terminal and to scan from a
/// screen (Google Authenticator's own exports hold about ten).
pub const MIGRATION_PER_CODE: usize = 5;

/// The accounts as Google Authenticator's export codes: one
/// `otpauth-migration://` link per line, [`MIGRATION_PER_CODE`] accounts
/// each, numbered as one batch (`batch_size`, `batch_index`, a random
/// `batch_id`), as its "Transfer accounts" screen shows them. Only
/// accounts [`migration_carries`] are given.
pub fn write_migration(
    accounts: &[tessera_core::payload::OtpAuthAccount],
) -> Result<zeroize::Zeroizing<Vec<u8>>, crate::ImportError> {
    use tessera_core::payload::migration::{MigrationBatch, write};
    let chunks: Vec<_> = accounts.chunks(MIGRATION_PER_CODE).collect();
    let batch_id: i32 = rand::random::<i32>().abs();
    let mut out = zeroize::Zeroizing::new(Vec::new());
    for (index, chunk) in chunks.iter().enumerate() {
        let batch = MigrationBatch {
            accounts: chunk.to_vec(),
            version: 1,
            batch_size: chunks.len() as i32,
            batch_index: index as i32,
            batch_id,
        };
        let link = zeroize::Zeroizing::new(write(&batch).map_err(|e| {
            crate::ImportError::Unsupported {
                format: "otpauth-migration",
                reason: e.to_string(),
            }
        })?);
        out.extend_from_slice(link.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// Whether Google's export format holds `account`, or why not.
pub fn migration_carries(account: &tessera_core::payload::OtpAuthAccount) -> Result<(), String> {
    use tessera_core::otp::Encoding;
    use tessera_core::payload::migration::{MigrationBatch, write};
    match account.params.encoding() {
        Encoding::Steam => return Err("Google's export format has no Steam Guard codes".into()),
        Encoding::Motp => return Err("Google's export format has no Mobile-OTP codes".into()),
        Encoding::Yandex => return Err("Google's export format has no Yandex Key codes".into()),
        Encoding::Decimal => {}
    }
    let one = MigrationBatch {
        accounts: vec![account.clone()],
        version: 1,
        batch_size: 1,
        batch_index: 0,
        batch_id: 0,
    };
    write(&one).map(drop).map_err(|e| {
        let text = e.to_string();
        // "otpauth-migration: account 1 (…): 7 digits cannot …": the reason only.
        text.rsplit(": ").next().unwrap_or(&text).to_owned()
    })
}
