//! Fast keystream generation: the walk through the stutter, shared by every backend.
//!
//! The LFSR does not depend on the output, so a backend runs it ahead into a straight
//! window (the register after `k` steps is `win[k..k + 17]`; nothing shifts). The
//! stutter then walks the window: each dibit becomes a position and a whitening mask by
//! arithmetic instead of a four-way branch (the dibits are random, so a branch would
//! mispredict about half the time).

use super::Stream;
use super::nlf::{N, WHITEN, feedback, nlf};

/// Steps the 16 dibits of one control word can take.
pub(crate) const DIBITS_SPAN: usize = 32;
/// Steps one control word can take: its own step, then its dibits.
pub(crate) const CTRL_SPAN: usize = DIBITS_SPAN + 1;

/// A run-ahead LFSR window, as a backend keeps it.
pub(crate) trait Window {
    /// Register position: the register is the 17 words after `k` steps.
    fn k(&self) -> usize;
    /// Moves the register position on.
    fn advance(&mut self, steps: usize);
    /// How many steps are computed (the NLF is available up to this position).
    fn ready(&self) -> usize;
    /// Computes at least `CTRL_SPAN` more steps.
    fn run_ahead(&mut self);
    /// The NLF after `p` steps, `k <= p <= ready`.
    fn nlf_at(&self, p: usize) -> u32;
    /// The register at position `k`.
    fn register(&self) -> &[u32];

    /// Runs all 16 dibits of the control word `ctrl`, just taken at position `k` (the
    /// window holds `DIBITS_SPAN` more steps), writing its output words (big-endian) to
    /// the front of `dst` (the rest of `dst` is scratch). Returns the number of words.
    fn control_word(&mut self, ctrl: u32, dst: &mut [u8; 64]) -> usize;
}

/// One dibit: the offset of the NLF it outputs (meaningless for d = 0), whether it
/// outputs, and the steps it takes. d = 1 and d = 3 output the NLF after one step, d = 2
/// after two; d = 1 and d = 2 take two steps in all, d = 0 and d = 3 one.
#[inline(always)]
fn dibit(d: u32) -> (usize, usize, usize) {
    let late = usize::from(d == 2);
    let long = ((d ^ (d >> 1)) & 1) as usize;
    (1 + late, usize::from(d != 0), 1 + long)
}

/// Fills `out` (whole words) with the next keystream words, most significant byte
/// first, from the window `w` (which holds `s`'s register at position 0), and saves the
/// state back into `s`.
#[inline(always)]
pub(crate) fn walk<W: Window>(w: &mut W, s: &mut Stream, out: &mut [u8]) {
    debug_assert!(out.len() & 3 == 0);
    let (mut ctrl, mut dibits) = (s.ctrl, s.dibits);
    let mut n = 0;
    while 4 * n < out.len() {
        if dibits == 0 {
            if w.k() + CTRL_SPAN > w.ready() {
                w.run_ahead();
            }
            w.advance(1);
            ctrl = w.nlf_at(w.k());
            if let Some(dst) = out.get_mut(4 * n..4 * n + 64) {
                n += w.control_word(ctrl, dst.try_into().expect("16 words"));
                continue;
            }
            dibits = 16;
        }
        // Near the end of `out`: one dibit at a time.
        if w.k() + 2 > w.ready() {
            w.run_ahead();
        }
        let d = ctrl & 3;
        ctrl >>= 2;
        dibits -= 1;
        let (at, emits, steps) = dibit(d);
        let v = w.nlf_at(w.k() + at) ^ WHITEN[d as usize];
        out[4 * n..4 * n + 4].copy_from_slice(&v.to_be_bytes());
        n += emits;
        w.advance(steps);
    }
    s.r.copy_from_slice(w.register());
    s.ctrl = ctrl;
    s.dibits = dibits;
}

/// XORs the next keystream bytes into `data` (whole words) through a buffer of `B` bytes
/// (a multiple of 4), from the window `w` over `s`'s register: one window for the whole
/// run, rather than one per buffer, saves clearing it and remaking its LFSR history
/// each time. The walk saves the state into `s` after each buffer and goes on from it,
/// the window with it. (The vector paths' loop; the portable path's window is small
/// enough to make per buffer.)
#[cfg(ssmail_t32_avx2)]
#[inline(always)]
pub(crate) fn apply_through<W: Window, const B: usize>(w: &mut W, s: &mut Stream, data: &mut [u8]) {
    let mut ks = [0u8; B];
    for chunk in data.chunks_mut(B) {
        let ks = &mut ks[..chunk.len()];
        walk(w, s, ks);
        super::xor_into(chunk, ks);
    }
}

/// Steps computed per run-ahead.
const LOOKAHEAD: usize = 64;
/// Window length in steps.
const SPAN: usize = 256;

/// The portable window: the LFSR run ahead one word at a time, the NLF computed only
/// where a word is output (computing it everywhere would cost more than it saves when
/// each NLF is a handful of scalar operations).
struct Portable {
    win: [u32; SPAN + N],
    k: usize,
    ready: usize,
    konst: u32,
}

impl Portable {
    fn new(s: &Stream) -> Self {
        let mut win = [0; SPAN + N];
        win[..N].copy_from_slice(&s.r);
        Self {
            win,
            k: 0,
            ready: 0,
            konst: s.konst,
        }
    }
}

impl Window for Portable {
    #[inline(always)]
    fn k(&self) -> usize {
        self.k
    }
    #[inline(always)]
    fn advance(&mut self, steps: usize) {
        self.k += steps;
    }
    #[inline(always)]
    fn ready(&self) -> usize {
        self.ready
    }
    #[inline(never)]
    fn run_ahead(&mut self) {
        if self.ready + LOOKAHEAD > SPAN {
            let live = self.ready - self.k;
            self.win.copy_within(self.k..self.k + N + live, 0);
            self.k = 0;
            self.ready = live;
        }
        let base = self.ready;
        let w: &mut [u32; N + LOOKAHEAD] = (&mut self.win[base..base + N + LOOKAHEAD])
            .try_into()
            .expect("run-ahead fits the window");
        for t in 0..LOOKAHEAD {
            w[t + N] = feedback(w[t], w[t + 4], w[t + 15]);
        }
        self.ready = base + LOOKAHEAD;
    }
    #[inline(always)]
    fn nlf_at(&self, p: usize) -> u32 {
        nlf(&self.win[p..p + N], self.konst)
    }
    fn register(&self) -> &[u32] {
        &self.win[self.k..self.k + N]
    }

    /// One dibit at a time, over a fixed-size view of the window, so that no NLF read
    /// needs a bounds check.
    #[inline(always)]
    fn control_word(&mut self, ctrl: u32, dst: &mut [u8; 64]) -> usize {
        let seg: &[u32; DIBITS_SPAN + N] = (&self.win[self.k..self.k + DIBITS_SPAN + N])
            .try_into()
            .expect("the caller made room");
        let (mut m, mut k, mut ctrl) = (0, 0, ctrl);
        for _ in 0..16 {
            let d = ctrl & 3;
            ctrl >>= 2;
            let (at, emits, steps) = dibit(d);
            // k + at <= 32 always; `min` lets the compiler see it.
            let p = (k + at).min(DIBITS_SPAN);
            let v = nlf(&seg[p..p + N], self.konst) ^ WHITEN[d as usize];
            let o = 4 * (m & 15);
            dst[o..o + 4].copy_from_slice(&v.to_be_bytes());
            m += emits;
            k += steps;
        }
        self.k += k;
        m
    }
}

/// Fills `out` (whole words) with the next keystream bytes, portable Rust.
pub(crate) fn fill(s: &mut Stream, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    let mut w = Portable::new(s);
    walk(&mut w, s, out);
}
