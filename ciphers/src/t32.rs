//! `t32`: QUALCOMM's SOBER-t32 (the NESSIE submission, reference code of 03/21/01), as
//! XCRYPT's `t32_1.0` uses it: key-only mode, output words most significant byte first.
//!
//! # Security
//! **SOBER-t32 is broken by modern standards**: distinguishing attacks on it are
//! published (Ekdahl and Johansson, 2002) and it was not selected by NESSIE. Its S-box
//! and α-table lookups are indexed by secret state, so it is **not cache-timing safe**.
//! It exists here to speak XCRYPT with other ssmail hosts, which defends against passive
//! listeners only. For anything new, use a modern AEAD.
//!
//! # Paths
//! The keystream has several implementations, [`T32Path`]s, all giving the same bytes:
//! portable Rust everywhere, AVX2 on x86_64, and AVX-512 on x86_64 when the compiler has
//! its intrinsics. New ciphers take [`T32Path::default_path`], the fastest one this CPU
//! runs unless [`T32Path::set_default`] forced another; [`T32::with_path`] picks one for a
//! single cipher. `--cfg ssmail_t32_backend="portable"` builds the portable path alone.

#[cfg(ssmail_t32_avx2)]
mod avx2;
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
use ssmail_cpu::{Chosen, Forced, Paths};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::trial::{TRIAL_KEY, keystream_4k};

use keying::{MAX_IV, MAX_KEY};
use nlf::N;

#[cfg(ssmail_t32_avx512)]
cpufeatures::new!(avx512_cpuid, "avx512f", "avx512vl", "avx512bw");
#[cfg(ssmail_t32_avx2)]
cpufeatures::new!(avx2_cpuid, "avx2");

/// Shortest run of words worth the AVX-512 path (its window first makes 136 words of
/// history; on the family 6 model 167 Xeon, 128-byte calls still ran 1.2x faster on it
/// than on the portable path: `examples/chunked_min.rs`).
#[cfg(ssmail_t32_avx512)]
const VECTOR_MIN_WORDS: usize = 32;
/// Shortest run of words worth the AVX2 path (its first run-ahead makes 51 words one at
/// a time before the vector recurrence can start).
#[cfg(ssmail_t32_avx2)]
const AVX2_MIN_WORDS: usize = 64;

/// An implementation of the t32 keystream. Every path gives the same keystream; they
/// differ in speed and in the CPU features they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum T32Path {
    /// Portable Rust, on every target.
    Portable,
    /// x86_64 AVX2: the LFSR eight words at a time, the NLF eight positions at a time,
    /// the stutter four dibits per table lookup.
    #[cfg(ssmail_t32_avx2)]
    Avx2,
    /// x86_64 AVX-512 (F, VL, BW): the LFSR sixteen words at a time, sixteen NLFs at a
    /// time and the stutter sixteen dibits at a time. Built only when the compiler has
    /// the AVX-512 intrinsics.
    #[cfg(ssmail_t32_avx512)]
    Avx512,
}

/// The path forced by [`Paths::set_default`].
static FORCED: Forced = Forced::new();

impl Paths for T32Path {
    /// Every path compiled in, slowest first.
    const ALL: &'static [Self] = &[
        Self::Portable,
        #[cfg(ssmail_t32_avx2)]
        Self::Avx2,
        #[cfg(ssmail_t32_avx512)]
        Self::Avx512,
    ];

    fn forced() -> &'static Forced {
        &FORCED
    }

    /// The path's name: `"portable"`, `"avx2"` or `"avx512"`.
    fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            #[cfg(ssmail_t32_avx2)]
            Self::Avx2 => "avx2",
            #[cfg(ssmail_t32_avx512)]
            Self::Avx512 => "avx512",
        }
    }

    /// Whether this CPU has what the path needs (checked at run time, once).
    fn is_runnable(self) -> bool {
        match self {
            Self::Portable => true,
            #[cfg(ssmail_t32_avx2)]
            Self::Avx2 => avx2_cpuid::get(),
            #[cfg(ssmail_t32_avx512)]
            Self::Avx512 => avx512_cpuid::get(),
        }
    }

    /// The fastest path this CPU runs, found by a trial at first use
    /// ([`ssmail_cpu::choose`]: each runnable path keys a fixed public key and makes 4
    /// KiB of keystream, seven rounds; about 0.1 ms once per process). The table the
    /// trial falls back on, and which wins ties within about 3%, is the last runnable
    /// path of [`ALL`](Self::ALL). Why the table alone is not enough:
    ///
    /// * AMD Zen 3 (EPYC, family 25 model 1): AVX2 is 2.4x portable (no AVX-512).
    /// * A Sapphire Rapids-class Xeon (earlier sessions): AVX-512 ran at 4x the C
    ///   reference or more.
    /// * An Intel Xeon with AVX-512 and IFMA reported as family 6 model 167 (2026-12-07,
    ///   criterion): with the AVX-512 window of the time, AVX2 7.7 µs at 14,671 B and
    ///   524 µs at 1 MiB, AVX-512 11.1 and 746, so the trial picked AVX2 there. With
    ///   the 16-wide LFSR (same machine, 2026-12-08) AVX-512 5.6 and 397, AVX2 7.8 and
    ///   530: the trial picks AVX-512.
    fn best() -> Self {
        static CHOSEN: Chosen = Chosen::new();
        CHOSEN.get_or_choose(
            || Self::runnable().last().unwrap_or(Self::Portable),
            |path| keystream_4k(T32::with_path(&TRIAL_KEY, None, path)),
        )
    }
}

impl T32Path {
    /// The shortest run of words this path is used for; shorter runs go portable.
    fn min_words(self) -> usize {
        match self {
            Self::Portable => 0,
            #[cfg(ssmail_t32_avx2)]
            Self::Avx2 => AVX2_MIN_WORDS,
            #[cfg(ssmail_t32_avx512)]
            Self::Avx512 => VECTOR_MIN_WORDS,
        }
    }
}

/// Fills `out` (whole words) with the next keystream bytes of `s`, on `path`, which must
/// be runnable.
fn fill_on(path: T32Path, s: &mut Stream, out: &mut [u8]) {
    debug_assert!(path.is_runnable());
    match path {
        #[cfg(ssmail_t32_avx512)]
        T32Path::Avx512 => {
            // SAFETY: `path` is runnable (checked when it was chosen): the CPU has the
            // features `avx512::fill` enables.
            #[allow(unsafe_code, reason = "runtime-detected SIMD path")]
            unsafe {
                avx512::fill(s, out)
            };
        }
        #[cfg(ssmail_t32_avx2)]
        T32Path::Avx2 => {
            // SAFETY: `path` is runnable (checked when it was chosen): the CPU has AVX2,
            // which `avx2::fill` enables.
            #[allow(unsafe_code, reason = "runtime-detected SIMD path")]
            unsafe {
                avx2::fill(s, out)
            };
        }
        T32Path::Portable => bulk::fill(s, out),
    }
}

impl fmt::Display for T32Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Words generated per batch when bulk data is processed: the batch is a buffer on the
/// stack. 4 KiB on x86; 1 KiB (the portable window's span) elsewhere, where stacks are
/// small (a Cortex-M4F: `firmware/README.md`).
const BATCH_WORDS: usize = if cfg!(any(target_arch = "x86", target_arch = "x86_64")) {
    1024
} else {
    256
};
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
    /// The implementation that makes the keystream; runnable on this CPU.
    path: T32Path,
}

impl T32 {
    fn from_stream(stream: Stream) -> Self {
        Self::from_stream_on(stream, T32Path::default_path())
    }

    fn from_stream_on(stream: Stream, path: T32Path) -> Self {
        Self {
            stream,
            tail: 0,
            tail_len: 0,
            path,
        }
    }

    /// Loads a key of 1..=32 bytes and, if given, an IV of 0..=32 bytes.
    ///
    /// # Errors
    /// [`InvalidLength`] for any other length.
    pub fn with_key_and_iv(key: &[u8], iv: Option<&[u8]>) -> Result<Self, InvalidLength> {
        Self::keyed_on(key, iv, T32Path::default_path())
    }

    /// [`with_key_and_iv`](Self::with_key_and_iv) on a chosen implementation.
    ///
    /// # Errors
    /// [`InvalidLength`] for a key not of 1..=32 bytes or an IV longer than 32.
    ///
    /// # Panics
    /// If `path` cannot run on this CPU ([`T32Path::is_runnable`]).
    pub fn with_path(key: &[u8], iv: Option<&[u8]>, path: T32Path) -> Result<Self, InvalidLength> {
        assert!(path.is_runnable(), "t32 path {path} cannot run on this CPU");
        Self::keyed_on(key, iv, path)
    }

    /// Checks the lengths and keys on `path`, which must be runnable. Not through the
    /// default path: the path trial keys ciphers here before there is a default.
    fn keyed_on(key: &[u8], iv: Option<&[u8]>, path: T32Path) -> Result<Self, InvalidLength> {
        if key.is_empty() || key.len() > MAX_KEY || iv.is_some_and(|v| v.len() > MAX_IV) {
            return Err(InvalidLength);
        }
        Ok(Self::from_stream_on(Stream::new(key, iv), path))
    }

    /// The implementation this cipher runs on.
    pub fn path(&self) -> T32Path {
        self.path
    }

    /// Fills `out`, whose length is a multiple of 4, with the next keystream bytes.
    fn words(&mut self, out: &mut [u8]) {
        // The vector paths run a whole look-ahead at a time, which only pays on longer runs.
        let path = if out.len() >= 4 * self.path.min_words() {
            self.path
        } else {
            T32Path::Portable
        };
        fill_on(path, &mut self.stream, out);
    }

    /// XORs whole keystream words into `data`, whose length is a multiple of 4.
    fn apply_words(&mut self, data: &mut [u8]) {
        // Short runs (an SMTP line, say) get a short buffer: clearing 4 KiB of stack for
        // a few bytes would cost more than making them.
        if data.len() <= SHORT_RUN {
            self.apply_words_through::<SHORT_RUN>(data);
            return;
        }
        // A vector path keeps one window for the whole run; portable makes one per buffer.
        match self.path {
            #[cfg(ssmail_t32_avx512)]
            T32Path::Avx512 => {
                // SAFETY: `path` is runnable (checked when it was chosen): the CPU has the
                // features `avx512::apply` enables.
                #[allow(unsafe_code, reason = "runtime-detected SIMD path")]
                unsafe {
                    avx512::apply::<{ 4 * BATCH_WORDS }>(&mut self.stream, data)
                };
            }
            #[cfg(ssmail_t32_avx2)]
            T32Path::Avx2 => {
                // SAFETY: `path` is runnable (checked when it was chosen): the CPU has
                // AVX2, which `avx2::apply` enables.
                #[allow(unsafe_code, reason = "runtime-detected SIMD path")]
                unsafe {
                    avx2::apply::<{ 4 * BATCH_WORDS }>(&mut self.stream, data)
                };
            }
            T32Path::Portable => self.apply_words_through::<{ 4 * BATCH_WORDS }>(data),
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

/// Bytes of a saved [`T32`] position ([`T32::save`]): the 17 register words, the
/// key constant, the control word and its dibit count, the tail word, its length.
pub(crate) const SAVED_LEN: usize = 4 * (N + 4) + 1;

impl T32 {
    /// Writes where this cipher is in its keystream (not which path runs it), as
    /// little-endian words, for [`restore`](Self::restore) in this or another process.
    /// The bytes are as secret as the key.
    pub(crate) fn save(&self, out: &mut [u8; SAVED_LEN]) {
        let s = &self.stream;
        let rest = [s.konst, s.ctrl, s.dibits, self.tail];
        for (chunk, w) in out.chunks_exact_mut(4).zip(s.r.iter().chain(&rest)) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out[SAVED_LEN - 1] = self.tail_len;
    }

    /// A cipher at the position [`save`](Self::save) wrote, on the default path; `None`
    /// for bytes `save` cannot have written: a dibit count above 16 or a tail above 3
    /// bytes. Spent bits in the control and tail words are left as they are (the walk
    /// and `apply` leave them there too, and read only the low `2·dibits` and
    /// `8·tail_len` bits), so nothing secret is checked.
    pub(crate) fn restore(saved: &[u8; SAVED_LEN]) -> Option<Self> {
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&saved[4 * i..4 * i + 4]);
            u32::from_le_bytes(w)
        };
        let (konst, ctrl, dibits, tail) = (word(N), word(N + 1), word(N + 2), word(N + 3));
        let tail_len = saved[SAVED_LEN - 1];
        if dibits > 16 || tail_len > 3 {
            return None;
        }
        let stream = Stream {
            r: core::array::from_fn(word),
            konst,
            ctrl,
            dibits,
        };
        let mut out = Self::from_stream(stream);
        out.tail = tail;
        out.tail_len = tail_len;
        Some(out)
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
