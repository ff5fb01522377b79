//! Key and IV loading (spec 2.5 and 2.6).
//!
//! Loading is one long chain: each step's feedback takes `r[4]`, into which the step
//! before folded its NLF. The register lives in a straight window (`win[k..k + 17]`
//! after `k` steps; nothing shifts), and the freshly folded `r[4]` is also carried in a
//! local, so that the chain runs through registers and not through a store and a reload
//! at every step. That halves the cost of a key setup.

use super::nlf::{FIBONACCI, N, f};
use super::tables::mul_alpha;

/// Longest key, in bytes.
pub(crate) const MAX_KEY: usize = 32;
/// Longest IV, in bytes.
pub(crate) const MAX_IV: usize = 32;

/// Steps that one `absorb` of at most 32 bytes takes: 8 words plus 17 diffusion steps.
const ABSORB_STEPS: usize = (MAX_KEY >> 2) + N;
/// Window size: the register, a key absorb, the konst step and an IV absorb.
const WINDOW: usize = N + ABSORB_STEPS + 1 + ABSORB_STEPS;

/// A register being loaded.
struct Loader {
    win: [u32; WINDOW],
    /// Steps taken: the register is `win[k..k + 17]`.
    k: usize,
    /// `win[k + 4]`, carried in a register.
    r4: u32,
    konst: u32,
}

impl Loader {
    /// One step; returns the new word.
    #[inline(always)]
    fn step(&mut self) -> u32 {
        let k = self.k;
        let new = mul_alpha(self.win[k]) ^ self.win[k + 15] ^ self.r4;
        self.win[k + N] = new;
        self.k = k + 1;
        self.r4 = self.win[k + 5];
        new
    }

    /// One step, then its NLF folded into `r[4]`.
    #[inline(always)]
    fn step_and_fold(&mut self) {
        let new = self.step();
        let k = self.k;
        let w = &self.win;
        // The NLF of spec 2.4, with r[16] = `new` taken from the register.
        let v = ((f(w[k].wrapping_add(new))
            .wrapping_add(w[k + 1])
            .wrapping_add(w[k + 6]))
            ^ self.konst)
            .wrapping_add(w[k + 13]);
        self.r4 ^= v;
        self.win[k + 4] = self.r4;
    }

    /// Spec 2.5: absorb key material of at most 32 bytes.
    fn absorb(&mut self, m: &[u8]) {
        for w in super::nlf::words_of(m) {
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

    fn nlf(&self) -> u32 {
        super::nlf::nlf(&self.win[self.k..self.k + N], self.konst)
    }
}

/// Loads a key (1..=32 bytes) and, if given, an IV (0..=32 bytes). Returns the register
/// and konst. Lengths are checked by the caller.
pub(crate) fn load(key: &[u8], iv: Option<&[u8]>) -> ([u32; N], u32) {
    debug_assert!(!key.is_empty() && key.len() <= MAX_KEY);
    debug_assert!(iv.is_none_or(|v| v.len() <= MAX_IV));
    let mut win = [0u32; WINDOW];
    win[..N].copy_from_slice(&FIBONACCI);
    let mut l = Loader {
        win,
        k: 0,
        r4: FIBONACCI[4],
        konst: 0,
    };
    l.absorb(key);
    l.step();
    l.konst = l.nlf();
    if let Some(iv) = iv {
        l.absorb(iv);
    }
    let mut r = [0u32; N];
    r.copy_from_slice(&l.win[l.k..l.k + N]);
    (r, l.konst)
}
