//! The signing state machine: a decoded transaction under review, then
//! signed (with its response), declined, or expired. Pure: the PIN or
//! finger check and the clock are the service's; the machine decides what
//! an approval may do and computes nothing but the response.
//!
//! ```text
//! review ──Approve(now < expiry)──▶ signed(response)
//!    │  └──Approve(now ≥ expiry)──▶ expired
//!    ├────Decline────────────────▶ declined
//!    └────Tick(now ≥ expiry)─────▶ expired
//! ```
//!
//! It is its own machine, not new states of the activation machine: a
//! signing stores nothing in the vault, needs an account that already
//! exists, and must never be reachable from (or lead into) an activation's
//! states; the two share only the PIN check and the finger check, which are
//! the service's.

use tessera_core::otp::Code;
use tessera_core::transaction::{Transaction, TransactionKeys};

/// Where a signing is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// The decoded fields are shown; waiting for the user's approval.
    Review,
    /// Approved: the response code to type into the issuer's page.
    Signed(Code),
    /// The user said no.
    Declined,
    /// Its validity ended before an approval.
    Expired,
}

impl State {
    /// The name clients see.
    pub fn name(&self) -> &'static str {
        match self {
            State::Review => "review",
            State::Signed(_) => "signed",
            State::Declined => "declined",
            State::Expired => "expired",
        }
    }

    pub fn is_final(&self) -> bool {
        !matches!(self, State::Review)
    }
}

/// What happens to a signing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The user approved, and the service checked their PIN or finger.
    Approve { now: u64 },
    /// The user declined.
    Decline,
    /// The clock moved.
    Tick { now: u64 },
}

/// An event the state does not take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this signing is {state}; it takes no more events")]
pub struct Refusal {
    pub state: &'static str,
}

/// The state after `event`.
pub fn transition(
    state: &State,
    event: Event,
    tx: &Transaction,
    keys: &TransactionKeys,
) -> Result<State, Refusal> {
    match (state, event) {
        (State::Review, Event::Approve { now }) if tx.check_fresh(now).is_ok() => {
            Ok(State::Signed(keys.respond(tx)))
        }
        (State::Review, Event::Approve { .. }) => Ok(State::Expired),
        (State::Review, Event::Decline) => Ok(State::Declined),
        (State::Review, Event::Tick { now }) if tx.check_fresh(now).is_err() => Ok(State::Expired),
        (State::Review, Event::Tick { .. }) => Ok(State::Review),
        (done, _) => Err(Refusal { state: done.name() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::transaction::{Currency, Payment};

    fn tx() -> Transaction {
        Transaction::new(
            "TSR0000001".parse().unwrap(),
            [1; 16],
            1000,
            Currency::new("EUR").unwrap(),
            vec![Payment {
                amount: 500,
                payee_name: "ACME".into(),
                payee_account: "GB82WEST12345698765432".into(),
                reference: String::new(),
            }],
        )
        .unwrap()
    }

    fn keys() -> TransactionKeys {
        TransactionKeys::derive(&"TSR0000001".parse().unwrap(), &[9; 20])
    }

    #[test]
    fn the_table() {
        let (t, k) = (tx(), keys());
        let signed = State::Signed(k.respond(&t));
        let cases = [
            (
                State::Review,
                Event::Approve { now: 999 },
                Ok(signed.clone()),
            ),
            (
                State::Review,
                Event::Approve { now: 1000 },
                Ok(State::Expired),
            ),
            (State::Review, Event::Decline, Ok(State::Declined)),
            (State::Review, Event::Tick { now: 999 }, Ok(State::Review)),
            (State::Review, Event::Tick { now: 1000 }, Ok(State::Expired)),
            (
                signed.clone(),
                Event::Approve { now: 1 },
                Err(Refusal { state: "signed" }),
            ),
            (
                signed.clone(),
                Event::Decline,
                Err(Refusal { state: "signed" }),
            ),
            (
                State::Declined,
                Event::Approve { now: 1 },
                Err(Refusal { state: "declined" }),
            ),
            (
                State::Expired,
                Event::Approve { now: 1 },
                Err(Refusal { state: "expired" }),
            ),
            (
                State::Expired,
                Event::Tick { now: 1 },
                Err(Refusal { state: "expired" }),
            ),
        ];
        for (state, event, want) in cases {
            assert_eq!(
                transition(&state, event, &t, &k),
                want,
                "{state:?} + {event:?}"
            );
        }
    }
}
