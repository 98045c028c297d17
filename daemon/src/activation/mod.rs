//! Activations: the pure state machine ([`machine`]) and the daemon's
//! running activations that drive it ([`session`]).

pub mod machine;

pub use machine::{Effect, Event, Machine, Method, PinRules, PinStep, Setup, Source, State};
