//! Constant-time helpers over words: masks that are all ones or all zeros, selection,
//! and table lookups that read every entry. Nothing here branches on its inputs.
//!
//! NOTE: these are written so that the source has no secret-dependent branch or index;
//! the compiler could in principle still introduce one. The tests under valgrind (a later
//! step of this crate's issue) are what check the machine code.

use crate::word::{WORD_BITS, Word};

/// All ones if `x != 0`, else zero.
#[inline(always)]
pub fn mask_nonzero(x: Word) -> Word {
    // The top bit of x | -x is set exactly when x != 0.
    ((x | x.wrapping_neg()) >> (WORD_BITS - 1)).wrapping_neg()
}

/// All ones if `a == b`, else zero.
#[inline(always)]
pub fn mask_eq(a: Word, b: Word) -> Word {
    !mask_nonzero(a ^ b)
}

/// All ones if `bit` (0 or 1) is 1.
#[inline(always)]
pub fn mask_bit(bit: Word) -> Word {
    bit.wrapping_neg()
}

/// `if mask { b } else { a }`, limb by limb.
#[inline(always)]
pub fn select<const L: usize>(a: &[Word; L], b: &[Word; L], mask: Word) -> [Word; L] {
    core::array::from_fn(|i| a[i] ^ (mask & (a[i] ^ b[i])))
}

/// `table[index]`, reading every entry of `table` so that the address pattern does not
/// depend on `index`.
#[inline(always)]
pub fn lookup<const L: usize, const T: usize>(table: &[[Word; L]; T], index: Word) -> [Word; L] {
    let mut out = [0; L];
    for (i, entry) in table.iter().enumerate() {
        let m = mask_eq(i as Word, index);
        for (o, e) in out.iter_mut().zip(entry) {
            *o |= e & m;
        }
    }
    out
}
