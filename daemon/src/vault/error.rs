//! What can go wrong with the vault. Messages say what happened and what to
//! do; none of them ever contains a PIN, a key or an account secret.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::SlotKind;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the vault is locked; unlock it with your PIN")]
    Locked,

    #[error("there is no vault yet; add an account to create one")]
    NoVault,

    #[error("a vault already exists; it was left as it is")]
    AlreadyExists,

    /// The PIN did not open the PIN slot. `retry_after` is the wait before the
    /// next try is accepted (zero while free tries remain).
    #[error("wrong PIN ({failed_attempts} failed {}){}",
        plural(*failed_attempts, "try", "tries"), wait_suffix(*retry_after))]
    WrongPin {
        failed_attempts: u32,
        retry_after: Duration,
    },

    /// The PIN did not open the TPM slot: the TPM refused its authValue and
    /// counted it against its own lock-out, beside our count.
    #[error("wrong PIN ({failed_attempts} failed {}){}; {}",
        plural(*failed_attempts, "try", "tries"), wait_suffix(*retry_after),
        tpm.to_string().replace("the TPM refused the PIN", "the TPM refused it too"))]
    WrongPinTpm {
        failed_attempts: u32,
        retry_after: Duration,
        tpm: tessera_tpm::TpmError,
    },

    /// The TPM slot cannot be opened for a reason other than the PIN (no
    /// TPM, PCRs changed, the TPM's lock-out, another TPM's object). `hint`
    /// is the way back (the PIN slot, a backup).
    #[error("the TPM slot does not open the vault: {error}. {hint}")]
    Tpm {
        error: tessera_tpm::TpmError,
        hint: String,
    },

    /// The vault key could not be sealed to the TPM; nothing was changed.
    #[error("cannot seal the vault key to the TPM: {error}; the vault was left as it was")]
    TpmSeal { error: tessera_tpm::TpmError },

    /// Refused without checking the PIN: a delay after wrong PINs is running.
    #[error("too many wrong PINs; try again in {}", human(*retry_after))]
    PinDelayed { retry_after: Duration },

    /// Policy's lock-out count was reached; PIN unlocking stays off (the
    /// other slots still open the vault). `Vault::pin_status` has the count.
    #[error(
        "too many wrong PINs; PIN unlocking is disabled by policy (an administrator can \
         allow it again by removing the file `pin-attempts` beside the vault)"
    )]
    LockedOut,

    /// The file does not start like a vault (someone else's file, or not ours).
    #[error("{} is not a Tessera vault ({reason}); it was left as it is", path.display())]
    NotAVault { path: PathBuf, reason: String },

    /// The file is a vault but cannot be read whole. Never overwritten.
    #[error(
        "the vault {} is damaged: {reason}. It was left as it is: restore it from a backup, \
         or move it away to start a new vault",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },

    /// The file read at start-up but its accounts do not open with a key
    /// its slot gave: damaged after all. Never overwritten; `hint` is the
    /// way back ([`super::backups::restore_hint`], the newest backup named).
    #[error(
        "the vault {} is damaged: {reason}. It was left as it is. {hint}",
        path.display()
    )]
    BodyDamaged {
        path: PathBuf,
        reason: String,
        hint: String,
    },

    #[error(
        "{} was written by a newer Tessera (vault format {found}; this tesserad reads up to \
         {supported}); update tesserad. The file was left as it is",
        path.display()
    )]
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Another process holds the vault folder's lock.
    #[error("another tesserad is already using {} ({})", path.display(), pid_text(*pid))]
    Busy { path: PathBuf, pid: Option<u32> },

    /// A folder or file is not safely ours (owned by another user, not a folder).
    #[error("{}: {reason}; refusing to use it", path.display())]
    Unsafe { path: PathBuf, reason: String },

    #[error("the vault has no {0} slot")]
    SlotMissing(SlotKind),

    /// A copy of a vault (a backup) that the PIN given does not open.
    #[error(
        "the PIN does not open the backup {}; a backup opens with the PIN the vault had when \
         the copy was made, or with its own password",
        path.display()
    )]
    CopyWrongPin { path: PathBuf },

    /// A copy of a vault without a PIN or password slot (a
    /// keyring-protected vault's).
    #[error(
        "the backup {} has no PIN or password slot (it was made of a keyring-protected vault); \
         copy it in place of the vault by hand with that keyring at hand (docs/backup.md)",
        path.display()
    )]
    CopyWithoutPin { path: PathBuf },

    /// A backup opened by its password alone cannot become a vault.
    #[error(
        "the backup {} opens with its password only, so it cannot become this machine's vault: \
         make a vault first (activate an account, choosing a PIN), then restore the backup with \
         --merge",
        path.display()
    )]
    CopyPasswordOnly { path: PathBuf },

    /// The key given for a keyring or biometric slot does not open it.
    #[error("the {0} key does not open this vault")]
    WrongKey(SlotKind),

    /// A slot operation that does not fit the slot's kind.
    #[error("{reason}")]
    InvalidSlot {
        kind: SlotKind,
        reason: &'static str,
    },

    /// Removing this slot would leave no PIN, TPM or keyring slot to open the vault.
    #[error(
        "cannot remove the {0} slot: the vault needs a PIN, TPM or keyring slot to open; \
         add another one first"
    )]
    LastSlot(SlotKind),

    #[error("Argon2 parameters out of range: {0}")]
    InvalidKdf(String),

    /// The accounts handed to the vault cannot be stored as they are.
    #[error("cannot store the accounts: {0}")]
    InvalidAccounts(String),
}

impl VaultError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        VaultError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

fn wait_suffix(wait: Duration) -> String {
    if wait.is_zero() {
        String::new()
    } else {
        format!("; try again in {}", human(wait))
    }
}

fn pid_text(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("pid {pid}"),
        None => "pid unknown".to_owned(),
    }
}

/// `30 s`, `2 min`, `1 h 4 min`; rounded up to whole seconds/minutes so a
/// user who waits that long is accepted.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs.div_ceil(60))
    } else {
        let mins = secs.div_ceil(60);
        match mins % 60 {
            0 => format!("{} h", mins / 60),
            m => format!("{} h {m} min", mins / 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_millis(29_200)), "30 s");
        assert_eq!(human(Duration::from_secs(60)), "1 min");
        assert_eq!(human(Duration::from_secs(61)), "2 min");
        assert_eq!(human(Duration::from_secs(3600)), "1 h");
        assert_eq!(human(Duration::from_secs(3600 + 240)), "1 h 4 min");
    }

    #[test]
    fn messages_are_clear() {
        let e = VaultError::WrongPin {
            failed_attempts: 6,
            retry_after: Duration::from_secs(60),
        };
        assert_eq!(
            e.to_string(),
            "wrong PIN (6 failed tries); try again in 1 min"
        );
        let e = VaultError::WrongPin {
            failed_attempts: 1,
            retry_after: Duration::ZERO,
        };
        assert_eq!(e.to_string(), "wrong PIN (1 failed try)");
        let e = VaultError::Busy {
            path: "/d/tessera".into(),
            pid: Some(42),
        };
        assert_eq!(
            e.to_string(),
            "another tesserad is already using /d/tessera (pid 42)"
        );
    }
}
