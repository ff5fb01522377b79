//! x86_64 AVX-512 IFMA, one exponentiation at a time: a number's fifteen 52-bit limbs
//! lie across the lanes of two zmm registers, and `vpmadd52luq`/`vpmadd52huq` add eight
//! limb products at once. Montgomery arithmetic runs with `R' = 2^780`; values stay
//! below `2^779` between multiplications (`a·b/R' + n < 2^778 + 2^768` for `a, b <
//! 2^779`), so nothing is subtracted until the end, as in the multi-buffer kernels.
//!
//! One multiplication, in two phases:
//! - The product: for each limb `a_i`, broadcast from memory, times `b` moved up `i`
//!   lanes (a `valignq` of `b`'s two registers and zeros; a load of a padded copy would
//!   wait for the stores that wrote it), low halves in place and high halves one lane
//!   up, into four accumulators per 8-limb block so that no chain of dependent
//!   `vpmadd52` is longer than eight. The squaring computes each cross product once,
//!   under lane masks (written as masked instructions: the intrinsics come out as an
//!   unmasked one and a port-5 blend), doubles, and adds the diagonal apart from that
//!   chain.
//! - The reduction: its chain, where each digit `y_k = t_k·n0 mod 2^52` needs the one
//!   before, runs in general registers. A digit's value is its vector sum, read from
//!   memory (each step stores one block into its own slot), plus the near terms: the
//!   low and high halves of `y·n_1` and `y·n_2` and the low half of `y·n_3` for the
//!   three digits before, which the scalar side computes itself (two `mulx` and one
//!   `imul` a digit; `n_j·2^12` as the factor gives both halves without a `shld`).
//!   The vector side adds all farther terms from copies of `n` with the near limbs
//!   zeroed while the chain goes on: a digit's vector part is complete four digits
//!   before it is read. For the Oakley prime (`n0 = 1`, low limb all ones) `y_k = t_k
//!   mod 2^52` and `y·n_0` is a carry (`t + y·(2^52 - 1) = (t >> 52)·2^52 + y·2^52`).
//!   The upper half then has its carries propagated: one shift-and-add pass, then the
//!   single-bit carries by carry lookahead on the lanes' compare masks.
//!
//! Why this split: measured on the Sapphire Rapids this was written on, the code is
//! bound by ports 0, 1 and 5 (the 512-bit IFMA units share 0 and 5 with the scalar
//! ALUs, and `mulx` takes 1 and 5) as much as by the chain. Three near digits was the
//! fastest: with two, the vector side's four-step lag became the chain; with four, the
//! scalar products crowd port 1. On the Xeon reported as family 6 model 167 the
//! multiply-adds use about a third of the two IFMA ports and the bound is latency: the
//! scalar chain and the vector side's path through memory, nearly balanced (the loop
//! measurements and what was tried are in benches/README.md).
//!
//! Two multiplications in one call ([`mont_pair`]: a squaring and a product of the same
//! `a`, or two products of it) share the broadcasts of `a`'s limbs and run their
//! reductions a digit of each in turn, so that the two scalar chains fill each other's
//! idle slots. The exponentiation's right-to-left loop (`pow::buckets_in`) uses it to
//! make each bucket's product beside a squaring of the chain, where the core has the
//! room ([`buckets_here`]).
//!
//! Constant time by construction: straight-line code (every loop runs a fixed count
//! over public indices), every address a fixed offset from a pointer, table lookups
//! read every entry and select with a compare-to-mask and a blend, and the
//! carry lookahead is arithmetic on mask values, not a branch. Which path runs
//! (Oakley-shaped or general) depends on the public modulus only. valgrind cannot run
//! AVX-512, so the statistical timing bench (`benches/benches/ct_dudect.rs`) checks it.
#![allow(
    unsafe_code,
    reason = "SIMD intrinsics and loads; every block says why it is sound"
)]

use core::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_alignr_epi64, _mm512_and_si512, _mm512_cmpeq_epi64_mask,
    _mm512_cmpgt_epu64_mask, _mm512_load_si512, _mm512_loadu_si512, _mm512_mask_add_epi64,
    _mm512_or_si512, _mm512_permutexvar_epi64, _mm512_set_epi64, _mm512_set1_epi64,
    _mm512_setzero_si512, _mm512_srli_epi64, _mm512_storeu_si512,
};
use zeroize::Zeroize;

use super::limbs52::{
    K, L64, M52, OAKLEY, Params52, hi, lo, shift_mod, to52, to64, unroll, unroll_k,
};
use crate::backends::portable::reduce_below_2n;
use crate::ct::Words;
use crate::form::{Exponentiation, Form, HasForm, OakleyExponentiation, OakleyForm};
use crate::monty::{MontArith, MontyParams};
use crate::oakley_prime::{self as oakley, COMB_ENTRIES, COMB_TABLE};
use crate::uint::U768;
use crate::word::{LIMBS, Word};

type V = __m512i;

cpufeatures::new!(ifma_cpuid, "avx512f", "avx512ifma", "bmi2");

/// Whether this CPU (and OS) runs the backend: AVX-512F, AVX-512 IFMA and BMI2.
pub(crate) fn is_runnable() -> bool {
    ifma_cpuid::get()
}

/// A number as 52-bit limbs, limb 15 zero: two zmm registers' worth, aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Num52([u64; 16]);

impl Num52 {
    const ZERO: Self = Self([0; 16]);

    /// From normalised limbs.
    const fn from_limbs(x: &[u64; K]) -> Self {
        let mut out = [0; 16];
        let mut j = 0;
        while j < K {
            out[j] = x[j];
            j += 1;
        }
        Self(out)
    }

    /// The limbs (the value must be normalised and below `2^780`).
    fn limbs(&self) -> [u64; K] {
        core::array::from_fn(|j| self.0[j])
    }
}

/// A number in lanes 16..32 of 48, zeros either side, so that any 8-lane window of it
/// moved up or down by up to 16 lanes is one unaligned load.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Padded([u64; 48]);

impl Padded {
    /// `x` with its limbs below `from` zeroed.
    const fn of(x: &[u64; K], from: usize) -> Self {
        let mut out = [0; 48];
        let mut j = from;
        while j < K {
            out[16 + j] = x[j];
            j += 1;
        }
        Self(out)
    }
}

/// Digits after the current one whose terms the reduction's scalar side adds itself.
const NEAR: usize = 3;
const _: () = assert!(NEAR == 3, "the scalar side is written out for three limbs");

/// Where the padded number's limbs are: lanes 16 to 30.
const FIRST: usize = 16;
const LAST: usize = FIRST + K - 1;

/// A modulus in the kernel's form.
#[derive(Clone, Copy)]
pub(crate) struct Modulus52 {
    /// The limbs.
    n: [u64; K],
    /// `-n⁻¹ mod 2^52`.
    n0: u64,
    /// Whether `n0 = 1` and limb 0 is all ones (the Oakley prime's shape).
    low_ones: bool,
    /// Limbs 1 and 2 times `2^12`, for [`mul52_up`].
    up: [u64; 2],
    /// `n` without limbs 0 to NEAR, for the vector side's low halves (`j > NEAR`).
    far_lo: Padded,
    /// `n` without limbs 0 to NEAR - 1, for its high halves (`j >= NEAR`).
    far_hi: Padded,
}

impl Modulus52 {
    /// From the 64-bit limbs of an odd `n` and `-n⁻¹ mod 2^64`.
    const fn new(n64: &[u64; L64], n0: u64) -> Self {
        let n = to52(n64);
        let n0 = n0 & M52;
        Self {
            n,
            n0,
            low_ones: n0 == 1 && n[0] == M52,
            up: [n[1] << 12, n[2] << 12],
            far_lo: Padded::of(&n, NEAR + 1),
            far_hi: Padded::of(&n, NEAR),
        }
    }
}

/// The Oakley prime's, at compile time.
const OAKLEY52: Modulus52 = Modulus52::new(&oakley::P.0, 1);
const _: () = assert!(OAKLEY52.low_ones);
// The Oakley form leaves by subtracting `OAKLEY.n64`: it must be the prime.
const _: () = {
    let mut j = 0;
    while j < L64 {
        assert!(OAKLEY.n64[j] == oakley::P.0[j]);
        j += 1;
    }
};

/// The kernel's form of `n`: worked out at compile time for the Oakley prime, else
/// now. `n` is public; comparing it is no leak.
fn modulus52(n: &[u64; L64], n0: u64) -> Modulus52 {
    if *n == oakley::P.0 {
        OAKLEY52
    } else {
        Modulus52::new(n, n0)
    }
}

/// `masked!(name, "instruction", doc)`: `a + lo52/hi52(b·c)` in the lanes of `k`, `a`
/// in the others, as one masked instruction (the intrinsics come out as an unmasked
/// one and a blend, a port-5 shuffle).
macro_rules! masked {
    ($name:ident, $insn:literal, $doc:literal) => {
        #[doc = $doc]
        #[inline]
        #[target_feature(enable = "avx512f,avx512ifma")]
        fn $name(a: V, k: u8, b: V, c: V) -> V {
            let mut a = a;
            // SAFETY: register operands only; the instruction needs AVX-512 IFMA,
            // which is enabled.
            unsafe {
                core::arch::asm!(
                    concat!($insn, " {a}{{{k}}}, {b}, {c}"),
                    a = inout(zmm_reg) a,
                    k = in(kreg) k,
                    b = in(zmm_reg) b,
                    c = in(zmm_reg) c,
                    options(pure, nomem, nostack, preserves_flags),
                );
            }
            a
        }
    };
}

masked!(
    masked_lo,
    "vpmadd52luq",
    "`a + lo52(b·c)` in the lanes of `k`, `a` in the others."
);
masked!(
    masked_hi,
    "vpmadd52huq",
    "`a + hi52(b·c)` in the lanes of `k`, `a` in the others."
);

/// `a + b`, lane by lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn add(a: V, b: V) -> V {
    _mm512_add_epi64(a, b)
}

/// The eight lanes of `p` starting at lane `at`.
#[inline]
#[target_feature(enable = "avx512f")]
fn window(p: &Padded, at: usize) -> V {
    assert!(at + 8 <= 48);
    // SAFETY: `at + 8 <= 48` (a constant after unrolling), so the 64 bytes read are
    // inside `p`; unaligned loads are allowed; AVX-512F is enabled.
    unsafe { _mm512_loadu_si512(p.0.as_ptr().add(at).cast()) }
}

/// Lanes `at..at + 8` of the six registers `x`, by one lane shift (`valignq`).
#[inline]
#[target_feature(enable = "avx512f")]
fn lanes(x: &[V; 6], at: usize) -> V {
    let (lo, hi) = (x[at >> 3], x[(at >> 3) + 1]);
    match at & 7 {
        0 => lo,
        1 => _mm512_alignr_epi64::<1>(hi, lo),
        2 => _mm512_alignr_epi64::<2>(hi, lo),
        3 => _mm512_alignr_epi64::<3>(hi, lo),
        4 => _mm512_alignr_epi64::<4>(hi, lo),
        5 => _mm512_alignr_epi64::<5>(hi, lo),
        6 => _mm512_alignr_epi64::<6>(hi, lo),
        _ => _mm512_alignr_epi64::<7>(hi, lo),
    }
}

/// `x[i]` in every lane, broadcast straight from memory by the load port (the compiler
/// would otherwise take it out of a register it holds, with port-5 shuffles).
#[inline]
#[target_feature(enable = "avx512f")]
fn splat_at<const N: usize>(x: &[u64; N], i: usize) -> V {
    assert!(i < N);
    let v: V;
    // SAFETY: `i < N` (checked), so the 8 bytes read are inside `x`; the instruction
    // needs AVX-512F, which is enabled; it touches no other memory, no flags, no stack.
    unsafe {
        core::arch::asm!(
            "vpbroadcastq {v}, qword ptr [{p}]",
            v = out(zmm_reg) v,
            p = in(reg) x.as_ptr().add(i),
            options(nostack, preserves_flags, readonly),
        );
    }
    v
}

/// Whether lanes `at..at + 8` of a padded number reach a limb from `from` up.
const fn reaches(at: usize, from: usize) -> bool {
    at <= LAST && at + 7 >= FIRST + from
}

/// The two halves of a [`Num52`].
#[inline]
#[target_feature(enable = "avx512f")]
fn load(x: &Num52) -> [V; 2] {
    // SAFETY: `x` is 128 bytes aligned to 64; AVX-512F is enabled.
    unsafe {
        [
            _mm512_load_si512(x.0.as_ptr().cast()),
            _mm512_load_si512(x.0.as_ptr().add(8).cast()),
        ]
    }
}

/// `x` into `out[at..at + 8]`.
#[inline]
#[target_feature(enable = "avx512f")]
fn store<const N: usize>(out: &mut [u64; N], at: usize, x: V) {
    assert!(at + 8 <= N);
    // SAFETY: `at + 8 <= N` (checked), so the 64 bytes written are inside `out`; the
    // store is unaligned (every caller's is aligned in fact, at no cost); AVX-512F is
    // enabled.
    unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(at).cast(), x) }
}

/// The reduction's scratch: the slots through which the scalar side reads the vector
/// side's sums (see `reduce!`), and the digits `y` on their way to a broadcast. They
/// hold secret intermediates: whoever owns them wipes them ([`Slots::wipe`]).
#[repr(C, align(64))]
struct Slots {
    sums: [u64; 8 * (K - NEAR)],
    ys: [u64; K],
}

impl Slots {
    const fn new() -> Self {
        Self {
            sums: [0; 8 * (K - NEAR)],
            ys: [0; K],
        }
    }

    fn wipe(&mut self) {
        self.sums.zeroize();
        self.ys.zeroize();
    }
}

/// `x[at]`, as a load: the compiler would otherwise take the lane out of the register
/// it stored (two more vector-port instructions where the load port is idle).
#[inline(always)]
fn read<const N: usize>(x: &[u64; N], at: usize) -> u64 {
    assert!(at < N);
    // SAFETY: `at < N` (checked), so the pointer is to an initialised u64 of `x`.
    unsafe { core::ptr::read_volatile(x.as_ptr().add(at)) }
}

/// `y·n` for `y < 2^52` and `n_up = n·2^12`, `n < 2^52`: the low and high 52 bits,
/// as the low 64 bits shifted down and the high 64 bits of `y·n_up` (no `shld`).
#[inline(always)]
fn mul52_up(y: u64, n_up: u64) -> (u64, u64) {
    let p = u128::from(y) * u128::from(n_up);
    ((p as u64) >> 12, (p >> 64) as u64)
}

/// `y·n` for `y, n < 2^52`: the low and high 52 bits.
#[inline(always)]
fn mul52(y: u64, n: u64) -> (u64, u64) {
    let p = u128::from(y) * u128::from(n);
    ((p as u64) & M52, (p >> 52) as u64)
}

/// `reduce!(t, m, tm)`: Montgomery reduction of a product in four blocks of eight limbs
/// (each below `2^58`, the value below `2^779·2^780`): `t/R' mod n`, below `2^779`,
/// normalised, for the caller's `LOW_ONES`. `reduce_start!`, `reduce_digit!` for
/// each digit, `reduce_finish!`: in three so that [`mont_pair`] can run two
/// reductions' digits in turn. Their state is the caller's variables, named by it.
/// Macros so that they are compiled into each multiplication, with no call between (a
/// `#[target_feature]` function cannot be `#[inline(always)]`).
macro_rules! reduce {
    ($t:expr, $m:expr, $tm:expr) => {{
        let m: &Modulus52 = $m;
        let tm: &mut Slots = $tm;
        reduce_start!($t, tm => ul, uh, carry, first, near);
        unroll_k!(k {
            reduce_digit!(k, m, tm => ul, uh, carry, first, near);
        });
        reduce_finish!(ul, uh, carry, first, near)
    }};
}

/// The start of `reduce!`: its state for the product `t`, as new variables.
macro_rules! reduce_start {
    ($t:expr, $tm:expr => $ul:ident, $uh:ident, $carry:ident, $first:ident, $near:ident) => {
        let t: [V; 4] = $t;
        // The scalar chain reads digit k from memory: for k <= NEAR from the product's
        // first block, else from the copy of k's block stored at step k - NEAR - 1,
        // each step into its own slot, so that a read waits on that store only.
        store(&mut $tm.sums, 0, t[0]);
        // The vector side's terms: low halves onto the product, high halves apart, so
        // that a step lengthens each chain of dependent `vpmadd52` by one.
        let mut $ul = t;
        let mut $uh = [_mm512_setzero_si512(); 4];
        // The scalar side's terms: `first`, the low half of y_(k-1)·n_1, for digit k (on
        // the chain, so added last), and `near[d]`, the rest for digit k + d.
        let mut $carry = 0u64;
        let mut $first = 0u64;
        let mut $near = [0u64; NEAR];
    };
}

/// Digit `k` of `reduce!` (a constant after unrolling).
macro_rules! reduce_digit {
    ($k:ident, $m:expr, $tm:expr => $ul:ident, $uh:ident, $carry:ident, $first:ident, $near:ident) => {{
        let k: usize = $k;
        let m: &Modulus52 = $m;
        let n = &m.n;
        let at = if k <= NEAR { k } else { 8 * (k - NEAR) + (k & 7) };
        let d = read(&$tm.sums, at) + $near[0] + $carry + $first;
        let y;
        if LOW_ONES {
            y = d & M52;
            $carry = (d >> 52) + y;
        } else {
            y = d.wrapping_mul(m.n0) & M52;
            let (l0, h0) = mul52(y, n[0]);
            $carry = ((d + l0) >> 52) + h0;
        }
        let (l1, h1) = mul52_up(y, m.up[0]);
        let (l2, h2) = mul52_up(y, m.up[1]);
        $first = l1;
        $near = [$near[1], $near[2] + h1 + l2, h2 + (y.wrapping_mul(n[3]) & M52)];
        // Through memory: a load-port broadcast, not the port-5 one from a register.
        $tm.ys[k] = y;
        let yv = splat_at(&$tm.ys, k);
        unroll!(v in [0 1 2 3] {
            let at = FIRST + 8 * v - k;
            if reaches(at, NEAR + 1) {
                $ul[v] = lo($ul[v], yv, window(&m.far_lo, at));
            }
            if reaches(at - 1, NEAR) {
                $uh[v] = hi($uh[v], yv, window(&m.far_hi, at - 1));
            }
        });
        // Digit k + NEAR + 1 has all its vector terms now.
        if k + NEAR + 1 < K {
            let v = (k + NEAR + 1) >> 3;
            store(&mut $tm.sums, 8 * (k + 1), add($ul[v], $uh[v]));
        }
    }};
}

/// The end of `reduce!`: the result from its state.
macro_rules! reduce_finish {
    ($ul:ident, $uh:ident, $carry:ident, $first:ident, $near:ident) => {{
        let s: [V; 4] = core::array::from_fn(|v| add($ul[v], $uh[v]));
        // Digits 15..31 are the result's 0..16.
        let r0 = _mm512_alignr_epi64::<7>(s[2], s[1]);
        let r1 = _mm512_alignr_epi64::<7>(s[3], s[2]);
        // The scalar side's last terms go into lanes 0..3, each broadcast and added under
        // a one-lane mask (in parallel, where building one vector of them is a chain).
        let r0 = _mm512_mask_add_epi64(
            r0,
            0b001,
            r0,
            _mm512_set1_epi64(($near[0] + $carry + $first) as i64),
        );
        let r0 = _mm512_mask_add_epi64(r0, 0b010, r0, _mm512_set1_epi64($near[1] as i64));
        let r0 = _mm512_mask_add_epi64(r0, 0b100, r0, _mm512_set1_epi64($near[2] as i64));
        let [r0, r1] = normalize([r0, r1]);
        let mut out = Num52::ZERO;
        store(&mut out.0, 0, r0);
        store(&mut out.0, 8, r1);
        out
    }};
}

/// `acc` plus block `v`'s terms of `a_i·x` (`x` padded in registers as `xz`, as in
/// `Padded`): lane `l` gets the low half of `a_i·x_(8v + l - i)` and the high half of
/// `a_i·x_(8v + l - i - 1)`. `v` and `i` are constants after unrolling.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn product_terms(acc: V, ai: V, xz: &[V; 6], v: usize, i: usize) -> V {
    let at = FIRST + 8 * v - i;
    let mut acc = acc;
    if reaches(at, 0) {
        acc = lo(acc, ai, lanes(xz, at));
    }
    if reaches(at - 1, 0) {
        acc = hi(acc, ai, lanes(xz, at - 1));
    }
    acc
}

/// [`product_terms`] of `a_i·a` for a squaring, for `a_i·a_j` with `j > i` only: the
/// low half at limb `i + j` (above `2i`), the high half at limb `i + j + 1` (above
/// `2i + 1`), under lane masks.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn cross_terms(acc: V, ai: V, az: &[V; 6], v: usize, i: usize) -> V {
    let at = FIRST + 8 * v - i;
    let mut acc = acc;
    let low = lanes_from(v, 2 * i + 1);
    if reaches(at, 0) && low == 0xff {
        acc = lo(acc, ai, lanes(az, at));
    } else if reaches(at, 0) && low != 0 {
        acc = masked_lo(acc, low, ai, lanes(az, at));
    }
    let high = lanes_from(v, 2 * i + 2);
    if reaches(at - 1, 0) && high == 0xff {
        acc = hi(acc, ai, lanes(az, at - 1));
    } else if reaches(at - 1, 0) && high != 0 {
        acc = masked_hi(acc, high, ai, lanes(az, at - 1));
    }
    acc
}

/// A squaring's block `v` from the sum of its cross products: doubled, plus the squares
/// on the diagonal. Block v's limbs 8v..8v+8 take a_i² for i = 4v..4v+4: each a_i
/// twice, in lanes 2(i - 4v) (low half) and 2(i - 4v) + 1 (high half).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn square_block(cross: V, a: [V; 2], v: usize) -> V {
    let zero = _mm512_setzero_si512();
    let o = 4 * (v & 1) as i64;
    let pick = _mm512_set_epi64(o + 3, o + 3, o + 2, o + 2, o + 1, o + 1, o, o);
    let x = _mm512_permutexvar_epi64(pick, if v < 2 { a[0] } else { a[1] });
    // Apart from the cross products, so as not to lengthen their chain.
    let diagonal = masked_hi(masked_lo(zero, 0x55, x, x), 0xaa, x, x);
    add(add(cross, cross), diagonal)
}

/// `a·b/R' mod n`, below `2^779`, for `a·b < 2^779·2^780` (both below `2^779`, or `a`
/// below `2^780` and `b` below `2^768`), limbs normalised.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512ifma,bmi2")]
fn mont_mul<const LOW_ONES: bool>(a: &Num52, b: &Num52, m: &Modulus52, tm: &mut Slots) -> Num52 {
    let zero = _mm512_setzero_si512();
    let [b0, b1] = load(b);
    // b padded as in `Padded`, in registers: its windows are lane shifts, not loads
    // (a load spanning two fresh stores would wait for them to reach the cache).
    let bz = [zero, zero, b0, b1, zero, zero];
    // Accumulator [v][i & 3] gathers limbs 8v..8v+8 of a_i·b.
    let mut acc = [[zero; 4]; 4];
    unroll_k!(i {
        let ai = splat_at(&a.0, i);
        unroll!(v in [0 1 2 3] {
            acc[v][i & 3] = product_terms(acc[v][i & 3], ai, &bz, v, i);
        });
    });
    let t = core::array::from_fn(|v| add(add(acc[v][0], acc[v][1]), add(acc[v][2], acc[v][3])));
    reduce!(t, m, tm)
}

/// The lanes `l` of block `v` whose limb `8v + l` is above `at_least - 1`.
const fn lanes_from(v: usize, at_least: usize) -> u8 {
    if at_least <= 8 * v {
        0xff
    } else if at_least >= 8 * v + 8 {
        0
    } else {
        0xff << (at_least - 8 * v)
    }
}

/// `a²/R' mod n`, below `2^779`, for `a < 2^779`, limbs normalised: each cross
/// product once (masked multiply-adds over the same windows as [`mont_mul`]),
/// doubled, then the squares on the diagonal.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512ifma,bmi2")]
fn mont_sqr<const LOW_ONES: bool>(a: &Num52, m: &Modulus52, tm: &mut Slots) -> Num52 {
    let zero = _mm512_setzero_si512();
    let [a0, a1] = load(a);
    let az = [zero, zero, a0, a1, zero, zero];
    let mut acc = [[zero; 4]; 4];
    unroll_k!(i {
        let ai = splat_at(&a.0, i);
        unroll!(v in [0 1 2 3] {
            acc[v][i & 3] = cross_terms(acc[v][i & 3], ai, &az, v, i);
        });
    });
    let t = core::array::from_fn(|v| {
        let cross = add(add(acc[v][0], acc[v][1]), add(acc[v][2], acc[v][3]));
        square_block(cross, [a0, a1], v)
    });
    reduce!(t, m, tm)
}

/// `(a·c/R' mod n, a·b/R' mod n)` with `c = a` when `SQUARE` (`c` is then not read),
/// each as [`mont_mul`] or [`mont_sqr`] gives it, for the same bounds: the two
/// products over one broadcast of each `a_i`, then the two reductions a digit of each
/// in turn, so that the core runs two chains where one kernel alone is bound by one.
#[inline(never)]
#[target_feature(enable = "avx512f,avx512ifma,bmi2")]
fn mont_pair<const LOW_ONES: bool, const SQUARE: bool>(
    a: &Num52,
    b: &Num52,
    c: &Num52,
    m: &Modulus52,
    tm: &mut [Slots; 2],
) -> (Num52, Num52) {
    let zero = _mm512_setzero_si512();
    let [a0, a1] = load(a);
    let [b0, b1] = load(b);
    let [c0, c1] = if SQUARE { [a0, a1] } else { load(c) };
    let bz = [zero, zero, b0, b1, zero, zero];
    let cz = [zero, zero, c0, c1, zero, zero];
    // Two accumulators a block for each product (four each would not fit in registers).
    let mut first = [[zero; 2]; 4];
    let mut second = [[zero; 2]; 4];
    unroll_k!(i {
        let ai = splat_at(&a.0, i);
        unroll!(v in [0 1 2 3] {
            first[v][i & 1] = if SQUARE {
                cross_terms(first[v][i & 1], ai, &cz, v, i)
            } else {
                product_terms(first[v][i & 1], ai, &cz, v, i)
            };
            second[v][i & 1] = product_terms(second[v][i & 1], ai, &bz, v, i);
        });
    });
    let tf: [V; 4] = core::array::from_fn(|v| {
        let sum = add(first[v][0], first[v][1]);
        if SQUARE {
            square_block(sum, [a0, a1], v)
        } else {
            sum
        }
    });
    let ts: [V; 4] = core::array::from_fn(|v| add(second[v][0], second[v][1]));
    let [tf_m, ts_m] = tm;
    reduce_start!(tf, tf_m => ful, fuh, fcarry, ffirst, fnear);
    reduce_start!(ts, ts_m => sul, suh, scarry, sfirst, snear);
    unroll_k!(k {
        reduce_digit!(k, m, tf_m => ful, fuh, fcarry, ffirst, fnear);
        reduce_digit!(k, m, ts_m => sul, suh, scarry, sfirst, snear);
    });
    (
        reduce_finish!(ful, fuh, fcarry, ffirst, fnear),
        reduce_finish!(sul, suh, scarry, sfirst, snear),
    )
}

/// Sixteen limbs (each below `2^63`) with the carries propagated: every limb below
/// `2^52`. The value must be below `2^832`.
#[inline]
#[target_feature(enable = "avx512f")]
fn normalize(x: [V; 2]) -> [V; 2] {
    let mask = _mm512_set1_epi64(M52 as i64);
    let zero = _mm512_setzero_si512();
    // One pass: each limb's bits above 52 move up a lane. Limbs are then at most
    // 2^52 + 2^11, so every carry left is a single bit.
    let c0 = _mm512_srli_epi64::<52>(x[0]);
    let c1 = _mm512_srli_epi64::<52>(x[1]);
    let x0 = add(
        _mm512_and_si512(x[0], mask),
        _mm512_alignr_epi64::<7>(c0, zero),
    );
    let x1 = add(
        _mm512_and_si512(x[1], mask),
        _mm512_alignr_epi64::<7>(c1, c0),
    );
    // Carry lookahead over the 16 lanes as bits: a limb above 2^52 - 1 generates a
    // carry, a limb of exactly 2^52 - 1 passes one on; adding the generated carries
    // (moved up one) to the passing runs ripples them through, and the xor leaves
    // the carry into each lane.
    let generate = u32::from(_mm512_cmpgt_epu64_mask(x0, mask))
        | (u32::from(_mm512_cmpgt_epu64_mask(x1, mask)) << 8);
    let pass = u32::from(_mm512_cmpeq_epi64_mask(x0, mask))
        | (u32::from(_mm512_cmpeq_epi64_mask(x1, mask)) << 8);
    let into = ((generate << 1) + pass) ^ pass;
    let one = _mm512_set1_epi64(1);
    let x0 = _mm512_mask_add_epi64(x0, into as u8, x0, one);
    let x1 = _mm512_mask_add_epi64(x1, (into >> 8) as u8, x1, one);
    [_mm512_and_si512(x0, mask), _mm512_and_si512(x1, mask)]
}

/// One, as 52-bit limbs.
const ONE: Num52 = {
    let mut x = [0; 16];
    x[0] = 1;
    Num52(x)
};

/// `b` in the lanes of `k`, `a` in the others (`vpblendmq`), opaque to the compiler:
/// as intrinsics, a blend between a load and a store to the same place became a masked
/// store, whose cost may depend on its mask, and the lookup's four blends chains of
/// masked stores to the stack.
#[inline]
#[target_feature(enable = "avx512f")]
fn blend(a: V, k: u8, b: V) -> V {
    let out: V;
    // SAFETY: register operands only; the instruction needs AVX-512F, which is enabled.
    unsafe {
        core::arch::asm!(
            "vpblendmq {out}{{{k}}}, {a}, {b}",
            out = lateout(zmm_reg) out,
            k = in(kreg) k,
            a = in(zmm_reg) a,
            b = in(zmm_reg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// `table[index]` (`T` a multiple of 4), reading every entry and keeping one by a
/// compare-to-mask and a blend.
#[inline]
#[target_feature(enable = "avx512f")]
fn lookup<const T: usize>(table: &[Num52; T], index: Word) -> Num52 {
    let want = _mm512_set1_epi64(index as i64);
    // Four chains of blends (only one entry matches, so the others stay zero and an
    // `or` joins them), not one chain as long as the table; four entries a step, so
    // that each chain's index is a constant and its value stays in registers.
    let mut out = [[_mm512_setzero_si512(); 2]; 4];
    for (c, four) in table.chunks_exact(4).enumerate() {
        unroll!(j in [0 1 2 3] {
            let hit = _mm512_cmpeq_epi64_mask(want, _mm512_set1_epi64((4 * c + j) as i64));
            let x = load(&four[j]);
            out[j][0] = blend(out[j][0], hit, x[0]);
            out[j][1] = blend(out[j][1], hit, x[1]);
        });
    }
    let join = |h: usize| {
        _mm512_or_si512(
            _mm512_or_si512(out[0][h], out[1][h]),
            _mm512_or_si512(out[2][h], out[3][h]),
        )
    };
    let mut r = Num52::ZERO;
    store(&mut r.0, 0, join(0));
    store(&mut r.0, 8, join(1));
    r
}

/// `table[index] = x`: every entry loaded, blended with `x` under a compare-to-mask and
/// stored back whole, so that every entry is written whatever `index` is.
#[inline]
#[target_feature(enable = "avx512f")]
fn update<const T: usize>(table: &mut [Num52; T], index: Word, x: &Num52) {
    let want = _mm512_set1_epi64(index as i64);
    let [x0, x1] = load(x);
    for (e, entry) in table.iter_mut().enumerate() {
        let hit = _mm512_cmpeq_epi64_mask(want, _mm512_set1_epi64(e as i64));
        let [y0, y1] = load(entry);
        store(&mut entry.0, 0, blend(y0, hit, x0));
        store(&mut entry.0, 8, blend(y1, hit, x1));
    }
}

/// Whether the exponentiations here run right to left into buckets (`pow::buckets_in`,
/// each bucket's product made beside a squaring by [`mont_pair`]) rather than over a
/// table: on Intel, where the two kernels' chains run side by side (measured on the
/// Xeon reported as family 6 model 167, two 512-bit IFMA ports: with one squaring in
/// four paired with a product, the chain took about the time of its squarings alone,
/// and the shared secret 0.96-0.97 of the table loop's time). Elsewhere the table loop, which is all that
/// has run on AMD's IFMA cores (Zen 4, Zen 5): where the multiply-adds are the bound
/// rather than the chains, the buckets' 14 more products and their updates would be
/// slower. The vendor is public, and cached after the first call.
fn buckets_here() -> bool {
    ssmail_cpu::vendor() == ssmail_cpu::Vendor::Intel
}

/// This backend's number form for one modulus: values as 52-bit limbs in Montgomery
/// form for `R' = 2^780`, below `2^779` between multiplications (nothing subtracted
/// until [`leave`](Form::leave)), through [`mont_mul`] and [`mont_sqr`] with the
/// reduction `LOW_ONES` picks (the Oakley prime's shape, or the general one). A 4-bit
/// window (16-entry tables for [`lookup`]), and one of two loops ([`buckets_here`]):
/// right to left into 16 buckets ([`update`] writes them), or over a table, every
/// entry the one below it times the base, each lookup after its squarings (the loop
/// this backend was written and measured with). For the table loop, a 5-bit window
/// (`Form<16, 32>`) was measured no faster on an Intel Xeon with IFMA (KVM, family 6
/// model 167; criterion `dh/x86_64-ifma/shared_secret` 66.4 against 66.2 µs, 66.0
/// with the lookup before the squarings): the 22 multiplications it saves are spent
/// in the 32-entry lookups.
///
/// Made only by [`X86_64Ifma`]'s [`HasForm`] methods, which `with_arith!` reaches only
/// under an `OnThisCpu` proof that the CPU has AVX-512F, IFMA and BMI2: that is what
/// makes its calls of the kernels sound.
pub(crate) struct Ifma52<const LOW_ONES: bool> {
    m: Modulus52,
    p: Params52,
    /// The kernels' scratch, wiped when the form is left; the second for
    /// [`mont_pair`]'s second reduction.
    tm: [Slots; 2],
    /// Whether the exponentiation runs right to left into buckets (see
    /// [`buckets_here`]).
    buckets: bool,
}

impl<const LOW_ONES: bool> Ifma52<LOW_ONES> {
    /// The form for `m` and `p` (one modulus), `LOW_ONES` as `m.low_ones`, its
    /// exponentiation's loop as `buckets` says.
    fn new(m: Modulus52, p: Params52, buckets: bool) -> Self {
        debug_assert_eq!(m.low_ones, LOW_ONES);
        Self {
            m,
            p,
            tm: [Slots::new(), Slots::new()],
            buckets,
        }
    }
}

impl Words<16> for Num52 {
    #[inline(always)]
    fn words(&self) -> &[Word; 16] {
        &self.0
    }

    #[inline(always)]
    fn from_words(words: [Word; 16]) -> Self {
        Self(words)
    }
}

impl Zeroize for Num52 {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

/// Runs `f` with AVX-512F, IFMA and BMI2 enabled, so that the loop that `f` holds is
/// compiled into one function with them, its lookups inlined, as the loops this
/// backend had of its own were.
#[target_feature(enable = "avx512f,avx512ifma,bmi2")]
fn with_ifma<S, R>(s: &mut S, f: impl FnOnce(&mut S) -> R) -> R {
    f(s)
}

impl<const LOW_ONES: bool> Form<16, 16> for Ifma52<LOW_ONES> {
    type Elem = Num52;
    const TABLE_BY_SQUARES: bool = false;
    const LOOKUP_FIRST: bool = false;
    const WIPE_BASE_AND_ACC: bool = true;

    #[inline(always)]
    fn buckets(&self) -> bool {
        self.buckets
    }

    /// `base < 2^768` and `R'² mod n < 2^768`: the product bound holds for any base.
    #[inline]
    fn enter(&mut self, x: &U768) -> Num52 {
        // SAFETY: the CPU has AVX-512F, IFMA and BMI2 (see `Ifma52`).
        unsafe {
            mont_mul::<LOW_ONES>(
                &Num52::from_limbs(&to52(&x.0)),
                &Num52::from_limbs(&self.p.rr),
                &self.m,
                &mut self.tm[0],
            )
        }
    }

    /// `x/R'` with `x < 2^779` is at most `n` (`n` exactly when `x ≡ 0`): one
    /// subtraction. Wipes the scratch.
    #[inline]
    fn leave(&mut self, x: &Num52) -> U768 {
        // SAFETY: as in `enter`.
        let y = unsafe { mont_mul::<LOW_ONES>(x, &ONE, &self.m, &mut self.tm[0]) };
        self.tm[0].wipe();
        self.tm[1].wipe();
        U768(reduce_below_2n(&to64(&y.limbs()), 0, &self.p.n64))
    }

    #[inline(always)]
    fn one(&self) -> Num52 {
        Num52::from_limbs(&self.p.one)
    }

    #[inline]
    fn mul(&mut self, a: &Num52, b: &Num52) -> Num52 {
        // SAFETY: as in `enter`.
        unsafe { mont_mul::<LOW_ONES>(a, b, &self.m, &mut self.tm[0]) }
    }

    #[inline]
    fn sqr(&mut self, a: &Num52) -> Num52 {
        // SAFETY: as in `enter`.
        unsafe { mont_sqr::<LOW_ONES>(a, &self.m, &mut self.tm[0]) }
    }

    #[inline]
    fn update(&self, table: &mut [Num52; 16], index: Word, x: &Num52) {
        // SAFETY: as in `enter` (AVX-512F).
        unsafe { update(table, index, x) }
    }

    #[inline]
    fn sqr_and_mul(&mut self, a: &Num52, b: &Num52) -> (Num52, Num52) {
        // SAFETY: as in `enter`.
        unsafe { mont_pair::<LOW_ONES, true>(a, b, a, &self.m, &mut self.tm) }
    }

    #[inline]
    fn mul_pair(&mut self, a: &Num52, b: &Num52, c: &Num52) -> (Num52, Num52) {
        // SAFETY: as in `enter`.
        unsafe { mont_pair::<LOW_ONES, false>(a, c, b, &self.m, &mut self.tm) }
    }

    #[inline]
    fn lookup(&self, table: &[Num52; 16], index: Word) -> Num52 {
        // SAFETY: as in `enter` (AVX-512F).
        unsafe { lookup(table, index) }
    }

    #[inline(always)]
    fn within<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        // SAFETY: as in `enter`.
        unsafe { with_ifma(self, f) }
    }
}

/// The Oakley comb table ([`COMB_TABLE`]) in this backend's Montgomery form:
/// each entry times `2^12` (`R' = 2^12·R`), as 52-bit limbs. Worked out at compile time.
static COMB52: [Num52; COMB_ENTRIES] = {
    let mut t = [Num52::ZERO; COMB_ENTRIES];
    let mut m = 0;
    while m < t.len() {
        t[m] = Num52::from_limbs(&to52(&shift_mod(&COMB_TABLE[m], 12, &oakley::P.0)));
        m += 1;
    }
    t
};

/// Only [`X86_64Ifma::with_oakley_form`] makes the Oakley one, with [`OAKLEY52`].
impl OakleyForm<16, 16> for Ifma52<true> {
    #[inline]
    fn comb_entry(&self, index: Word) -> Num52 {
        // SAFETY: as in `Ifma52::enter` (AVX-512F).
        unsafe { lookup(&COMB52, index) }
    }
}

/// `a·b/R mod n` (`R = 2^768`), fully reduced, through the 52-bit kernel: `a·2^12`
/// times `b` over `R' = 2^780`. `a·b < n·R` keeps the result below `2n`.
#[target_feature(enable = "avx512f,avx512ifma,bmi2")]
fn mul64<const LOW_ONES: bool>(
    a: &[u64; L64],
    b: &[u64; L64],
    m: &Modulus52,
    n: &[u64; L64],
) -> [u64; L64] {
    let x = to52(a);
    let mut shifted = [0; K];
    for j in 0..K {
        let below = if j == 0 { 0 } else { x[j - 1] >> 40 };
        shifted[j] = ((x[j] << 12) & M52) | below;
    }
    let mut tm = Slots::new();
    let y = mont_mul::<LOW_ONES>(
        &Num52::from_limbs(&shifted),
        &Num52::from_limbs(&to52(b)),
        m,
        &mut tm,
    );
    tm.wipe();
    let limbs = y.limbs();
    // Bit 768 is bit 40 of limb 14, which to64 leaves out.
    reduce_below_2n(&to64(&limbs), limbs[K - 1] >> 40, n)
}

/// The IFMA backend. Its Montgomery multiplication over 64-bit limbs converts to and
/// from 52-bit limbs on every call; its exponentiations stay in 52-bit limbs ([`Ifma52`]).
pub(crate) struct X86_64Ifma;

impl MontArith for X86_64Ifma {
    fn mul(a: &[Word; LIMBS], b: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        let m = modulus52(n, n0);
        // SAFETY: reached only through `with_arith!`, whose `OnThisCpu` proof says the
        // CPU has AVX-512F, IFMA and BMI2.
        unsafe {
            if m.low_ones {
                mul64::<true>(a, b, &m, n)
            } else {
                mul64::<false>(a, b, &m, n)
            }
        }
    }

    fn sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        Self::mul(a, a, n, n0)
    }
}

/// This backend exponentiates in [`Ifma52`], all in 52-bit limbs.
impl HasForm for X86_64Ifma {
    fn with_form<E: Exponentiation>(params: &MontyParams, e: E) -> E::Output {
        let modulus = params.modulus();
        // Both forms of the Oakley prime's constants are worked out at compile time.
        let (m, p) = if modulus == oakley::P {
            (OAKLEY52, OAKLEY)
        } else {
            (
                Modulus52::new(&modulus.0, params.neg_inv()),
                Params52::new(params),
            )
        };
        if m.low_ones {
            e.run(Ifma52::<true>::new(m, p, buckets_here()))
        } else {
            e.run(Ifma52::<false>::new(m, p, buckets_here()))
        }
    }

    fn with_oakley_form<E: OakleyExponentiation>(e: E) -> E::Output {
        // The comb has one loop: no vendor to ask.
        e.run(Ifma52::<true>::new(OAKLEY52, OAKLEY, false))
    }
}

/// The kernels at the edges of their bounds (inputs up to `2^779 - 1`, not only the
/// reduced values the exponentiation reaches), against num-bigint.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    extern crate std;

    use super::*;
    use crate::backends::ifma::limbs52::testing::{self, SEED, edge_values, random};
    use num_bigint::BigUint;

    fn big(x: &Num52) -> BigUint {
        testing::big(&x.0)
    }

    /// The shared edge values, limbs of ones under zeros, and six pseudo-random ones.
    fn values(n: &[u64; K]) -> std::vec::Vec<Num52> {
        let mut ones_then_zeros = [0; K];
        ones_then_zeros[..7].copy_from_slice(&[M52; 7]);
        let mut v = std::vec::Vec::from(edge_values(n));
        v.push(ones_then_zeros);
        let mut state = SEED;
        for _ in 0..6 {
            v.push(random(&mut state));
        }
        v.iter().map(Num52::from_limbs).collect()
    }

    /// Limb 15 zero, and the shared check.
    fn check(got: &Num52, want_times_r: &BigUint, n: &BigUint, what: &str) {
        assert_eq!(got.0[15], 0, "{what}: limb 15");
        testing::check(&got.0, want_times_r, n, what);
    }

    #[target_feature(enable = "avx512f,avx512ifma,bmi2")]
    fn mul_and_sqr<const LOW_ONES: bool>(m: &Modulus52) {
        let nb = big(&Num52::from_limbs(&m.n));
        let vals = values(&m.n);
        let mut tm = Slots::new();
        let mut pair = [Slots::new(), Slots::new()];
        for a in &vals {
            for b in &vals {
                let got = mont_mul::<LOW_ONES>(a, b, m, &mut tm);
                check(&got, &(big(a) * big(b)), &nb, "mul");
                let (sq, pr) = mont_pair::<LOW_ONES, true>(a, b, a, m, &mut pair);
                check(&sq, &(big(a) * big(a)), &nb, "pair's square");
                check(&pr, &(big(a) * big(b)), &nb, "pair's product");
                let c = &vals[(vals.len() - 1) * usize::from(a.0 == b.0)];
                let (ac, ab) = mont_pair::<LOW_ONES, false>(a, b, c, m, &mut pair);
                check(&ac, &(big(a) * big(c)), &nb, "pair's first product");
                check(&ab, &(big(a) * big(b)), &nb, "pair's second product");
            }
            let got = mont_sqr::<LOW_ONES>(a, m, &mut tm);
            check(&got, &(big(a) * big(a)), &nb, "sqr");
        }
    }

    #[test]
    fn kernels_at_their_bounds() {
        if !is_runnable() {
            return;
        }
        // A modulus with n0 != 1 for the general reduction: p - 2.
        let mut q = oakley::P;
        q.0[0] -= 2;
        let general = modulus52(&q.0, MontyParams::new_vartime(&q).unwrap().neg_inv());
        assert!(!general.low_ones);
        // SAFETY: the CPU has AVX-512F, IFMA and BMI2, checked above.
        unsafe {
            mul_and_sqr::<true>(&OAKLEY52);
            mul_and_sqr::<false>(&OAKLEY52);
            mul_and_sqr::<false>(&general);
        }
    }

    /// Both loops this form can run (the table, the buckets) on the real kernels, for
    /// the Oakley prime and a general modulus, against the portable backend: whichever
    /// one this CPU picks, the other is tested too.
    #[test]
    fn both_loops_match_portable() {
        if !is_runnable() {
            return;
        }
        let mut q = oakley::P;
        q.0[0] -= 2;
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut word = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [oakley::P, q] {
            let params = MontyParams::new_vartime(&n).unwrap();
            let m = modulus52(&n.0, params.neg_inv());
            let p = Params52::new(&params);
            for round in 0..12 {
                let mut base = U768(core::array::from_fn(|_| word()));
                let mut exp = U768(core::array::from_fn(|_| word()));
                // Edges: a base of zero, one and n - 1; an exponent of zero, all ones,
                // and one window's digit everywhere.
                match round {
                    0 => base = U768::ZERO,
                    1 => exp = U768::ZERO,
                    2 => exp = U768([Word::MAX; LIMBS]),
                    3 => exp = U768([0x1111_1111_1111_1111; LIMBS]),
                    4 => {
                        base = n;
                        base.0[0] -= 1;
                    }
                    5 => base.0 = core::array::from_fn(|j| u64::from(j == 0)),
                    _ => {}
                }
                let exp = crate::monty::SecretExponent(exp);
                let want = params.pow_with(crate::Backend::Portable, &base, &exp);
                for buckets in [false, true] {
                    let got = if m.low_ones {
                        crate::pow::window(Ifma52::<true>::new(m, p, buckets), &base, &exp)
                    } else {
                        crate::pow::window(Ifma52::<false>::new(m, p, buckets), &base, &exp)
                    };
                    assert_eq!(got, want, "round {round}, buckets {buckets}");
                }
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    fn normalized(x: [u64; 16]) -> Num52 {
        let mut src = Num52(x);
        let v = normalize(load(&src));
        store(&mut src.0, 0, v[0]);
        store(&mut src.0, 8, v[1]);
        src
    }

    #[test]
    fn carries_ripple_through_every_lane() {
        if !is_runnable() {
            return;
        }
        // Limbs of all ones with a carry into the bottom: it must ripple to the top.
        let mut x = [M52; 16];
        x[15] = 0;
        x[0] = M52 + 1;
        // SAFETY: the CPU has AVX-512F, checked above.
        let got = unsafe { normalized(x) };
        let mut want = [0; 16];
        want[15] = 1;
        assert_eq!(got.0, want);
        // Large limbs (the first pass's multi-bit carries) beside passing runs.
        let x: [u64; 16] = core::array::from_fn(|j| match j & 3 {
            0 => (1 << 62) + 12345,
            1 | 2 => M52,
            _ => 7,
        });
        // SAFETY: as above.
        let got = unsafe { normalized(x) };
        assert!(got.0.iter().all(|&l| l <= M52));
        let mask = (BigUint::from(1u8) << (52 * 16)) - 1u8;
        assert_eq!(testing::big(&got.0), testing::big(&x) & mask);
    }
}
