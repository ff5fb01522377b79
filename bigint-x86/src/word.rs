//! The machine word the arithmetic is written over: `u64` (with `u128` products) on
//! 64-bit targets, `u32` (with `u64` products) elsewhere, as crypto-bigint does.
//!
//! Layer: the bottom one; imports nothing of the crate.

#[cfg(target_pointer_width = "64")]
mod width {
    /// A limb.
    pub type Word = u64;
    /// Twice a limb, for products.
    pub type WideWord = u128;
}

#[cfg(not(target_pointer_width = "64"))]
mod width {
    /// A limb.
    pub type Word = u32;
    /// Twice a limb, for products.
    pub type WideWord = u64;
}

pub use width::{WideWord, Word};

/// Bits in a limb.
pub const WORD_BITS: usize = Word::BITS as usize;

/// `log2(WORD_BITS)`: bit positions become limb indices by a shift, not a division.
pub const WORD_SHIFT: u32 = Word::BITS.trailing_zeros();

/// Limbs in a 768-bit number.
pub const LIMBS: usize = 768 >> WORD_SHIFT;

/// `a + b + carry`, as (sum, carry out); `carry` is 0 or 1.
#[inline(always)]
pub const fn adc(a: Word, b: Word, carry: Word) -> (Word, Word) {
    // Cannot overflow: (2^w - 1) + (2^w - 1) + 1 < 2^(2w).
    let t = (a as WideWord) + (b as WideWord) + (carry as WideWord);
    (t as Word, (t >> WORD_BITS) as Word)
}

/// `a - b - borrow`, as (difference, borrow out); `borrow` is 0 or 1.
#[inline(always)]
pub const fn sbb(a: Word, b: Word, borrow: Word) -> (Word, Word) {
    let t = (a as WideWord)
        .wrapping_sub(b as WideWord)
        .wrapping_sub(borrow as WideWord);
    (t as Word, ((t >> WORD_BITS) as Word) & 1)
}

/// `a + b * c + carry`, as (low, high).
#[inline(always)]
pub const fn mac(a: Word, b: Word, c: Word, carry: Word) -> (Word, Word) {
    // Cannot overflow: (2^w - 1) + (2^w - 1)^2 + (2^w - 1) = 2^(2w) - 1.
    let t = (a as WideWord) + (b as WideWord) * (c as WideWord) + (carry as WideWord);
    (t as Word, (t >> WORD_BITS) as Word)
}

/// Exponentiations per multi-buffer call: the 64-bit lanes of a zmm register.
pub const LANES: usize = 8;
