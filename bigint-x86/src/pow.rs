//! Exponentiation: the fixed-window `base^exp mod n` and the fixed-base comb for the
//! Oakley generator, once each, generic over a backend's number form ([`Form`]), which
//! the backend hands them through [`HasForm`]. A backend multiplies and squares (and
//! enters, leaves and looks up in its form); the loops are here.
//!
//! Layer: above `monty`, `oakley_prime`, `form`, `backends` and `paths` (the enum of
//! backends, turned into a type by [`with_arith!`]); imports nothing above them. The
//! group API (`oakley`) and the batches (`multi`) call down into it.

use zeroize::Zeroize;

use crate::Paths as _;
use crate::backends::portable::Portable;
use crate::form::{Exponentiation, Form, HasForm, OakleyExponentiation, OakleyForm};
use crate::monty::{MontyParams, SecretExponent};
use crate::oakley_prime::{COMB_COLS, comb_index};
use crate::uint::U768;
use crate::{Backend, OnThisCpu};

/// Exponent bits in the window of a table of `t` entries: `t = 2^bits`. The scalar
/// forms use five bits rather than four: 153 multiplications by table entries (and 30
/// to build the table, half of them squarings) instead of 192 (and 15), for 32-entry
/// lookups instead of 16-entry ones, which cost little beside a multiplication.
/// Measured with `modexp_min` on AMD Zen 3 (EPYC, family 25 model 1), fastest of 400
/// calls: portable 196 → 190 µs, x86_64-adc 188 → 183, x86_64-adx 137.0 → 136.5 (the
/// lookups overlap the products there; an SSE2 lookup measured no faster). Six bits
/// would take 127 multiplications but 62 to build the table, more than it saves. The
/// IFMA form keeps the four bits it was written with, and off x86 the scalar forms take
/// four too (`form::MONTY_TABLE`: less stack on microcontrollers).
const fn window_bits(t: usize) -> usize {
    assert!(t.is_power_of_two() && t >= 2 && t <= 64);
    t.trailing_zeros() as usize
}

/// Full windows below the top one, for `bits` per window: the top window holds the
/// rest of the 768 bits, between one and `bits` of them (768 = 5·153 + 3 = 4·191 + 4).
const fn full_windows(bits: usize) -> usize {
    let mut full = 0;
    while (full + 1) * bits < 768 {
        full += 1;
    }
    full
}
const _: () = assert!(full_windows(5) == 153 && full_windows(4) == 191);

/// `with_arith!(on_this_cpu, A => expr)`: evaluates `expr` with the type alias `A`
/// naming the backend type (a [`HasForm`]) of the backend that `on_this_cpu`, an
/// [`OnThisCpu`], proves this CPU runs.
macro_rules! with_arith {
    ($on_this_cpu:expr, $A:ident => $body:expr) => {{
        let proof: $crate::OnThisCpu = $on_this_cpu;
        match proof.backend() {
            $crate::Backend::Portable => {
                type $A = $crate::backends::portable::Portable;
                $body
            }
            #[cfg(target_arch = "x86")]
            $crate::Backend::X86P5 => {
                type $A = $crate::backends::x86_p5::X86P5;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::Backend::X86_64Adc => {
                type $A = $crate::backends::x86_64_adc::X86_64Adc;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::Backend::X86_64Adx => {
                type $A = $crate::backends::x86_64_adx::X86_64Adx;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::Backend::X86_64AdxZen => {
                type $A = $crate::backends::x86_64_adx_zen::X86_64AdxZen;
                $body
            }
            #[cfg(ssmail_bigint_ifma)]
            $crate::Backend::X86_64Ifma => {
                type $A = $crate::backends::ifma::single::X86_64Ifma;
                $body
            }
        }
    }};
}

/// [`window`] as an [`Exponentiation`], for [`HasForm::with_form`].
struct Window<'a> {
    base: &'a U768,
    exp: &'a SecretExponent,
}

impl Exponentiation for Window<'_> {
    type Output = U768;

    #[inline(always)]
    fn run<F: Form<W, T>, const W: usize, const T: usize>(self, form: F) -> U768 {
        window(form, self.base, self.exp)
    }
}

/// [`comb`] as an [`OakleyExponentiation`], for [`HasForm::with_oakley_form`].
struct Comb<'a> {
    r: &'a SecretExponent,
}

impl OakleyExponentiation for Comb<'_> {
    type Output = U768;

    #[inline(always)]
    fn run<F: OakleyForm<W, T>, const W: usize, const T: usize>(self, form: F) -> U768 {
        comb(form, self.r)
    }
}

/// `base^exp mod n` on `backend` (see [`MontyParams::pow`]).
pub(crate) fn pow_on(
    backend: OnThisCpu,
    params: &MontyParams,
    base: &U768,
    exp: &SecretExponent,
) -> U768 {
    with_arith!(backend, A => A::with_form(params, Window { base, exp }))
}

/// `2^r mod p` for the Oakley prime on `backend`.
pub(crate) fn oakley_public_key_on(backend: OnThisCpu, r: &SecretExponent) -> U768 {
    with_arith!(backend, A => A::with_oakley_form(Comb { r }))
}

/// `base^exp mod n` in the form `form`, in constant time (right to left into buckets
/// where the form asks for it: [`buckets_in`]; else as follows): a fixed window of
/// `log2 T` bits over all 768 exponent bits, every table entry read at every window
/// (by the form's lookup), each window's entry looked up after its squarings or,
/// where the form says so, before them. A `base >= n` is reduced on entry. The table
/// is wiped before returning (and the base and the accumulator where the form says
/// so).
// A function of its own per form, not inlined into `pow_on`: inlined, portable's shared
// secret measured 189.9 -> 193.0 µs (AMD Zen 3, `modexp_min`, fastest of 1000); the
// comb measured best inlined (portable public key 62.9 -> 65.3 as a function).
#[inline(never)]
pub(crate) fn window<F: Form<W, T>, const W: usize, const T: usize>(
    mut form: F,
    base: &U768,
    exp: &SecretExponent,
) -> U768 {
    form.within(|form| window_in(form, base, exp))
}

/// [`window`]'s loop, inlined into the form's [`Form::within`].
#[inline(always)]
fn window_in<F: Form<W, T>, const W: usize, const T: usize>(
    form: &mut F,
    base: &U768,
    exp: &SecretExponent,
) -> U768 {
    if form.buckets() {
        return buckets_in(form, base, exp);
    }
    let bits = const { window_bits(T) };
    let full = const { full_windows(window_bits(T)) };
    let top = 768 - full * bits;
    let mut b = form.enter(base);
    // table[i] = b^i.
    let mut table = [form.one(); T];
    table[1] = b;
    for i in 2..T {
        table[i] = if F::TABLE_BY_SQUARES && i & 1 == 0 {
            form.sqr(&table[i >> 1])
        } else {
            form.mul(&table[i - 1], &b)
        };
    }
    // The top window (at most `bits` bits, so its index may be below T, but the lookup
    // still reads all the entries) starts the product: one times it would be it.
    let mut acc = form.lookup(&table, exp.0.bits(full * bits, top));
    for w in (0..full).rev() {
        if F::LOOKUP_FIRST {
            let e = form.lookup(&table, exp.0.bits(w * bits, bits));
            for _ in 0..bits {
                acc = form.sqr(&acc);
            }
            acc = form.mul(&acc, &e);
        } else {
            for _ in 0..bits {
                acc = form.sqr(&acc);
            }
            let e = form.lookup(&table, exp.0.bits(w * bits, bits));
            acc = form.mul(&acc, &e);
        }
    }
    table.zeroize();
    if F::WIPE_BASE_AND_ACC {
        b.zeroize();
    }
    let y = form.leave(&acc);
    if F::WIPE_BASE_AND_ACC {
        acc.zeroize();
    }
    y
}

/// `base^exp mod n` right to left, for the forms that ask for it ([`Form::buckets`]):
/// with the exponent's windows `d_w` and `y_w = base^(2^(bits·w))`, bucket `d` gathers
/// the product of the `y_w` whose window is `d`, and the result is `Π_d bucket_d^d`
/// (Yao's method, 1976). The chain of squarings that makes the `y_w` does not wait for
/// the buckets' products: each is made beside the next squaring
/// ([`Form::sqr_and_mul`]), which a form bound by latency runs in the time of little
/// more than one; the buckets are joined two products a call too
/// ([`Form::mul_pair`]). 764 squarings, 192 such products and 29 to join the buckets
/// (14 calls of two, the first of them by one, and one more), against the table's 764
/// squarings on the chain with 191 products and 14 for the table.
/// Constant time as [`window`]: every bucket read by the form's lookup and written by
/// its [`Form::update`] at every window.
#[inline(always)]
fn buckets_in<F: Form<W, T>, const W: usize, const T: usize>(
    form: &mut F,
    base: &U768,
    exp: &SecretExponent,
) -> U768 {
    let bits = const { window_bits(T) };
    let windows = const { full_windows(window_bits(T)) + 1 };
    let mut y = form.enter(base);
    let mut buckets = [form.one(); T];
    let digit = |w: usize| {
        let at = w * bits;
        exp.0
            .bits(at, if w + 1 == windows { 768 - at } else { bits })
    };
    for w in 0..windows {
        let last = w + 1 == windows;
        let d = digit(w);
        let b = form.lookup(&buckets, d);
        // Bucket 0 takes the y_w of zero windows too, and is left out at the end.
        let product = if last {
            form.mul(&y, &b)
        } else {
            // The next square and this product in one call, where the form runs the
            // two side by side; then the window's other squarings.
            let (y2, product) = form.sqr_and_mul(&y, &b);
            y = y2;
            for _ in 1..bits {
                y = form.sqr(&y);
            }
            product
        };
        // After the squarings, when the product is long made: placed before them, the
        // update's instructions would wait for it in the reorder buffer, where the
        // squarings need the room.
        form.update(&mut buckets, d, &product);
    }
    // Π_d bucket_d^d = Π_d run_d, with run_d the product of the buckets from d up: each
    // step makes the next run and multiplies the last into the result, in one call.
    let mut run = buckets[T - 1];
    let mut acc = form.one();
    for d in (1..T - 1).rev() {
        (run, acc) = form.mul_pair(&run, &buckets[d], &acc);
    }
    let mut acc = form.mul(&acc, &run);
    buckets.zeroize();
    y.zeroize();
    run.zeroize();
    let out = form.leave(&acc);
    acc.zeroize();
    out
}

/// `2^r mod p` by a fixed-base comb (Lim and Lee, 1994) in the Oakley prime's form
/// `form`: with `r = Σ r_j·2^(128 j)`, `2^r = Π g_j^(r_j)` for the public
/// `g_j = 2^(2^(128 j))`, and one pass over the 128 bit positions squares once and
/// multiplies by the table entry that the six bits at that position of the six rows
/// pick. 127 squarings and 127 multiplications instead of 768 squarings. Constant
/// time: every position is visited, the entry is read by the form's
/// [`OakleyForm::comb_entry`] (all 64 entries), and the arithmetic is the form's.
pub(crate) fn comb<F: OakleyForm<W, T>, const W: usize, const T: usize>(
    mut form: F,
    r: &SecretExponent,
) -> U768 {
    form.within(|form| comb_in(form, r))
}

/// [`comb`]'s loop, inlined into the form's [`Form::within`].
#[inline(always)]
fn comb_in<F: OakleyForm<W, T>, const W: usize, const T: usize>(
    form: &mut F,
    r: &SecretExponent,
) -> U768 {
    // The top position's entry starts the product (one times it would be it).
    let mut acc = form.comb_entry(comb_index(r, COMB_COLS - 1));
    for i in (0..COMB_COLS - 1).rev() {
        if F::LOOKUP_FIRST {
            let e = form.comb_entry(comb_index(r, i));
            acc = form.sqr(&acc);
            acc = form.mul(&acc, &e);
        } else {
            acc = form.sqr(&acc);
            let e = form.comb_entry(comb_index(r, i));
            acc = form.mul(&acc, &e);
        }
    }
    let y = form.leave(&acc);
    if F::WIPE_BASE_AND_ACC {
        acc.zeroize();
    }
    y
}

// The exponentiations of `MontyParams` live here, above the backends they run on.
impl MontyParams {
    /// `base^exp mod n`, in constant time: a fixed 5-bit window over all 768 exponent
    /// bits, every table entry read at every window, the final subtraction masked. No
    /// branch or memory address depends on `base`, `exp` or any intermediate value.
    /// A `base >= n` is reduced first. Runs on [`Backend::default_path`](crate::Paths::default_path).
    pub fn pow(&self, base: &U768, exp: &SecretExponent) -> U768 {
        self.pow_with(Backend::default_path(), base, exp)
    }

    /// [`pow`](Self::pow) on the given backend.
    ///
    /// # Panics
    /// If `backend` cannot run on this CPU ([`Backend::is_runnable`]).
    pub fn pow_with(&self, backend: Backend, base: &U768, exp: &SecretExponent) -> U768 {
        pow_on(backend.checked(), self, base, exp)
    }

    /// `base^exp mod n`, square and multiply.
    ///
    /// NOTE: variable time: branches on the bits of `exp`, which must be public.
    pub fn pow_vartime(&self, base: &U768, exp: &U768) -> U768 {
        let b = self.enter_monty::<Portable>(base);
        let mut acc = self.monty_one();
        for i in (0..768).rev() {
            acc = self.sqr::<Portable>(&acc);
            if exp.bit(i) == 1 {
                acc = self.mul::<Portable>(&acc, &b);
            }
        }
        self.leave_monty::<Portable>(&acc)
    }
}

/// The one window loop and the one comb loop in each shape a backend's form asks for,
/// and on each backend this CPU runs, against num-bigint and the portable backend; and
/// the order of the operations in each shape, which is the order of the loop that
/// backend had of its own before the loops moved here (`MontyForm`: lookup after the
/// squarings, even entries by squaring; `x86_64_adx_zen`: lookup before; IFMA: 4-bit
/// window, every entry by a product), or of the right-to-left loop (IFMA since it
/// took that loop).
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    extern crate std;

    use core::cell::RefCell;
    use num_bigint::BigUint;
    use proptest::prelude::*;
    use std::vec::Vec;

    use super::*;
    use crate::ct;
    use crate::monty::Monty;
    use crate::oakley_prime::{COMB, P};
    use crate::word::{LIMBS, Word};

    /// A form over the portable arithmetic in any loop shape, that writes down each
    /// operation the loop asks of it: `E`nter, `M`ul, `S`qr, `P` (a square and a
    /// product together), `Q` (two products together), `L`ookup, `U`pdate, `C`omb
    /// entry, `X` (leave).
    struct Traced<'a, const T: usize, const SQUARES: bool, const FIRST: bool, const BUCKETS: bool> {
        params: &'a MontyParams,
        trace: RefCell<Vec<u8>>,
    }

    impl<'a, const T: usize, const SQUARES: bool, const FIRST: bool, const BUCKETS: bool>
        Traced<'a, T, SQUARES, FIRST, BUCKETS>
    {
        fn new(params: &'a MontyParams) -> Self {
            Self {
                params,
                trace: RefCell::new(Vec::new()),
            }
        }

        fn log(&self, op: u8) {
            self.trace.borrow_mut().push(op);
        }
    }

    impl<const T: usize, const SQUARES: bool, const FIRST: bool, const BUCKETS: bool> Form<LIMBS, T>
        for Traced<'_, T, SQUARES, FIRST, BUCKETS>
    {
        type Elem = Monty;
        const TABLE_BY_SQUARES: bool = SQUARES;
        const LOOKUP_FIRST: bool = FIRST;
        const WIPE_BASE_AND_ACC: bool = true;

        fn buckets(&self) -> bool {
            BUCKETS
        }

        fn sqr_and_mul(&mut self, a: &Monty, b: &Monty) -> (Monty, Monty) {
            self.log(b'P');
            (
                self.params.sqr::<Portable>(a),
                self.params.mul::<Portable>(a, b),
            )
        }

        fn mul_pair(&mut self, a: &Monty, b: &Monty, c: &Monty) -> (Monty, Monty) {
            self.log(b'Q');
            (
                self.params.mul::<Portable>(a, b),
                self.params.mul::<Portable>(a, c),
            )
        }

        fn update(&self, table: &mut [Monty; T], index: Word, x: &Monty) {
            self.log(b'U');
            ct::update(table, index, x)
        }

        fn enter(&mut self, x: &U768) -> Monty {
            self.log(b'E');
            self.params.enter_monty::<Portable>(x)
        }

        fn leave(&mut self, x: &Monty) -> U768 {
            self.log(b'X');
            self.params.leave_monty::<Portable>(x)
        }

        fn one(&self) -> Monty {
            self.params.monty_one()
        }

        fn mul(&mut self, a: &Monty, b: &Monty) -> Monty {
            self.log(b'M');
            self.params.mul::<Portable>(a, b)
        }

        fn sqr(&mut self, a: &Monty) -> Monty {
            self.log(b'S');
            self.params.sqr::<Portable>(a)
        }

        fn lookup(&self, table: &[Monty; T], index: Word) -> Monty {
            self.log(b'L');
            ct::lookup(table, index)
        }
    }

    impl<const T: usize, const SQUARES: bool, const FIRST: bool, const BUCKETS: bool>
        OakleyForm<LIMBS, T> for Traced<'_, T, SQUARES, FIRST, BUCKETS>
    {
        fn comb_entry(&self, index: Word) -> Monty {
            self.log(b'C');
            Monty(ct::lookup(&COMB.0, index))
        }
    }

    /// The operations of a window exponentiation with a table of `t` entries, written
    /// out from the shape rather than from the loop.
    fn window_trace(t: usize, squares: bool, first: bool) -> Vec<u8> {
        let (bits, full) = if t == 32 { (5, 153) } else { (4, 191) };
        let mut v = std::vec![b'E'];
        for i in 2..t {
            v.push(if squares && i & 1 == 0 { b'S' } else { b'M' });
        }
        v.push(b'L');
        for _ in 0..full {
            let squarings = core::iter::repeat_n(b'S', bits);
            if first {
                v.push(b'L');
                v.extend(squarings);
            } else {
                v.extend(squarings);
                v.push(b'L');
            }
            v.push(b'M');
        }
        v.push(b'X');
        v
    }

    /// The operations of the right-to-left loop with `t` buckets, written out.
    fn buckets_trace(t: usize) -> Vec<u8> {
        let (bits, full) = if t == 32 { (5, 153) } else { (4, 191) };
        let mut v = std::vec![b'E'];
        for _ in 0..full {
            v.extend_from_slice(b"LP");
            v.extend(core::iter::repeat_n(b'S', bits - 1));
            v.push(b'U');
        }
        v.extend_from_slice(b"LMU");
        v.extend(core::iter::repeat_n(b'Q', t - 2));
        v.push(b'M');
        v.push(b'X');
        v
    }

    /// The operations of the comb.
    fn comb_trace(first: bool) -> Vec<u8> {
        let mut v = std::vec![b'C'];
        for _ in 0..127 {
            v.extend_from_slice(if first { b"CSM" } else { b"SCM" });
        }
        v.push(b'X');
        v
    }

    fn big(x: &U768) -> BigUint {
        BigUint::from_bytes_be(&x.to_be_bytes())
    }

    fn u768(x: &BigUint) -> U768 {
        U768::from_be_slice(&x.to_bytes_be()).unwrap()
    }

    /// One form's shape (`SQUARES` and `FIRST` taken from the form's constants): the
    /// window's result against num-bigint and its trace against `old`, the order of
    /// the loop the backend had (table built by squares, lookup first); on the Oakley
    /// prime the same for the comb.
    fn check_shape<const T: usize, const SQUARES: bool, const FIRST: bool, const BUCKETS: bool>(
        params: &MontyParams,
        base: &U768,
        exp: &SecretExponent,
        want: &U768,
        old: (bool, bool),
    ) {
        let mut form = Traced::<T, SQUARES, FIRST, BUCKETS>::new(params);
        let got = form.within(|f| window_in(f, base, exp));
        assert_eq!(
            got, *want,
            "window: T {T}, squares {SQUARES}, first {FIRST}, buckets {BUCKETS}"
        );
        let trace = form.trace.into_inner();
        let shape = if BUCKETS {
            buckets_trace(T)
        } else {
            window_trace(T, old.0, old.1)
        };
        assert!(trace == shape, "window trace {T}, buckets {BUCKETS}");
        if params.modulus() == P {
            let want = u768(&BigUint::from(2u8).modpow(&big(&exp.0), &big(&P)));
            let mut form = Traced::<T, SQUARES, FIRST, BUCKETS>::new(params);
            let got = form.within(|f| comb_in(f, exp));
            assert_eq!(got, want, "comb: first {FIRST}");
            assert!(form.trace.into_inner() == comb_trace(old.1), "comb trace");
        }
    }

    /// Every shape on one input, and every runnable backend through `pow_on` and
    /// `oakley_public_key_on`.
    fn check(n: &U768, base: &U768, exp: &U768) {
        let params = MontyParams::new_vartime(n).unwrap();
        let e = SecretExponent(*exp);
        let want = u768(&big(base).modpow(&big(exp), &big(n)));
        // MontyForm's shape (the old `pow::window` and `pow::comb`).
        type M<'a> = crate::form::MontyForm<'a, Portable>;
        const M_T: usize = crate::form::MONTY_TABLE;
        const M_SQ: bool = <M as Form<LIMBS, M_T>>::TABLE_BY_SQUARES;
        const M_FIRST: bool = <M as Form<LIMBS, M_T>>::LOOKUP_FIRST;
        check_shape::<M_T, M_SQ, M_FIRST, false>(&params, base, &e, &want, (true, false));
        // The right-to-left loop at both table sizes, whichever form takes it.
        check_shape::<16, false, false, true>(&params, base, &e, &want, (false, false));
        check_shape::<32, false, false, true>(&params, base, &e, &want, (false, false));
        // x86_64-adx-zen's (its old `pow_lazy_in` and `public_key_lazy_in`).
        #[cfg(target_arch = "x86_64")]
        {
            type Z<'a> = crate::backends::x86_64_adx_zen::LazyForm<'a>;
            const Z_SQ: bool = <Z as Form<LIMBS, 32>>::TABLE_BY_SQUARES;
            const Z_FIRST: bool = <Z as Form<LIMBS, 32>>::LOOKUP_FIRST;
            check_shape::<32, Z_SQ, Z_FIRST, false>(&params, base, &e, &want, (true, true));
        }
        // IFMA's (its old `pow_in` and `public_key_in`; its buckets are the ones above).
        #[cfg(ssmail_bigint_ifma)]
        {
            type I = crate::backends::ifma::single::Ifma52<true>;
            const I_SQ: bool = <I as Form<16, 16>>::TABLE_BY_SQUARES;
            const I_FIRST: bool = <I as Form<16, 16>>::LOOKUP_FIRST;
            check_shape::<16, I_SQ, I_FIRST, false>(&params, base, &e, &want, (false, false));
        }
        let portable = pow_on(Backend::Portable.checked(), &params, base, &e);
        assert_eq!(portable, want, "portable");
        for b in Backend::runnable() {
            assert_eq!(pow_on(b.checked(), &params, base, &e), portable, "{b:?}");
            if *n == P {
                let want = oakley_public_key_on(Backend::Portable.checked(), &e);
                assert_eq!(oakley_public_key_on(b.checked(), &e), want, "{b:?} comb");
            }
        }
    }

    #[test]
    fn edge_inputs() {
        let mut ones = U768::ZERO;
        ones.0 = [Word::MAX; LIMBS];
        for exp in [U768::ZERO, U768::ONE, ones] {
            for base in [U768::ZERO, U768::ONE, ones] {
                check(&P, &base, &exp);
            }
        }
    }

    fn any_u768() -> impl Strategy<Value = U768> {
        proptest::collection::vec(any::<u8>(), 96).prop_map(|b| U768::from_be_slice(&b).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn every_shape_and_backend_matches_num_bigint(
            base in any_u768(),
            exp in any_u768(),
            n in any_u768(),
            oakley in any::<bool>(),
        ) {
            let mut n = n;
            n.0[0] |= 1;
            n.0[LIMBS - 1] |= 1 << (crate::word::WORD_BITS - 1);
            check(if oakley { &P } else { &n }, &base, &exp);
        }
    }
}
