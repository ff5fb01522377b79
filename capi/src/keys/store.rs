//! The one place libssmail touches the cache file (`ssmail_core::cache::file`), which
//! makes it one cache for all the processes of a mail server: one key pair per lifetime
//! for all of them (`CacheFile::own_key_pair`, load-or-create under the file's lock),
//! and peer secrets found in the file before any is computed
//! (`CacheFile::shared_secret_for`). docs/xcrypt.md §5.7 says what is guaranteed.

use std::io;
use std::path::Path;

use ssmail_core::cache::file::{CacheFile, FileKeys};
use ssmail_core::cache::Lookup;
use ssmail_core::xcrypt::KeySource;
use ssmail_core::KeyCache;

use crate::result::ssmail_result;

/// The cache file, and the last I/O error met in an exchange (exchanges fall back to
/// memory rather than fail; `ssmail_keys_flush` reports it).
pub(super) struct Store {
    file: CacheFile,
    failed: Option<io::ErrorKind>,
    /// Whether this process's memory may hold what the file lacks: an exchange computed
    /// a secret (a miss) or met a failing file since the last successful flush. While it
    /// is false, every pair and secret in memory came from the file or was written to it
    /// when it was made (core's `own_key_pair` and `shared_secret_for` write before they
    /// hand out), so a save would only open, lock and read the file to find nothing to
    /// write: 11 system calls per Postfix session and process (strace), skipped.
    unsaved: bool,
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
        Ok(Self {
            file,
            failed: None,
            unsaved: false,
        })
    }

    /// Runs `f` on core's `FileKeys` over this file and `cache`: one key pair per
    /// lifetime for every process using the file, peer secrets found in the file before
    /// any is computed, and this process's memory when the file fails (the error is
    /// kept for [`flush`](Self::flush)). Also returns whether the latest shared secret
    /// was a cache hit (`FileKeys::lookup`).
    pub(super) fn with_keys<const N: usize, T>(
        &mut self,
        cache: &mut KeyCache<N>,
        now: fn() -> u64,
        rng: &mut getrandom::SysRng,
        f: impl FnOnce(&mut dyn KeySource) -> T,
    ) -> (T, Option<Lookup>) {
        let mut keys = FileKeys::new(&self.file, cache, now, rng);
        let out = f(&mut keys);
        if let Some(e) = keys.error {
            self.failed = Some(e.kind());
            self.unsaved = true;
        }
        if keys.lookup == Some(Lookup::Miss) {
            self.unsaved = true;
        }
        (out, keys.lookup)
    }

    /// Writes `cache` to the file (merged with it under its lock) if an exchange since
    /// the last flush may have left something only in memory, and reports the first
    /// I/O error of the exchanges since the last call, if any.
    pub(super) fn flush<const N: usize>(
        &mut self,
        cache: &KeyCache<N>,
    ) -> Result<(), ssmail_result> {
        let earlier = self.failed.take();
        if !self.unsaved {
            return Ok(());
        }
        self.file
            .save(cache)
            .map_err(|_| ssmail_result::SSMAIL_ERR_IO)?;
        self.unsaved = false;
        match earlier {
            Some(_) => Err(ssmail_result::SSMAIL_ERR_IO),
            None => Ok(()),
        }
    }
}
