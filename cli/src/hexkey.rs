//! Hexadecimal on the command line, through the workspace's one decoder
//! (`ssmail_core::hex`): keys of any length read, keys and numbers written.

use ssmail_core::hex;
pub use ssmail_core::hex::HexError;

/// Decodes hex digits (either case, no prefix, no separators) into bytes. The messages
/// of its errors never echo the text: it may be a key.
///
/// # Errors
/// Empty text; then the first character that is not a hex digit (so that a `0x` prefix
/// or a space is reported as such, not as an odd length); then an odd count.
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    let digits = text.as_bytes();
    if digits.is_empty() {
        return Err(HexError::Empty);
    }
    hex::check(digits)?;
    // `& 1`, not `% 2`: the workspace lints flag integer remainders (constant time).
    if digits.len() & 1 != 0 {
        return Err(HexError::OddLength {
            digits: digits.len(),
        });
    }
    let mut out = vec![0u8; digits.len() >> 1];
    hex::decode_into(digits, &mut out)?;
    Ok(out)
}

/// Lowercase hex, as ssmail prints keys and numbers.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0u8; 2 * bytes.len()];
    hex::encode_into(bytes, &mut out);
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{HexError, decode, encode};

    #[test]
    fn decodes_either_case() {
        assert_eq!(decode("00ff7Fa0B1"), Ok(vec![0x00, 0xff, 0x7f, 0xa0, 0xb1]));
        assert_eq!(decode("AbCd"), decode("abcd"));
        assert_eq!(encode(&[0, 0xab, 0x7f]), "00ab7f");
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(decode(""), Err(HexError::Empty));
        assert_eq!(decode("abc"), Err(HexError::OddLength { digits: 3 }));
        assert_eq!(decode("0102z4"), Err(HexError::NotHex { index: 4 }));
        assert_eq!(decode("0x01"), Err(HexError::NotHex { index: 1 }));
        assert_eq!(decode("01 02"), Err(HexError::NotHex { index: 2 }));
        // Indexes count characters, not bytes, of non-ASCII text: everything before
        // the first bad byte is ASCII.
        assert_eq!(decode("é0g"), Err(HexError::NotHex { index: 0 }));
        assert_eq!(decode("0é"), Err(HexError::NotHex { index: 1 }));
        assert_eq!(decode("01\u{ff10}"), Err(HexError::NotHex { index: 2 }));
    }

    #[test]
    fn messages_are_one_line() {
        for e in [
            HexError::Empty,
            HexError::NotHex { index: 4 },
            HexError::OddLength { digits: 3 },
        ] {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        assert_eq!(
            HexError::NotHex { index: 4 }.to_string(),
            "not hexadecimal at position 5"
        );
        assert_eq!(HexError::Empty.to_string(), "empty");
    }
}
