//! A [`KeySource`] over a cache file shared by many processes: what a server that runs
//! one process per session hands to its `Server` (docs/xcrypt.md §5.7).

use std::io;

use rand_core::TryCryptoRng;

use super::CacheFile;
use crate::agreement::SharedSecret;
use crate::cache::{KeyCache, Lookup};
use crate::kdf::NONCE_BYTES;
use crate::keys::PublicKey;
use crate::xcrypt::{KeySource, KeyUnavailable, note_lookup, random_nonce};

/// Keys from `cache` kept in step with `file` ([`CacheFile::own_key_pair`],
/// [`CacheFile::shared_secret_for`]) as of the clock `now`, and nonces from `rng`. Made
/// per session, as [`CachedKeys`](crate::xcrypt::CachedKeys) is.
///
/// When the file fails (an I/O error, or a file refused by the owner-only rule), the
/// exchange goes on with the in-memory cache alone, as if there were no file, and the
/// error is kept in [`error`](Self::error) for the caller to report: mail is not held
/// up by a broken cache file, but the error must not go unseen, since processes that
/// fall back no longer share one key pair.
pub struct FileKeys<'a, const N: usize, R: ?Sized, C> {
    /// The shared file.
    pub file: &'a CacheFile,
    /// This process's cache (one per `file`).
    pub cache: &'a mut KeyCache<N>,
    /// The clock, in the cache's seconds, shared by all the processes (read under the
    /// file's lock when the file is read).
    pub now: C,
    /// A cryptographic RNG.
    pub rng: &'a mut R,
    /// The latest error of the file, if a call fell back to memory.
    pub error: Option<io::Error>,
    /// Whether the latest [`shared_secret`](KeySource::shared_secret) came from a cache
    /// (this process's memory, or the file another process wrote) rather than being
    /// computed here; `None` before the first, or when the latest failed. For the
    /// caller's log: nothing on the wire depends on it.
    pub lookup: Option<Lookup>,
}

impl<'a, const N: usize, R: ?Sized, C> FileKeys<'a, N, R, C> {
    /// Keys for one session from `cache` and `file`.
    pub fn new(file: &'a CacheFile, cache: &'a mut KeyCache<N>, now: C, rng: &'a mut R) -> Self {
        Self {
            file,
            cache,
            now,
            rng,
            error: None,
            lookup: None,
        }
    }
}

impl<const N: usize, R: TryCryptoRng + ?Sized, C: Fn() -> u64> KeySource for FileKeys<'_, N, R, C> {
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable> {
        match self.file.own_key_pair(self.cache, &self.now, self.rng) {
            Ok((key, _)) => Ok(key),
            Err(e) => {
                self.error = Some(e);
                self.cache
                    .own_public_key((self.now)(), self.rng)
                    .map_err(|_| KeyUnavailable)
            }
        }
    }

    fn shared_secret(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable> {
        let found = match self.file.shared_secret_for(self.cache, own, peer) {
            Ok(found) => found,
            Err(e) => {
                self.error = Some(e);
                self.cache.shared_secret_for(own, peer)
            }
        };
        note_lookup(&mut self.lookup, found)
    }

    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
        random_nonce(self.rng)
    }
}
