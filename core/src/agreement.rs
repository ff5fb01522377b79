//! The shared secret `Z = K_peer^r mod p` (docs/xcrypt.md §1).

use core::fmt;

use ssmail_bigint_x86::oakley;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::group::ELEMENT_BYTES;
use crate::keys::{PrivateKey, PublicKey};

/// A shared secret, 96 big-endian bytes. Wiped when dropped; `Debug` prints nothing.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SharedSecret(pub(crate) [u8; ELEMENT_BYTES]);

impl SharedSecret {
    /// The 96 big-endian bytes.
    pub fn as_bytes(&self) -> &[u8; ELEMENT_BYTES] {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret { ... }")
    }
}

/// `peer^r mod p`, in constant time in the private key and the peer's key. The peer's
/// key was validated when it was parsed ([`PublicKey`] only holds values in `[2, p-2]`).
pub fn shared_secret(own: &PrivateKey, peer: &PublicKey) -> SharedSecret {
    let z = oakley::shared_secret(&peer.0, own.exponent(), None);
    SharedSecret(z.to_be_bytes())
}
