//! Hex as the wire writes it: lowercase out, either case in, exact lengths.

/// Why hex digits were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HexError {
    /// Not exactly twice the bytes wanted.
    Length { digits: usize },
    /// Not a hex digit, at this 0-based position.
    NotHex { position: usize },
}

/// Exactly `N` bytes from exactly `2N` hex digits, either case.
pub(crate) fn decode_exact<const N: usize>(digits: &[u8]) -> Result<[u8; N], HexError> {
    if digits.len() != 2 * N {
        return Err(HexError::Length {
            digits: digits.len(),
        });
    }
    let nibble = |at: usize| {
        (digits[at] as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or(HexError::NotHex { position: at })
    };
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (nibble(2 * i)? << 4) | nibble(2 * i + 1)?;
    }
    Ok(out)
}

/// Writes `bytes` as lowercase hex into `out`, which holds exactly twice as many bytes.
pub(crate) fn encode_into(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}
