//! SOBER-t32 written as literally as docs/t32.md §2 reads: a shifting 17-word register and one
//! output word at a time. Slow; kept as the yardstick the fast paths are tested against.

use super::nlf::{FIBONACCI, N, WHITEN, feedback, nlf, words_of};

/// The literal cipher state.
pub(crate) struct Plain {
    r: [u32; N],
    konst: u32,
    ctrl: u32,
    dibits: u32,
}

impl Plain {
    /// docs/t32.md §2.6: load the key, compute konst, optionally load an IV.
    pub(crate) fn new(key: &[u8], iv: Option<&[u8]>) -> Self {
        let mut s = Self {
            r: FIBONACCI,
            konst: 0,
            ctrl: 0,
            dibits: 0,
        };
        s.absorb(key);
        s.step();
        s.konst = s.nlf();
        if let Some(iv) = iv {
            s.absorb(iv);
        }
        s
    }

    /// konst, for the published `testkonst` vector.
    pub(crate) fn konst(&self) -> u32 {
        self.konst
    }

    fn step(&mut self) {
        let new = feedback(self.r[0], self.r[4], self.r[15]);
        self.r.copy_within(1.., 0);
        self.r[N - 1] = new;
    }

    fn nlf(&self) -> u32 {
        nlf(&self.r, self.konst)
    }

    fn absorb(&mut self, m: &[u8]) {
        for w in words_of(m) {
            self.r[15] = self.r[15].wrapping_add(w);
            self.step();
            self.r[4] ^= self.nlf();
        }
        self.r[15] = self.r[15].wrapping_add(m.len() as u32);
        for _ in 0..N {
            self.step();
            self.r[4] ^= self.nlf();
        }
    }

    /// docs/t32.md §2.7: the next output word.
    pub(crate) fn next_word(&mut self) -> u32 {
        loop {
            if self.dibits == 0 {
                self.step();
                self.ctrl = self.nlf();
                self.dibits = 16;
            }
            let d = self.ctrl & 3;
            self.ctrl >>= 2;
            self.dibits -= 1;
            self.step();
            match d {
                0 => continue,
                1 => {
                    let v = self.nlf() ^ WHITEN[1];
                    self.step();
                    return v;
                }
                2 => {
                    self.step();
                    return self.nlf();
                }
                _ => return self.nlf() ^ WHITEN[3],
            }
        }
    }
}
