//! `arrsyfor`: a stream cipher that produces exactly RC4's keystream (XCRYPT's
//! `arrsyfor_1.0`). Keys of 1..=256 bytes; no keystream bytes are dropped.
//!
//! # Security
//! **RC4 is broken by modern standards**: its keystream is biased from the first bytes on
//! (RFC 7465 prohibits it in TLS), and related keys leak through it. Its state-table
//! lookups are indexed by secret values, so it is **not cache-timing safe**. It exists here
//! to speak XCRYPT with other ssmail hosts, which defends against passive listeners only.

use cipher::consts::{U1, U10};
use cipher::{
    AlgorithmName, BlockSizeUser, InOutBuf, InvalidLength, Key, KeyInit, KeySizeUser, StreamCipher,
    StreamCipherError,
};
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Shortest key, in bytes.
pub const MIN_KEY: usize = 1;
/// Longest key, in bytes.
pub const MAX_KEY: usize = 256;

/// The arrsyfor (RC4) stream cipher.
///
/// [`KeyInit::new`] takes XCRYPT's 10-byte key; [`KeyInit::new_from_slice`] takes keys of
/// 1..=256 bytes. See the [module documentation](self) for why it must not be trusted.
#[derive(Clone)]
pub struct Arrsyfor {
    /// The permutation, one entry per word: wider entries avoid partial-register merges
    /// and byte stores in the hot loop.
    s: [u32; 256],
    i: u8,
    j: u8,
}

impl Arrsyfor {
    fn schedule(key: &[u8]) -> Self {
        let mut s = [0u32; 256];
        for (n, e) in s.iter_mut().enumerate() {
            *e = n as u32;
        }
        let mut j = 0u8;
        let mut k = 0usize;
        for i in 0..256 {
            let x = s[i];
            j = j.wrapping_add(x as u8).wrapping_add(key[k]);
            s[i] = s[usize::from(j)];
            s[usize::from(j)] = x;
            k += 1;
            if k == key.len() {
                k = 0;
            }
        }
        Self { s, i: 0, j: 0 }
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    #[inline]
    fn apply(&mut self, data: &mut [u8]) {
        let s = &mut self.s;
        let (mut i, mut j) = (self.i, self.j);
        for o in data.iter_mut() {
            i = i.wrapping_add(1);
            let x = s[usize::from(i)];
            j = j.wrapping_add(x as u8);
            let y = s[usize::from(j)];
            s[usize::from(i)] = y;
            s[usize::from(j)] = x;
            *o ^= s[usize::from((x as u8).wrapping_add(y as u8))] as u8;
        }
        self.i = i;
        self.j = j;
    }
}

impl KeySizeUser for Arrsyfor {
    type KeySize = U10;
}

impl BlockSizeUser for Arrsyfor {
    type BlockSize = U1;
}

impl KeyInit for Arrsyfor {
    #[inline]
    fn new(key: &Key<Self>) -> Self {
        Self::schedule(key)
    }

    #[inline]
    fn new_from_slice(key: &[u8]) -> Result<Self, InvalidLength> {
        if (MIN_KEY..=MAX_KEY).contains(&key.len()) {
            Ok(Self::schedule(key))
        } else {
            Err(InvalidLength)
        }
    }
}

impl StreamCipher for Arrsyfor {
    #[inline(always)]
    fn check_remaining(&self, _data_len: usize) -> Result<(), StreamCipherError> {
        Ok(())
    }

    fn unchecked_apply_keystream_inout(&mut self, buf: InOutBuf<'_, '_, u8>) {
        self.apply(buf.into_out_with_copied_in());
    }

    fn unchecked_write_keystream(&mut self, buf: &mut [u8]) {
        buf.fill(0);
        self.apply(buf);
    }
}

impl AlgorithmName for Arrsyfor {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("arrsyfor")
    }
}

/// Prints no state.
impl fmt::Debug for Arrsyfor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Arrsyfor { ... }")
    }
}

impl Drop for Arrsyfor {
    fn drop(&mut self) {
        self.s.zeroize();
        self.i.zeroize();
        self.j.zeroize();
    }
}

impl ZeroizeOnDrop for Arrsyfor {}
