//! docs/xcrypt.md §3: the two direction keys from the shared secret and both nonces.

use sha1::{Digest, Sha1};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes in a nonce (80 bits).
pub const NONCE_BYTES: usize = 10;
/// Bytes in a direction key (80 bits).
pub const KEY_BYTES: usize = 10;

/// The keys of one session, one per direction. Wiped when dropped; `Debug` prints
/// nothing of them.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DirectionKeys {
    /// Client to server: `H[0..10]`.
    pub client_to_server: [u8; KEY_BYTES],
    /// Server to client: `H[10..20]`.
    pub server_to_client: [u8; KEY_BYTES],
}

impl core::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DirectionKeys { ... }")
    }
}

/// `H = SHA-1(Z (96 bytes) || Na || Nb)`, split into the two direction keys. `na` is the
/// client's nonce, `nb` the server's.
pub fn derive(
    shared_secret: &[u8; 96],
    na: &[u8; NONCE_BYTES],
    nb: &[u8; NONCE_BYTES],
) -> DirectionKeys {
    let mut h = Sha1::new();
    h.update(shared_secret);
    h.update(na);
    h.update(nb);
    let mut digest: [u8; 20] = h.finalize().into();
    let mut keys = DirectionKeys {
        client_to_server: [0; KEY_BYTES],
        server_to_client: [0; KEY_BYTES],
    };
    keys.client_to_server.copy_from_slice(&digest[..KEY_BYTES]);
    keys.server_to_client.copy_from_slice(&digest[KEY_BYTES..]);
    digest.zeroize();
    keys
}
