//! x86_64 with BMI2 and ADX, for AMD Zen: `x86_64_adx`'s products and reduction rows,
//! but inside its exponentiations the results are almost-Montgomery ones (below
//! `R = 2^768`, not always below `n`): the reduction ends by subtracting `n` when its
//! carry word is set, with no comparison of the result against `n`, and one masked
//! subtraction at the end of the exponentiation brings the result below `n`. Its
//! single multiplications (the `MontArith` ones) are `x86_64_adx`'s.
//!
//! Why: the exponentiation is a chain of multiplications, each waiting for the one
//! before; the full final subtraction (a borrow chain over all twelve words, then a
//! mask, then the selection) sat between every two of them. Measured on AMD Zen 3
//! (EPYC, family 25 model 1) with `modexp_min`: 132.2 µs per shared secret against
//! `x86_64_adx`'s 137.0 (see `asmgen/x86_64.py`, `lazy_sub_regs`, for what else was
//! tried). The `x86_64_adx` schedule was measured on a Sapphire Rapids Xeon and stays
//! the choice there: [`Backend::best`](crate::Backend::best) picks by CPU vendor.
//!
//! Its exponentiation and comb are its own loops ([`pow_lazy`], [`public_key_lazy`]):
//! each window's table entry is looked up before the window's squarings, by AVX2
//! where the CPU has it ([`lookup_avx2`]). Same machine, `modexp_min`: shared secret
//! 131.7 -> 127.6–128.3 µs, public key 48.1 -> 41.0 µs.
//!
//! No branch and no address depends on the operands: no branch in the assembly but
//! the lookup's loop over every table entry, fixed offsets from pointer arguments,
//! both subtractions masked, the lookup's selection by mask. The branches on `n0` and
//! on the CPU's features are on public facts.
//!
//! The `asm!` text between the `BEGIN/END GENERATED` lines is written by
//! `bigint-x86/asmgen/x86_64.py` (`adx_reduce` with `lazy_sub_regs`).
#![allow(
    unsafe_code,
    reason = "inline assembly; each block has a SAFETY comment"
)]

use core::arch::asm;

use crate::backends::x86_64_adx::{Scratch, is_runnable, mul_product, reduce, sqr_product};
use crate::ct;
use crate::monty::{MontArith, MontyParams, SecretExponent};
use crate::oakley_prime::{COMB, COMB_COLS, P, PARAMS, comb_index};
use crate::uint::U768;
use crate::word::{LIMBS, Word, sbb};
use zeroize::Zeroize;

/// The BMI2 + ADX backend with almost-Montgomery exponentiations. Reached only through
/// `with_arith!`, which checks [`is_runnable`] first (the same features as
/// `x86_64_adx`).
pub(crate) struct X86_64AdxZen;

product_then_reduce!(X86_64AdxZen, reduce);

/// This backend's `base^exp mod n`: the window exponentiation over [`Lazy`] (results
/// below `R`, not `n`), then one masked subtraction to bring the result below `n`.
/// Called by the `pow` layer for [`X86_64AdxZen`], after `with_arith!`'s check.
pub(crate) fn pow(params: &MontyParams, base: &U768, exp: &SecretExponent) -> U768 {
    let r = pow_lazy(params, base, exp);
    U768(below_n(&r, params.modulus().as_limbs()))
}

/// This backend's `2^r mod p` for the Oakley prime: the comb over [`Lazy`], then one
/// masked subtraction. Called like [`pow`].
pub(crate) fn oakley_public_key(r: &SecretExponent) -> U768 {
    let y = public_key_lazy(r);
    U768(below_n(&y, P.as_limbs()))
}

/// The arithmetic of [`X86_64AdxZen`] with almost-Montgomery results: below `R = 2^768`
/// and congruent to the true result, but not always below `n` (for `n0 = 1`; other
/// moduli get fully reduced results). Inputs below `R` are enough (`a·b < R²`, so the
/// reduction's `u < R + n`), so the results feed each other; only the exponentiations
/// here use it, each finishing with [`below_n`]. It breaks the trait's contract
/// (results below `n`) on purpose and is not a [`Backend`](crate::Backend).
///
/// Why: the final subtraction's comparison (a borrow chain over all twelve words before
/// any word can be chosen) sat between every two multiplications of the
/// exponentiation, which depend on each other; the lazy step subtracts by the carry
/// word alone, low words first.
pub(crate) struct Lazy;

product_then_reduce!(Lazy, reduce_lazy);

/// `x mod n` for `x < 2n`, in constant time: `x - n` unless that borrows.
fn below_n(x: &[Word; LIMBS], n: &[Word; LIMBS]) -> [Word; LIMBS] {
    let mut d = [0 as Word; LIMBS];
    let mut borrow = 0;
    for j in 0..LIMBS {
        (d[j], borrow) = sbb(x[j], n[j], borrow);
    }
    ct::select(&d, x, ct::mask_bit(borrow))
}

/// `t·R⁻¹` modulo `n` for `t < R²` (in `t[0..24]`), below `R` but not always below
/// `n` when `n0 = 1` (see [`Lazy`]): `x86_64_adx`'s reduction rows with the lazy
/// ending; other moduli get `x86_64_adx`'s full reduction (`t < n·R` there, which
/// fully reduced inputs give). Destroys `t`; `t[24]` is scratch.
#[inline(always)]
fn reduce_lazy(t: &mut Scratch, n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
    debug_assert!(is_runnable());
    // The branch is on n0, which is public (it belongs to the modulus).
    if n0 != 1 {
        return reduce(t, n, n0);
    }
    let mut w = [0 as Word; LIMBS];
    // The pointer to n goes in as an integer because its register comes back as a
    // result word.
    let np = n.as_ptr() as usize as Word;
    // SAFETY: reads n[0..12] (through rsi), reads and writes t[0..25] (through rdi),
    // all at fixed offsets from pointers taken from references of those sizes. No
    // stack use. The instructions need BMI2 and ADX, which `with_arith!` checked
    // (`is_runnable`).
    unsafe {
        asm!(
            // BEGIN GENERATED reduce_n0_one_lazy
            super::x86_64_adx::reduce_rows_n0_one!(),
            "mov rdx, r12",
            "mulx r9, r10, qword ptr [rsi + 64]",
            "mov qword ptr [rdi + 64], r10",
            "mulx r9, r10, qword ptr [rsi + 72]",
            "mov qword ptr [rdi + 72], r10",
            "mulx r9, r10, qword ptr [rsi + 80]",
            "mov qword ptr [rdi + 80], r10",
            "mulx r9, r10, qword ptr [rsi + 88]",
            "mov qword ptr [rdi + 88], r10",
            "mulx rcx, r8, qword ptr [rsi]",
            "mov rax, qword ptr [rdi + 96]",
            "sub rax, r8",
            "mulx r9, r8, qword ptr [rsi + 8]",
            "mov rcx, qword ptr [rdi + 104]",
            "sbb rcx, r8",
            "mulx r10, r8, qword ptr [rsi + 16]",
            "mov r9, qword ptr [rdi + 112]",
            "sbb r9, r8",
            "mulx r11, r8, qword ptr [rsi + 24]",
            "mov r10, qword ptr [rdi + 120]",
            "sbb r10, r8",
            "mulx r12, r8, qword ptr [rsi + 32]",
            "mov r11, qword ptr [rdi + 128]",
            "sbb r11, r8",
            "mulx r13, r8, qword ptr [rsi + 40]",
            "mov r12, qword ptr [rdi + 136]",
            "sbb r12, r8",
            "mulx r14, r8, qword ptr [rsi + 48]",
            "mov r13, qword ptr [rdi + 144]",
            "sbb r13, r8",
            "mulx r15, r8, qword ptr [rsi + 56]",
            "mov r14, qword ptr [rdi + 152]",
            "sbb r14, r8",
            "mov r15, qword ptr [rdi + 160]",
            "sbb r15, qword ptr [rdi + 64]",
            "mov rsi, qword ptr [rdi + 168]",
            "sbb rsi, qword ptr [rdi + 72]",
            "mov r8, qword ptr [rdi + 176]",
            "sbb r8, qword ptr [rdi + 80]",
            "mov rdx, qword ptr [rdi + 184]",
            "sbb rdx, qword ptr [rdi + 88]",
            // END GENERATED reduce_n0_one_lazy
            inout("rdi") t.as_mut_ptr().cast::<Word>() => _,
            inout("rsi") np => w[9],
            out("rax") w[0], out("rcx") w[1], out("r9") w[2], out("r10") w[3],
            out("r11") w[4], out("r12") w[5], out("r13") w[6], out("r14") w[7],
            out("r15") w[8], out("r8") w[10], out("rdx") w[11],
            options(nostack),
        );
    }
    w
}

/// Bits per exponent window in [`pow_lazy`], as in `pow::window`.
const WINDOW: usize = 5;
/// Entries in the window table.
const TABLE: usize = 1 << WINDOW;
/// Full windows below the top one: 768 = 5·153 + 3.
const FULL_WINDOWS: usize = 153;
/// Bits in the top window.
const TOP_BITS: usize = 3;
const _: () = assert!(FULL_WINDOWS * WINDOW + TOP_BITS == 768 && TOP_BITS < WINDOW);

cpufeatures::new!(avx2_cpu, "avx2");

/// Whether this CPU has AVX2 (cached after the first call), for [`lookup_avx2`].
pub(super) fn has_avx2() -> bool {
    avx2_cpu::get()
}

/// `pow::window` over [`Lazy`] (a fixed 5-bit window, every table entry read
/// at every window), with two changes: the lookup of a window's entry comes before
/// the window's squarings rather than after them, and with AVX2 it is [`lookup_avx2`].
/// Why: the lookup does not depend on the squarings, so placed first it runs while
/// the squarings' chain of dependent multiplications leaves execution slots free;
/// placed after them the multiplication by the entry waited for it. Returns a result
/// below `R`, congruent to `base^exp` (see [`Lazy`]).
fn pow_lazy(params: &MontyParams, base: &U768, exp: &SecretExponent) -> [Word; LIMBS] {
    pow_lazy_in(params, base, exp, has_avx2())
}

/// [`pow_lazy`] with the AVX2 lookup or without it (`avx2` true only when the CPU has
/// AVX2; the tests run both).
pub(super) fn pow_lazy_in(
    params: &MontyParams,
    base: &U768,
    exp: &SecretExponent,
    avx2: bool,
) -> [Word; LIMBS] {
    let n = params.modulus();
    let (n, n0) = (n.as_limbs(), params.neg_inv());
    // Into Montgomery form: any base below R (also one >= n) gives a result below R.
    let b = Lazy::mul(&base.0, &params.monty_r2(), n, n0);
    let mut table = [[0 as Word; LIMBS]; TABLE];
    table[0] = params.monty_one().0;
    table[1] = b;
    for i in 2..TABLE {
        table[i] = if i & 1 == 0 {
            Lazy::sqr(&table[i >> 1], n, n0)
        } else {
            Lazy::mul(&table[i - 1], &b, n, n0)
        };
    }
    let lookup = |index: Word| {
        if avx2 {
            // SAFETY: `avx2` is true only on a CPU with AVX2 (the caller's contract).
            unsafe { lookup_avx2(&table, index) }
        } else {
            ct::lookup(&table, index)
        }
    };
    let mut acc = lookup(exp.0.bits(FULL_WINDOWS * WINDOW, TOP_BITS));
    for w in (0..FULL_WINDOWS).rev() {
        let e = lookup(exp.0.bits(w * WINDOW, WINDOW));
        for _ in 0..WINDOW {
            acc = Lazy::sqr(&acc, n, n0);
        }
        acc = Lazy::mul(&acc, &e, n, n0);
    }
    table.zeroize();
    let mut one = [0 as Word; LIMBS];
    one[0] = 1;
    Lazy::mul(&acc, &one, n, n0)
}

/// `pow::comb` over [`Lazy`] (the fixed-base comb, every entry of its
/// 64-entry table read at every position), with [`pow_lazy`]'s two changes: each
/// position's lookup comes before its squaring, and with AVX2 it is [`lookup_avx2`].
/// Returns a result below `R`, congruent to `2^r mod p`.
fn public_key_lazy(r: &SecretExponent) -> [Word; LIMBS] {
    public_key_lazy_in(r, has_avx2())
}

/// [`public_key_lazy`] with the AVX2 lookup or without it (`avx2` true only when the
/// CPU has AVX2; the tests run both).
pub(super) fn public_key_lazy_in(r: &SecretExponent, avx2: bool) -> [Word; LIMBS] {
    let n = PARAMS.modulus();
    let (n, n0) = (n.as_limbs(), PARAMS.neg_inv());
    let lookup = |index: Word| {
        if avx2 {
            // SAFETY: `avx2` is true only on a CPU with AVX2 (the caller's contract).
            unsafe { lookup_avx2(&COMB.0, index) }
        } else {
            ct::lookup(&COMB.0, index)
        }
    };
    let mut acc = lookup(comb_index(r, COMB_COLS - 1));
    for i in (0..COMB_COLS - 1).rev() {
        let e = lookup(comb_index(r, i));
        acc = Lazy::sqr(&acc, n, n0);
        acc = Lazy::mul(&acc, &e, n, n0);
    }
    let mut one = [0 as Word; LIMBS];
    one[0] = 1;
    Lazy::mul(&acc, &one, n, n0)
}

/// [`lookup_avx2`] if this CPU has AVX2, for the tests.
#[cfg(test)]
pub(super) fn lookup_avx2_checked<const T: usize>(
    table: &[[Word; LIMBS]; T],
    index: Word,
) -> Option<[Word; LIMBS]> {
    // SAFETY: called only when the CPU has AVX2.
    has_avx2().then(|| unsafe { lookup_avx2(table, index) })
}

/// `table[index]` by AVX2, reading every entry: a mask is all ones where the entry's
/// number equals `index` (`vpcmpeqq`), and `vpblendvb` by that mask takes the entry's
/// three ymm words into the result or keeps the result (a bitwise select, no branch).
/// The addresses and the instruction sequence are those of a loop over all `T` entries
/// whatever `index` is. The blend is one instruction per ymm word where AND then OR is
/// two: public key 41.3 -> 40.9 µs, shared secret 127.9 -> 127.4 (AMD Zen 3, fastest
/// of 300, three interleaved runs each).
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn lookup_avx2<const T: usize>(table: &[[Word; LIMBS]; T], index: Word) -> [Word; LIMBS] {
    const _: () = assert!(LIMBS * 8 == 96);
    let mut out = [0 as Word; LIMBS];
    // SAFETY: reads the T·96 bytes of `table` (96 bytes per entry, from its start, T
    // iterations) and writes the 96 bytes of `out`; unaligned ymm accesses are allowed
    // for VEX memory operands and `vmovdqu`. AVX2 is present (the caller's contract).
    // No stack use.
    unsafe {
        asm!(
            "vmovq xmm0, {index}",
            "vpbroadcastq ymm0, xmm0",
            // ymm1: the entry number in every lane; ymm2: -1, to count up by.
            "vpxor xmm1, xmm1, xmm1",
            "vpcmpeqq ymm2, ymm2, ymm2",
            "vpxor xmm3, xmm3, xmm3",
            "vpxor xmm4, xmm4, xmm4",
            "vpxor xmm5, xmm5, xmm5",
            "2:",
            "vpcmpeqq ymm6, ymm1, ymm0",
            "vpblendvb ymm3, ymm3, ymmword ptr [{t}], ymm6",
            "vpblendvb ymm4, ymm4, ymmword ptr [{t} + 32], ymm6",
            "vpblendvb ymm5, ymm5, ymmword ptr [{t} + 64], ymm6",
            "vpsubq ymm1, ymm1, ymm2",
            "add {t}, 96",
            "dec {k:e}",
            "jnz 2b",
            "vmovdqu ymmword ptr [{out}], ymm3",
            "vmovdqu ymmword ptr [{out} + 32], ymm4",
            "vmovdqu ymmword ptr [{out} + 64], ymm5",
            "vzeroupper",
            index = in(reg) index,
            t = inout(reg) table.as_ptr() => _,
            k = inout(reg) T => _,
            out = in(reg) out.as_mut_ptr(),
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            options(nostack),
        );
    }
    out
}
