//! Hexadecimal on the command line: keys read, keys and numbers written.

use std::fmt;

/// Why a hex key was rejected. The messages never echo the key: it is secret.
#[derive(Debug, PartialEq, Eq)]
pub enum HexKeyError {
    /// No digits at all.
    Empty,
    /// The character at this 1-based position is not a hex digit.
    NotHex {
        /// 1-based, counted in characters, as a user would count.
        position: usize,
    },
    /// An odd number of digits cannot make whole bytes.
    OddLength {
        /// How many digits there were.
        digits: usize,
    },
}

impl fmt::Display for HexKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("key is empty"),
            Self::NotHex { position } => write!(f, "not hexadecimal at position {position}"),
            Self::OddLength { digits } => write!(
                f,
                "odd number of hex digits ({digits}); each byte takes two"
            ),
        }
    }
}

/// Decodes hex digits (either case, no prefix, no separators) into bytes.
pub fn decode(text: &str) -> Result<Vec<u8>, HexKeyError> {
    if text.is_empty() {
        return Err(HexKeyError::Empty);
    }
    // Check every character before the length, so that a stray non-hex character (say a
    // `0x` prefix or a space) is reported as such rather than as an odd length.
    if let Some(i) = text.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(HexKeyError::NotHex { position: i + 1 });
    }
    // All ASCII from here on, so bytes and characters coincide.
    let digits = text.as_bytes();
    // `& 1`, not `% 2`: the workspace lints flag integer remainders (constant time).
    if digits.len() & 1 != 0 {
        return Err(HexKeyError::OddLength {
            digits: digits.len(),
        });
    }
    Ok(digits
        .chunks_exact(2)
        .map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1]))
        .collect())
}

/// Lowercase hex, as ssmail prints keys and numbers.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of one hex digit already known to be valid.
fn nibble(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        // Unreachable after the check in `decode`; 0 rather than a panic all the same.
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::{HexKeyError, decode};

    #[test]
    fn decodes_either_case() {
        assert_eq!(decode("00ff7Fa0B1"), Ok(vec![0x00, 0xff, 0x7f, 0xa0, 0xb1]));
        assert_eq!(decode("AbCd"), decode("abcd"));
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(decode(""), Err(HexKeyError::Empty));
        assert_eq!(decode("abc"), Err(HexKeyError::OddLength { digits: 3 }));
        assert_eq!(decode("0102z4"), Err(HexKeyError::NotHex { position: 5 }));
        assert_eq!(decode("0x01"), Err(HexKeyError::NotHex { position: 2 }));
        assert_eq!(decode("01 02"), Err(HexKeyError::NotHex { position: 3 }));
        // Positions count characters, not bytes, of non-ASCII text.
        assert_eq!(decode("é0g"), Err(HexKeyError::NotHex { position: 1 }));
        assert_eq!(decode("0é"), Err(HexKeyError::NotHex { position: 2 }));
        assert_eq!(
            decode("01\u{ff10}"),
            Err(HexKeyError::NotHex { position: 3 })
        );
    }

    #[test]
    fn messages_are_one_line() {
        for e in [
            HexKeyError::Empty,
            HexKeyError::NotHex { position: 5 },
            HexKeyError::OddLength { digits: 3 },
        ] {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        assert_eq!(
            HexKeyError::NotHex { position: 5 }.to_string(),
            "not hexadecimal at position 5"
        );
    }
}
