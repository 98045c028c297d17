//! Who may call, and how often.
//!
//! - Bearer tokens: the SHA-256 of the token is looked up in the store's
//!   clients; a hit is remembered for [`TOKEN_TTL`], so a revoked token is
//!   refused by every instance within that time.
//! - Rate limits (governor, in this instance's memory): per client, and
//!   per serial for the calls that check a code. Behind a load balancer of
//!   N instances a client gets up to N times the limit; the limit that must
//!   hold across instances, failed codes per serial, is kept in the
//!   database (`service::Limits`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Error, Result};
use crate::service::{Issuer, token_hash};

/// How long a checked token is trusted without asking the store again.
pub const TOKEN_TTL: Duration = Duration::from_secs(5);

pub(crate) struct Guard {
    tokens: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    per_client: Option<DefaultKeyedRateLimiter<String>>,
    per_serial: Option<DefaultKeyedRateLimiter<String>>,
}

impl Guard {
    /// `client_rate` requests a second per client (burst twice that) and
    /// `serial_rate` a minute per serial; 0 is no limit.
    pub fn new(client_rate: u32, serial_rate: u32) -> Self {
        let per_client = NonZeroU32::new(client_rate).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2"));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let per_serial =
            NonZeroU32::new(serial_rate).map(|rate| RateLimiter::keyed(Quota::per_minute(rate)));
        Self {
            tokens: Mutex::new(HashMap::new()),
            per_client,
            per_serial,
        }
    }

    /// The client an `Authorization` header's bearer token belongs to
    /// (blocking: it may ask the store).
    pub fn authenticate(&self, issuer: &Issuer, header: Option<&str>) -> Result<String> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthorized(
                    "this call needs an Authorization: Bearer TOKEN header \
                     (`tessera-issuer client add NAME` makes a token)"
                        .into(),
                )
            })?;
        let hash = token_hash(token);
        let now = Instant::now();
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((name, at)) = tokens.get(&hash)
            && now.duration_since(*at) < TOKEN_TTL
        {
            return Ok(name.clone());
        }
        drop(tokens);
        let name = issuer.authenticate(token)?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() > 10_000 {
            tokens.retain(|_, (_, at)| now.duration_since(*at) < TOKEN_TTL);
        }
        tokens.insert(hash, (name.clone(), now));
        Ok(name)
    }

    pub fn check_client(&self, client: &str) -> Result<()> {
        match &self.per_client {
            Some(limiter) if limiter.check_key(&client.to_owned()).is_err() => Err(
                Error::RateLimited(format!("client {client}: over its rate limit; slow down")),
            ),
            _ => Ok(()),
        }
    }

    pub fn check_serial(&self, serial: &str) -> Result<()> {
        match &self.per_serial {
            Some(limiter) if limiter.check_key(&serial.to_owned()).is_err() => {
                Err(Error::RateLimited(format!(
                    "{serial}: too many requests for this serial; wait a minute"
                )))
            }
            _ => Ok(()),
        }
    }
}
