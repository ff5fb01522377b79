//! A cipher's place in its keystream as bytes, and back: for a session that moves to
//! another process mid-stream (Postfix hands idle SMTP connections to its connection
//! cache, and any smtp process may take one up again). The bytes say which cipher, then
//! its whole state, but not which path ran it: the restoring process runs its own
//! default. They are as secret as the key, and as valid as the day they were saved:
//! nothing in them expires.

use core::fmt;

use crate::choice::{Algorithm, AnyCipher};
use crate::{Arrsyfor, T32, arrsyfor, t32};

/// The longest saved state, of either cipher: one byte for which, then the state.
pub const SAVED_MAX: usize = 1 + max(t32::SAVED_LEN, arrsyfor::SAVED_LEN);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The first byte of a saved state: which cipher follows.
const fn tag(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::T32 => 1,
        Algorithm::Arrsyfor => 2,
    }
}

/// Bytes that [`AnyCipher::save`] cannot have written: unknown cipher, wrong length,
/// or a state no keystream position has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidState;

impl fmt::Display for InvalidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a saved cipher state")
    }
}

impl core::error::Error for InvalidState {}

impl AnyCipher {
    /// Writes this cipher's place in its keystream into `out` and returns how many bytes
    /// that took (at most [`SAVED_MAX`]). [`restore`](Self::restore) of those bytes, in
    /// this process or another, carries on exactly where this cipher stands.
    pub fn save(&self, out: &mut [u8; SAVED_MAX]) -> usize {
        out[0] = tag(self.algorithm());
        match self {
            Self::T32(c) => {
                let (state, _) = out[1..].split_first_chunk_mut().expect("SAVED_MAX fits");
                c.save(state);
                1 + t32::SAVED_LEN
            }
            Self::Arrsyfor(c) => {
                let (state, _) = out[1..].split_first_chunk_mut().expect("SAVED_MAX fits");
                c.save(state);
                1 + arrsyfor::SAVED_LEN
            }
        }
    }

    /// The cipher [`save`](Self::save) wrote `saved` from, on this process's default
    /// path.
    ///
    /// # Errors
    /// [`InvalidState`] for anything `save` cannot have written.
    pub fn restore(saved: &[u8]) -> Result<Self, InvalidState> {
        let (&which, state) = saved.split_first().ok_or(InvalidState)?;
        let cipher = if which == tag(Algorithm::T32) {
            T32::restore(state.try_into().map_err(|_| InvalidState)?).map(Self::T32)
        } else if which == tag(Algorithm::Arrsyfor) {
            Arrsyfor::restore(state.try_into().map_err(|_| InvalidState)?).map(Self::Arrsyfor)
        } else {
            None
        };
        cipher.ok_or(InvalidState)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::{InvalidState, SAVED_MAX};
    use crate::choice::{Algorithm, AnyCipher};
    use crate::{Arrsyfor, ArrsyforPath, Paths, T32, T32Path};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn saved(c: &AnyCipher) -> ([u8; SAVED_MAX], usize) {
        let mut out = [0u8; SAVED_MAX];
        let n = c.save(&mut out);
        (out, n)
    }

    proptest! {
        /// Saved after any run of calls of any lengths (so mid-word for t32, mid control
        /// word, mid look-ahead of the vector paths) and restored, a cipher carries on
        /// with the very keystream the original goes on to make, whichever path each runs.
        #[test]
        fn restored_carries_on_exactly(
            t32 in any::<bool>(),
            path_pick in 0usize..8,
            key in proptest::collection::vec(any::<u8>(), 10),
            before in proptest::collection::vec(0usize..700, 0..6),
            after in proptest::collection::vec(0usize..700, 1..4),
        ) {
            let algorithm = if t32 { Algorithm::T32 } else { Algorithm::Arrsyfor };
            // The original on any runnable path (the restored one runs the default).
            let mut original = if t32 {
                let path = T32Path::runnable().collect::<Vec<_>>().into_iter().cycle().nth(path_pick).unwrap();
                AnyCipher::T32(T32::with_path(&key, None, path).unwrap())
            } else {
                let path = ArrsyforPath::runnable().collect::<Vec<_>>().into_iter().cycle().nth(path_pick).unwrap();
                AnyCipher::Arrsyfor(Arrsyfor::with_path(&key, path).unwrap())
            };
            for n in before {
                original.apply_keystream(&mut vec![0u8; n]);
            }
            let (bytes, n) = saved(&original);
            let mut restored = AnyCipher::restore(&bytes[..n]).unwrap();
            prop_assert_eq!(restored.algorithm(), algorithm);
            // Saving the restored cipher gives the same bytes.
            prop_assert_eq!(&saved(&restored).0[..n], &bytes[..n]);
            for n in after {
                let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
                original.apply_keystream(&mut a);
                restored.apply_keystream(&mut b);
                prop_assert_eq!(a, b);
            }
        }
    }

    /// Bytes as a caller might hand them over: any length, or a tag and the exact state
    /// length with any contents (t32 contents are mostly accepted; arrsyfor contents
    /// almost never are a permutation).
    fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), crate::t32::SAVED_LEN).prop_map(|mut v| {
                v.insert(0, 1);
                v
            }),
            proptest::collection::vec(any::<u8>(), crate::arrsyfor::SAVED_LEN).prop_map(|mut v| {
                v.insert(0, 2);
                v
            }),
        ]
    }

    proptest! {
        /// Any bytes: no panic; whatever is accepted saves back to the same bytes and
        /// makes keystream.
        #[test]
        fn any_bytes_restore_or_refuse(bytes in any_bytes()) {
            if let Ok(mut c) = AnyCipher::restore(&bytes) {
                let (again, n) = saved(&c);
                prop_assert_eq!(&again[..n], &bytes[..]);
                c.apply_keystream(&mut [0u8; 100]);
            }
        }
    }

    #[test]
    fn lengths_and_tags() {
        let t = AnyCipher::new(Algorithm::T32, &[7; 10]).unwrap();
        let a = AnyCipher::new(Algorithm::Arrsyfor, &[7; 10]).unwrap();
        let (tb, tn) = saved(&t);
        let (ab, an) = saved(&a);
        assert_eq!((tb[0], tn), (1, 1 + 4 * 21 + 1));
        assert_eq!((ab[0], an), (2, SAVED_MAX));
        // One byte short or long, an unknown tag, nothing at all.
        for bad in [&tb[..tn - 1], &tb[..tn + 1], &ab[..an - 1], &[][..]] {
            assert_eq!(AnyCipher::restore(bad).err(), Some(InvalidState));
        }
        for which in [0u8, 3, 255] {
            let mut b = tb;
            b[0] = which;
            assert!(AnyCipher::restore(&b[..tn]).is_err());
        }
        // A t32 state under the arrsyfor tag has the wrong length.
        let mut b = tb;
        b[0] = 2;
        assert!(AnyCipher::restore(&b[..tn]).is_err());
    }

    #[test]
    fn states_no_position_has_are_refused() {
        let t = AnyCipher::new(Algorithm::T32, &[7; 10]).unwrap();
        let (tb, tn) = saved(&t);
        let word_at = |i: usize| 1 + 4 * i;
        // The dibit count (word 19) above 16; the tail length (last byte) above 3.
        let mut b = tb;
        b[word_at(19)] = 17;
        assert!(AnyCipher::restore(&b[..tn]).is_err());
        let mut b = tb;
        b[tn - 1] = 4;
        assert!(AnyCipher::restore(&b[..tn]).is_err());
        // Sixteen dibits, and a three-byte tail, are fine.
        let mut b = tb;
        b[word_at(19)] = 16;
        b[tn - 1] = 3;
        b[word_at(20)..word_at(20) + 3].fill(0xff);
        assert!(AnyCipher::restore(&b[..tn]).is_ok());
        // Fresh t32 state: no dibits, no tail: accepted.
        assert!(AnyCipher::restore(&tb[..tn]).is_ok());

        // An arrsyfor state whose entries repeat one value, or miss one.
        let a = AnyCipher::new(Algorithm::Arrsyfor, &[7; 10]).unwrap();
        let (ab, an) = saved(&a);
        let mut b = ab;
        b[2] = b[1];
        assert!(AnyCipher::restore(&b[..an]).is_err());
        let mut b = ab;
        b[1..257].fill(0);
        assert!(AnyCipher::restore(&b[..an]).is_err());
        // i and j may be anything.
        let mut b = ab;
        b[257] = 200;
        b[258] = 13;
        assert!(AnyCipher::restore(&b[..an]).is_ok());
    }
}
