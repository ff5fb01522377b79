//! `U768`: a 768-bit unsigned integer as little-endian limbs, with the byte conversions
//! and comparisons the rest of the crate needs.
//!
//! Layer: above `word` and `ct`, which are all it imports.

use core::fmt;

use crate::ct;
use crate::word::{LIMBS, WORD_BITS, WORD_SHIFT, Word, sbb};

/// Bytes in a 768-bit number.
pub const BYTES: usize = 96;

/// A 768-bit unsigned integer. Its `Debug` prints the value: use
/// [`SecretExponent`](crate::SecretExponent) for secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct U768(pub(crate) [Word; LIMBS]);

impl U768 {
    /// Zero.
    pub const ZERO: Self = Self([0; LIMBS]);
    /// One.
    pub const ONE: Self = {
        let mut l = [0; LIMBS];
        l[0] = 1;
        Self(l)
    };

    /// From 96 big-endian bytes.
    pub const fn from_be_bytes(bytes: &[u8; BYTES]) -> Self {
        let mut limbs = [0 as Word; LIMBS];
        let per = WORD_BITS >> 3;
        let mut i = 0;
        while i < LIMBS {
            let mut w: Word = 0;
            let mut j = 0;
            // Limb i holds bytes BYTES - per*(i+1) .. BYTES - per*i.
            while j < per {
                w = (w << 8) | bytes[BYTES - per * (i + 1) + j] as Word;
                j += 1;
            }
            limbs[i] = w;
            i += 1;
        }
        Self(limbs)
    }

    /// From at most 96 big-endian bytes, left-padded with zeros; `None` if longer.
    pub fn from_be_slice(bytes: &[u8]) -> Option<Self> {
        let pad = BYTES.checked_sub(bytes.len())?;
        let mut full = [0u8; BYTES];
        full[pad..].copy_from_slice(bytes);
        Some(Self::from_be_bytes(&full))
    }

    /// To 96 big-endian bytes (`const`, so that constants can be derived from others).
    pub const fn to_be_bytes(&self) -> [u8; BYTES] {
        let mut out = [0u8; BYTES];
        let mut i = 0;
        while i < BYTES {
            // Byte i counts from the top: it is byte (BYTES - 1 - i) from the bottom.
            let from_bottom = BYTES - 1 - i;
            out[i] = (self.0[from_bottom >> (WORD_SHIFT - 3)]
                >> (8 * (from_bottom & ((WORD_BITS >> 3) - 1)))) as u8;
            i += 1;
        }
        out
    }

    /// The limbs, least significant first.
    pub const fn as_limbs(&self) -> &[Word; LIMBS] {
        &self.0
    }

    /// Bit `i` (0 = least significant), as 0 or 1. `i` is public; the bit may be secret.
    #[inline(always)]
    pub(crate) fn bit(&self, i: usize) -> Word {
        (self.0[i >> WORD_SHIFT] >> (i & (WORD_BITS - 1))) & 1
    }

    /// The `width` bits starting at bit `i` (`width` below the word size; bits past the
    /// top read as zero). `i` and `width` are public: only the bits' values may be
    /// secret, and they steer no branch or address.
    #[inline(always)]
    pub(crate) fn bits(&self, i: usize, width: usize) -> Word {
        let (limb, shift) = (i >> WORD_SHIFT, i & (WORD_BITS - 1));
        let mut w = self.0[limb] >> shift;
        // The window crosses into the next limb (a public fact of `i` and `width`).
        if shift + width > WORD_BITS && limb + 1 < LIMBS {
            w |= self.0[limb + 1] << (WORD_BITS - shift);
        }
        w & (((1 as Word) << width) - 1)
    }

    /// `self < other`, in constant time, as 0 or 1.
    #[inline]
    pub fn ct_lt(&self, other: &Self) -> Word {
        let mut borrow = 0;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            (_, borrow) = sbb(*a, *b, borrow);
        }
        borrow
    }

    /// `self == other`, in constant time, as 0 or 1.
    #[inline]
    pub fn ct_eq(&self, other: &Self) -> Word {
        let mut diff = 0;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            diff |= a ^ b;
        }
        ct::mask_nonzero(diff).wrapping_add(1)
    }
}

/// Prints the value in hex, most significant first.
impl fmt::Debug for U768 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("U768(0x")?;
        for b in self.to_be_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bits` against bit-by-bit assembly, at every position (so across every limb
    /// boundary) and for the widths the windows use, with the top reading as zero.
    #[test]
    fn bits_match_single_bits() {
        let mut x = U768::ZERO;
        for (j, w) in x.0.iter_mut().enumerate() {
            *w = (0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(j as u64 + 1) >> 3) as Word;
        }
        for width in 1..=5 {
            for i in 0..768 {
                let mut want = 0;
                for k in 0..width {
                    if i + k < 768 {
                        want |= x.bit(i + k) << k;
                    }
                }
                assert_eq!(x.bits(i, width), want, "bits({i}, {width})");
            }
        }
    }
}
