//! 32-bit x86 assembly for the original Pentium (P5) and every x86 CPU since: Montgomery
//! multiplication and squaring over 24 × 32-bit limbs in straight-line `mul`/`adc` code.
//!
//! The routines are in `x86_p5.s`, written by `bigint-x86/asmgen/x86_p5.py` (finely integrated
//! product scanning: each column of `a·b + m·n` summed in three registers, the Montgomery
//! digit chosen as the column completes, squaring with each cross product computed once
//! and doubled). They use only P5 instructions — no `cmov`, MMX, SSE or anything later;
//! `scripts/check_p5_disasm.sh` disassembles them to prove it — and are scheduled for its
//! U/V pipes. They are whole functions in `global_asm!` because an `asm!` block on x86
//! cannot have ebx, esi or ebp, and the accumulator and pointers need all seven registers.
//!
//! A modulus shaped like the Oakley prime has its own routines: its limbs 0, 1, 22 and 23
//! are all ones, so `n0 = 1` and `m = c0` (no `imul`), and every product by one of those
//! limbs, `m·(2^32 - 1) = m·2^32 - m`, is an add and a subtract instead of a `mul`:
//! 1056 `mul`s per multiplication instead of 1176 (`imul` included), 780 per squaring
//! instead of 900. Any other odd modulus takes the general routines. Which one runs
//! depends only on the public `n`.

use crate::monty::MontArith;
use crate::word::{LIMBS, Word};

core::arch::global_asm!(include_str!("x86_p5.s"));

// SAFETY: the routines of `x86_p5.s` follow cdecl (they keep ebx, esi, edi, ebp and esp
// and never touch the direction flag), read `LIMBS` words at `a`, `b` and `n`, write
// `LIMBS` words at `r`, and touch nothing else outside their own stack frame.
unsafe extern "C" {
    fn ssmail_x86p5_mul(r: *mut Word, a: *const Word, b: *const Word, n: *const Word, n0: Word);
    fn ssmail_x86p5_mul_oakley(r: *mut Word, a: *const Word, b: *const Word, n: *const Word);
    fn ssmail_x86p5_sqr(r: *mut Word, a: *const Word, n: *const Word, n0: Word);
    fn ssmail_x86p5_sqr_oakley(r: *mut Word, a: *const Word, n: *const Word);
}

/// Whether `n` has the all-ones limbs 0, 1, 22 and 23 of the Oakley prime (limb 0 all
/// ones is `n0 = 1`). `n` is public: branching on it leaks nothing.
#[inline(always)]
fn oakley_shaped(n: &[Word; LIMBS], n0: Word) -> bool {
    n0 == 1 && n[1] == Word::MAX && n[LIMBS - 2] == Word::MAX && n[LIMBS - 1] == Word::MAX
}

/// The Pentium assembly backend.
pub(crate) struct X86P5;

/// Exponentiates in `MontyForm` (the default).
impl crate::form::HasForm for X86P5 {}

impl MontArith for X86P5 {
    #[inline]
    fn mul(a: &[Word; LIMBS], b: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        let mut r = [0 as Word; LIMBS];
        if oakley_shaped(n, n0) {
            // SAFETY: every pointer is to `LIMBS` words, valid for the call; `r` is
            // writable and aliases nothing; `n` has the all-ones limbs the routine
            // assumes.
            unsafe { ssmail_x86p5_mul_oakley(r.as_mut_ptr(), a.as_ptr(), b.as_ptr(), n.as_ptr()) };
        } else {
            // SAFETY: every pointer is to `LIMBS` words, valid for the call; `r` is
            // writable and aliases nothing.
            unsafe { ssmail_x86p5_mul(r.as_mut_ptr(), a.as_ptr(), b.as_ptr(), n.as_ptr(), n0) };
        }
        r
    }

    #[inline]
    fn sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        let mut r = [0 as Word; LIMBS];
        if oakley_shaped(n, n0) {
            // SAFETY: as in `mul`.
            unsafe { ssmail_x86p5_sqr_oakley(r.as_mut_ptr(), a.as_ptr(), n.as_ptr()) };
        } else {
            // SAFETY: as in `mul`.
            unsafe { ssmail_x86p5_sqr(r.as_mut_ptr(), a.as_ptr(), n.as_ptr(), n0) };
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::X86P5;
    use crate::backends::portable::Portable;
    use crate::monty::MontArith;
    use crate::word::{LIMBS, Word};
    use crate::{U768, oakley};

    /// A xorshift stream of words, for reproducible random inputs.
    fn words(seed: &mut u64) -> [Word; LIMBS] {
        core::array::from_fn(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as Word
        })
    }

    /// `-x⁻¹ mod 2^32` for odd `x`, by Newton's iteration.
    fn neg_inv(x: Word) -> Word {
        let mut inv = x;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
        }
        assert_eq!(inv.wrapping_mul(x), 1);
        inv.wrapping_neg()
    }

    /// `x mod n` by repeated subtraction (x < 2^768, n > 2^767: at most one).
    fn below(x: [Word; LIMBS], n: &[Word; LIMBS]) -> [Word; LIMBS] {
        let xs = U768(x);
        let ns = U768(*n);
        if xs.to_be_bytes() < ns.to_be_bytes() {
            return x;
        }
        let mut r = [0; LIMBS];
        let mut borrow = 0;
        for i in 0..LIMBS {
            (r[i], borrow) = crate::word::sbb(x[i], n[i], borrow);
        }
        r
    }

    fn check(n: &[Word; LIMBS], n0: Word, xs: &[[Word; LIMBS]]) {
        for a in xs {
            assert_eq!(X86P5::sqr(a, n, n0), Portable::sqr(a, n, n0), "sqr {a:x?}");
            for b in xs {
                assert_eq!(
                    X86P5::mul(a, b, n, n0),
                    Portable::mul(a, b, n, n0),
                    "mul {a:x?} {b:x?}"
                );
            }
        }
    }

    fn inputs(n: &[Word; LIMBS]) -> [[Word; LIMBS]; 10] {
        let mut seed = 0x9E37_79B9_7F4A_7C15 ^ u64::from(n[3]);
        let n_minus = |k: Word| {
            let mut r = *n;
            r[0] = r[0].wrapping_sub(k);
            r
        };
        let (n1, n2) = (n_minus(1), n_minus(2));
        let mut all_ones_below_n = [Word::MAX; LIMBS];
        all_ones_below_n = below(all_ones_below_n, n);
        let mut one = [0; LIMBS];
        one[0] = 1;
        [
            [0; LIMBS],
            one,
            n1,
            n2,
            all_ones_below_n,
            below(words(&mut seed), n),
            below(words(&mut seed), n),
            below(words(&mut seed), n),
            below(words(&mut seed), n),
            below(words(&mut seed), n),
        ]
    }

    #[test]
    fn matches_portable_on_the_oakley_prime() {
        let n = oakley::P.0;
        check(&n, 1, &inputs(&n));
    }

    #[test]
    fn matches_portable_on_other_moduli() {
        let mut seed = 0x0123_4567_89AB_CDEF;
        for _ in 0..8 {
            let mut n = words(&mut seed);
            n[0] |= 1;
            n[LIMBS - 1] |= 1 << 31;
            let n0 = neg_inv(n[0]);
            assert_ne!(n0, 1);
            check(&n, n0, &inputs(&n));
        }
        // A modulus with n0 = 1 but not the Oakley shape: the general path.
        let mut n = words(&mut seed);
        n[0] = Word::MAX;
        n[LIMBS - 1] |= 1 << 31;
        check(&n, 1, &inputs(&n));
        // Moduli of the Oakley shape other than the Oakley prime: the special path in
        // general (the sums of two all-ones products and their carries included).
        for _ in 0..4 {
            let mut n = words(&mut seed);
            for i in [0, 1, LIMBS - 2, LIMBS - 1] {
                n[i] = Word::MAX;
            }
            check(&n, 1, &inputs(&n));
        }
    }
}
