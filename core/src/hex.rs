//! Hex as ssmail reads and writes it, the one decoder of the workspace: lowercase out,
//! either case in, no prefix or separators. Positions in errors are 0-based indexes
//! into the text; messages print them 1-based, as a person counts.
//!
//! Private keys and symmetric keys come through here, so a valid digit's value is
//! computed without a branch or a table lookup on it.

use core::fmt;

/// Why hex digits were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
    /// No digits at all.
    Empty,
    /// The byte at this 0-based index is not a hex digit (the first such one). All the
    /// bytes before it are ASCII, so it is also the index of the character.
    NotHex {
        /// 0-based index into the text.
        index: usize,
    },
    /// An odd number of digits cannot make whole bytes.
    OddLength {
        /// Digits given.
        digits: usize,
    },
    /// Not the exact number of digits wanted.
    Length {
        /// Digits given.
        digits: usize,
        /// Digits wanted.
        expected: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty"),
            Self::NotHex { index } => write!(f, "not hexadecimal at position {}", index + 1),
            Self::OddLength { digits } => write!(
                f,
                "odd number of hex digits ({digits}); each byte takes two"
            ),
            Self::Length { digits, expected } => {
                write!(f, "must be exactly {expected} hex digits, got {digits}")
            }
        }
    }
}

impl core::error::Error for HexError {}

/// The value of a hex digit (either case) and `0xff` if it is one, else `(0, 0)`;
/// branch-free in the digit.
fn nibble(c: u8) -> (u8, u8) {
    // 0xff where `x < n` for x, n < 256: the borrow of `x - n` in the high byte.
    let below = |x: u8, n: u8| ((u16::from(x).wrapping_sub(u16::from(n))) >> 8) as u8;
    let d = c.wrapping_sub(b'0');
    let l = (c | 0x20).wrapping_sub(b'a');
    let is_d = below(d, 10);
    let is_l = below(l, 6);
    ((d & is_d) | (l.wrapping_add(10) & is_l), is_d | is_l)
}

/// The index of the first byte of `digits` that is not a hex digit, as an error.
///
/// # Errors
/// [`HexError::NotHex`].
pub fn check(digits: &[u8]) -> Result<(), HexError> {
    match digits.iter().position(|&c| nibble(c).1 == 0) {
        Some(index) => Err(HexError::NotHex { index }),
        None => Ok(()),
    }
}

/// Fills `out` from exactly `2 * out.len()` hex digits.
///
/// # Errors
/// [`HexError::Length`] for any other number of digits (checked first), then
/// [`HexError::NotHex`]. `out` is unspecified after an error.
pub fn decode_into(digits: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    if digits.len() != 2 * out.len() {
        return Err(HexError::Length {
            digits: digits.len(),
            expected: 2 * out.len(),
        });
    }
    // Every digit is decoded before any verdict: validity is folded in, not branched on.
    let mut valid = 0xff;
    for (b, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, hi_ok) = nibble(pair[0]);
        let (lo, lo_ok) = nibble(pair[1]);
        *b = (hi << 4) | lo;
        valid &= hi_ok & lo_ok;
    }
    if valid == 0 {
        check(digits)?;
    }
    Ok(())
}

/// Exactly `N` bytes from exactly `2N` hex digits, either case.
///
/// # Errors
/// As [`decode_into`].
pub fn decode_exact<const N: usize>(digits: &[u8]) -> Result<[u8; N], HexError> {
    let mut out = [0u8; N];
    decode_into(digits, &mut out)?;
    Ok(out)
}

/// Writes `bytes` as lowercase hex into `out`, which holds exactly twice as many bytes
/// (extra bytes of `out` are left as they are).
pub fn encode_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}

#[cfg(test)]
mod tests {
    use super::{HexError, check, decode_exact, decode_into, encode_into, nibble};

    #[test]
    fn every_byte_value() {
        for c in 0..=255u8 {
            let want = (c as char).to_digit(16);
            let (v, ok) = nibble(c);
            assert_eq!(ok == 0xff, want.is_some(), "{c}");
            assert!(ok == 0 || ok == 0xff);
            assert_eq!(u32::from(v), want.unwrap_or(0), "{c}");
        }
    }

    #[test]
    fn decodes_either_case_and_round_trips() {
        assert_eq!(
            decode_exact::<5>(b"00ff7Fa0B1"),
            Ok([0, 0xff, 0x7f, 0xa0, 0xb1])
        );
        let bytes: [u8; 256] = core::array::from_fn(|i| i as u8);
        let mut text = [0u8; 512];
        encode_into(&bytes, &mut text);
        assert_eq!(decode_exact::<256>(&text), Ok(bytes));
        assert!(text.iter().all(|c| !c.is_ascii_uppercase()));
    }

    #[test]
    fn length_first_then_the_first_bad_digit() {
        assert_eq!(
            decode_exact::<2>(b"abc"),
            Err(HexError::Length {
                digits: 3,
                expected: 4
            })
        );
        assert_eq!(
            decode_exact::<2>(b"0g0h"),
            Err(HexError::NotHex { index: 1 })
        );
        let mut out = [0u8; 3];
        assert_eq!(
            decode_into(b"0102z4", &mut out),
            Err(HexError::NotHex { index: 4 })
        );
        assert_eq!(
            check("01\u{ff10}".as_bytes()),
            Err(HexError::NotHex { index: 2 })
        );
        assert_eq!(check(b""), Ok(()));
    }

    #[test]
    fn messages_count_from_one() {
        use std::string::ToString;
        assert_eq!(
            HexError::NotHex { index: 4 }.to_string(),
            "not hexadecimal at position 5"
        );
    }
}
