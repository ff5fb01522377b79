#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

pub mod arrsyfor;
pub mod t32;

pub use arrsyfor::Arrsyfor;
pub use cipher;
pub use cipher::{KeyInit, KeyIvInit, StreamCipher};
pub use t32::T32;
