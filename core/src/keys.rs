//! Private and public keys of the XCRYPT Diffie-Hellman exchange.

use core::fmt;

use rand_core::TryCryptoRng;
use ssmail_bigint_x86::{SecretExponent, U768, oakley};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::PublicKeyError;
use crate::group::{ELEMENT_BYTES, P, PUBLIC_KEY_HEX_DIGITS};
use crate::hex::{self, HexError};

/// `2` and `p - 2`, the bounds of private keys and of acceptable public keys.
const TWO: U768 = {
    let mut b = [0u8; ELEMENT_BYTES];
    b[ELEMENT_BYTES - 1] = 2;
    U768::from_be_bytes(&b)
};
const P_MINUS_2: U768 = {
    let mut b = P.to_be_bytes();
    // p ends in ...ff, so subtracting 2 touches the last byte only.
    b[ELEMENT_BYTES - 1] -= 2;
    U768::from_be_bytes(&b)
};

/// A private key `r`, uniformly random in `[2, p-2]`. Wiped when dropped; its `Debug`
/// prints nothing of it.
pub struct PrivateKey {
    exp: SecretExponent,
    bytes: [u8; ELEMENT_BYTES],
}

impl PrivateKey {
    /// A fresh key from a cryptographic RNG. Draws 768 bits until the value lands in
    /// `[2, p-2]`, which almost always happens at once (p is within 2^705 of 2^768).
    ///
    /// NOTE: the number of draws depends on the secret draws that were rejected, not on
    /// the key that is kept.
    ///
    /// # Errors
    /// The RNG's error, if it fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, R::Error> {
        let mut bytes = [0u8; ELEMENT_BYTES];
        loop {
            rng.try_fill_bytes(&mut bytes)?;
            if let Some(key) = Self::from_be_bytes(&bytes) {
                bytes.zeroize();
                return Ok(key);
            }
        }
    }

    /// A key from its 96 big-endian bytes, or `None` unless it is in `[2, p-2]`.
    pub fn from_be_bytes(bytes: &[u8; ELEMENT_BYTES]) -> Option<Self> {
        let v = U768::from_be_bytes(bytes);
        // Constant time: both comparisons run whatever the value.
        let too_small = v.ct_lt(&TWO);
        let too_big = P_MINUS_2.ct_lt(&v);
        ((too_small | too_big) == 0).then(|| Self {
            exp: SecretExponent::from_be_bytes(bytes),
            bytes: *bytes,
        })
    }

    /// The 96 big-endian bytes (for storing the key; handle with care).
    pub fn to_be_bytes(&self) -> [u8; ELEMENT_BYTES] {
        self.bytes
    }

    /// The matching public key `2^r mod p`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(oakley::public_key(&self.exp, None))
    }

    pub(crate) fn exponent(&self) -> &SecretExponent {
        &self.exp
    }
}

/// A private key with its public key, worked out once (it costs an exponentiation).
pub struct KeyPair {
    private: PrivateKey,
    public: PublicKey,
}

impl KeyPair {
    /// The pair of `private`.
    pub fn new(private: PrivateKey) -> Self {
        let public = private.public_key();
        Self { private, public }
    }

    /// A fresh pair from a cryptographic RNG.
    ///
    /// # Errors
    /// The RNG's error, if it fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, R::Error> {
        PrivateKey::generate(rng).map(Self::new)
    }

    /// The private key.
    pub fn private(&self) -> &PrivateKey {
        &self.private
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }
}

/// Prints the public key only.
impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for PrivateKey {}

/// Prints no part of the key.
impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey { ... }")
    }
}

/// A public key `K = 2^r mod p`, known to be in `[2, p-2]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(pub(crate) U768);

impl PublicKey {
    /// A peer's key from its 96 big-endian bytes, checked to be in `[2, p-2]`.
    ///
    /// # Errors
    /// [`PublicKeyError::OutOfRange`] for 0, 1, p-1 and anything `>= p`.
    pub fn from_be_bytes(bytes: &[u8; ELEMENT_BYTES]) -> Result<Self, PublicKeyError> {
        let v = U768::from_be_bytes(bytes);
        if v.ct_lt(&TWO) == 1 || P_MINUS_2.ct_lt(&v) == 1 {
            return Err(PublicKeyError::OutOfRange);
        }
        Ok(Self(v))
    }

    /// A peer's key as it comes on the wire: exactly 192 hex digits, either case.
    ///
    /// # Errors
    /// The wrong length, a non-hex character, or a value outside `[2, p-2]`.
    pub fn from_hex(text: &str) -> Result<Self, PublicKeyError> {
        let bytes = hex::decode_exact::<ELEMENT_BYTES>(text.as_bytes()).map_err(|e| match e {
            HexError::NotHex { index } => PublicKeyError::NotHex { index },
            // decode_exact reports lengths as `Length` only.
            HexError::Empty | HexError::OddLength { .. } | HexError::Length { .. } => {
                PublicKeyError::Length { digits: text.len() }
            }
        })?;
        Self::from_be_bytes(&bytes)
    }

    /// The 96 big-endian bytes.
    pub fn to_be_bytes(&self) -> [u8; ELEMENT_BYTES] {
        self.0.to_be_bytes()
    }

    /// The wire form: 192 lowercase hex digits, written into `out`.
    pub fn write_hex(&self, out: &mut [u8; PUBLIC_KEY_HEX_DIGITS]) {
        hex::encode_into(&self.to_be_bytes(), out);
    }
}
