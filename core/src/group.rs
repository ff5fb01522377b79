//! The group XCRYPT agrees keys in: RFC 2409 section 6.1, the "First Oakley Default
//! Group", a 768-bit safe prime `p` with generator `g = 2` (docs/xcrypt.md §1).

pub use ssmail_bigint_x86::oakley::P;

/// The generator.
pub const G: u8 = 2;

/// Bytes in a public key, a private key or a shared secret (docs/xcrypt.md §2).
pub const ELEMENT_BYTES: usize = 96;

/// Hex digits of a public key on the wire.
pub const PUBLIC_KEY_HEX_DIGITS: usize = 2 * ELEMENT_BYTES;
