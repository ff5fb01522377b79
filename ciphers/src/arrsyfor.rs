//! `arrsyfor`: a stream cipher that produces exactly RC4's keystream (XCRYPT's
//! `arrsyfor_1.0`). Keys of 1..=256 bytes; no keystream bytes are dropped.
//!
//! # Security
//! **RC4 is broken by modern standards**: its keystream is biased from the first bytes on
//! (RFC 7465 prohibits it in TLS), and related keys leak through it. Its state-table
//! lookups are indexed by secret values, so it is **not cache-timing safe**. It exists here
//! to speak XCRYPT with other ssmail hosts, which defends against passive listeners only.

#[cfg(target_arch = "x86_64")]
mod x86_64;

use cipher::consts::{U1, U10};
use cipher::{
    AlgorithmName, BlockSizeUser, InOutBuf, InvalidLength, Key, KeyInit, KeySizeUser, StreamCipher,
    StreamCipherError,
};
use core::fmt;
use ssmail_cpu::{Chosen, Forced, Paths};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::trial::{TRIAL_KEY, keystream_4k};

/// Shortest key, in bytes.
pub const MIN_KEY: usize = 1;
/// Longest key, in bytes.
pub const MAX_KEY: usize = 256;

/// An implementation of the arrsyfor keystream. Every path produces the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArrsyforPath {
    /// Plain Rust, one byte per step; every target.
    Portable,
    /// Hand-scheduled x86_64 assembly, sixteen bytes per loop, the output bytes gathered
    /// in SSE2 registers (baseline x86_64 only).
    #[cfg(target_arch = "x86_64")]
    X86_64Sse2,
    /// Hand-scheduled x86_64 assembly, sixteen bytes per loop, the output bytes gathered
    /// in general registers (baseline x86_64 only).
    #[cfg(target_arch = "x86_64")]
    X86_64Asm,
}

/// The path forced by [`Paths::set_default`].
static FORCED: Forced = Forced::new();

impl Paths for ArrsyforPath {
    /// Every path compiled into this build, slowest first (as measured on AMD Zen 3).
    const ALL: &'static [Self] = &[
        Self::Portable,
        #[cfg(target_arch = "x86_64")]
        Self::X86_64Sse2,
        #[cfg(target_arch = "x86_64")]
        Self::X86_64Asm,
    ];

    fn forced() -> &'static Forced {
        &FORCED
    }

    /// The path's name, as [`from_name`](Paths::from_name) takes it.
    fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Asm => "x86_64-asm",
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Sse2 => "x86_64-sse2",
        }
    }

    /// Whether this CPU can run the path.
    fn is_runnable(self) -> bool {
        match self {
            Self::Portable => true,
            // Baseline x86_64 instructions only: every x86_64 CPU runs it.
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Asm | Self::X86_64Sse2 => true,
        }
    }

    /// The fastest path this CPU runs, found by a trial at first use
    /// ([`ssmail_cpu::choose`]: each runnable path keys a fixed public key and makes 4
    /// KiB of keystream, seven rounds; about 0.2 ms once per process), because the loops
    /// rank differently from core to core: on an Intel Xeon with AVX-512 reported as
    /// family 6 model 167 (2026-12-07, `examples/arrsyfor_min`, fastest passes), the
    /// portable loop made 680 / 548 MiB/s at 14,671 B / 1 MiB, `X86_64Sse2` 649 / 457,
    /// `X86_64Asm` 567 / 456 and OpenSSL's RC4 493 / 458, so the trial picks
    /// [`Portable`](Self::Portable) there (1.2-1.4x OpenSSL).
    ///
    /// The table the trial falls back on (where there is no cycle counter), and which
    /// wins ties within about 3%, chooses by vendor, as OpenSSL's capability vector
    /// chooses between its own RC4 loops:
    ///
    /// * AMD and every other non-Intel x86_64: [`X86_64Asm`](Self::X86_64Asm). Measured
    ///   on AMD Zen 3 (EPYC, family 25 model 1): 1.11-1.18x OpenSSL 3's RC4, 2.2x
    ///   [`Portable`](Self::Portable), and 1.10x [`X86_64Sse2`](Self::X86_64Sse2) (which
    ///   is about level with OpenSSL there). OpenSSL runs its general-register loop on AMD.
    /// * Intel: [`X86_64Sse2`](Self::X86_64Sse2), not measured here: on Intel CPUs OpenSSL
    ///   switches to gathering its output bytes with SSE2 word inserts instead of byte
    ///   writes into a general register, and that path does the same around the same
    ///   sixteen-step loop. (Whether `X86_64Asm` would win on Intel too is unmeasured.)
    ///   OpenSSL's byte-wide tables were only for Pentium 4-era cores, which are not tuned
    ///   for here.
    /// * Elsewhere: [`Portable`](Self::Portable).
    fn best() -> Self {
        static CHOSEN: Chosen = Chosen::new();
        CHOSEN.get_or_choose(Self::by_vendor, |path| {
            keystream_4k(Arrsyfor::with_path(&TRIAL_KEY, path));
        })
    }
}

impl ArrsyforPath {
    /// The table's choice, before any trial (see [`best`](Paths::best)).
    fn by_vendor() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if ssmail_cpu::vendor() == ssmail_cpu::Vendor::Intel {
                Self::X86_64Sse2
            } else {
                Self::X86_64Asm
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self::Portable
        }
    }
}

/// One entry of the permutation. On x86 a word: wider entries avoid partial-register
/// merges and byte stores in the hot loop (and the x86_64 kernels are written for it).
/// Elsewhere a byte: on a microcontroller the table is a quarter of the size (256 bytes
/// instead of 1 KiB), in every cipher a session holds and every copy of one on the stack
/// (measured on a Cortex-M4F: `firmware/README.md`), and byte loads and stores cost the
/// same as word ones there.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
type Entry = u32;
/// See the x86 definition.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
type Entry = u8;

/// The arrsyfor (RC4) stream cipher.
///
/// [`KeyInit::new`] takes XCRYPT's 10-byte key; [`KeyInit::new_from_slice`] takes keys of
/// 1..=256 bytes. Both run [`ArrsyforPath::default_path`]; [`Arrsyfor::with_path`] picks
/// another. See the [module documentation](self) for why it must not be trusted.
#[derive(Clone)]
pub struct Arrsyfor {
    /// The permutation. Entries are always below 256 (see [`Entry`]).
    s: [Entry; 256],
    i: u8,
    j: u8,
    path: ArrsyforPath,
}

impl Arrsyfor {
    /// Loads a key of 1..=256 bytes for the given path.
    ///
    /// # Errors
    /// [`InvalidLength`] for any other key length.
    ///
    /// # Panics
    /// If `path` cannot run on this CPU ([`ArrsyforPath::is_runnable`]).
    pub fn with_path(key: &[u8], path: ArrsyforPath) -> Result<Self, InvalidLength> {
        assert!(
            path.is_runnable(),
            "arrsyfor path {} cannot run on this CPU",
            path.name()
        );
        if (MIN_KEY..=MAX_KEY).contains(&key.len()) {
            Ok(Self::schedule(key, path))
        } else {
            Err(InvalidLength)
        }
    }

    /// The path this cipher runs.
    pub fn path(&self) -> ArrsyforPath {
        self.path
    }

    fn schedule(key: &[u8], path: ArrsyforPath) -> Self {
        let mut s: [Entry; 256] = [0; 256];
        for (n, e) in s.iter_mut().enumerate() {
            *e = n as Entry;
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
        Self {
            s,
            i: 0,
            j: 0,
            path,
        }
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    #[inline]
    fn apply(&mut self, data: &mut [u8]) {
        match self.path {
            ArrsyforPath::Portable => self.apply_portable(data),
            #[cfg(target_arch = "x86_64")]
            ArrsyforPath::X86_64Asm => self.apply_x86_64(data, x86_64::apply_chunks),
            #[cfg(target_arch = "x86_64")]
            ArrsyforPath::X86_64Sse2 => self.apply_x86_64(data, x86_64::apply_chunks_sse2),
        }
    }

    /// Runs an x86_64 kernel over `data`: single steps up to the next octet of the table,
    /// the kernel's sixteen bytes at a time, then single steps for the tail.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[allow(unsafe_code, reason = "calls the x86_64 assembly kernels")]
    fn apply_x86_64(
        &mut self,
        data: &mut [u8],
        kernel: unsafe fn(&mut [u32; 256], &mut u8, &mut u8, &mut [u8]) -> usize,
    ) {
        let head = usize::from(self.i.wrapping_add(1).wrapping_neg() & 7).min(data.len());
        let (first, rest) = data.split_at_mut(head);
        self.apply_portable(first);
        // SAFETY: the kernels' one promise, every entry of `self.s` below 256, holds:
        // `schedule` fills the table with 0..=255 and then only swaps entries,
        // `apply_portable` and the kernels only swap entries, and `Drop` writes zeros.
        let done = unsafe { kernel(&mut self.s, &mut self.i, &mut self.j, rest) };
        self.apply_portable(&mut rest[done..]);
    }

    /// The portable loop: one byte per step.
    ///
    /// Never inlined, so that it compiles to the same loop wherever it is called. On
    /// 32-bit x86 its live values fill the seven general registers, and inlined into a
    /// larger function it lost registers to that caller: on the Intel Xeon reported as
    /// family 6 model 167 the byte-index loop made 761 MiB/s inlined into a bench's
    /// `main` but 325 MiB/s as a function of its own, which is what the CLI and
    /// libssmail got. Hence on 32-bit x86 `i` is a masked word and `j` an unmasked one
    /// (only its low byte indexes, so its chain is one add a byte): 835-850 MiB/s there,
    /// 1.51x i386 OpenSSL by criterion. On x86_64 the byte form measured fastest, so it
    /// stays there and elsewhere. The forms tried, with their figures:
    /// benches/README.md.
    #[inline(never)]
    fn apply_portable(&mut self, data: &mut [u8]) {
        let s = &mut self.s;
        #[cfg(target_arch = "x86")]
        {
            let (mut i, mut j) = (usize::from(self.i), usize::from(self.j));
            for o in data.iter_mut() {
                i = (i + 1) & 0xff;
                let x = s[i];
                j = j.wrapping_add(x as usize);
                let jj = j & 0xff;
                let y = s[jj];
                s[i] = y;
                s[jj] = x;
                *o ^= s[(x as usize + y as usize) & 0xff] as u8;
            }
            self.i = i as u8;
            self.j = j as u8;
        }
        #[cfg(not(target_arch = "x86"))]
        {
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
}

/// Bytes of a saved [`Arrsyfor`] position ([`Arrsyfor::save`]): the permutation, `i`,
/// `j`.
pub(crate) const SAVED_LEN: usize = 256 + 2;

impl Arrsyfor {
    /// Writes where this cipher is in its keystream (not which path runs it), for
    /// [`restore`](Self::restore) in this or another process. The bytes are as secret
    /// as the key.
    pub(crate) fn save(&self, out: &mut [u8; SAVED_LEN]) {
        for (o, e) in out.iter_mut().zip(&self.s) {
            // Entries are below 256 (see `Entry`).
            *o = *e as u8;
        }
        out[256] = self.i;
        out[257] = self.j;
    }

    /// A cipher at the position [`save`](Self::save) wrote, on the default path; `None`
    /// unless the 256 bytes are a permutation. The check counts every value over every
    /// entry, so no branch or address depends on the secret permutation (65,536 byte
    /// compares, which the compiler vectorises).
    pub(crate) fn restore(saved: &[u8; SAVED_LEN]) -> Option<Self> {
        let mut missing = 0u32;
        for v in 0..=255u8 {
            let mut seen = 0u32;
            for &x in &saved[..256] {
                seen += u32::from(x == v);
            }
            missing |= seen ^ 1;
        }
        // The one branch on the secret bytes: its outcome, whether they are a
        // permutation, is a bit every state `save` wrote shares. `bool::then` keeps it
        // in a frame of its own, which the C constant-time check's suppression names
        // (capi/tests/c/ct_valgrind.supp), so that the counting above stays checked.
        (missing == 0).then(|| Self {
            s: core::array::from_fn(|n| Entry::from(saved[n])),
            i: saved[256],
            j: saved[257],
            path: ArrsyforPath::default_path(),
        })
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
        Self::schedule(key, ArrsyforPath::default_path())
    }

    #[inline]
    fn new_from_slice(key: &[u8]) -> Result<Self, InvalidLength> {
        if (MIN_KEY..=MAX_KEY).contains(&key.len()) {
            Ok(Self::schedule(key, ArrsyforPath::default_path()))
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
