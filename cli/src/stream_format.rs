//! The `ssmail encrypt` file format, version 1 (written down in `cli/STREAM-FORMAT.md`):
//! a header naming the cipher and carrying a fresh nonce, then chunks, each with a MAC
//! over its index, a final-chunk flag and its ciphertext. Everything here works on
//! buffers; the command does the reading and writing.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use ssmail_ciphers::AnyCipher;
use ssmail_core::{PrivateKey, PublicKey, shared_secret};
use zeroize::Zeroizing;

/// The first eight bytes of every file.
pub const MAGIC: [u8; 8] = *b"SSMAILST";
/// The format version written and read.
pub const VERSION: u8 = 1;
/// log2 of the chunk size written (64 KiB).
pub const CHUNK_LOG2: u8 = 16;
/// The smallest and largest chunk sizes read (1 KiB to 16 MiB, as log2).
pub const CHUNK_LOG2_RANGE: core::ops::RangeInclusive<u8> = 10..=24;
/// Bytes in the nonce.
pub const NONCE: usize = 16;
/// Bytes in a symmetric key.
pub const SYMMETRIC_KEY: usize = 32;
/// Bytes in a MAC tag (HMAC-SHA-256).
pub const TAG: usize = 32;
/// Bytes in a public key.
pub const PUBLIC: usize = 96;
/// Header bytes before the optional ephemeral key: magic, version, cipher, key mode,
/// chunk size, nonce.
pub const FIXED: usize = 8 + 4 + NONCE;
/// Bytes of arrsyfor (RC4) keystream thrown away before use (RC4-drop\[3072\]): its
/// first bytes are the most biased.
pub const ARRSYFOR_DROP: usize = 3072;

/// The stream cipher of a file: SOBER-t32 (code 1), or arrsyfor, RC4-compatible, with
/// the first [`ARRSYFOR_DROP`] keystream bytes dropped (code 2).
pub use ssmail_ciphers::Algorithm as Cipher;

/// The cipher's code in the header.
fn cipher_code(c: Cipher) -> u8 {
    match c {
        Cipher::T32 => 1,
        Cipher::Arrsyfor => 2,
    }
}

/// The cipher of a header code.
fn cipher_of_code(c: u8) -> Option<Cipher> {
    match c {
        1 => Some(Cipher::T32),
        2 => Some(Cipher::Arrsyfor),
        _ => None,
    }
}

/// How the file's key is had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMode {
    /// From a 32-byte symmetric key (code 1).
    Symmetric,
    /// From a Diffie-Hellman agreement between this ephemeral public key and the
    /// recipient's key pair (code 2).
    Recipient {
        /// The sender's ephemeral public key.
        ephemeral: PublicKey,
    },
}

/// Why a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The magic is wrong: not a file `ssmail encrypt` wrote.
    NotSsmail,
    /// A format version, cipher, key mode or chunk size this build does not know.
    Unsupported(String),
    /// A MAC did not match: the wrong key, or the bytes were changed.
    BadTag {
        /// `None` for the header, else the chunk index.
        chunk: Option<u64>,
    },
    /// A chunk's framing is impossible (a length above the chunk size, a short chunk
    /// that is not the last, bytes after the last chunk).
    Malformed(String),
    /// The input ends before the final chunk.
    Truncated,
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotSsmail => f.write_str("not an ssmail file (bad magic)"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
            Self::BadTag { chunk: None } => {
                f.write_str("wrong key, or the header is corrupted (its MAC does not match)")
            }
            Self::BadTag { chunk: Some(i) } => write!(
                f,
                "corrupted input: chunk {i} fails its MAC (changed, reordered or from another file)"
            ),
            Self::Malformed(why) => write!(f, "corrupted input: {why}"),
            Self::Truncated => f.write_str("truncated input: it ends before the final chunk"),
        }
    }
}

/// A parsed header (its tag not yet checked: that needs the key).
#[derive(Debug, Clone)]
pub struct Header {
    /// The cipher.
    pub cipher: Cipher,
    /// How the key is had.
    pub mode: KeyMode,
    /// Chunk size in bytes.
    pub chunk: usize,
    /// The nonce.
    pub nonce: [u8; NONCE],
}

impl Header {
    /// The header's length in bytes, tag included, for a key mode code.
    fn len_for(mode: u8) -> usize {
        FIXED + if mode == 2 { PUBLIC } else { 0 } + TAG
    }

    /// The header's bytes before its tag.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED + PUBLIC);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(cipher_code(self.cipher));
        out.push(match self.mode {
            KeyMode::Symmetric => 1,
            KeyMode::Recipient { .. } => 2,
        });
        out.push(self.chunk.trailing_zeros() as u8);
        out.extend_from_slice(&self.nonce);
        if let KeyMode::Recipient { ephemeral } = &self.mode {
            out.extend_from_slice(&ephemeral.to_be_bytes());
        }
        out
    }

    /// How many bytes the whole header (tag included) takes, from its first `FIXED`
    /// bytes; checks what can be checked without the key.
    ///
    /// # Errors
    /// Bad magic, or an unknown version, cipher, key mode or chunk size.
    pub fn length(first: &[u8; FIXED]) -> Result<usize, FormatError> {
        if first[..8] != MAGIC {
            return Err(FormatError::NotSsmail);
        }
        if first[8] != VERSION {
            return Err(FormatError::Unsupported(format!(
                "format version {} (this ssmail reads version {VERSION})",
                first[8]
            )));
        }
        if cipher_of_code(first[9]).is_none() {
            return Err(FormatError::Unsupported(format!(
                "cipher code {}",
                first[9]
            )));
        }
        if !(1..=2).contains(&first[10]) {
            return Err(FormatError::Unsupported(format!("key mode {}", first[10])));
        }
        if !CHUNK_LOG2_RANGE.contains(&first[11]) {
            return Err(FormatError::Unsupported(format!(
                "chunk size 2^{}",
                first[11]
            )));
        }
        Ok(Self::len_for(first[10]))
    }

    /// Parses a whole header (as long as [`length`](Self::length) said), returning it
    /// and its tag.
    ///
    /// # Errors
    /// As [`length`](Self::length), or an ephemeral key outside `[2, p-2]`.
    pub fn parse(bytes: &[u8]) -> Result<(Self, [u8; TAG]), FormatError> {
        let first: &[u8; FIXED] = bytes
            .get(..FIXED)
            .and_then(|b| b.try_into().ok())
            .ok_or(FormatError::Truncated)?;
        let len = Self::length(first)?;
        if bytes.len() != len {
            return Err(FormatError::Truncated);
        }
        let cipher = cipher_of_code(first[9]).ok_or(FormatError::NotSsmail)?;
        let mut nonce = [0; NONCE];
        nonce.copy_from_slice(&first[12..FIXED]);
        let mode = if first[10] == 2 {
            let mut k = [0u8; PUBLIC];
            k.copy_from_slice(&bytes[FIXED..FIXED + PUBLIC]);
            let ephemeral = PublicKey::from_be_bytes(&k).map_err(|_| {
                FormatError::Malformed("the ephemeral public key is out of range".into())
            })?;
            KeyMode::Recipient { ephemeral }
        } else {
            KeyMode::Symmetric
        };
        let mut tag = [0; TAG];
        tag.copy_from_slice(&bytes[len - TAG..]);
        let header = Header {
            cipher,
            mode,
            chunk: 1 << first[11],
            nonce,
        };
        Ok((header, tag))
    }
}

/// The key material a file is sealed with.
pub enum Secret<'a> {
    /// A symmetric key.
    Symmetric(&'a [u8; SYMMETRIC_KEY]),
    /// Sealing to a recipient: the ephemeral private key and the recipient's public key.
    ToRecipient {
        /// Made for this file only.
        ephemeral: &'a PrivateKey,
        /// The recipient's.
        recipient: &'a PublicKey,
    },
    /// Opening as the recipient: our private key.
    AsRecipient(&'a PrivateKey),
}

/// The two keys of a file: the cipher's and the MAC's.
struct FileKeys {
    cipher: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
}

/// HKDF-SHA-256 with the nonce as salt over the key material.
fn file_keys(header: &Header, secret: &Secret<'_>) -> Result<FileKeys, FormatError> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(3 * PUBLIC));
    match (secret, &header.mode) {
        (Secret::Symmetric(k), KeyMode::Symmetric) => ikm.extend_from_slice(&k[..]),
        (
            Secret::ToRecipient {
                ephemeral,
                recipient,
            },
            KeyMode::Recipient { ephemeral: e },
        ) => {
            ikm.extend_from_slice(shared_secret(ephemeral, recipient).as_bytes());
            ikm.extend_from_slice(&e.to_be_bytes());
            ikm.extend_from_slice(&recipient.to_be_bytes());
        }
        (Secret::AsRecipient(own), KeyMode::Recipient { ephemeral }) => {
            ikm.extend_from_slice(shared_secret(own, ephemeral).as_bytes());
            ikm.extend_from_slice(&ephemeral.to_be_bytes());
            ikm.extend_from_slice(&own.public_key().to_be_bytes());
        }
        _ => {
            return Err(FormatError::Unsupported(
                "the key given does not fit the file's key mode".into(),
            ));
        }
    }
    let hk = Hkdf::<Sha256>::new(Some(&header.nonce), &ikm);
    let mut keys = FileKeys {
        cipher: Zeroizing::new([0; 32]),
        mac: Zeroizing::new([0; 32]),
    };
    // Cannot fail: 32 bytes is far below HKDF-SHA-256's limit of 8160.
    let ok = hk
        .expand(b"ssmail stream v1 cipher", &mut keys.cipher[..])
        .is_ok()
        && hk
            .expand(b"ssmail stream v1 mac", &mut keys.mac[..])
            .is_ok();
    debug_assert!(ok);
    Ok(keys)
}

/// The file's keystream: the cipher keyed with the file's 32-byte cipher key, arrsyfor
/// with its first bytes dropped. Boxed: the state is large and moves with the stream.
fn keystream(cipher: Cipher, key: &[u8; 32]) -> Box<AnyCipher> {
    // Both ciphers take 32-byte keys.
    let mut c = Box::new(
        AnyCipher::new(cipher, key).unwrap_or_else(|_| unreachable!("both take 32-byte keys")),
    );
    if cipher == Cipher::Arrsyfor {
        let mut drop = [0u8; ARRSYFOR_DROP];
        c.apply_keystream(&mut drop);
    }
    c
}

/// The cipher half of a file's state: the keystream, run over the chunks in order.
pub struct CipherHalf {
    keystream: Box<AnyCipher>,
}

impl CipherHalf {
    /// XORs the next `buf.len()` keystream bytes into `buf` (encrypts or decrypts).
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.keystream.apply_keystream(buf);
    }
}

/// The MAC half of a file's state: tags the chunks in order, by index.
pub struct MacHalf {
    mac: Hmac<Sha256>,
    header_tag: [u8; TAG],
    chunk: usize,
    next: u64,
    done: bool,
}

/// The 4-byte word before a chunk: the final flag in the top bit, the length below.
fn word(len: usize, last: bool) -> [u8; 4] {
    ((len as u32) | (u32::from(last) << 31)).to_be_bytes()
}

impl MacHalf {
    /// The MAC of the next chunk, fed but not finished.
    fn chunk_mac(&self, w: &[u8; 4], data: &[u8]) -> Hmac<Sha256> {
        let mut h = self.mac.clone();
        h.update(&self.header_tag);
        h.update(&self.next.to_be_bytes());
        h.update(w);
        h.update(data);
        h
    }

    /// Tags `data` (ciphertext) as the next chunk (`last`: the final one; only it may be
    /// shorter than the chunk size); returns the word to write before it and the tag to
    /// write after it.
    ///
    /// # Panics
    /// If `data` is longer than the chunk size, or shorter without `last`, or a chunk
    /// comes after the final one: the caller's bugs, not the input's.
    pub fn tag(&mut self, data: &[u8], last: bool) -> ([u8; 4], [u8; TAG]) {
        assert!(!self.done, "a chunk after the final chunk");
        assert!(data.len() == self.chunk || (last && data.len() <= self.chunk));
        let w = word(data.len(), last);
        let tag = self.chunk_mac(&w, data).finalize().into_bytes().into();
        self.next += 1;
        self.done = last;
        (w, tag)
    }

    /// Reads the word before a chunk: its length and whether it is the final one.
    ///
    /// # Errors
    /// A length above the chunk size, or a short chunk that is not the final one.
    pub fn chunk_word(&self, w: [u8; 4]) -> Result<(usize, bool), FormatError> {
        let v = u32::from_be_bytes(w);
        let last = v >> 31 == 1;
        let len = (v & 0x7fff_ffff) as usize;
        if len > self.chunk || (!last && len != self.chunk) {
            return Err(FormatError::Malformed(format!(
                "chunk {} claims {len} bytes (chunks are {} bytes, only the last may be shorter)",
                self.next, self.chunk
            )));
        }
        Ok((len, last))
    }

    /// Checks the next chunk's word, ciphertext and tag.
    ///
    /// # Errors
    /// A chunk that fails its MAC, a bad word, or any chunk after the final one.
    pub fn check(&mut self, w: [u8; 4], data: &[u8], tag: &[u8; TAG]) -> Result<(), FormatError> {
        if self.done {
            return Err(FormatError::Malformed("bytes after the final chunk".into()));
        }
        let (len, last) = self.chunk_word(w)?;
        if len != data.len() {
            return Err(FormatError::Truncated);
        }
        // `verify_slice` compares in constant time.
        if self.chunk_mac(&w, data).verify_slice(tag).is_err() {
            return Err(FormatError::BadTag {
                chunk: Some(self.next),
            });
        }
        self.next += 1;
        self.done = last;
        Ok(())
    }
}

/// The running state of one file, sealing or opening its chunks in order. It can be
/// [`split`](Self::split) so that two threads share the work.
pub struct Stream {
    cipher: CipherHalf,
    mac: MacHalf,
}

impl Stream {
    fn start(header: &Header, secret: &Secret<'_>) -> Result<(Self, [u8; TAG]), FormatError> {
        let keys = file_keys(header, secret)?;
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&keys.mac[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        let mut h = mac.clone();
        h.update(&header.encode());
        let header_tag: [u8; TAG] = h.finalize().into_bytes().into();
        let stream = Stream {
            cipher: CipherHalf {
                keystream: keystream(header.cipher, &keys.cipher),
            },
            mac: MacHalf {
                mac,
                header_tag,
                chunk: header.chunk,
                next: 0,
                done: false,
            },
        };
        Ok((stream, header_tag))
    }

    /// Starts sealing a file: its header bytes (tag included) and the stream.
    ///
    /// # Errors
    /// A secret that does not fit the header's key mode.
    pub fn seal_start(
        header: &Header,
        secret: &Secret<'_>,
    ) -> Result<(Vec<u8>, Self), FormatError> {
        let (stream, tag) = Self::start(header, secret)?;
        let mut bytes = header.encode();
        bytes.extend_from_slice(&tag);
        Ok((bytes, stream))
    }

    /// Starts opening a file whose header was parsed with `tag`: checks the tag.
    ///
    /// # Errors
    /// The wrong key (or a changed header), or a secret that does not fit the mode.
    pub fn open_start(
        header: &Header,
        tag: &[u8; TAG],
        secret: &Secret<'_>,
    ) -> Result<Self, FormatError> {
        let (stream, want) = Self::start(header, secret)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &tag[..])) {
            return Err(FormatError::BadTag { chunk: None });
        }
        Ok(stream)
    }

    /// The two halves, for two threads.
    pub fn split(self) -> (CipherHalf, MacHalf) {
        (self.cipher, self.mac)
    }

    /// The chunk size.
    pub fn chunk_size(&self) -> usize {
        self.mac.chunk
    }

    /// Whether the final chunk has been sealed or opened.
    pub fn is_done(&self) -> bool {
        self.mac.done
    }

    /// Encrypts `buf` in place as the next chunk and tags it; see [`MacHalf::tag`].
    ///
    /// # Panics
    /// As [`MacHalf::tag`].
    pub fn seal(&mut self, buf: &mut [u8], last: bool) -> ([u8; 4], [u8; TAG]) {
        self.cipher.apply(buf);
        self.mac.tag(buf, last)
    }

    /// Reads the word before a chunk; see [`MacHalf::chunk_word`].
    ///
    /// # Errors
    /// As [`MacHalf::chunk_word`].
    pub fn chunk_word(&self, w: [u8; 4]) -> Result<(usize, bool), FormatError> {
        self.mac.chunk_word(w)
    }

    /// Checks the next chunk and decrypts it in place. Nothing is decrypted unless the
    /// tag matches.
    ///
    /// # Errors
    /// As [`MacHalf::check`].
    pub fn open(&mut self, w: [u8; 4], buf: &mut [u8], tag: &[u8; TAG]) -> Result<(), FormatError> {
        self.mac.check(w, buf, tag)?;
        self.cipher.apply(buf);
        Ok(())
    }
}

/// Why input shorter than a header's fixed part cannot be read: a prefix of a header is
/// a truncated file, anything else is not ours.
pub fn short_header(prefix: &[u8]) -> FormatError {
    let n = prefix.len().min(MAGIC.len());
    if !prefix.is_empty() && prefix[..n] == MAGIC[..n] {
        FormatError::Truncated
    } else {
        FormatError::NotSsmail
    }
}

/// Seals `plain` whole, in memory: the header, then chunks of `header.chunk` bytes, the
/// last one final. (The command streams instead; this is for tests and fuzzing.)
///
/// # Errors
/// A secret that does not fit the header's key mode.
pub fn seal_buffer(
    header: &Header,
    secret: &Secret<'_>,
    plain: &[u8],
) -> Result<Vec<u8>, FormatError> {
    let (mut out, mut stream) = Stream::seal_start(header, secret)?;
    let mut chunks = plain.chunks(header.chunk).peekable();
    if chunks.peek().is_none() {
        let (w, tag) = stream.seal(&mut [], true);
        out.extend_from_slice(&w);
        out.extend_from_slice(&tag);
    }
    while let Some(c) = chunks.next() {
        let mut buf = c.to_vec();
        let (w, tag) = stream.seal(&mut buf, chunks.peek().is_none());
        out.extend_from_slice(&w);
        out.extend_from_slice(&buf);
        out.extend_from_slice(&tag);
    }
    Ok(out)
}

/// Opens a whole sealed file in memory, with the same checks as the command, in the
/// same order.
///
/// # Errors
/// Every [`FormatError`].
pub fn open_buffer(file: &[u8], secret: &Secret<'_>) -> Result<Vec<u8>, FormatError> {
    let Some(first) = file
        .get(..FIXED)
        .and_then(|f| <&[u8; FIXED]>::try_from(f).ok())
    else {
        return Err(short_header(file));
    };
    let len = Header::length(first)?;
    let head = file.get(..len).ok_or(FormatError::Truncated)?;
    let (header, tag) = Header::parse(head)?;
    let mut stream = Stream::open_start(&header, &tag, secret)?;
    let mut rest = &file[len..];
    let mut out = Vec::new();
    while !stream.is_done() {
        let (w, after) = rest
            .split_first_chunk::<4>()
            .ok_or(FormatError::Truncated)?;
        let (n, _) = stream.chunk_word(*w)?;
        if after.len() < n + TAG {
            return Err(FormatError::Truncated);
        }
        let mut buf = after[..n].to_vec();
        let tag: &[u8; TAG] = after[n..n + TAG]
            .try_into()
            .map_err(|_| FormatError::Truncated)?;
        stream.open(*w, &mut buf, tag)?;
        out.extend_from_slice(&buf);
        rest = &after[n + TAG..];
    }
    if !rest.is_empty() {
        return Err(FormatError::Malformed("bytes after the final chunk".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    use super::*;

    fn header(cipher: Cipher, chunk_log2: u8) -> Header {
        Header {
            cipher,
            mode: KeyMode::Symmetric,
            chunk: 1 << chunk_log2,
            nonce: [7; NONCE],
        }
    }

    #[test]
    fn round_trips_at_every_chunk_boundary() {
        let key = [9u8; SYMMETRIC_KEY];
        let secret = Secret::Symmetric(&key);
        for cipher in [Cipher::T32, Cipher::Arrsyfor] {
            let h = header(cipher, 10);
            for n in [0, 1, 1023, 1024, 1025, 2048, 5000] {
                let plain: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
                let sealed = seal_buffer(&h, &secret, &plain).unwrap();
                assert_eq!(
                    open_buffer(&sealed, &secret).unwrap(),
                    plain,
                    "{cipher:?} {n}"
                );
                // Every single-bit flip and every truncation is caught.
                for i in (0..sealed.len()).step_by(97) {
                    let mut bad = sealed.clone();
                    bad[i] ^= 0x10;
                    assert!(open_buffer(&bad, &secret).is_err(), "flip at {i}");
                    assert!(open_buffer(&sealed[..i], &secret).is_err(), "cut at {i}");
                }
            }
        }
    }

    #[test]
    fn files_written_from_the_spec_by_another_implementation_open() {
        // fuzz/corpus/stream_format/seed-* were made by a few lines of Python with its
        // own HMAC and HKDF, following STREAM-FORMAT.md (ciphertext chosen freely).
        let key = [0x42u8; SYMMETRIC_KEY];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/stream_format/");
        for (name, len) in [
            ("seed-empty", 0),
            ("seed-short", 100),
            ("seed-three-chunks", 2055),
        ] {
            let file = std::fs::read(format!("{dir}{name}")).unwrap();
            let plain = open_buffer(&file, &Secret::Symmetric(&key)).unwrap();
            assert_eq!(plain.len(), len, "{name}");
        }
    }

    #[test]
    fn a_wrong_key_fails_at_the_header() {
        let (k1, k2) = ([1u8; SYMMETRIC_KEY], [2u8; SYMMETRIC_KEY]);
        let sealed = seal_buffer(&header(Cipher::T32, 16), &Secret::Symmetric(&k1), b"x").unwrap();
        assert_eq!(
            open_buffer(&sealed, &Secret::Symmetric(&k2)),
            Err(FormatError::BadTag { chunk: None })
        );
    }

    #[test]
    fn the_nonce_changes_the_keystream() {
        let key = [3u8; SYMMETRIC_KEY];
        let s = Secret::Symmetric(&key);
        let mut h = header(Cipher::T32, 16);
        let a = seal_buffer(&h, &s, &[0; 64]).unwrap();
        h.nonce[0] ^= 1;
        let b = seal_buffer(&h, &s, &[0; 64]).unwrap();
        let body = FIXED + TAG + 4;
        assert_ne!(a[body..body + 64], b[body..body + 64]);
    }
}
