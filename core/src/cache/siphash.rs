//! SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), the
//! keyed hash that places peers in the frequency sketch and tags their slots. Keyed so
//! that whoever sends us public keys cannot choose keys that land on the counters of a
//! peer we want to keep (their inputs are public keys, which are public; the key is
//! what they must not know).

/// A SipHash-2-4 key.
#[derive(Clone, Copy, Default)]
pub(crate) struct SipKey {
    k0: u64,
    k1: u64,
}

impl SipKey {
    /// The key of 16 bytes, read as two little-endian words (the paper's convention).
    pub(crate) fn from_bytes(b: &[u8; 16]) -> Self {
        let mut k0 = [0; 8];
        let mut k1 = [0; 8];
        k0.copy_from_slice(&b[..8]);
        k1.copy_from_slice(&b[8..]);
        Self {
            k0: u64::from_le_bytes(k0),
            k1: u64::from_le_bytes(k1),
        }
    }

    /// SipHash-2-4 of `msg` under this key.
    pub(crate) fn hash(&self, msg: &[u8]) -> u64 {
        let mut v = [
            self.k0 ^ 0x736f_6d65_7073_6575,
            self.k1 ^ 0x646f_7261_6e64_6f6d,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ];
        let mut words = msg.chunks_exact(8);
        for w in words.by_ref() {
            let mut b = [0; 8];
            b.copy_from_slice(w);
            compress(&mut v, u64::from_le_bytes(b));
        }
        // The last word: the tail bytes, and the length's low byte on top.
        let mut last = [0; 8];
        let tail = words.remainder();
        last[..tail.len()].copy_from_slice(tail);
        last[7] = msg.len() as u8;
        compress(&mut v, u64::from_le_bytes(last));
        v[2] ^= 0xff;
        for _ in 0..4 {
            round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    round(v);
    round(v);
    v[0] ^= m;
}

fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    use super::SipKey;

    fn paper_key() -> SipKey {
        let mut k = [0u8; 16];
        k.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        SipKey::from_bytes(&k)
    }

    #[test]
    fn the_papers_vector() {
        // SipHash paper, appendix A: key 00..0f, message 00..0e.
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        assert_eq!(paper_key().hash(&msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(
        deprecated,
        reason = "core's SipHasher is SipHash-2-4: a second opinion"
    )]
    fn agrees_with_cores_siphasher_for_every_length_up_to_a_public_key() {
        use core::hash::{Hasher as _, SipHasher};
        let msg: [u8; 97] = core::array::from_fn(|i| (i as u8).wrapping_mul(151));
        for len in 0..=96 {
            for key in [paper_key(), SipKey::from_bytes(&[0xa5; 16])] {
                let mut h = SipHasher::new_with_keys(key.k0, key.k1);
                h.write(&msg[..len]);
                assert_eq!(key.hash(&msg[..len]), h.finish(), "length {len}");
            }
        }
    }
}
