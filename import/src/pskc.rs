//! PSKC, the Portable Symmetric Key Container (RFC 6030): the XML that
//! token vendors and identity providers move HOTP and TOTP keys in.
//!
//! - `<KeyContainer Version="1.0">` with `<KeyPackage>`s, each a `<Key
//!   Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp|totp">` with
//!   `<Issuer>`, `<UserId>` (or `<FriendlyName>`, or its `Id`),
//!   `<AlgorithmParameters>` (`<Suite>HMAC-SHA256</Suite>`, `<ResponseFormat
//!   Length="6" Encoding="DECIMAL"/>`) and `<Data>`: `<Secret>`,
//!   `<Counter>`, `<TimeInterval>`, `<Time>` (TOTP's T0, only 0 is read);
//! - each value a `<PlainValue>` (base64 for the secret, a number for the
//!   rest) or an `<EncryptedValue>`: `xenc` AES-CBC (128, 192 or 256 bits),
//!   `CipherValue` = base64(IV ‖ ciphertext), with a `<ValueMAC>` over the
//!   same bytes under the MAC key (`<MACMethod>`: HMAC-SHA1 or -SHA256, its
//!   `<MACKey>` itself encrypted under the encryption key);
//! - the encryption key, in `<EncryptionKey>`: a `<DerivedKey>` (§6.2,
//!   PBKDF2 from a password; its rounds bounded) or a pre-shared key (§6.1,
//!   given as the password in hex).
//!
//! Elements are matched by their local names, so both the RFC's
//! namespace prefixes and python-pskc's (`xenc11:PBKDF2-params`) read. A
//! wrong password or key fails the MAC key's padding or every MAC; a
//! single entry whose MAC fails is skipped as changed. DTDs are refused
//! (roxmltree's default), so no entity can expand.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use roxmltree::{Document, Node, ParsingOptions};
use tessera_core::otp::{Algorithm, Encoding, OtpKind};
use tessera_core::payload::OtpAuthAccount;
use tessera_core::{SecretBytes, SecretString};
use zeroize::Zeroizing;

use crate::crypto::{cbc_decrypt, cbc_encrypt};
use crate::{ImportError, Imported, Importer, RawEntry, RawSecret, Skipped, entry_name};

const NAME: &str = "pskc";
const NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const PBKDF2_URI: &str = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2";
const HMAC_SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
/// The most PBKDF2 rounds a file may ask for (as andOTP's bound): beyond,
/// a file could hold the daemon for minutes.
const MAX_ROUNDS: u32 = 2_000_000;
/// The rounds Tessera writes.
const WRITE_ROUNDS: u32 = 100_000;
/// The most XML nodes read (a 16 MiB file of empty elements stays bounded).
const MAX_NODES: u32 = 1_000_000;

pub struct Pskc;

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: NAME,
        reason: reason.into(),
    }
}

/// The first child element named `name` (any namespace).
fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed text of the child `name`, when there is some.
fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name)
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// An AES-CBC key size by its `xenc` algorithm URI.
fn cbc_key_len(uri: &str) -> Option<usize> {
    match uri.strip_prefix(XENC)? {
        "aes128-cbc" => Some(16),
        "aes192-cbc" => Some(24),
        "aes256-cbc" => Some(32),
        _ => None,
    }
}

/// A MAC algorithm by its URI.
#[derive(Clone, Copy)]
enum MacAlg {
    Sha1,
    Sha256,
}

impl MacAlg {
    fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            HMAC_SHA1_URI => Some(Self::Sha1),
            "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
            let mut mac =
                <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key");
            mac.update(data);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Self::Sha1 => run::<Hmac<sha1::Sha1>>(key, data, tag),
            Self::Sha256 => run::<Hmac<sha2::Sha256>>(key, data, tag),
        }
    }
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<sha1::Sha1> as hmac::digest::KeyInit>::new_from_slice(key).expect("any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The keys of an encrypted file.
struct Keys {
    encryption: Zeroizing<Vec<u8>>,
    mac: Option<(MacAlg, Zeroizing<Vec<u8>>)>,
}

/// `<xenc:EncryptionMethod Algorithm=…/>` and `<xenc:CipherData>` of `node`:
/// the key size it needs and IV ‖ ciphertext.
fn cipher_data(node: Node, what: &str) -> Result<(usize, Vec<u8>), String> {
    let uri = child(node, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or(format!("{what} has no EncryptionMethod"))?;
    let len = cbc_key_len(uri).ok_or(format!(
        "{what} is encrypted with {uri}, which is not read (AES-CBC is)"
    ))?;
    let text = child(node, "CipherData")
        .and_then(|d| child_text(d, "CipherValue"))
        .ok_or(format!("{what} has no CipherValue"))?;
    let data = B64
        .decode(text.split_whitespace().collect::<String>())
        .map_err(|_| format!("{what}'s CipherValue is not base64"))?;
    Ok((len, data))
}

/// The file's encryption and MAC keys, from `password` (a password for a
/// derived key, the key in hex for a pre-shared one); `None` for a plain
/// file.
fn keys(root: Node, password: Option<&SecretString>) -> Result<Option<Keys>, ImportError> {
    let Some(ek) = child(root, "EncryptionKey") else {
        return Ok(None);
    };
    let password = password.ok_or(ImportError::NeedsPassword(NAME))?;
    let encryption = match child(ek, "DerivedKey") {
        Some(derived) => derive(derived, password)?,
        None => preshared(password)?,
    };
    let mac = match child(root, "MACMethod") {
        None => None,
        Some(method) => {
            let uri = method.attribute("Algorithm").unwrap_or(HMAC_SHA1_URI);
            let alg = MacAlg::from_uri(uri).ok_or_else(|| ImportError::Unsupported {
                format: NAME,
                reason: format!("its MAC algorithm {uri} is not read (HMAC-SHA1 and -SHA256 are)"),
            })?;
            // RFC 6030's drafts MAC'd with the encryption key itself.
            let key = match child(method, "MACKey") {
                None => encryption.clone(),
                Some(node) => {
                    let (len, data) = cipher_data(node, "the MAC key").map_err(malformed)?;
                    if len != encryption.len() {
                        return Err(malformed("the MAC key's cipher does not fit the key"));
                    }
                    cbc_decrypt(&encryption, &data).ok_or(ImportError::WrongPassword(NAME))?
                }
            };
            Some((alg, key))
        }
    };
    Ok(Some(Keys { encryption, mac }))
}

/// RFC 6030 §6.2: PBKDF2 (HMAC-SHA1 unless the PRF says SHA-256).
fn derive(derived: Node, password: &SecretString) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let method = child(derived, "KeyDerivationMethod")
        .ok_or_else(|| malformed("the derived key has no KeyDerivationMethod"))?;
    let uri = method.attribute("Algorithm").unwrap_or_default();
    if uri != PBKDF2_URI {
        return Err(ImportError::Unsupported {
            format: NAME,
            reason: format!("its key derivation {uri:?} is not read (PBKDF2 is)"),
        });
    }
    let params = child(method, "PBKDF2-params")
        .ok_or_else(|| malformed("the PBKDF2 key has no PBKDF2-params"))?;
    let salt = child(params, "Salt")
        .and_then(|s| child_text(s, "Specified"))
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| malformed("the PBKDF2 salt is missing or not base64"))?;
    let rounds: u32 = child_text(params, "IterationCount")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| malformed("the PBKDF2 IterationCount is missing or not a number"))?;
    if rounds > MAX_ROUNDS {
        return Err(ImportError::Unsafe {
            format: NAME,
            reason: format!("it asks for {rounds} PBKDF2 rounds; at most {MAX_ROUNDS} are run"),
        });
    }
    let len: usize = match child_text(params, "KeyLength") {
        None => 16,
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| [16, 24, 32].contains(n))
            .ok_or_else(|| malformed(format!("a key length of {n} bytes is not AES's")))?,
    };
    let sha256 = child(params, "PRF")
        .and_then(|p| p.attribute("Algorithm"))
        .is_some_and(|a| a.ends_with("hmac-sha256"));
    let mut key = Zeroizing::new(vec![0u8; len]);
    let pw = password.expose().as_bytes();
    if sha256 {
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pw, &salt, rounds, &mut key);
    } else {
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pw, &salt, rounds, &mut key);
    }
    Ok(key)
}

/// RFC 6030 §6.1: the pre-shared key, given as the password in hex.
fn preshared(password: &SecretString) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let hex: Zeroizing<String> = Zeroizing::new(
        password
            .expose()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect(),
    );
    hex::decode(hex.as_str())
        .ok()
        .filter(|k| [16, 24, 32].contains(&k.len()))
        .map(Zeroizing::new)
        .ok_or(ImportError::NeedsKey(NAME))
}

/// Why one key cannot be imported; `Mac` only when its MAC failed.
enum EntryError {
    Skip(String),
    Mac,
}

/// A `<Data>` value: `PlainValue`'s text, or the decrypted bytes.
enum Value {
    Plain(String),
    Decrypted(Zeroizing<Vec<u8>>),
}

fn value(node: Node, what: &str, keys: Option<&Keys>) -> Result<Value, EntryError> {
    if let Some(text) = child_text(node, "PlainValue") {
        return Ok(Value::Plain(text.to_owned()));
    }
    let encrypted = child(node, "EncryptedValue")
        .ok_or_else(|| EntryError::Skip(format!("its {what} has no value")))?;
    let keys = keys.ok_or_else(|| {
        EntryError::Skip(format!(
            "its {what} is encrypted, but the file names no encryption key"
        ))
    })?;
    let (len, data) = cipher_data(encrypted, &format!("its {what}")).map_err(EntryError::Skip)?;
    if len != keys.encryption.len() {
        return Err(EntryError::Skip(format!(
            "its {what}'s cipher does not fit the file's key"
        )));
    }
    if let Some((alg, mac_key)) = &keys.mac {
        let tag = child_text(node, "ValueMAC")
            .and_then(|t| B64.decode(t).ok())
            .ok_or_else(|| EntryError::Skip(format!("its {what} has no ValueMAC")))?;
        if !alg.verify(mac_key, &data, &tag) {
            return Err(EntryError::Mac);
        }
    }
    cbc_decrypt(&keys.encryption, &data)
        .map(Value::Decrypted)
        .ok_or(EntryError::Mac)
}

/// A number in `<Data>`: text, or big-endian bytes when encrypted.
fn number(data: Node, name: &str, keys: Option<&Keys>) -> Result<Option<u64>, EntryError> {
    let Some(node) = child(data, name) else {
        return Ok(None);
    };
    match value(node, name, keys)? {
        Value::Plain(text) => text
            .parse()
            .map(Some)
            .map_err(|_| EntryError::Skip(format!("its {name} {text:?} is not a number"))),
        Value::Decrypted(bytes) if bytes.len() <= 8 => Ok(Some(
            bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)),
        )),
        Value::Decrypted(_) => Err(EntryError::Skip(format!("its {name} is not a number"))),
    }
}

/// One `<Key>` as an account.
fn key(node: Node, keys: Option<&Keys>) -> Result<OtpAuthAccount, (String, EntryError)> {
    let issuer = child_text(node, "Issuer");
    let name = child_text(node, "UserId")
        .or_else(|| {
            node.parent()
                .and_then(|p| child(p, "DeviceInfo"))
                .and_then(|d| child_text(d, "UserId"))
        })
        .or_else(|| child_text(node, "FriendlyName"))
        .or(node.attribute("Id"))
        .unwrap_or("");
    let shown = entry_name(issuer, if name.is_empty() { "(no name)" } else { name });
    let fail = |e: EntryError| (shown.clone(), e);
    let skip = |reason: String| fail(EntryError::Skip(reason));
    let uri = node.attribute("Algorithm").unwrap_or_default();
    let kind = match uri
        .strip_prefix(NS)
        .and_then(|k| k.strip_prefix([':', '#']))
    {
        Some("hotp") => "hotp",
        Some("totp") => "totp",
        _ => return Err(skip(format!("its algorithm {uri:?} is not HOTP or TOTP"))),
    };
    let params = child(node, "AlgorithmParameters");
    let suite = params.and_then(|p| child_text(p, "Suite"));
    let format = params.and_then(|p| child(p, "ResponseFormat"));
    if let Some(encoding) = format.and_then(|f| f.attribute("Encoding"))
        && !encoding.eq_ignore_ascii_case("DECIMAL")
    {
        return Err(skip(format!("its codes are {encoding}, not decimal")));
    }
    let digits = match format.and_then(|f| f.attribute("Length")) {
        None => None,
        Some(n) => Some(
            n.parse()
                .map_err(|_| skip(format!("its code length {n:?} is not a number")))?,
        ),
    };
    let data = child(node, "Data").ok_or_else(|| skip("it has no Data".into()))?;
    let secret = child(data, "Secret").ok_or_else(|| skip("it has no Secret".into()))?;
    let secret = match value(secret, "Secret", keys).map_err(fail)? {
        Value::Plain(text) => B64
            .decode(text.split_whitespace().collect::<String>())
            .map(SecretBytes::from)
            .map_err(|_| skip("its secret is not base64".into()))?,
        Value::Decrypted(bytes) => SecretBytes::from(bytes.as_slice()),
    };
    let counter = number(data, "Counter", keys).map_err(fail)?;
    let period = number(data, "TimeInterval", keys).map_err(fail)?;
    if number(data, "Time", keys).map_err(fail)?.unwrap_or(0) != 0 {
        return Err(skip(
            "its TOTP start time (Time) is not 0, which Tessera does not compute".into(),
        ));
    }
    RawEntry {
        issuer,
        name,
        kind,
        algorithm: suite.map(|s| s.trim_start_matches("HMAC-")),
        digits,
        period: period.map(|p| u32::try_from(p).unwrap_or(u32::MAX)),
        counter,
        secret: RawSecret::Bytes(secret),
        pin: None,
    }
    .account()
    .map_err(|s| (s.name, EntryError::Skip(s.reason)))
}

impl Importer for Pskc {
    fn name(&self) -> &'static str {
        NAME
    }

    fn detect(&self, bytes: &[u8]) -> bool {
        let head = &bytes[..bytes.len().min(4096)];
        let head = String::from_utf8_lossy(head);
        head.contains("KeyContainer") && head.contains(NS)
    }

    fn read(&self, bytes: &[u8], password: Option<&SecretString>) -> Result<Imported, ImportError> {
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("the file is not UTF-8"))?;
        let options = ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_NODES,
            ..ParsingOptions::default()
        };
        let doc = Document::parse_with_options(text, options)
            .map_err(|e| malformed(format!("not XML: {e}")))?;
        let root = doc.root_element();
        if root.tag_name().name() != "KeyContainer" {
            return Err(malformed(format!(
                "its root element is {:?}, not KeyContainer",
                root.tag_name().name()
            )));
        }
        let keys = keys(root, password)?;
        let mut out = Imported::default();
        let (mut macs_ok, mut macs_failed) = (0, Vec::new());
        for package in children(root, "KeyPackage") {
            for node in children(package, "Key") {
                match key(node, keys.as_ref()) {
                    Ok(account) => {
                        macs_ok += 1;
                        out.accounts.push(account);
                    }
                    Err((name, EntryError::Skip(reason))) => {
                        out.skipped.push(Skipped { name, reason })
                    }
                    Err((name, EntryError::Mac)) => macs_failed.push(name),
                }
            }
        }
        // Every MAC failing is a wrong key; one among good ones, a change.
        if !macs_failed.is_empty() && macs_ok == 0 {
            return Err(ImportError::WrongPassword(NAME));
        }
        out.skipped
            .extend(macs_failed.into_iter().map(|name| Skipped {
                name,
                reason: "its MAC does not match: the file was changed after it was written".into(),
            }));
        Ok(out)
    }
}

/// XML text escaping. roxmltree only reads; the writer below needs nothing
/// more than this, which is why it is not a crate.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether PSKC can carry `account`: Steam Guard and Mobile-OTP codes have
/// no PSKC form.
pub fn carries(account: &OtpAuthAccount) -> Result<(), &'static str> {
    match account.params.encoding() {
        Encoding::Decimal => Ok(()),
        Encoding::Steam => Err("PSKC has no Steam Guard codes"),
        Encoding::Motp => Err("PSKC has no Mobile-OTP codes"),
        Encoding::Yandex => Err("PSKC has no Yandex Key codes"),
    }
}

/// The accounts as a PSKC file; with `password`, every value encrypted
/// (PBKDF2-HMAC-SHA1, [`WRITE_ROUNDS`] rounds, AES-128-CBC, HMAC-SHA1
/// MACs under a random MAC key), as RFC 6030 §6.2 describes and
/// python-pskc writes it. Accounts PSKC cannot carry ([`carries`]) are the
/// caller's to leave out.
pub fn write(accounts: &[OtpAuthAccount], password: Option<&SecretString>) -> Zeroizing<Vec<u8>> {
    let keys = password.map(|p| {
        let salt: [u8; 16] = rand::random();
        let mut key = Zeroizing::new([0u8; 16]);
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(p.expose().as_bytes(), &salt, WRITE_ROUNDS, &mut key[..]);
        let mac_key: Zeroizing<[u8; 20]> = Zeroizing::new(rand::random());
        (salt, key, mac_key)
    });
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<pskc:KeyContainer xmlns:pskc=\"{NS}\" xmlns:xenc=\"{XENC}\" \
         xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\" Version=\"1.0\">\n"
    ));
    let cipher = |key: &[u8; 16], plain: &[u8]| {
        let data = cbc_encrypt(key, plain);
        let xml = format!(
            "<xenc:EncryptionMethod Algorithm=\"{XENC}aes128-cbc\"/>\
             <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>",
            B64.encode(&data)
        );
        (data, xml)
    };
    if let Some((salt, key, mac_key)) = &keys {
        x.push_str(&format!(
            " <pskc:EncryptionKey><xenc11:DerivedKey>\
             <xenc11:KeyDerivationMethod Algorithm=\"{PBKDF2_URI}\"><xenc11:PBKDF2-params>\
             <Salt><Specified>{}</Specified></Salt><IterationCount>{WRITE_ROUNDS}</IterationCount>\
             <KeyLength>16</KeyLength></xenc11:PBKDF2-params></xenc11:KeyDerivationMethod>\
             </xenc11:DerivedKey></pskc:EncryptionKey>\n",
            B64.encode(salt)
        ));
        let (_, mac_xml) = cipher(key, &mac_key[..]);
        x.push_str(&format!(
            " <pskc:MACMethod Algorithm=\"{HMAC_SHA1_URI}\"><pskc:MACKey>{mac_xml}</pskc:MACKey>\
             </pskc:MACMethod>\n"
        ));
    }
    // A value: plain, or encrypted with its MAC.
    let value = |plain_text: String, bytes: &[u8]| -> String {
        match &keys {
            None => format!("<pskc:PlainValue>{plain_text}</pskc:PlainValue>"),
            Some((_, key, mac_key)) => {
                let (data, xml) = cipher(key, bytes);
                format!(
                    "<pskc:EncryptedValue>{xml}</pskc:EncryptedValue>\
                     <pskc:ValueMAC>{}</pskc:ValueMAC>",
                    B64.encode(hmac_sha1(&mac_key[..], &data))
                )
            }
        }
    };
    for (n, a) in accounts.iter().enumerate() {
        let (kind, data_extra) = match a.params.kind() {
            OtpKind::Totp { period } => (
                "totp",
                format!(
                    "<pskc:TimeInterval>{}</pskc:TimeInterval>",
                    value(period.to_string(), &u64::from(period).to_be_bytes())
                ),
            ),
            OtpKind::Hotp { counter } => (
                "hotp",
                format!(
                    "<pskc:Counter>{}</pskc:Counter>",
                    value(counter.to_string(), &counter.to_be_bytes())
                ),
            ),
        };
        let secret = Zeroizing::new(B64.encode(a.secret.expose()));
        let issuer = a
            .issuer
            .as_deref()
            .map(|i| format!("<pskc:Issuer>{}</pskc:Issuer>", escape(i)))
            .unwrap_or_default();
        let suite = match a.params.algorithm() {
            Algorithm::Sha1 => String::new(),
            other => format!("<pskc:Suite>HMAC-{other}</pskc:Suite>"),
        };
        x.push_str(&format!(
            " <pskc:KeyPackage><pskc:Key Algorithm=\"{NS}:{kind}\" Id=\"{}\">{issuer}\
             <pskc:AlgorithmParameters>{suite}<pskc:ResponseFormat Encoding=\"DECIMAL\" \
             Length=\"{}\"/></pskc:AlgorithmParameters><pskc:Data><pskc:Secret>{}</pskc:Secret>\
             {data_extra}</pskc:Data><pskc:UserId>{}</pskc:UserId></pskc:Key></pskc:KeyPackage>\n",
            n + 1,
            a.params.digits(),
            value(secret.to_string(), a.secret.expose()),
            escape(&a.account),
        ));
    }
    x.push_str("</pskc:KeyContainer>\n");
    Zeroizing::new(x.into_bytes())
}
