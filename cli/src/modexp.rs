//! `ssmail modexp` and `ssmail backends`: the 768-bit exponentiation modulo the Oakley
//! prime, for checking against outside implementations, and the backends behind it.

use ssmail_bigint_x86::{BYTES, Backend, SecretExponent, U768, oakley};
use ssmail_ciphers::Paths as _;

use ssmail_core::hex::{self, HexError};

use crate::failure::Failure;

/// Parses a number given in hex (either case, any number of digits, odd counts allowed)
/// into 96 bytes, left-padded. `what` names the option in errors.
fn number(text: &str, what: &str) -> Result<[u8; BYTES], Failure> {
    let usage = |e: HexError| Failure::Usage(format!("{what}: {e}"));
    if text.is_empty() {
        return Err(usage(HexError::Empty));
    }
    hex::check(text.as_bytes()).map_err(usage)?;
    let digits = text.trim_start_matches('0').as_bytes();
    if digits.len() > 2 * BYTES {
        return Err(Failure::Usage(format!(
            "{what}: more than {BYTES} bytes ({} hex digits)",
            digits.len()
        )));
    }
    // Right-aligned: zeros in front make it exactly 192 digits.
    let mut padded = [b'0'; 2 * BYTES];
    padded[2 * BYTES - digits.len()..].copy_from_slice(digits);
    hex::decode_exact(&padded).map_err(usage)
}

/// The backend named on the command line, or the default; unknown or unrunnable names
/// are usage errors.
pub fn backend(name: Option<&str>) -> Result<Backend, Failure> {
    let Some(name) = name else {
        return Ok(Backend::default_path());
    };
    let b = Backend::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
        Failure::Usage(format!(
            "unknown backend {name:?}; compiled in: {}",
            names.join(", ")
        ))
    })?;
    if !b.is_runnable() {
        return Err(Failure::Usage(format!(
            "backend {name} cannot run on this CPU"
        )));
    }
    Ok(b)
}

/// `base^exp mod p` as 192 lowercase hex digits.
pub fn modexp(base: &str, exp: &str, backend_name: Option<&str>) -> Result<String, Failure> {
    let base = U768::from_be_bytes(&number(base, "--base")?);
    let exp = SecretExponent::from_be_bytes(&number(exp, "--exp")?);
    let backend = backend(backend_name)?;
    let r = oakley::PARAMS.pow_with(backend, &base, &exp);
    Ok(crate::hexkey::encode(&r.to_be_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_right_aligned_and_checked() {
        let two = number("2", "x").map_err(|_| ()).expect("valid");
        assert_eq!(two[95], 2);
        assert!(two[..95].iter().all(|&b| b == 0));
        let odd = number("abc", "x").map_err(|_| ()).expect("valid");
        assert_eq!(&odd[94..], &[0x0a, 0xbc]);
        assert!(number("", "x").is_err());
        assert!(number("12g4", "x").is_err());
        assert!(number(&"f".repeat(193), "x").is_err());
        assert!(number(&format!("00{}", "f".repeat(192)), "x").is_ok());
    }

    #[test]
    fn two_to_the_one_is_two() {
        let r = modexp("2", "1", None).map_err(|_| ()).expect("valid");
        assert_eq!(r.len(), 192);
        assert_eq!(&r[190..], "02");
    }
}
