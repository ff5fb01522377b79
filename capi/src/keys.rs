//! `ssmail_keys`: the key source of a mail server, its own key pair (rotated by its
//! lifetime) and the shared secrets of its peers (docs/xcrypt.md §5), in memory and
//! optionally in a cache file that the server's processes share.

mod store;

use core::ffi::c_char;
use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ssmail_core::cache::Lookup;
use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::xcrypt::{CachedKeys, KeySource, KeyUnavailable};
use ssmail_core::{KeyCache, PublicKey, SharedSecret};

use crate::guard::guard;
use crate::result::ssmail_result;

/// Peers remembered per process; which stay is the cache's scan-resistant policy
/// (docs/xcrypt.md §5.1).
const CACHE_PEERS: usize = 1024;

/// A key source: one key pair at a time and the peers' shared secrets.
///
/// Made by `ssmail_keys_new`, released by `ssmail_keys_free` (which wipes the keys held
/// in memory). Thread-safety: safe to share between threads (calls on it are serialised
/// by an internal lock); the `ssmail_server` and `ssmail_client` made from it hold their
/// own reference, so it may be freed before them.
pub struct ssmail_keys {
    pub(crate) shared: Arc<Shared>,
}

/// What `ssmail_keys` and the exchanges made from it share.
pub(crate) struct Shared {
    state: Mutex<State>,
}

struct State {
    /// Boxed: 1024 peers of two 96-byte numbers each are too big for a stack.
    cache: Box<KeyCache<CACHE_PEERS>>,
    store: Option<store::Store>,
}

/// Seconds since the Unix epoch (the cache's clock); 0 before 1970, which the cache
/// treats as a clock that went backwards (it makes a new pair).
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Entries are replaced whole, so a panic under the lock (caught at the boundary)
        // cannot leave the cache half-changed: a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on this process's key source: core's `FileKeys` over the shared
    /// cache file (which falls back to memory when the file fails; the failure is kept
    /// for `ssmail_keys_flush`), or `CachedKeys` when there is no file. Also returns the
    /// source's record of whether the latest shared secret was a cache hit.
    fn with_source<T>(&self, f: impl FnOnce(&mut dyn KeySource) -> T) -> (T, Option<Lookup>) {
        let mut st = self.lock();
        let st = &mut *st;
        let rng = &mut getrandom::SysRng;
        match &mut st.store {
            Some(store) => store.with_keys(&mut st.cache, now, rng, f),
            None => {
                let mut keys = CachedKeys::new(&mut st.cache, now(), rng);
                let out = f(&mut keys);
                (out, keys.lookup)
            }
        }
    }

    /// Our public key for a new exchange, rotating the pair if it has expired; another
    /// process's newer pair, if the file has one, is taken over rather than making one.
    pub(crate) fn own_public_key(&self) -> Result<PublicKey, KeyUnavailable> {
        self.with_source(|k| k.own_public_key()).0
    }

    /// The shared secret of our pair `own` with `peer`, and whether it came from the
    /// cache (this process's memory or the shared file) or from a new Diffie-Hellman:
    /// what `ssmail_*_last_exchange` report.
    pub(crate) fn shared_secret(
        &self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<(SharedSecret, Lookup), KeyUnavailable> {
        let (secret, lookup) = self.with_source(|k| k.shared_secret(own, peer));
        // The source records a lookup for every secret it hands out.
        Ok((secret?, lookup.ok_or(KeyUnavailable)?))
    }
}

pub(crate) fn nonce() -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
    let mut n = [0; NONCE_BYTES];
    getrandom::fill(&mut n).map_err(|_| KeyUnavailable)?;
    Ok(n)
}

/// Makes a key source whose key pairs live `lifetime_secs` seconds (0 means XCRYPT's
/// default, 7200). No key pair is made yet: the first exchange makes one.
///
/// `cache_path` NULL keeps everything in this process's memory. Otherwise it names the
/// cache file (NUL-terminated path) that all the processes of one mail server share
/// (docs/xcrypt.md §5.3-§5.6): read now, taken over if valid and not expired, and written
/// (owner-only, replaced atomically, under a lock on `<path>.lock`) whenever this
/// process makes a key pair or computes a peer's secret. A corrupt or stale file is
/// ignored and replaced by the next write. The file holds secrets: put it in a
/// directory only the mail server's user can reach.
///
/// On success `*out` is a new handle the caller owns (free it with `ssmail_keys_free`);
/// on error `*out` is NULL.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER` (`out`), `SSMAIL_ERR_IO` (the file exists but
/// cannot be read or locked: permissions, say).
///
/// # Safety
/// `cache_path` is NULL or a NUL-terminated string; `out` is NULL or valid for writing
/// one pointer.
#[no_mangle]
pub unsafe extern "C" fn ssmail_keys_new(
    lifetime_secs: u64,
    cache_path: *const c_char,
    out: *mut *mut ssmail_keys,
) -> ssmail_result {
    guard(|| {
        if out.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        // SAFETY: non-NULL and writable (the caller's promise).
        unsafe { out.write(core::ptr::null_mut()) };
        let lifetime = if lifetime_secs == 0 {
            ssmail_core::DEFAULT_LIFETIME_SECS
        } else {
            lifetime_secs
        };
        let mut cache = Box::new(KeyCache::new(lifetime));
        let store = if cache_path.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated (the caller's promise).
            let path = unsafe { CStr::from_ptr(cache_path) };
            let path = Path::new(std::ffi::OsStr::from_bytes(path.to_bytes()));
            Some(store::Store::open(path, &mut cache, now())?)
        };
        let keys = ssmail_keys {
            shared: Arc::new(Shared {
                state: Mutex::new(State { cache, store }),
            }),
        };
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(Box::new(keys))) };
        Ok(())
    })
}

/// Writes the cache to its file (merged with what the other processes wrote, under the
/// file's lock), and reports whether the file failed in an exchange since the last
/// call (a full disk, a file refused by the owner-only rule): exchanges never fail for
/// the file's sake (they fall back to this process's memory), so this is where a caller
/// learns of it. Does nothing for a key source without a file, nor when every exchange
/// since the last successful flush found its secret in the cache and the file worked
/// (what those exchanges used came from the file or was written to it when made), so
/// that calling it once per session costs no file access in the usual case.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_IO` (this write failed, or the file
/// failed in an exchange since the last call).
///
/// # Safety
/// `keys` is NULL or a live handle from `ssmail_keys_new`.
#[no_mangle]
pub unsafe extern "C" fn ssmail_keys_flush(keys: *const ssmail_keys) -> ssmail_result {
    guard(|| {
        // SAFETY: NULL or a live handle (the caller's promise); only shared access.
        let keys = unsafe { keys.as_ref() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        let mut st = keys.shared.lock();
        let st = &mut *st;
        match &mut st.store {
            Some(store) => store.flush(&st.cache),
            None => Ok(()),
        }
    })
}

/// Releases this handle. The keys are wiped once the last exchange made from it is
/// freed too. NULL is accepted and does nothing.
///
/// # Safety
/// `keys` is NULL or a handle from `ssmail_keys_new` not yet freed; not used after.
#[no_mangle]
pub unsafe extern "C" fn ssmail_keys_free(keys: *mut ssmail_keys) {
    crate::guard::guard_void(|| {
        if !keys.is_null() {
            // SAFETY: from Box::into_raw in ssmail_keys_new, freed once.
            drop(unsafe { Box::from_raw(keys) });
        }
    });
}
