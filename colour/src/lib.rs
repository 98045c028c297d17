//! The Tessera colour code, version 1 (`docs/colour-code.md`): an open
//! stand-in for proprietary colour activation images.
//!
//! A payload text is cut into three parts; each part, behind a short header,
//! becomes one QR code, and the three codes (same version, same error
//! correction) are laid over each other in colour: layer 0 in the red
//! channel, layer 1 in green, layer 2 in blue. On screen that is RGB; in
//! print the same image is cyan, magenta and yellow ink. Every channel alone
//! is a standard QR code.
//!
//! This crate is pure: [`ColourCode`] makes the module grid and its pixels,
//! [`layers`] frames and joins the parts, [`palette`] calibrates the colours
//! seen in a picture (white balance from the finder patterns, then
//! nearest-palette classification). Finding the code in a picture and
//! reading each layer is `tessera-scan`'s job.

mod encode;
pub mod layers;
pub mod palette;

pub use encode::{ColourCode, EncodeError, Rgb, capacity};
pub use layers::{LAYERS, LayerError, MAGIC};
