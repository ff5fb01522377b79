//! Choosing a cipher by name on the command line and keying it: the workspace's one
//! spelling of a cipher choice ([`Algorithm`]) and keyed cipher ([`AnyCipher`]), with
//! the command line's messages.

use std::fmt;

pub use ssmail_ciphers::{Algorithm, AnyCipher};

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
    cipher: Algorithm,
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

/// Looks up a cipher as typed on the command line (exact, lower case).
pub fn parse(name: &str) -> Result<Algorithm, UnknownCipher> {
    Algorithm::from_name(name).ok_or_else(|| UnknownCipher(name.to_owned()))
}

/// Keys the named cipher; the cipher itself decides which lengths it takes.
pub fn keyed(cipher: Algorithm, key: &[u8]) -> Result<AnyCipher, BadKeyLength> {
    AnyCipher::new(cipher, key).map_err(|_| BadKeyLength {
        cipher,
        got: key.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::{Algorithm, keyed, parse};

    #[test]
    fn parses_names() {
        assert_eq!(parse("arrsyfor").ok(), Some(Algorithm::Arrsyfor));
        assert_eq!(parse("t32").ok(), Some(Algorithm::T32));
        for bad in ["rc5", "", "T32", "t32 ", "rc4"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let e = parse("a\nb").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(r#"unknown cipher "a\nb"; choose arrsyfor or t32"#)
        );
    }

    #[test]
    fn key_length_limits() {
        for (cipher, max) in [(Algorithm::Arrsyfor, 256), (Algorithm::T32, 32)] {
            assert!(keyed(cipher, &[]).is_err());
            assert!(keyed(cipher, &[7]).is_ok());
            assert!(keyed(cipher, &vec![7; max]).is_ok());
            let e = keyed(cipher, &vec![7; max + 1])
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
