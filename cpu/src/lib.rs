#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)] // allowed only around `cpuid`, in `ident`

mod ident;
mod paths;

pub use ident::{Identity, Vendor, identity, vendor};
pub use paths::{Forced, Paths};
