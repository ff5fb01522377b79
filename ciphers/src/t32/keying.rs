//! Key and IV loading (docs/t32.md §2.5 and §2.6).
//!
//! Loading is one long chain: each step's feedback takes `r[4]`, into which the step
//! before folded its NLF. The register lives in a straight window (`win[k..k + 17]`
//! after `k` steps; nothing shifts). Everything a step needs that does not wait for the
//! previous NLF (`Ahead`) is worked out one step early, so that only six operations lie
//! on the chain from one NLF to the next, and the values on it stay in registers. This
//! is what puts a t32 key setup at a tenth of an RC4 one.

use super::nlf::{FIBONACCI, N, f, nlf, words_of};
use super::tables::mul_alpha;

/// Longest key, in bytes.
pub(crate) const MAX_KEY: usize = 32;
/// Longest IV, in bytes.
pub(crate) const MAX_IV: usize = 32;

/// Steps that one `absorb` of at most 32 bytes takes: 8 words plus 17 diffusion steps.
const ABSORB_STEPS: usize = (MAX_KEY >> 2) + N;
/// Window size: the register, a key absorb, the konst step and an IV absorb.
const WINDOW: usize = N + ABSORB_STEPS + 1 + ABSORB_STEPS;
/// What the seventeen diffusion steps of one absorb touch: the register and 17 more.
const DIFFUSION_VIEW: usize = 2 * N;

/// The part of step `k`'s feedback that does not wait for `r[4]`.
#[inline(always)]
fn far<const W: usize>(win: &[u32; W], k: usize) -> u32 {
    mul_alpha(win[k]) ^ win[k + 15]
}

/// One plain step at position `k`.
#[inline(always)]
fn step(win: &mut [u32; WINDOW], k: usize) {
    win[k + N] = far(win, k) ^ win[k + 4];
}

/// What one step of the chain needs that does not wait for the step before it, worked
/// out one step ahead while the chain waits on its S-box load.
#[derive(Clone, Copy)]
struct Ahead {
    /// The step's feedback, but for the fold of the step before (`win` holds the fold).
    early: u32,
    /// `r[0]` for the NLF after the step.
    r0: u32,
    /// `r[1] + r[6]` for that NLF.
    r1_r6: u32,
    /// `r[13]` for that NLF.
    r13: u32,
}

impl Ahead {
    /// For the step at position `p`, whose `r[4]` is `win[p + 4]`.
    #[inline(always)]
    fn at<const W: usize>(win: &[u32; W], p: usize) -> Self {
        let k = p + 1;
        Self {
            early: far(win, p) ^ win[p + 4],
            r0: win[k],
            r1_r6: win[k + 1].wrapping_add(win[k + 6]),
            r13: win[k + 13],
        }
    }
}

/// The step at position `*p`, then the NLF (docs/t32.md §2.4, with r[16] the new word) folded
/// into `r[4]`; moves `*p` on. `fold` is the last fold, which `win` already holds in
/// `r[4]` but `a.early` lacks. Returns the next step's `Ahead` and fold. On the chain from
/// one NLF to the next are only: XOR, add, shift, S-box load, XOR, add (with konst zero).
#[inline(always)]
fn step_and_fold<const KONST_ZERO: bool, const W: usize>(
    win: &mut [u32; W],
    p: &mut usize,
    a: Ahead,
    fold: u32,
    konst: u32,
) -> (Ahead, u32) {
    let new = a.early ^ fold;
    win[*p + N] = new;
    let k = *p + 1;
    let next = Ahead::at(win, k);
    let fx = f(a.r0.wrapping_add(new));
    let v = if KONST_ZERO {
        // (f + r1 + r6) ^ 0 + r13, with the sum that does not wait for f made first.
        fx.wrapping_add(a.r1_r6.wrapping_add(a.r13))
    } else {
        (fx.wrapping_add(a.r1_r6) ^ konst).wrapping_add(a.r13)
    };
    // `next.early` read r[4] before this fold: the fold comes back as `v`.
    win[k + 4] ^= v;
    *p = k;
    (next, v)
}

/// docs/t32.md §2.5: absorbs key material of at most 32 bytes into the register at position
/// `*k`; moves it on. `KONST_ZERO` says that `konst` is zero (the key, not an IV).
#[inline(always)]
fn absorb<const KONST_ZERO: bool>(win: &mut [u32; WINDOW], k: &mut usize, konst: u32, m: &[u8]) {
    // A local position, so that the chain stays in registers.
    let mut p = *k;
    for w in words_of(m) {
        win[p + 15] = win[p + 15].wrapping_add(w);
        let a = Ahead::at(win, p);
        step_and_fold::<KONST_ZERO, WINDOW>(win, &mut p, a, 0, konst);
    }
    // Lengths are at most 32, so the cast is exact.
    win[p + 15] = win[p + 15].wrapping_add(m.len() as u32);
    // The seventeen diffusion steps run over a fixed-size view of the window, so that
    // every index is a constant: no bounds checks, no index arithmetic.
    let view: &mut [u32; DIFFUSION_VIEW] = (&mut win[p..p + DIFFUSION_VIEW])
        .try_into()
        .expect("the window has room for the diffusion steps");
    // A fold writes `r[4]` only; what `Ahead` reads at the next position it does not
    // change but through `early`, which gets the fold back separately.
    let (mut a, mut fold, mut q) = (Ahead::at(view, 0), 0, 0);
    // Written out seventeen times rather than looped (one expansion per listed number):
    // with every position a constant, the steps need no loop counter and no register
    // shuffling between iterations, which measured about 7% faster.
    macro_rules! seventeen_times {
        ($($n:literal)*) => {
            $(
                let _ = $n;
                (a, fold) =
                    step_and_fold::<KONST_ZERO, DIFFUSION_VIEW>(view, &mut q, a, fold, konst);
            )*
        };
    }
    seventeen_times!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
    let _ = (a, fold);
    *k = p + q;
}

/// Loads a key (1..=32 bytes) and, if given, an IV (0..=32 bytes). Returns the register
/// and konst. Lengths are checked by the caller.
pub(crate) fn load(key: &[u8], iv: Option<&[u8]>) -> ([u32; N], u32) {
    debug_assert!(!key.is_empty() && key.len() <= MAX_KEY);
    debug_assert!(iv.is_none_or(|v| v.len() <= MAX_IV));
    let mut win = [0u32; WINDOW];
    win[..N].copy_from_slice(&FIBONACCI);
    let mut k = 0;
    // konst is 0 while the key loads; written as a constant, the compiler drops the XOR.
    absorb::<true>(&mut win, &mut k, 0, key);
    step(&mut win, k);
    k += 1;
    let konst = nlf(&win[k..k + N], 0);
    if let Some(iv) = iv {
        absorb::<false>(&mut win, &mut k, konst, iv);
    }
    let mut r = [0u32; N];
    r.copy_from_slice(&win[k..k + N]);
    (r, konst)
}
