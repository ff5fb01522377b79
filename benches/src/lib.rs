//! Support for the ssmail benchmarks (`cargo bench -p ssmail-benches`).
//!
//! The benchmarks themselves live in `benches/ciphers.rs`. This library holds what the
//! benchmarks and the `peers_agree` test share: safe wrappers around the two C peers
//! ([`OpensslRc4`], OpenSSL's RC4 assembly from libcrypto, and [`T32RefC`], a plain C
//! SOBER-t32 written here from docs/t32.md §2) and [`seeded_bytes`] for reproducible inputs.

pub mod gmp_powm;
pub mod openssl_bn;
pub mod openssl_rc4;
pub mod t32_ref_c;

pub use gmp_powm::GmpModexp;
pub use openssl_bn::OpensslModexp;
pub use openssl_rc4::OpensslRc4;
pub use t32_ref_c::T32RefC;

/// The fastest of the timed calls so far, for the interleaved min-of-N examples: on a
/// shared machine the slow calls measure the neighbours, the fastest the code.
#[derive(Debug, Clone, Copy)]
pub struct Fastest(f64);

impl Default for Fastest {
    fn default() -> Self {
        Self(f64::MAX)
    }
}

impl Fastest {
    /// Times one call of `f`, keeping it if it is the fastest yet.
    pub fn time(&mut self, f: impl FnOnce()) {
        let t = std::time::Instant::now();
        f();
        self.0 = self.0.min(t.elapsed().as_secs_f64());
    }

    /// The fastest call, in seconds.
    pub fn seconds(self) -> f64 {
        self.0
    }
}

/// The examples' one argument, ROUNDS (how many interleaved passes), or `default`.
///
/// # Panics
/// If the argument is not a number.
pub fn rounds_arg(default: usize) -> usize {
    std::env::args()
        .nth(1)
        .map_or(Ok(default), |s| s.parse())
        .expect("ROUNDS is a number")
}

/// `len` pseudo-random bytes from a fixed `seed` (SplitMix64), so that every run of the
/// benchmarks and tests sees the same keys and buffers. Not for cryptographic use.
pub fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&z.to_le_bytes()[..take]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::seeded_bytes;

    #[test]
    fn seeded_bytes_is_deterministic_and_prefix_stable() {
        assert_eq!(seeded_bytes(7, 100), seeded_bytes(7, 100));
        assert_eq!(seeded_bytes(7, 100)[..37], seeded_bytes(7, 37)[..]);
        assert_ne!(seeded_bytes(7, 16), seeded_bytes(8, 16));
        assert!(seeded_bytes(1, 0).is_empty());
    }
}
