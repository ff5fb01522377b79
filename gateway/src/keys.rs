//! One key cache for all the sessions of a gateway process (docs/xcrypt.md §5), so that a
//! peer costs one Diffie-Hellman computation per key lifetime, not one per session;
//! optionally kept on disk.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ssmail_core::cache::detached::{Computed, Detached};
use ssmail_core::cache::file::{CacheFile, Loaded};
use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::xcrypt::{KeySource, KeyUnavailable};
use ssmail_core::{KeyCache, Lookup, PublicKey, SharedSecret};

/// Peers remembered at most; which stay is the cache's scan-resistant policy
/// (docs/xcrypt.md §5.1: one-off keys cannot push out peers that come back).
pub const CACHE_PEERS: usize = 1024;

/// The process's key cache.
pub struct SharedKeys {
    cache: Mutex<Box<KeyCache<CACHE_PEERS>>>,
    file: Option<CacheFile>,
    /// Changed since the last save.
    dirty: AtomicBool,
    /// Where lookups are counted (set by the gateway after `new`).
    pub metrics: crate::metrics::Metrics,
}

impl SharedKeys {
    /// An empty cache whose key pairs live `lifetime` seconds, loaded from `file` if it
    /// names one (what was found is returned for the log).
    pub fn new(lifetime: u64, file: Option<PathBuf>) -> (Self, Option<io::Result<Loaded>>) {
        let mut cache = Box::new(KeyCache::new(lifetime));
        let file = file.map(CacheFile::new);
        let loaded = file.as_ref().map(|f| f.load(&mut cache, now()));
        let keys = Self {
            cache: Mutex::new(cache),
            file,
            dirty: AtomicBool::new(false),
            metrics: crate::metrics::Metrics::default(),
        };
        (keys, loaded)
    }

    /// Keys for one session.
    pub fn session(&self) -> SessionKeys<'_> {
        SessionKeys {
            shared: self,
            lookup: None,
            computed: None,
            refuse_miss: None,
        }
    }

    /// The cached secret of `own` with `peer`, or the job that computes it (a quick
    /// look under the lock: nothing is computed here). `None`: `own` is not ours.
    pub fn lookup(&self, own: &PublicKey, peer: &PublicKey) -> Option<Detached> {
        self.lock().lookup_detached(own, peer)
    }

    /// Stores a secret computed off the lock.
    pub fn store(&self, computed: &Computed) {
        let mut cache = self.lock();
        // Into a full cache, a peer kept means another one left (or this one was not
        // admitted): counted as an eviction.
        let full = cache.len() == CACHE_PEERS;
        if cache.remember_computed(computed) {
            self.dirty.store(true, Ordering::Release);
            if full {
                self.metrics.cache_evicted();
            }
        }
    }

    /// Writes the cache file if there is one and something changed since the last
    /// write. Blocking (file I/O): call it off the async workers.
    pub fn save_if_dirty(&self) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let cache = self.lock();
        file.save(&cache).inspect_err(|_| {
            // Try again next time.
            self.dirty.store(true, Ordering::Release);
        })
    }

    fn lock(&self) -> MutexGuard<'_, Box<KeyCache<CACHE_PEERS>>> {
        // A panic while holding the lock cannot leave the cache half-changed in a way
        // that matters (entries are replaced whole), so a poisoned lock is used as is.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The [`KeySource`] of one session: the shared cache, plus what its lookup found.
pub struct SessionKeys<'a> {
    shared: &'a SharedKeys,
    /// Whether the session's shared secret came from the cache (the latest exchange).
    pub lookup: Option<Lookup>,
    /// A secret computed in the pool for the exchange about to be fed: own key, peer key.
    /// It is in the cache already (waiting sessions of the same peer look it up there);
    /// this session takes it from here, a miss.
    pub computed: Option<(PublicKey, PublicKey, Computed)>,
    /// A peer whose secret could not be had (the pool was full): its exchange is
    /// refused with 454 rather than computed here.
    pub refuse_miss: Option<PublicKey>,
}

impl KeySource for SessionKeys<'_> {
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable> {
        let mut cache = self.shared.lock();
        let before = cache.rotations();
        // With a cache file: the pair of every process sharing it (one lstat when nothing
        // changed). Without one, or if the file fails: a pair of our own.
        let shared = self.shared.file.as_ref().and_then(|file| {
            file.own_key_pair(&mut **cache, now, &mut getrandom::SysRng)
                .ok()
        });
        let key = match shared {
            Some((key, _)) => key,
            None => cache
                .own_public_key(now(), &mut getrandom::SysRng)
                .map_err(|_| KeyUnavailable)?,
        };
        if cache.rotations() != before {
            self.shared.dirty.store(true, Ordering::Release);
        }
        Ok(key)
    }

    fn shared_secret(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable> {
        // Never computed under the lock: a hit is a quick look, a miss is computed
        // outside it (by the pool before the exchange was fed, or here) and stored.
        //
        // Computed for this exchange in the pool (and stored by then): taken as it is.
        // Not looked up again: a second lookup would count as a use of the key, and
        // the cache's policy would take every one-off key of a flood for a returning
        // peer (e2e/flood.sh's known peer fell to 13/20 hits when it did).
        if let Some((o, p, c)) = self.computed.take() {
            if o == *own && p == *peer {
                self.shared.metrics.cache_lookup(false);
                self.lookup = Some(Lookup::Miss);
                return Ok(c.secret().clone());
            }
        }
        let job = match self.shared.lookup(own, peer).ok_or(KeyUnavailable)? {
            Detached::Hit(secret) => {
                self.shared.metrics.cache_lookup(true);
                self.lookup = Some(Lookup::Hit);
                return Ok(secret);
            }
            Detached::Miss(job) => job,
        };
        if self.refuse_miss.as_ref() == Some(peer) {
            self.lookup = None;
            return Err(KeyUnavailable);
        }
        self.lookup = Some(Lookup::Miss);
        // Not computed beforehand: the session prepares every key the machine will ask
        // for in the pool (inbound from the client's `XCRYPT`, outbound from the server's
        // reply), so this is only a computation the pool lost (the runtime is ending).
        // Computed here, outside the cache's lock.
        let started = std::time::Instant::now();
        let computed = job.compute();
        self.shared.metrics.dh_done(started.elapsed());
        self.shared.metrics.cache_lookup(false);
        self.shared.store(&computed);
        Ok(computed.secret().clone())
    }

    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
        let mut n = [0; NONCE_BYTES];
        getrandom::fill(&mut n).map_err(|_| KeyUnavailable)?;
        Ok(n)
    }
}

/// Seconds since the Unix epoch (the cache's clock); 0 for a clock before 1970, which
/// the cache treats as a clock that went backwards (it makes a new key pair).
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
