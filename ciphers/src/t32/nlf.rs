//! The pieces of SOBER-t32 shared by every path: the LFSR step, the filter `f` and the NLF.

use super::tables::{SBOX, mul_alpha};

/// Number of words in the LFSR.
pub(crate) const N: usize = 17;

/// The stutter whitening constant C (docs/t32.md §2.7).
pub(crate) const C: u32 = 0x6996_C53A;

/// What each dibit XORs into the NLF word it outputs: nothing for 0 (no output), C for 1,
/// nothing for 2, ~C for 3.
pub(crate) const WHITEN: [u32; 4] = [0, C, 0, !C];

/// The initial register: the Fibonacci numbers 1, 1, 2, 3, ..., 1597.
pub(crate) const FIBONACCI: [u32; N] = {
    let mut r = [0u32; N];
    r[0] = 1;
    r[1] = 1;
    let mut i = 2;
    while i < N {
        r[i] = r[i - 1] + r[i - 2];
        i += 1;
    }
    r
};

/// The word the LFSR shifts in, from the register `r[0..17]` as it stands.
#[inline(always)]
pub(crate) fn feedback(r0: u32, r4: u32, r15: u32) -> u32 {
    mul_alpha(r0) ^ r4 ^ r15
}

/// The S-box substitution: replaces the top byte by F[top] and XORs Q[top] into the rest.
#[inline(always)]
pub(crate) fn f(w: u32) -> u32 {
    SBOX[(w >> 24) as usize] ^ (w & 0x00FF_FFFF)
}

/// The non-linear filter over the register window `w` (`w[i]` is `r[i]`).
#[inline(always)]
pub(crate) fn nlf(w: &[u32], konst: u32) -> u32 {
    ((f(w[0].wrapping_add(w[16]))
        .wrapping_add(w[1])
        .wrapping_add(w[6]))
        ^ konst)
        .wrapping_add(w[13])
}

/// Splits key material into words as `absorb` does (docs/t32.md §2.5): a short head of
/// `len % 4` bytes first, then big-endian groups of four.
pub(crate) fn words_of(m: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let head = m.len() & 3;
    let (h, rest) = m.split_at(head);
    let first = (head != 0).then(|| h.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)));
    first.into_iter().chain(
        rest.chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
    )
}
