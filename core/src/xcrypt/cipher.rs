//! One direction's stream cipher after the switch point (docs/xcrypt.md §3).

use ssmail_ciphers::{Arrsyfor, KeyInit, StreamCipher, T32};

use crate::kdf::KEY_BYTES;
use crate::xcrypt::version::Version;

/// The cipher of one direction, keyed once and run from keystream offset 0.
#[allow(
    clippy::large_enum_variant,
    reason = "no allocator to box with, and there is one per direction"
)]
pub(crate) enum DirectionCipher {
    T32(T32),
    Arrsyfor(Arrsyfor),
}

impl DirectionCipher {
    pub(crate) fn new(version: Version, key: &[u8; KEY_BYTES]) -> Self {
        match version {
            Version::T32V1_0 => Self::T32(T32::new(key.into())),
            Version::ArrsyforV1_0 => Self::Arrsyfor(Arrsyfor::new(key.into())),
        }
    }

    /// XORs the next keystream bytes into `buf`.
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        match self {
            Self::T32(c) => c.apply_keystream(buf),
            Self::Arrsyfor(c) => c.apply_keystream(buf),
        }
    }
}

/// Bytes en- or decrypted per piece, on the stack: enough for t32's wide keystream path
/// on 64-bit machines; small on the others, which include firmware with small stacks.
const PIECE: usize = if cfg!(target_pointer_width = "64") {
    4096
} else {
    512
};

/// Sends `bytes` to `out`, through `cipher` if there is one (in pieces, with no
/// allocation).
pub(crate) fn send(
    cipher: &mut Option<DirectionCipher>,
    bytes: &[u8],
    out: &mut impl FnMut(&[u8]),
) {
    match cipher {
        None => out(bytes),
        Some(c) => {
            let all: Result<(), core::convert::Infallible> = receive(c, bytes, |b| {
                out(b);
                Ok(())
            });
            let Ok(()) = all;
        }
    }
}

/// Decrypts `input` piece by piece into a buffer on the stack and hands each piece to
/// `f`. (The stream is never decrypted in place: the caller's input is borrowed.)
pub(crate) fn receive<E>(
    cipher: &mut DirectionCipher,
    input: &[u8],
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = [0u8; PIECE];
    for piece in input.chunks(buf.len()) {
        let b = &mut buf[..piece.len()];
        b.copy_from_slice(piece);
        cipher.apply(b);
        f(b)?;
    }
    Ok(())
}
