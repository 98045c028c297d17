//! A 32-byte secret sealed by a TPM 2.0, for the vault's `tpm` key slot.
//!
//! What is sealed (docs/security.md, "The TPM slot"):
//!
//! - under the storage root key (SRK) of the owner hierarchy, made afresh
//!   from the TCG's standard ECC P-256 template on every use (the same key
//!   each time, so nothing persistent is needed in the TPM);
//! - as a `KeyedHash` data object with `fixedTPM | fixedParent |
//!   adminWithPolicy`, **without** `userWithAuth` (only the policy opens it)
//!   and **without** `noDA` (wrong authValues count against the TPM's
//!   dictionary-attack lock-out);
//! - with the policy `PolicyPCR(selection)` (left out when the selection is
//!   empty) followed by `PolicyAuthValue`, so the caller's authValue is
//!   proven by the session's HMAC and never sent (never `PolicyPassword`);
//! - through sessions salted with the SRK, with AES-128-CFB parameter
//!   encryption: the sealed secret and the authValue are encrypted on the
//!   bus when sealing, and the unsealed secret when unsealing.
//!
//! This crate knows nothing of PINs or vaults: the caller gives the
//! authValue and the secret (the vault derives both halves from the PIN).
//! Every TPM call opens its own connection (`Tpm::tcti`) and they are
//! serialised within the process: a TPM without a resource manager (swtpm
//! over TCP) serves one connection at a time.

#[cfg(feature = "tpm")]
mod esapi;
mod pcrs;

use std::fmt;

pub use pcrs::{PCR_COUNT, Pcrs};
use zeroize::Zeroizing;

/// The TCTI a machine's kernel TPM is reached through.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

/// Whether this build talks to TPMs at all.
pub const BUILT: bool = cfg!(feature = "tpm");

/// A secret the TPM seals or unseals: 32 bytes, wiped when dropped.
pub type Secret = Zeroizing<[u8; 32]>;

/// A TPM reached through a TCTI configuration string (`device:/dev/tpmrm0`,
/// `swtpm:host=127.0.0.1,port=2321`).
#[derive(Clone, PartialEq, Eq)]
pub struct Tpm {
    tcti: String,
}

impl fmt::Debug for Tpm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tpm({})", self.tcti)
    }
}

/// A sealed secret as the TPM gave it back: its public and private parts
/// (the private part is encrypted by the SRK; both are safe to store), the
/// PCRs it is bound to and their values when it was sealed (to name the
/// ones that changed), and the policy digest (to check it independently,
/// e.g. with `tpm2_readpublic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// `TPM2B_PUBLIC`'s contents, marshalled (`TPMT_PUBLIC`).
    pub public: Vec<u8>,
    /// `TPM2B_PRIVATE`'s contents.
    pub private: Vec<u8>,
    pub pcrs: Pcrs,
    /// The SHA-256 bank's value of each PCR in `pcrs`, in order.
    pub pcr_values: Vec<[u8; 32]>,
    /// The object's `authPolicy`.
    pub policy: [u8; 32],
}

/// What `tessera tpm status` shows about the TPM itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpmStatus {
    pub tcti: String,
    /// `TPM_PT_MANUFACTURER` as text (`IBM` for swtpm).
    pub manufacturer: String,
    /// `TPM_PT_LOCKOUT_COUNTER`: wrong authValues counted now.
    pub failed_tries: u32,
    /// `TPM_PT_MAX_AUTH_FAIL`: the count at which it locks out.
    pub max_tries: u32,
    /// `TPM_PT_LOCKOUT_INTERVAL`: seconds for one counted try to expire.
    pub recovery_seconds: u32,
    /// `TPMA_PERMANENT.inLockout`.
    pub in_lockout: bool,
    /// `TPMA_PERMANENT.ownerAuthSet`: the owner hierarchy has a password
    /// (Tessera cannot make its storage key then).
    pub owner_password: bool,
}

/// What can go wrong. No message contains a secret or an authValue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TpmError {
    #[error(
        "this tesserad was built without TPM support; build it with `cargo build --release \
         --features tessera-daemon/tpm` (needs libtss2-dev)"
    )]
    NotBuilt,

    /// No TPM answers at the TCTI (no `/dev/tpmrm0`, swtpm not running).
    #[error("no TPM answers at {tcti}: {reason}")]
    Unavailable { tcti: String, reason: String },

    /// The authValue did not satisfy PolicyAuthValue: for the vault, a
    /// wrong PIN. The TPM counted it; `failed_tries` of `max_tries` are
    /// counted now (when the TPM said).
    #[error("the TPM refused the PIN{}", tries_suffix(*failed_tries, *max_tries))]
    WrongAuth {
        failed_tries: Option<u32>,
        max_tries: Option<u32>,
    },

    /// The TPM's dictionary-attack protection is locked out: it refuses
    /// every protected object until a counted try expires (or an
    /// administrator resets it with the lockout authorisation).
    #[error(
        "the TPM is in dictionary-attack lock-out after too many wrong PINs{}; it refuses \
         until then (an administrator can reset it: `tpm2_dictionarylockout --clear-lockout`)",
        recovery_suffix(*recovery_seconds)
    )]
    Lockout { recovery_seconds: Option<u32> },

    /// PolicyPCR no longer matches: these PCRs hold other values than when
    /// the secret was sealed (firmware, boot loader or Secure Boot changed).
    #[error("the TPM will not unseal: {} changed since the slot was sealed", pcr_list(.pcrs))]
    PcrChanged { pcrs: Vec<u8> },

    /// The owner hierarchy has a password, so the storage key cannot be made.
    #[error(
        "the TPM's owner hierarchy has a password, so Tessera cannot make its storage key \
         (an administrator can remove it with `tpm2_changeauth -c owner -p OLD`)"
    )]
    OwnerPassword,

    /// The sealed object does not load under this TPM's storage key: damaged,
    /// or sealed by another TPM (a vault copied from another machine).
    #[error("the TPM cannot load the sealed key ({0}): it was damaged, or sealed by another TPM")]
    NotLoadable(String),

    /// Any other TPM or TSS failure.
    #[error("the TPM failed: {0}")]
    Failed(String),
}

fn tries_suffix(failed: Option<u32>, max: Option<u32>) -> String {
    match (failed, max) {
        (Some(f), Some(m)) => format!(" (the TPM has counted {f} of {m} wrong tries)"),
        _ => String::new(),
    }
}

fn recovery_suffix(recovery: Option<u32>) -> String {
    match recovery {
        Some(s) if s > 0 => format!(" (one counted try expires every {s} s)"),
        _ => String::new(),
    }
}

fn pcr_list(pcrs: &[u8]) -> String {
    let names: Vec<String> = pcrs.iter().map(u8::to_string).collect();
    match names.len() {
        0 => "no PCR".into(),
        1 => format!("PCR {}", names[0]),
        _ => format!("PCRs {}", names.join(", ")),
    }
}

impl Tpm {
    /// The TPM at `tcti` (not contacted yet).
    pub fn new(tcti: impl Into<String>) -> Self {
        Self { tcti: tcti.into() }
    }

    pub fn tcti(&self) -> &str {
        &self.tcti
    }

    /// Whether this machine has a kernel TPM (`/dev/tpmrm0`), which the
    /// activation offers to bind the vault to.
    pub fn device_present() -> bool {
        std::path::Path::new("/dev/tpmrm0").exists()
    }

    /// Seals `secret` so that only `auth` and (when `pcrs` is not empty)
    /// the PCRs' current values unseal it.
    pub fn seal(&self, secret: &Secret, auth: &Secret, pcrs: &Pcrs) -> Result<Sealed, TpmError> {
        #[cfg(feature = "tpm")]
        {
            esapi::seal(&self.tcti, secret, auth, pcrs)
        }
        #[cfg(not(feature = "tpm"))]
        {
            let _ = (secret, auth, pcrs);
            Err(TpmError::NotBuilt)
        }
    }

    /// The sealed secret, when `auth` is right and the PCRs hold the values
    /// they had. A wrong `auth` is counted by the TPM (`WrongAuth`).
    pub fn unseal(&self, sealed: &Sealed, auth: &Secret) -> Result<Secret, TpmError> {
        #[cfg(feature = "tpm")]
        {
            esapi::unseal(&self.tcti, sealed, auth)
        }
        #[cfg(not(feature = "tpm"))]
        {
            let _ = (sealed, auth);
            Err(TpmError::NotBuilt)
        }
    }

    /// The PCRs of `sealed` whose values differ from the ones it was sealed
    /// with (no authValue needed: PCR values are public).
    pub fn changed_pcrs(&self, sealed: &Sealed) -> Result<Vec<u8>, TpmError> {
        #[cfg(feature = "tpm")]
        {
            esapi::changed_pcrs(&self.tcti, sealed)
        }
        #[cfg(not(feature = "tpm"))]
        {
            let _ = sealed;
            Err(TpmError::NotBuilt)
        }
    }

    /// The TPM's maker and its dictionary-attack state.
    pub fn status(&self) -> Result<TpmStatus, TpmError> {
        #[cfg(feature = "tpm")]
        {
            esapi::status(&self.tcti)
        }
        #[cfg(not(feature = "tpm"))]
        {
            Err(TpmError::NotBuilt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_changed_and_hold_no_secret() {
        let e = TpmError::PcrChanged { pcrs: vec![7] };
        assert_eq!(
            e.to_string(),
            "the TPM will not unseal: PCR 7 changed since the slot was sealed"
        );
        let e = TpmError::PcrChanged { pcrs: vec![0, 7] };
        assert!(e.to_string().contains("PCRs 0, 7 changed"));
        let e = TpmError::WrongAuth {
            failed_tries: Some(2),
            max_tries: Some(3),
        };
        assert_eq!(
            e.to_string(),
            "the TPM refused the PIN (the TPM has counted 2 of 3 wrong tries)"
        );
        let e = TpmError::Lockout {
            recovery_seconds: Some(1000),
        };
        assert!(e.to_string().contains("lock-out"), "{e}");
        assert!(e.to_string().contains("1000 s"), "{e}");
    }

    #[cfg(not(feature = "tpm"))]
    #[test]
    fn a_build_without_the_feature_says_how_to_get_it() {
        let tpm = Tpm::new(DEFAULT_TCTI);
        let err = tpm.status().unwrap_err();
        assert_eq!(err, TpmError::NotBuilt);
        assert!(err.to_string().contains("--features tessera-daemon/tpm"));
    }
}
