//! The wrong-PIN counter, kept in a small file beside the vault so it
//! survives restarts.
//!
//! Delay rule: after `free_attempts` failures (5) each further try waits
//! `base_delay * 2^(failed - free_attempts)` from the last failure: 5 → 30 s,
//! 6 → 60 s, 7 → 2 min, … capped at `PinDelayPolicy::MAX_DELAY` (1 h). With `lockout_after`
//! set, that many failures turn PIN unlocking off for good (until the counter
//! file is removed). A correct PIN resets the counter.
//!
//! Every PIN check is counted as a failure *before* Argon2 runs and the count
//! is taken back when the PIN is right, so killing the daemon mid-check does
//! not give a free try.
//!
//! The count is raised in memory first and then written. When the write
//! fails (a full disk, a file that cannot be replaced), the check still runs
//! and the failure is reported ([`PinStatus::counter_warning`]): the right
//! PIN still opens the vault, a wrong one is still refused, counted in
//! memory and delayed as usual. docs/security.md explains why this gives
//! nothing to someone guessing PINs.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{VaultError, store};

/// How wrong PINs slow down further tries (from policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinDelayPolicy {
    /// Failures allowed without any delay (default 5).
    pub free_attempts: u32,
    /// The delay after `free_attempts` failures; doubles with each further
    /// one (default 30 s), up to [`PinDelayPolicy::MAX_DELAY`].
    pub base_delay: Duration,
    /// After this many failures, PIN unlocking stays off (default: never).
    pub lockout_after: Option<u32>,
}

impl Default for PinDelayPolicy {
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay: Duration::from_secs(30),
            lockout_after: None,
        }
    }
}

impl PinDelayPolicy {
    /// The longest delay: 1 h.
    pub const MAX_DELAY: Duration = Duration::from_secs(3600);

    /// The wait imposed after `failed` failures in a row.
    pub fn delay_after(&self, failed: u32) -> Duration {
        if failed < self.free_attempts {
            return Duration::ZERO;
        }
        let doublings = failed - self.free_attempts;
        let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Self::MAX_DELAY)
            .min(Self::MAX_DELAY)
    }

    fn locked_out(&self, failed: u32) -> bool {
        self.lockout_after.is_some_and(|n| failed >= n)
    }
}

/// The PIN counter as a client shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinStatus {
    /// Wrong PINs in a row so far.
    pub failed_attempts: u32,
    /// How long until a PIN is accepted again (zero: now).
    pub retry_after: Duration,
    /// Tries left before delays start (zero once they have).
    pub attempts_before_delay: u32,
    /// Policy's lock-out count was reached.
    pub locked_out: bool,
    /// The last PIN check could not write the counter file: why. The count
    /// in memory was kept (and its delays applied) all the same.
    pub counter_warning: Option<String>,
}

/// The counter file's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attempts {
    pub failed: u32,
    /// Time of the last failure, milliseconds since the Unix epoch.
    pub last_failure_unix_ms: u64,
}

impl Attempts {
    /// Reads the counter file. A missing file is zero failures. A damaged one
    /// is logged and taken as `free_attempts` failures just now (one delay),
    /// so damaging it gains nothing; it is rewritten at the next PIN check.
    pub fn load(path: &Path, free_attempts: u32) -> Result<Self, VaultError> {
        let Some(bytes) = store::read_small(path, tessera_files::Kind::Counter)? else {
            return Ok(Self::default());
        };
        match serde_json::from_slice::<Attempts>(&bytes) {
            Ok(a) => Ok(a),
            Err(e) => {
                tracing::warn!(
                    file = %path.display(),
                    error = %e,
                    "the wrong-PIN counter is unreadable; applying one delay"
                );
                Ok(Self {
                    failed: free_attempts,
                    last_failure_unix_ms: unix_ms(SystemTime::now()),
                })
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), VaultError> {
        let bytes = serde_json::to_vec(self).expect("plain struct serializes");
        store::write_atomic(path, &bytes)
    }

    /// One more failure at `now`.
    pub fn failed_at(self, now: SystemTime) -> Self {
        Self {
            failed: self.failed.saturating_add(1),
            last_failure_unix_ms: unix_ms(now),
        }
    }

    /// How long until a try is accepted. Never more than the full delay, so
    /// a clock set back does not stretch it.
    pub fn retry_after(&self, policy: &PinDelayPolicy, now: SystemTime) -> Duration {
        let delay = policy.delay_after(self.failed);
        if delay.is_zero() {
            return Duration::ZERO;
        }
        let ready = UNIX_EPOCH + Duration::from_millis(self.last_failure_unix_ms) + delay;
        match ready.duration_since(now) {
            Ok(wait) => wait.min(delay),
            Err(_) => Duration::ZERO,
        }
    }

    /// Refuses a PIN check (without running Argon2) while locked out or
    /// while a delay runs.
    pub fn gate(&self, policy: &PinDelayPolicy, now: SystemTime) -> Result<(), VaultError> {
        if policy.locked_out(self.failed) {
            return Err(VaultError::LockedOut);
        }
        let wait = self.retry_after(policy, now);
        if !wait.is_zero() {
            return Err(VaultError::PinDelayed { retry_after: wait });
        }
        Ok(())
    }

    /// The error for a wrong PIN that brought the count to `self.failed`.
    pub fn wrong_pin_error(&self, policy: &PinDelayPolicy) -> VaultError {
        if policy.locked_out(self.failed) {
            VaultError::LockedOut
        } else {
            VaultError::WrongPin {
                failed_attempts: self.failed,
                retry_after: policy.delay_after(self.failed),
            }
        }
    }

    pub fn status(&self, policy: &PinDelayPolicy, now: SystemTime) -> PinStatus {
        PinStatus {
            failed_attempts: self.failed,
            retry_after: self.retry_after(policy, now),
            attempts_before_delay: policy.free_attempts.saturating_sub(self.failed),
            locked_out: policy.locked_out(self.failed),
            counter_warning: None,
        }
    }
}

/// The warning for a counter file that could not be written (`what`: the
/// new count, or its reset after the right PIN).
pub(crate) fn counter_warning(what: &str, e: &VaultError) -> String {
    tracing::warn!(error = %e, "cannot write the wrong-PIN counter ({what})");
    format!(
        "the wrong-PIN counter could not be saved ({what}): {e}; the count is kept in memory \
         until it can be written (free some disk space)"
    )
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_five_and_are_capped() {
        let p = PinDelayPolicy::default();
        let secs = |n| p.delay_after(n).as_secs();
        assert_eq!((0..5).map(secs).collect::<Vec<_>>(), [0, 0, 0, 0, 0]);
        assert_eq!(secs(5), 30);
        assert_eq!(secs(6), 60);
        assert_eq!(secs(7), 120);
        assert_eq!(secs(12), 3600, "capped at 1 h (30 s * 128 > 1 h)");
        assert_eq!(secs(u32::MAX), 3600);
    }

    #[test]
    fn retry_after_counts_down_from_the_last_failure() {
        let p = PinDelayPolicy::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let a = Attempts {
            failed: 5,
            last_failure_unix_ms: unix_ms(t0),
        };
        assert_eq!(a.retry_after(&p, t0), Duration::from_secs(30));
        assert_eq!(
            a.retry_after(&p, t0 + Duration::from_secs(10)),
            Duration::from_secs(20)
        );
        assert_eq!(
            a.retry_after(&p, t0 + Duration::from_secs(30)),
            Duration::ZERO
        );
        // A clock set back a day does not make the wait a day long.
        let back = t0 - Duration::from_secs(86_400);
        assert_eq!(a.retry_after(&p, back), Duration::from_secs(30));
    }
}
