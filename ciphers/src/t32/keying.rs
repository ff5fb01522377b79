//! Key and IV loading (spec 2.5 and 2.6).
//!
//! Loading is one long chain: each step's feedback takes `r[4]`, into which the step
//! before folded its NLF. So the register lives in a straight window (`win[k..k + 17]`
//! after `k` steps; nothing shifts), and the position, konst and the freshly folded
//! `r[4]` are locals, so that the chain runs through registers and not through a store
//! and a reload at every step. The words the chain does not wait for are summed first.

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

/// The part of step `k`'s feedback that does not wait for `r[4]`.
#[inline(always)]
fn far(win: &[u32; WINDOW], k: usize) -> u32 {
    mul_alpha(win[k]) ^ win[k + 15]
}

/// One plain step at position `k`, whose `r[4]` is `r4`.
#[inline(always)]
fn step(win: &mut [u32; WINDOW], k: usize, r4: u32) {
    win[k + N] = mul_alpha(win[k]) ^ win[k + 15] ^ r4;
}

/// The step at position `*p`, given its feedback `far_p` without `r[4]` (`*r4`), then
/// the NLF (spec 2.4, with r[16] the new word) folded into `r[4]`; moves both on.
/// Returns `far` for the next step, worked out here while the NLF waits on its S-box
/// load, so that only the XOR with `r[4]` stays on the chain from one step to the next.
#[inline(always)]
fn step_and_fold(
    win: &mut [u32; WINDOW],
    p: &mut usize,
    r4: &mut u32,
    far_p: u32,
    konst: u32,
) -> u32 {
    let new = far_p ^ *r4;
    win[*p + N] = new;
    let k = *p + 1;
    let far_next = far(win, k);
    let side = win[k + 1].wrapping_add(win[k + 6]);
    let v = (f(win[k].wrapping_add(new)).wrapping_add(side) ^ konst).wrapping_add(win[k + 13]);
    *r4 = win[k + 4] ^ v;
    win[k + 4] = *r4;
    *p = k;
    far_next
}

/// Spec 2.5: absorbs key material of at most 32 bytes into the register at position
/// `*k`, whose `r[4]` is `*r4`; moves both on.
#[inline(always)]
fn absorb(win: &mut [u32; WINDOW], k: &mut usize, r4: &mut u32, konst: u32, m: &[u8]) {
    // Locals, so that the chain stays in registers.
    let (mut p, mut r) = (*k, *r4);
    for w in words_of(m) {
        win[p + 15] = win[p + 15].wrapping_add(w);
        let far_p = far(win, p);
        step_and_fold(win, &mut p, &mut r, far_p, konst);
    }
    // Lengths are at most 32, so the cast is exact.
    win[p + 15] = win[p + 15].wrapping_add(m.len() as u32);
    // A fold writes `r[4]` only, never the words the next `far` reads (`r[1]`, `r[16]`).
    let mut far_p = far(win, p);
    for _ in 0..N {
        far_p = step_and_fold(win, &mut p, &mut r, far_p, konst);
    }
    (*k, *r4) = (p, r);
}

/// Loads a key (1..=32 bytes) and, if given, an IV (0..=32 bytes). Returns the register
/// and konst. Lengths are checked by the caller.
pub(crate) fn load(key: &[u8], iv: Option<&[u8]>) -> ([u32; N], u32) {
    debug_assert!(!key.is_empty() && key.len() <= MAX_KEY);
    debug_assert!(iv.is_none_or(|v| v.len() <= MAX_IV));
    let mut win = [0u32; WINDOW];
    win[..N].copy_from_slice(&FIBONACCI);
    let (mut k, mut r4) = (0, FIBONACCI[4]);
    // konst is 0 while the key loads; written as a constant, the compiler drops the XOR.
    absorb(&mut win, &mut k, &mut r4, 0, key);
    step(&mut win, k, r4);
    k += 1;
    let konst = nlf(&win[k..k + N], 0);
    if let Some(iv) = iv {
        r4 = win[k + 4];
        absorb(&mut win, &mut k, &mut r4, konst, iv);
    }
    let mut r = [0u32; N];
    r.copy_from_slice(&win[k..k + N]);
    (r, konst)
}
