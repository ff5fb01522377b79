//! A backend's number form: the values its multiplication and squaring work on
//! ([`Form`]), the Oakley prime's form with the comb table in it ([`OakleyForm`]), and
//! which form each backend exponentiates in ([`HasForm`]; by default [`MontyForm`],
//! `Monty` values through the backend's [`MontArith`]).
//!
//! A backend supplies only what its form makes its own: into and out of the form,
//! one, a multiplication, a squaring, a constant-time table lookup, and the place
//! where its instructions are enabled. The exponentiation loops that run over any
//! form are one layer up (`pow`), once each; a form says with three constants how
//! its loop is shaped (the window's table size, how the table is built, whether a
//! window's lookup comes before its squarings), so that each backend runs the loop
//! it was measured with.
//!
//! A backend hands its form to a loop through [`Exponentiation`] (a loop of the layer
//! above, passed down as a value), so that no backend calls up and a backend with
//! more than one kind of form (IFMA: the Oakley prime's reduction or the general one)
//! can pick one per modulus.
//!
//! Layer: above `monty` and `oakley_prime`; imports `word`, `ct`, `uint`, `monty`,
//! `oakley_prime`, nothing above.

use core::marker::PhantomData;
use zeroize::Zeroize;

use crate::ct::{self, Words};
use crate::monty::{MontArith, Monty, MontyParams};
use crate::oakley_prime::{COMB, PARAMS};
use crate::uint::U768;
use crate::word::{LIMBS, Word};

/// A backend's arithmetic in its own number form, for one modulus: `W` words a value,
/// window tables of `T` entries (a power of two: `T = 2^bits` of exponent per window).
///
/// Contract: every value the methods return is one the others accept, whatever
/// sequence of them an exponentiation runs; [`leave`](Self::leave) returns the fully
/// reduced plain number. No branch and no memory address depends on a value (only on
/// the public modulus and on the constants below).
pub(crate) trait Form<const W: usize, const T: usize> {
    /// A value in this form.
    type Elem: Copy + Words<W> + Zeroize;

    /// Whether the window table's even entries are squares of the entry at half the
    /// index (cheaper than a product where the squaring is), rather than every entry
    /// the one below it times the base.
    const TABLE_BY_SQUARES: bool;

    /// Whether a window's (and a comb position's) table entry is looked up before its
    /// squarings rather than after them: the lookup then runs while the squarings'
    /// chain of dependent multiplications leaves execution slots free.
    const LOOKUP_FIRST: bool;

    /// Whether the loops also wipe the base and the accumulator when they finish (the
    /// table they always wipe): the IFMA loop did; the scalar ones did not, and on
    /// the portable backend the two wipes measured 1-1.5% slower (AMD Zen 3,
    /// `modexp_min`: they keep the values in memory rather than registers).
    const WIPE_BASE_AND_ACC: bool;

    /// `x` in this form; any 768-bit `x` (also `x >= n`).
    fn enter(&mut self, x: &U768) -> Self::Elem;

    /// Out of this form: the plain number, below `n`.
    fn leave(&mut self, x: &Self::Elem) -> U768;

    /// One in this form.
    fn one(&self) -> Self::Elem;

    /// `a·b` in this form.
    fn mul(&mut self, a: &Self::Elem, b: &Self::Elem) -> Self::Elem;

    /// `a²` in this form.
    fn sqr(&mut self, a: &Self::Elem) -> Self::Elem;

    /// Whether the exponentiation runs right to left into buckets (`pow::buckets_in`)
    /// rather than left to right over a table of the base's powers: a fact of the
    /// form and the CPU, never of a value.
    #[inline(always)]
    fn buckets(&self) -> bool {
        false
    }

    /// `(a², a·b)` in this form.
    #[inline(always)]
    fn sqr_and_mul(&mut self, a: &Self::Elem, b: &Self::Elem) -> (Self::Elem, Self::Elem) {
        (self.sqr(a), self.mul(a, b))
    }

    /// `(a·b, a·c)` in this form.
    #[inline(always)]
    fn mul_pair(
        &mut self,
        a: &Self::Elem,
        b: &Self::Elem,
        c: &Self::Elem,
    ) -> (Self::Elem, Self::Elem) {
        (self.mul(a, b), self.mul(a, c))
    }

    /// `table[index]`, reading every entry so that no address depends on `index`.
    #[inline(always)]
    fn lookup(&self, table: &[Self::Elem; T], index: Word) -> Self::Elem {
        ct::lookup(table, index)
    }

    /// `table[index] = x`, writing every entry so that no address depends on `index`.
    #[inline(always)]
    fn update(&self, table: &mut [Self::Elem; T], index: Word, x: &Self::Elem) {
        ct::update(table, index, x)
    }

    /// Runs `f`, an exponentiation over this form, where the backend's instructions
    /// are enabled, so that the loop and its lookups compile with them (by default it
    /// just calls `f`).
    #[inline(always)]
    fn within<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        f(self)
    }
}

/// The form of the Oakley prime, with the fixed-base comb table in it.
pub(crate) trait OakleyForm<const W: usize, const T: usize>: Form<W, T> {
    /// Entry `index` of the comb table (`oakley_prime::COMB_TABLE`) in this form,
    /// reading every entry so that no address depends on `index`.
    fn comb_entry(&self, index: Word) -> Self::Elem;
}

/// An exponentiation over any [`Form`] (the loops' layer implements it), handed to a
/// backend's [`HasForm::with_form`].
pub(crate) trait Exponentiation {
    /// What it returns.
    type Output;
    /// Runs it over `form`.
    fn run<F: Form<W, T>, const W: usize, const T: usize>(self, form: F) -> Self::Output;
}

/// An exponentiation over an [`OakleyForm`], handed to [`HasForm::with_oakley_form`].
pub(crate) trait OakleyExponentiation {
    /// What it returns.
    type Output;
    /// Runs it over `form`.
    fn run<F: OakleyForm<W, T>, const W: usize, const T: usize>(self, form: F) -> Self::Output;
}

/// The form a backend exponentiates in. The defaults are [`MontyForm`] over the
/// backend's [`MontArith`]; a backend with a form of its own overrides both.
pub(crate) trait HasForm: MontArith + Sized {
    /// Runs `e` over this backend's form for the modulus of `params`.
    #[inline(always)]
    fn with_form<E: Exponentiation>(params: &MontyParams, e: E) -> E::Output {
        e.run(MontyForm::<Self>::new(params))
    }

    /// Runs `e` over this backend's form for the Oakley prime.
    #[inline(always)]
    fn with_oakley_form<E: OakleyExponentiation>(e: E) -> E::Output {
        e.run(MontyForm::<Self>::new(&PARAMS))
    }
}

/// Entries in [`MontyForm`]'s window table on x86: 32 (a 5-bit window; why five, at
/// `pow::window_bits`).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub(crate) const MONTY_TABLE: usize = 32;
/// Elsewhere (microcontrollers) 16, a 4-bit window: the table, on the stack, is 1.5 KiB
/// instead of 3 KiB. It takes about 3 % more products and yet fewer instructions on a
/// Cortex-M4F (QEMU mps2-an386, `firmware/README.md`: shared secret 4,036 → 2,500 bytes
/// of stack, 9.69 → 9.53 million instructions), where every lookup, which reads all the
/// entries, costs more beside a product than on x86.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
pub(crate) const MONTY_TABLE: usize = 16;

/// `Monty` values (`R = 2^768`, fully reduced) through the [`MontArith`] `A`: the form
/// of every backend without one of its own. A 5-bit window on x86 (4-bit elsewhere:
/// [`MONTY_TABLE`]), its table's even entries by squaring, each lookup after its
/// squarings.
pub(crate) struct MontyForm<'a, A> {
    params: &'a MontyParams,
    arith: PhantomData<A>,
}

impl<'a, A: MontArith> MontyForm<'a, A> {
    /// The form for the modulus of `params`.
    #[inline(always)]
    pub(crate) fn new(params: &'a MontyParams) -> Self {
        Self {
            params,
            arith: PhantomData,
        }
    }
}

impl<A: MontArith> Form<LIMBS, MONTY_TABLE> for MontyForm<'_, A> {
    type Elem = Monty;
    const TABLE_BY_SQUARES: bool = true;
    const LOOKUP_FIRST: bool = false;
    const WIPE_BASE_AND_ACC: bool = false;

    #[inline(always)]
    fn enter(&mut self, x: &U768) -> Monty {
        self.params.enter_monty::<A>(x)
    }

    #[inline(always)]
    fn leave(&mut self, x: &Monty) -> U768 {
        self.params.leave_monty::<A>(x)
    }

    #[inline(always)]
    fn one(&self) -> Monty {
        self.params.monty_one()
    }

    #[inline(always)]
    fn mul(&mut self, a: &Monty, b: &Monty) -> Monty {
        self.params.mul::<A>(a, b)
    }

    #[inline(always)]
    fn sqr(&mut self, a: &Monty) -> Monty {
        self.params.sqr::<A>(a)
    }
}

/// Only [`HasForm::with_oakley_form`] makes this form's Oakley one, with `PARAMS`.
impl<A: MontArith> OakleyForm<LIMBS, MONTY_TABLE> for MontyForm<'_, A> {
    #[inline(always)]
    fn comb_entry(&self, index: Word) -> Monty {
        // The table's words are in Montgomery form (see `oakley_prime`).
        Monty(ct::lookup(&COMB.0, index))
    }
}
