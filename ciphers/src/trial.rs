//! The public work both ciphers' path trials time ([`ssmail_cpu::Chosen`]).

use cipher::{InvalidLength, StreamCipher};

/// The public key the path trials key with.
pub(crate) const TRIAL_KEY: [u8; 10] = *b"path trial";

/// 4 KiB of keystream from `cipher`, keyed by the caller on one path with
/// [`TRIAL_KEY`] (a failed keying times nothing).
pub(crate) fn keystream_4k(cipher: Result<impl StreamCipher, InvalidLength>) {
    if let Ok(mut c) = cipher {
        let mut buf = [0u8; 4096];
        c.apply_keystream(&mut buf);
        core::hint::black_box(&buf);
    }
}
