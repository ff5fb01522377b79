//! Choosing a cipher by name and keying it.

use std::fmt;

use ssmail_ciphers::cipher::StreamCipherError;
use ssmail_ciphers::{Arrsyfor, KeyInit, StreamCipher, T32};

/// A cipher the command line can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherName {
    /// RC4 (XCRYPT's `arrsyfor_1.0`).
    Arrsyfor,
    /// SOBER-t32 (XCRYPT's `t32_1.0`).
    T32,
}

/// A `--cipher` value that names no cipher.
#[derive(Debug)]
pub struct UnknownCipher(String);

impl fmt::Display for UnknownCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` escapes control characters, so the message stays on one line whatever
        // was typed.
        write!(f, "unknown cipher {:?}; choose arrsyfor or t32", self.0)
    }
}

/// A key whose length the cipher does not accept.
#[derive(Debug)]
pub struct BadKeyLength {
    cipher: CipherName,
    got: usize,
}

impl fmt::Display for BadKeyLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (min, max) = self.cipher.key_lengths();
        write!(
            f,
            "{} keys are {min} to {max} bytes, got {}",
            self.cipher.name(),
            self.got
        )
    }
}

impl CipherName {
    /// Looks up a name as typed on the command line (exact, lower case).
    pub fn parse(name: &str) -> Result<Self, UnknownCipher> {
        match name {
            "arrsyfor" => Ok(Self::Arrsyfor),
            "t32" => Ok(Self::T32),
            _ => Err(UnknownCipher(name.to_owned())),
        }
    }

    /// The name as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Arrsyfor => "arrsyfor",
            Self::T32 => "t32",
        }
    }

    /// Shortest and longest key in bytes. Only for messages: the cipher itself decides
    /// what it accepts, so these cannot drift into letting a bad key through.
    fn key_lengths(self) -> (usize, usize) {
        match self {
            Self::Arrsyfor => (1, 256),
            Self::T32 => (1, 32),
        }
    }
}

/// A keyed cipher of either kind. An enum rather than `Box<dyn StreamCipher>`: there are
/// only two, and the hot loop then calls them directly.
#[allow(
    clippy::large_enum_variant,
    reason = "one per process, made once: the unused 1 KiB in the t32 case costs nothing"
)]
pub enum Keystream {
    /// RC4.
    Arrsyfor(Arrsyfor),
    /// SOBER-t32.
    T32(T32),
}

impl Keystream {
    /// Keys the named cipher.
    pub fn new(cipher: CipherName, key: &[u8]) -> Result<Self, BadKeyLength> {
        let bad = |_| BadKeyLength {
            cipher,
            got: key.len(),
        };
        Ok(match cipher {
            CipherName::Arrsyfor => Self::Arrsyfor(Arrsyfor::new_from_slice(key).map_err(bad)?),
            CipherName::T32 => Self::T32(T32::new_from_slice(key).map_err(bad)?),
        })
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`; the keystream carries on
    /// across calls of any length.
    ///
    /// The `try_` form because `apply_keystream` panics when a keystream runs out. Neither
    /// cipher has an end today, but this keeps a future limit an error, not a crash.
    pub fn apply(&mut self, buf: &mut [u8]) -> Result<(), StreamCipherError> {
        match self {
            Self::Arrsyfor(c) => c.try_apply_keystream(buf),
            Self::T32(c) => c.try_apply_keystream(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CipherName, Keystream};

    #[test]
    fn parses_names() {
        assert_eq!(
            CipherName::parse("arrsyfor").ok(),
            Some(CipherName::Arrsyfor)
        );
        assert_eq!(CipherName::parse("t32").ok(), Some(CipherName::T32));
        for bad in ["rc5", "", "T32", "t32 ", "rc4"] {
            assert!(CipherName::parse(bad).is_err(), "{bad:?}");
        }
        let e = CipherName::parse("a\nb").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(r#"unknown cipher "a\nb"; choose arrsyfor or t32"#)
        );
    }

    #[test]
    fn key_length_limits() {
        for (cipher, max) in [(CipherName::Arrsyfor, 256), (CipherName::T32, 32)] {
            assert!(Keystream::new(cipher, &[]).is_err());
            assert!(Keystream::new(cipher, &[7]).is_ok());
            assert!(Keystream::new(cipher, &vec![7; max]).is_ok());
            let e = Keystream::new(cipher, &vec![7; max + 1])
                .err()
                .map(|e| e.to_string());
            assert_eq!(
                e,
                Some(format!(
                    "{} keys are 1 to {max} bytes, got {}",
                    cipher.name(),
                    max + 1
                ))
            );
        }
    }
}
