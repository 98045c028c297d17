//! Test infrastructure shared by Tessera's test suites and benchmarks; a
//! dev-dependency only, never linked into a shipped binary.
//!
//! - [`bus`]: a private `dbus-daemon` per test ([`bus::PrivateBus`]).
//! - [`daemon`]: the real `tesserad` on a socket in a temporary folder
//!   ([`daemon::Tesserad`]) and a gRPC channel to it ([`daemon::connect`]).
//! - [`activation`]: an activation driven to its end over gRPC
//!   ([`activation::activate`]).
//! - [`images`]: a QR code of a text as PNG bytes ([`images::qr_png`]).
//! - [`bins`]: the workspace's binaries next to the test executable
//!   ([`bins::workspace_bin`]).
//! - [`swtpm`]: a real software TPM on loopback TCP ([`swtpm::Swtpm`]).
//! - [`postgres`]: a throwaway PostgreSQL cluster per test
//!   ([`postgres::Cluster`]).
//! - [`bench`]: percentiles and the benchmarks' sections of
//!   `docs/benchmarks.md`.
//!
//! Everything here runs the real programs: nothing is mocked.

pub mod activation;
pub mod bench;
pub mod bins;
pub mod bus;
pub mod daemon;
pub mod images;
pub mod perturb;
pub mod postgres;
pub mod swtpm;
