//! The one place libssmail touches the cache file (`ssmail_core::cache::file`): load at
//! start and on expiry, save after a change. Kept apart so that a load-or-create under
//! one lock can replace these calls without touching the exchanges.

use std::path::Path;
use std::time::SystemTime;

use ssmail_core::cache::file::CacheFile;
use ssmail_core::KeyCache;

use crate::result::ssmail_result;

/// The cache file, whether the last write failed, and the file's modification time when
/// this process last read or wrote it.
pub(super) struct Store {
    file: CacheFile,
    unsaved: bool,
    seen: Option<SystemTime>,
}

impl Store {
    /// The file at `path`, read into `cache` if it holds a valid, unexpired pair.
    pub(super) fn open<const N: usize>(
        path: &Path,
        cache: &mut KeyCache<N>,
        now: u64,
    ) -> Result<Self, ssmail_result> {
        let mut store = Self {
            file: CacheFile::new(path),
            unsaved: false,
            seen: None,
        };
        store.seen = store.mtime();
        store
            .file
            .load(cache, now)
            .map_err(|_| ssmail_result::SSMAIL_ERR_IO)?;
        Ok(store)
    }

    fn mtime(&self) -> Option<SystemTime> {
        std::fs::metadata(self.file.path())
            .and_then(|m| m.modified())
            .ok()
    }

    /// Reads the file again if another process changed it since this one last read or
    /// wrote it (one `stat` otherwise): its pair is taken over if newer than ours, so
    /// that an expired pair is replaced by another process's fresh one rather than by a
    /// second new one. A file that cannot be read leaves the cache as it is.
    pub(super) fn refresh<const N: usize>(&mut self, cache: &mut KeyCache<N>, now: u64) {
        let m = self.mtime();
        if m.is_some() && m != self.seen {
            self.seen = m;
            let _ = self.file.load(cache, now);
        }
    }

    /// Writes `cache` (merged with the file under its lock); a failure is remembered
    /// for [`flush`](Self::flush) and does not stop the exchange.
    pub(super) fn persist<const N: usize>(&mut self, cache: &KeyCache<N>) {
        self.unsaved = self.file.save(cache).is_err();
        if !self.unsaved {
            self.seen = self.mtime();
        }
    }

    /// Retries a failed write.
    pub(super) fn flush<const N: usize>(
        &mut self,
        cache: &KeyCache<N>,
    ) -> Result<(), ssmail_result> {
        if self.unsaved {
            self.file
                .save(cache)
                .map_err(|_| ssmail_result::SSMAIL_ERR_IO)?;
            self.unsaved = false;
        }
        Ok(())
    }
}
