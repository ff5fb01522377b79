#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)] // allowed only in the SIMD backends, each block with its reason

pub mod arrsyfor;
mod choice;
mod saved;
pub mod t32;
mod trial;

pub use arrsyfor::Arrsyfor;
pub use arrsyfor::ArrsyforPath;
pub use choice::{Algorithm, AnyCipher};
pub use cipher;
pub use cipher::{KeyInit, KeyIvInit, StreamCipher};
pub use saved::{InvalidState, SAVED_MAX};
/// The trait of [`ArrsyforPath`] and [`T32Path`]: list, check, choose and force a path.
pub use ssmail_cpu::Paths;
pub use t32::T32;
pub use t32::T32Path;
