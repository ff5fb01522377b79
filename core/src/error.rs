//! What can go wrong in key agreement.

use core::fmt;

/// Why a peer's public key was refused (docs/xcrypt.md §1: `2 <= K <= p-2`, exact length,
/// hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyError {
    /// Not exactly 192 hex digits.
    Length {
        /// Digits given.
        digits: usize,
    },
    /// A character that is not a hex digit (the first).
    NotHex {
        /// 0-based index into the text.
        index: usize,
    },
    /// The value is 0, 1, p-1 or at least p.
    OutOfRange,
}

impl fmt::Display for PublicKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { digits } => {
                write!(f, "public key must be 192 hex digits, got {digits}")
            }
            Self::NotHex { index } => {
                write!(f, "public key: not hexadecimal at position {}", index + 1)
            }
            Self::OutOfRange => f.write_str("public key out of range (must be 2..=p-2)"),
        }
    }
}

impl core::error::Error for PublicKeyError {}
