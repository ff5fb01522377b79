//! The one place libssmail touches the cache file (`ssmail_core::cache::file`), which
//! makes it one cache for all the processes of a mail server: one key pair per lifetime
//! for all of them (`CacheFile::own_key_pair`, load-or-create under the file's lock),
//! and peer secrets found in the file before any is computed
//! (`CacheFile::shared_secret_for`). docs/xcrypt.md §5.7 says what is guaranteed.

use std::io;
use std::path::Path;

use ssmail_core::cache::file::CacheFile;
use ssmail_core::{KeyCache, Lookup, PublicKey, SharedSecret};

use crate::result::ssmail_result;

/// The cache file, and the last I/O error met in an exchange (exchanges fall back to
/// memory rather than fail; `ssmail_keys_flush` reports it).
pub(super) struct Store {
    file: CacheFile,
    failed: Option<io::ErrorKind>,
}

impl Store {
    /// The file at `path`, read into `cache` if it holds a valid, unexpired pair. A file
    /// refused by the owner-only rule, or one that cannot be read, is an error here, so
    /// that a mail server learns of it at start.
    pub(super) fn open<const N: usize>(
        path: &Path,
        cache: &mut KeyCache<N>,
        now: u64,
    ) -> Result<Self, ssmail_result> {
        let file = CacheFile::new(path);
        file.load(cache, now)
            .map_err(|_| ssmail_result::SSMAIL_ERR_IO)?;
        Ok(Self { file, failed: None })
    }

    /// The server's key pair, shared with every process using the file; `None` if the
    /// file failed (the error is kept), and the caller uses its memory alone.
    pub(super) fn own_public_key<const N: usize>(
        &mut self,
        cache: &mut KeyCache<N>,
        now: impl Fn() -> u64,
    ) -> Option<PublicKey> {
        match self.file.own_key_pair(cache, now, &mut getrandom::SysRng) {
            Ok((public, _)) => Some(public),
            Err(e) => {
                self.failed = Some(e.kind());
                None
            }
        }
    }

    /// The shared secret with `peer`, through the file on a miss; `None` if the file
    /// failed (the error is kept) or `own` is not ours.
    pub(super) fn shared_secret<const N: usize>(
        &mut self,
        cache: &mut KeyCache<N>,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Option<(SharedSecret, Lookup)> {
        match self.file.shared_secret_for(cache, own, peer) {
            Ok(found) => found,
            Err(e) => {
                self.failed = Some(e.kind());
                None
            }
        }
    }

    /// Writes `cache` to the file (merged with it under its lock), and reports the
    /// first I/O error of the exchanges since the last call, if any.
    pub(super) fn flush<const N: usize>(
        &mut self,
        cache: &KeyCache<N>,
    ) -> Result<(), ssmail_result> {
        let earlier = self.failed.take();
        self.file
            .save(cache)
            .map_err(|_| ssmail_result::SSMAIL_ERR_IO)?;
        match earlier {
            Some(_) => Err(ssmail_result::SSMAIL_ERR_IO),
            None => Ok(()),
        }
    }
}
