//! Constant-time helpers over words: masks that are all ones or all zeros, selection,
//! and table lookups that read every entry. Nothing here branches on its inputs.
//!
//! NOTE: the source has no secret-dependent branch or index, but a compiler that sees a
//! mask is all ones or all zeros may turn `x & mask` back into a branch (LLVM did, in
//! the table lookup: it skipped entries whose mask was zero). So every mask passes
//! through `core::hint::black_box`, which hides its value from the optimiser. The
//! valgrind check (`examples/ct_valgrind.rs`, run by `.ci/run`) is what checks the
//! machine code.
//!
//! Layer: above `word`, which is all it imports.

use core::hint::black_box;

use crate::word::{WORD_BITS, Word};

/// All ones if `x != 0`, else zero.
#[inline(always)]
pub fn mask_nonzero(x: Word) -> Word {
    // The top bit of x | -x is set exactly when x != 0.
    black_box(((x | x.wrapping_neg()) >> (WORD_BITS - 1)).wrapping_neg())
}

/// All ones if `a == b`, else zero.
#[inline(always)]
pub fn mask_eq(a: Word, b: Word) -> Word {
    !mask_nonzero(a ^ b)
}

/// All ones if `bit` (0 or 1) is 1.
#[inline(always)]
pub fn mask_bit(bit: Word) -> Word {
    black_box(bit.wrapping_neg())
}

/// `if mask { b } else { a }`, limb by limb.
#[inline(always)]
pub fn select<const L: usize>(a: &[Word; L], b: &[Word; L], mask: Word) -> [Word; L] {
    core::array::from_fn(|i| a[i] ^ (mask & (a[i] ^ b[i])))
}

/// A value that is `L` words and nothing else: what [`lookup`] can select from a table
/// (plain word arrays, and the typed numbers of the layers above).
pub trait Words<const L: usize> {
    /// Its words.
    fn words(&self) -> &[Word; L];
    /// The value with these words.
    fn from_words(words: [Word; L]) -> Self;
}

impl<const L: usize> Words<L> for [Word; L] {
    #[inline(always)]
    fn words(&self) -> &[Word; L] {
        self
    }

    #[inline(always)]
    fn from_words(words: [Word; L]) -> Self {
        words
    }
}

/// `table[index]`, reading every entry of `table` so that the address pattern does not
/// depend on `index`.
#[inline(always)]
pub fn lookup<E: Words<L>, const L: usize, const T: usize>(table: &[E; T], index: Word) -> E {
    let mut out = [0; L];
    for (i, entry) in table.iter().enumerate() {
        let m = mask_eq(i as Word, index);
        for (o, e) in out.iter_mut().zip(entry.words()) {
            *o |= e & m;
        }
    }
    E::from_words(out)
}

/// `table[index] = x`, writing every entry of `table` (each keeps its value unless its
/// index is `index`) so that the address pattern does not depend on `index`.
#[inline(always)]
pub fn update<E: Words<L>, const L: usize, const T: usize>(table: &mut [E; T], index: Word, x: &E) {
    for (i, entry) in table.iter_mut().enumerate() {
        let m = mask_eq(i as Word, index);
        *entry = E::from_words(select(entry.words(), x.words(), m));
    }
}
