//! Fast keystream generation, portable Rust.
//!
//! The LFSR does not depend on the output, so it is run ahead into a straight window
//! (`win[k..k + 17]` is the register after `k` steps; no shifting), `LOOKAHEAD` steps at a
//! time. The stutter then walks the window: each dibit becomes a position and a whitening
//! mask by arithmetic instead of a four-way branch, and the NLF is computed only where an
//! output word (or a control word) needs it.

use super::Stream;
use super::nlf::{N, WHITEN, feedback, nlf};

/// Steps computed per run-ahead.
const LOOKAHEAD: usize = 16;
/// Steps the window can hold before it has to slide back.
const SPAN: usize = 128;

struct Window {
    win: [u32; N + SPAN],
    /// Register position: the register is `win[k..k + N]`.
    k: usize,
    /// Steps computed so far: `win[..N + ready]` is valid.
    ready: usize,
}

impl Window {
    /// Makes at least `LOOKAHEAD` more steps available after `k`, sliding the window
    /// back when it is full.
    #[inline(never)]
    fn run_ahead(&mut self) {
        if self.ready + LOOKAHEAD > SPAN {
            let live = self.ready - self.k;
            self.win.copy_within(self.k..self.k + N + live, 0);
            self.k = 0;
            self.ready = live;
        }
        let base = self.ready;
        let w = &mut self.win[base..base + N + LOOKAHEAD];
        for t in 0..LOOKAHEAD {
            w[t + N] = feedback(w[t], w[t + 4], w[t + 15]);
        }
        self.ready = base + LOOKAHEAD;
    }
}

/// Fills `out` with the next keystream words.
pub(crate) fn fill(s: &mut Stream, out: &mut [u32]) {
    if out.is_empty() {
        return;
    }
    let mut w = Window {
        win: [0; N + SPAN],
        k: 0,
        ready: 0,
    };
    w.win[..N].copy_from_slice(&s.r);
    let konst = s.konst;
    let (mut ctrl, mut dibits) = (s.ctrl, s.dibits);
    let mut n = 0;
    while n < out.len() {
        if dibits == 0 {
            if w.k + 1 > w.ready {
                w.run_ahead();
            }
            w.k += 1;
            ctrl = nlf(&w.win[w.k..w.k + N], konst);
            dibits = 16;
        }
        if w.k + 2 > w.ready {
            w.run_ahead();
        }
        let d = ctrl & 3;
        ctrl >>= 2;
        dibits -= 1;
        // d = 1 and d = 3 output the NLF after one step, d = 2 after two; d = 1 and
        // d = 2 take two steps in all, d = 0 and d = 3 one.
        let late = usize::from(d == 2);
        let long = (d ^ (d >> 1)) as usize & 1;
        let p = w.k + 1 + late;
        out[n] = nlf(&w.win[p..p + N], konst) ^ WHITEN[d as usize];
        n += usize::from(d != 0);
        w.k += 1 + long;
    }
    s.r.copy_from_slice(&w.win[w.k..w.k + N]);
    s.ctrl = ctrl;
    s.dibits = dibits;
}
