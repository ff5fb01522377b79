//! `t32`: QUALCOMM's SOBER-t32 (the NESSIE submission, reference code of 03/21/01), as
//! XCRYPT's `t32_1.0` uses it: key-only mode, output words most significant byte first.
//!
//! # Security
//! **SOBER-t32 is broken by modern standards**: distinguishing attacks on it are
//! published (Ekdahl and Johansson, 2002) and it was not selected by NESSIE. Its S-box
//! and α-table lookups are indexed by secret state, so it is **not cache-timing safe**.
//! It exists here to speak XCRYPT with other ssmail hosts, which defends against passive
//! listeners only. For anything new, use a modern AEAD.

#[cfg(ssmail_t32_avx512)]
#[allow(
    clippy::incompatible_msrv,
    reason = "compiled only when rustc has the AVX-512 intrinsics (1.89 and later), see build.rs"
)]
mod avx512;
mod bulk;
mod keying;
mod nlf;
#[cfg(test)]
mod plain;
mod tables;

use cipher::consts::{U1, U4, U10};
use cipher::{
    AlgorithmName, BlockSizeUser, InOutBuf, InvalidLength, Iv, IvSizeUser, Key, KeyInit, KeyIvInit,
    KeySizeUser, StreamCipher, StreamCipherError,
};
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use keying::{MAX_IV, MAX_KEY};
use nlf::N;

#[cfg(ssmail_t32_avx512)]
cpufeatures::new!(avx512_cpuid, "avx512f", "avx512vl", "avx512bw");

/// Shortest run of words worth the vector path.
#[cfg(ssmail_t32_avx512)]
const VECTOR_MIN_WORDS: usize = 32;

/// Words generated per batch when bulk data is processed.
const BATCH_WORDS: usize = 1024;
/// Bytes up to which a run is made in a small buffer.
const SHORT_RUN: usize = 256;

/// The running keystream generator: register, konst and stutter state.
#[derive(Clone)]
pub(crate) struct Stream {
    r: [u32; N],
    konst: u32,
    /// Unused dibits of the current control word, lowest first.
    ctrl: u32,
    /// How many of them are left (0..=16).
    dibits: u32,
}

impl Stream {
    fn new(key: &[u8], iv: Option<&[u8]>) -> Self {
        let (r, konst) = keying::load(key, iv);
        Self {
            r,
            konst,
            ctrl: 0,
            dibits: 0,
        }
    }
}

/// The SOBER-t32 stream cipher (`t32_1.0`).
///
/// Keys are 1..=32 bytes ([`KeyInit::new_from_slice`]); [`KeyInit::new`] takes XCRYPT's
/// 10-byte key. The optional IV load of the reference code is available through
/// [`KeyIvInit`]: [`KeyIvInit::new`] takes a 4-byte IV (QUALCOMM's frame counter) and
/// [`KeyIvInit::new_from_slices`] any IV of 0..=32 bytes. An empty IV is not the same as
/// no IV. The keystream is continuous across calls, whatever their lengths.
///
/// See the [module documentation](self) for why this cipher must not be trusted.
#[derive(Clone)]
pub struct T32 {
    stream: Stream,
    /// Keystream bytes left over from the last word, in its low `tail_len * 8` bits,
    /// the next byte topmost.
    tail: u32,
    tail_len: u8,
}

impl T32 {
    fn from_stream(stream: Stream) -> Self {
        Self {
            stream,
            tail: 0,
            tail_len: 0,
        }
    }

    /// Loads a key of 1..=32 bytes and, if given, an IV of 0..=32 bytes.
    ///
    /// # Errors
    /// [`InvalidLength`] for any other length.
    pub fn with_key_and_iv(key: &[u8], iv: Option<&[u8]>) -> Result<Self, InvalidLength> {
        if key.is_empty() || key.len() > MAX_KEY || iv.is_some_and(|v| v.len() > MAX_IV) {
            return Err(InvalidLength);
        }
        Ok(Self::from_stream(Stream::new(key, iv)))
    }

    /// Fills `out`, whose length is a multiple of 4, with the next keystream bytes.
    fn words(&mut self, out: &mut [u8]) {
        // The vector path runs a whole look-ahead at a time, which only pays on longer runs.
        #[cfg(ssmail_t32_avx512)]
        if out.len() >= 4 * VECTOR_MIN_WORDS && avx512_cpuid::get() {
            // SAFETY: the CPU was just checked for the features `avx512::fill` enables.
            #[allow(unsafe_code, reason = "runtime-detected SIMD path")]
            unsafe {
                avx512::fill(&mut self.stream, out)
            };
            return;
        }
        bulk::fill(&mut self.stream, out);
    }

    /// XORs whole keystream words into `data`, whose length is a multiple of 4.
    fn apply_words(&mut self, data: &mut [u8]) {
        // Short runs (an SMTP line, say) get a short buffer: clearing 4 KiB of stack for
        // a few bytes would cost more than making them.
        if data.len() <= SHORT_RUN {
            self.apply_words_through::<SHORT_RUN>(data);
        } else {
            self.apply_words_through::<{ 4 * BATCH_WORDS }>(data);
        }
    }

    /// [`apply_words`](Self::apply_words) through a keystream buffer of `B` bytes.
    fn apply_words_through<const B: usize>(&mut self, data: &mut [u8]) {
        let mut ks = [0u8; B];
        for chunk in data.chunks_mut(B) {
            let ks = &mut ks[..chunk.len()];
            self.words(ks);
            xor_into(chunk, ks);
        }
    }

    /// XORs the keystream into `data`.
    fn apply(&mut self, data: &mut [u8]) {
        // Bytes left over from the last word come first.
        let head = usize::from(self.tail_len).min(data.len());
        let (first, data) = data.split_at_mut(head);
        for b in first {
            self.tail_len -= 1;
            *b ^= (self.tail >> (8 * self.tail_len)) as u8;
        }
        // Then whole words.
        let whole = data.len() & !3;
        let (body, last) = data.split_at_mut(whole);
        self.apply_words(body);
        // Then part of one more word, keeping the rest.
        if !last.is_empty() {
            let mut ks = [0u8; 4];
            self.words(&mut ks);
            xor_into(last, &ks[..last.len()]);
            self.tail_len = (4 - last.len()) as u8;
            self.tail = u32::from_be_bytes(ks) & (u32::MAX >> (8 * last.len()));
        }
    }
}

/// `data ^= ks`, over equal lengths; a plain slice loop, which the compiler vectorises
/// (`InOutBuf::xor_in2out` cannot be, as its input and output may alias).
#[inline(always)]
fn xor_into(data: &mut [u8], ks: &[u8]) {
    for (d, k) in data.iter_mut().zip(ks) {
        *d ^= k;
    }
}

impl KeySizeUser for T32 {
    type KeySize = U10;
}

impl IvSizeUser for T32 {
    type IvSize = U4;
}

impl BlockSizeUser for T32 {
    type BlockSize = U1;
}

impl KeyInit for T32 {
    #[inline]
    fn new(key: &Key<Self>) -> Self {
        Self::from_stream(Stream::new(key.as_slice(), None))
    }

    #[inline]
    fn new_from_slice(key: &[u8]) -> Result<Self, InvalidLength> {
        Self::with_key_and_iv(key, None)
    }
}

impl KeyIvInit for T32 {
    #[inline]
    fn new(key: &Key<Self>, iv: &Iv<Self>) -> Self {
        Self::from_stream(Stream::new(key.as_slice(), Some(iv.as_slice())))
    }

    #[inline]
    fn new_from_slices(key: &[u8], iv: &[u8]) -> Result<Self, InvalidLength> {
        Self::with_key_and_iv(key, Some(iv))
    }
}

impl StreamCipher for T32 {
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

impl AlgorithmName for T32 {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("t32")
    }
}

/// Prints no state.
impl fmt::Debug for T32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("T32 { ... }")
    }
}

impl Drop for T32 {
    fn drop(&mut self) {
        self.stream.r.zeroize();
        self.stream.konst.zeroize();
        self.stream.ctrl.zeroize();
        self.stream.dibits.zeroize();
        self.tail.zeroize();
        self.tail_len.zeroize();
    }
}

impl ZeroizeOnDrop for T32 {}

#[cfg(test)]
mod tests;
