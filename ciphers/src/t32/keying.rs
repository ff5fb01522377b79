//! Key and IV loading (spec 2.5 and 2.6) on a straight window instead of a shifting
//! register: step `k` appends one word, and the register is always `win[k..k + 17]`.

use super::nlf::{FIBONACCI, N, feedback, nlf, words_of};
use zeroize::Zeroize;

/// Longest key, in bytes.
pub(crate) const MAX_KEY: usize = 32;
/// Longest IV, in bytes.
pub(crate) const MAX_IV: usize = 32;

/// Steps that one `absorb` of at most 32 bytes takes: 8 words plus 17 diffusion steps.
const ABSORB_STEPS: usize = MAX_KEY / 4 + N;
/// Window size: the register, a key absorb, the konst step and an IV absorb.
const WINDOW: usize = N + ABSORB_STEPS + 1 + ABSORB_STEPS;

/// A register being loaded.
struct Loader {
    win: [u32; WINDOW],
    k: usize,
    konst: u32,
}

impl Loader {
    #[inline(always)]
    fn step(&mut self) {
        let k = self.k;
        self.win[k + N] = feedback(self.win[k], self.win[k + 4], self.win[k + 15]);
        self.k = k + 1;
    }

    #[inline(always)]
    fn nlf(&self) -> u32 {
        nlf(&self.win[self.k..self.k + N], self.konst)
    }

    #[inline(always)]
    fn step_and_fold(&mut self) {
        self.step();
        let v = self.nlf();
        self.win[self.k + 4] ^= v;
    }

    fn absorb(&mut self, m: &[u8]) {
        debug_assert!(m.len() <= MAX_KEY);
        for w in words_of(m) {
            let i = self.k + 15;
            self.win[i] = self.win[i].wrapping_add(w);
            self.step_and_fold();
        }
        let i = self.k + 15;
        // Lengths are at most 32, so the cast is exact.
        self.win[i] = self.win[i].wrapping_add(m.len() as u32);
        for _ in 0..N {
            self.step_and_fold();
        }
    }
}

/// Loads a key (1..=32 bytes) and, if given, an IV (0..=32 bytes). Returns the register
/// and konst. Lengths are checked by the caller.
pub(crate) fn load(key: &[u8], iv: Option<&[u8]>) -> ([u32; N], u32) {
    let mut l = Loader {
        win: [0; WINDOW],
        k: 0,
        konst: 0,
    };
    l.win[..N].copy_from_slice(&FIBONACCI);
    l.absorb(key);
    l.step();
    l.konst = l.nlf();
    if let Some(iv) = iv {
        l.absorb(iv);
    }
    let mut r = [0u32; N];
    r.copy_from_slice(&l.win[l.k..l.k + N]);
    let konst = l.konst;
    l.win.zeroize();
    l.konst.zeroize();
    (r, konst)
}
