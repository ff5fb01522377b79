#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)] // allowed only around `cpuid` (in `ident`) and `rdtsc` (in `trial`)

mod ident;
mod paths;
#[cfg(test)]
mod toy;
mod trial;

pub use ident::{Identity, Vendor, identity, vendor};
pub use paths::{Forced, Paths};
pub use trial::{Chosen, choose};
