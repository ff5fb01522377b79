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
//! It exponentiates in its own number form, [`LazyForm`] (the `pow` layer's generic
//! window and comb over it): each window's table entry is looked up before the
//! window's squarings, by AVX2 where the CPU has it ([`lookup_avx2`]). Same machine, `modexp_min`: shared secret
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
use crate::form::{Exponentiation, Form, HasForm, OakleyExponentiation, OakleyForm};
use crate::monty::{MontArith, MontyParams};
use crate::oakley_prime::{COMB, PARAMS};
use crate::uint::U768;
use crate::word::{LIMBS, Word, sbb};

/// The BMI2 + ADX backend with almost-Montgomery exponentiations. Reached only through
/// `with_arith!`, which checks [`is_runnable`] first (the same features as
/// `x86_64_adx`).
pub(crate) struct X86_64AdxZen;

product_then_reduce!(X86_64AdxZen, reduce);

/// The arithmetic of [`X86_64AdxZen`] with almost-Montgomery results: below `R = 2^768`
/// and congruent to the true result, but not always below `n` (for `n0 = 1`; other
/// moduli get fully reduced results). Inputs below `R` are enough (`a·b < R²`, so the
/// reduction's `u < R + n`), so the results feed each other; only [`LazyForm`] uses
/// it, whose exponentiations finish with [`below_n`]. It breaks the trait's contract
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

cpufeatures::new!(avx2_cpu, "avx2");

/// Whether this CPU has AVX2 (cached after the first call), for [`lookup_avx2`].
pub(super) fn has_avx2() -> bool {
    avx2_cpu::get()
}

/// This backend exponentiates in [`LazyForm`].
impl HasForm for X86_64AdxZen {
    fn with_form<E: Exponentiation>(params: &MontyParams, e: E) -> E::Output {
        e.run(LazyForm::new(params, has_avx2()))
    }

    fn with_oakley_form<E: OakleyExponentiation>(e: E) -> E::Output {
        e.run(LazyForm::new(&PARAMS, has_avx2()))
    }
}

/// [`Lazy`]'s values (below `R`, congruent to the Montgomery form's) as a number form:
/// the generic loops over it, with each window's (and comb position's) table entry
/// looked up before the squarings rather than after them, by AVX2 where the CPU has
/// it ([`lookup_avx2`]). Why: the lookup does not depend on the squarings, so placed
/// first it runs while the squarings' chain of dependent multiplications leaves
/// execution slots free; placed after them the multiplication by the entry waited for
/// it. A 5-bit window, the table's even entries by squaring, as `MontyForm`'s. Leaving
/// the form brings the result below `n` with one masked subtraction ([`below_n`]).
///
/// It holds the modulus by reference: the assembly is handed a pointer to `n` and may
/// (for all the compiler knows) write what it points into, so a copy of `n` inside the
/// form would make the compiler reload `n0` and `avx2` after every multiplication.
pub(crate) struct LazyForm<'a> {
    params: &'a MontyParams,
    n0: Word,
    /// Whether the lookups are [`lookup_avx2`]: true only on a CPU with AVX2.
    avx2: bool,
}

impl<'a> LazyForm<'a> {
    /// The form for the modulus of `params`, with the AVX2 lookup or without it (`avx2`
    /// true only when the CPU has AVX2; the tests run both).
    pub(super) fn new(params: &'a MontyParams, avx2: bool) -> Self {
        Self {
            params,
            n0: params.neg_inv(),
            avx2: avx2 && has_avx2(),
        }
    }

    /// The modulus.
    #[inline(always)]
    fn n(&self) -> &'a [Word; LIMBS] {
        self.params.modulus_limbs()
    }

    /// `table[index]`, every entry read: by AVX2 or by `ct::lookup`.
    #[inline(always)]
    fn select<const T: usize>(&self, table: &[[Word; LIMBS]; T], index: Word) -> [Word; LIMBS] {
        if self.avx2 {
            // SAFETY: `avx2` is true only on a CPU with AVX2 (`new` checks it).
            unsafe { lookup_avx2(table, index) }
        } else {
            ct::lookup(table, index)
        }
    }
}

impl Form<LIMBS, 32> for LazyForm<'_> {
    type Elem = [Word; LIMBS];
    const TABLE_BY_SQUARES: bool = true;
    const LOOKUP_FIRST: bool = true;
    const WIPE_BASE_AND_ACC: bool = false;

    /// Any base below `R` (also one `>= n`) gives a result below `R`.
    #[inline(always)]
    fn enter(&mut self, x: &U768) -> [Word; LIMBS] {
        Lazy::mul(&x.0, &self.params.monty_r2(), self.n(), self.n0)
    }

    #[inline(always)]
    fn leave(&mut self, x: &[Word; LIMBS]) -> U768 {
        let mut one = [0 as Word; LIMBS];
        one[0] = 1;
        let r = Lazy::mul(x, &one, self.n(), self.n0);
        U768(below_n(&r, self.n()))
    }

    #[inline(always)]
    fn one(&self) -> [Word; LIMBS] {
        // `R mod n`, below `n`, so also a lazy value.
        self.params.monty_one().0
    }

    #[inline(always)]
    fn mul(&mut self, a: &[Word; LIMBS], b: &[Word; LIMBS]) -> [Word; LIMBS] {
        Lazy::mul(a, b, self.n(), self.n0)
    }

    #[inline(always)]
    fn sqr(&mut self, a: &[Word; LIMBS]) -> [Word; LIMBS] {
        Lazy::sqr(a, self.n(), self.n0)
    }

    #[inline(always)]
    fn lookup(&self, table: &[[Word; LIMBS]; 32], index: Word) -> [Word; LIMBS] {
        self.select(table, index)
    }
}

/// Only [`X86_64AdxZen::with_oakley_form`] makes the Oakley one, with `PARAMS`.
impl OakleyForm<LIMBS, 32> for LazyForm<'_> {
    #[inline(always)]
    fn comb_entry(&self, index: Word) -> [Word; LIMBS] {
        self.select(&COMB.0, index)
    }
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
