//! Which of the two ciphers, and a keyed cipher of either: the one spelling of a cipher
//! choice that the protocol (`Version` in core), the stream file format and the command
//! line all map onto.

use cipher::{InvalidLength, KeyInit, StreamCipher, StreamCipherError};

use crate::{Arrsyfor, T32};

/// One of the two stream ciphers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SOBER-t32, key-only mode ([`T32`]).
    T32,
    /// RC4 ([`Arrsyfor`]).
    Arrsyfor,
}

impl Algorithm {
    /// Both, in the order the protocol prefers them (t32 is the faster).
    pub const ALL: [Algorithm; 2] = [Algorithm::T32, Algorithm::Arrsyfor];

    /// The short name: `t32` or `arrsyfor` (what the command line types, and the
    /// algorithm part of an XCRYPT version string).
    pub const fn name(self) -> &'static str {
        match self {
            Self::T32 => "t32",
            Self::Arrsyfor => "arrsyfor",
        }
    }

    /// The algorithm whose [`name`](Self::name) is exactly `name` (lower case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The shortest and longest key the cipher takes, in bytes. The ciphers' own
    /// `new_from_slice` decides; these are for messages and for callers that check first.
    pub const fn key_lengths(self) -> (usize, usize) {
        match self {
            Self::T32 => (1, 32),
            Self::Arrsyfor => (1, 256),
        }
    }
}

/// A keyed cipher of either [`Algorithm`], run from keystream offset 0. An enum rather
/// than a trait object: there are only two, the hot loop calls them directly, and
/// `no_std` callers have no allocator to box with.
#[allow(
    clippy::large_enum_variant,
    reason = "callers hold one or two, on the stack or boxed as they choose"
)]
#[derive(Clone)]
pub enum AnyCipher {
    /// SOBER-t32.
    T32(T32),
    /// RC4.
    Arrsyfor(Arrsyfor),
}

impl AnyCipher {
    /// Keys `algorithm` with `key` (any length the cipher takes: see
    /// [`Algorithm::key_lengths`]).
    ///
    /// # Errors
    /// [`InvalidLength`] for a key length the cipher refuses.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<Self, InvalidLength> {
        Ok(match algorithm {
            Algorithm::T32 => Self::T32(T32::new_from_slice(key)?),
            Algorithm::Arrsyfor => Self::Arrsyfor(Arrsyfor::new_from_slice(key)?),
        })
    }

    /// Which cipher this is.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::T32(_) => Algorithm::T32,
            Self::Arrsyfor(_) => Algorithm::Arrsyfor,
        }
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`; the keystream carries on
    /// across calls of any length.
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        match self {
            Self::T32(c) => c.apply_keystream(buf),
            Self::Arrsyfor(c) => c.apply_keystream(buf),
        }
    }

    /// [`apply_keystream`](Self::apply_keystream), with the end of the keystream an
    /// error rather than a panic. Neither cipher has an end today; callers that must not
    /// panic (a C caller, a file of any length) use this form so that a future limit
    /// stays an error.
    ///
    /// # Errors
    /// [`StreamCipherError`] if the keystream would run out (`buf` is then unchanged).
    pub fn try_apply_keystream(&mut self, buf: &mut [u8]) -> Result<(), StreamCipherError> {
        match self {
            Self::T32(c) => c.try_apply_keystream(buf),
            Self::Arrsyfor(c) => c.try_apply_keystream(buf),
        }
    }
}

impl core::fmt::Debug for AnyCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The state is secret: name the cipher only.
        write!(f, "AnyCipher({})", self.algorithm().name())
    }
}

#[cfg(test)]
mod tests {
    use super::{Algorithm, AnyCipher};
    use crate::{Arrsyfor, KeyInit, StreamCipher, T32};

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        for bad in ["", "T32", "t32 ", "rc4", "arrsyfor_1.0"] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn key_lengths_are_what_the_ciphers_take() {
        for a in Algorithm::ALL {
            let (min, max) = a.key_lengths();
            assert!(AnyCipher::new(a, &[0u8; 300][..min - 1]).is_err());
            assert!(AnyCipher::new(a, &[0u8; 300][..min]).is_ok());
            assert!(AnyCipher::new(a, &[0u8; 300][..max]).is_ok());
            assert!(AnyCipher::new(a, &[0u8; 300][..max + 1]).is_err());
        }
    }

    #[test]
    fn same_keystream_as_the_cipher_itself() {
        let key = *b"0123456789";
        let mut a = [0u8; 100];
        let mut b = [0u8; 100];
        let mut any = AnyCipher::new(Algorithm::T32, &key).unwrap_or_else(|_| unreachable!());
        any.apply_keystream(&mut a[..37]);
        any.apply_keystream(&mut a[37..]);
        T32::new(&key.into()).apply_keystream(&mut b);
        assert_eq!(a, b);
        let mut any = AnyCipher::new(Algorithm::Arrsyfor, &key).unwrap_or_else(|_| unreachable!());
        assert_eq!(any.algorithm(), Algorithm::Arrsyfor);
        any.apply_keystream(&mut a);
        Arrsyfor::new(&key.into()).apply_keystream(&mut b);
        assert_eq!(a, b);
    }
}
