//! The key cache on disk, for mail servers that run one process per session
//! (docs/xcrypt.md §5.3-§5.7): created owner-only, replaced atomically, versioned,
//! checksummed, and shared under a lock, so that all the processes of one server use one
//! key pair per lifetime ([`CacheFile::own_key_pair`]) and see each other's peers
//! ([`CacheFile::shared_secret_for`]).
//!
//! The file holds secrets (our private key and the shared secrets): a file or lock file
//! that is not owned by the effective user, or that group or others may read or write,
//! is refused (an error of kind [`ErrorKind::PermissionDenied`]) and never used. Not
//! using this type switches the disk cache off; the in-memory [`KeyCache`] works alone.
//!
//! Format, version 1, all integers big-endian:
//! `"SSMAILKC"`, version (u32), made (u64 seconds), private key (96), public key (96),
//! count (u32), count × (peer public key (96), shared secret (96)), then SHA-1 of all
//! the bytes before it (20). The checksum finds corruption and truncation; it is no
//! defence against someone who can write the file.

mod keys;

pub use keys::FileKeys;

use std::ffi::OsString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, ErrorKind, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::vec::Vec;

use rand_core::TryCryptoRng;
use rustix::fs::{FlockOperation, OFlags, flock};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use crate::agreement::SharedSecret;
use crate::cache::{KeyCache, Lookup, aged};
use crate::group::ELEMENT_BYTES;
use crate::keys::{KeyPair, PrivateKey, PublicKey};

const MAGIC: &[u8; 8] = b"SSMAILKC";
const VERSION: u32 = 1;
/// Peers kept in the file at most, whatever the processes' capacities.
const MAX_PEERS: usize = 1 << 16;
const HEADER: usize = 8 + 4 + 8 + 2 * ELEMENT_BYTES + 4;
const ENTRY: usize = 2 * ELEMENT_BYTES;
const CHECKSUM: usize = 20;
/// The largest valid file.
const MAX_FILE: usize = HEADER + MAX_PEERS * ENTRY + CHECKSUM;

/// What [`CacheFile::load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// No file yet: the cache is left as it was.
    Missing,
    /// A valid file whose key pair is still within its lifetime: adopted.
    Adopted {
        /// Peers taken over.
        peers: usize,
    },
    /// A valid file whose key pair has expired (or is older than ours): ignored.
    Stale,
    /// A file that is not a valid cache (the reason says why): ignored, and replaced by
    /// the next save. It is never used.
    Corrupt(&'static str),
}

/// Where [`CacheFile::own_key_pair`] got the key pair it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPairFrom {
    /// Ours already, within its lifetime, and the file unchanged since we last read or
    /// wrote it: nothing was read.
    Memory,
    /// The file's pair, within its lifetime (taken over, or ours already), with its
    /// peers added to ours.
    File {
        /// Peers in the file.
        peers: usize,
    },
    /// The file had no usable pair ([`Loaded::Missing`], [`Loaded::Stale`] or
    /// [`Loaded::Corrupt`] says why); ours, still within its lifetime, was written to it.
    Restored(Loaded),
    /// The file had no usable pair (said as for `Restored`), nor had we: a new pair was
    /// made and written.
    Created(Loaded),
}

/// A peer's public key and the shared secret with it, as bytes.
type PeerBytes = ([u8; ELEMENT_BYTES], Zeroizing<[u8; ELEMENT_BYTES]>);

/// The decoded contents of a cache file.
struct Snapshot {
    made: u64,
    private: Zeroizing<[u8; ELEMENT_BYTES]>,
    public: [u8; ELEMENT_BYTES],
    peers: Vec<PeerBytes>,
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn decode(bytes: &[u8]) -> Result<Snapshot, &'static str> {
    if bytes.len() < HEADER + CHECKSUM {
        return Err("too short (truncated?)");
    }
    if &bytes[..8] != MAGIC {
        return Err("not an ssmail key cache");
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
    if Sha1::digest(body).as_slice() != sum {
        return Err("checksum mismatch (corrupt or truncated)");
    }
    if be_u32(&bytes[8..12]) != VERSION {
        return Err("unsupported version");
    }
    let mut made = [0u8; 8];
    made.copy_from_slice(&bytes[12..20]);
    let mut private = Zeroizing::new([0u8; ELEMENT_BYTES]);
    private.copy_from_slice(&bytes[20..20 + ELEMENT_BYTES]);
    let mut public = [0u8; ELEMENT_BYTES];
    public.copy_from_slice(&bytes[20 + ELEMENT_BYTES..HEADER - 4]);
    let count = be_u32(&bytes[HEADER - 4..HEADER]) as usize;
    if count > MAX_PEERS || body.len() != HEADER + count * ENTRY {
        return Err("length does not match the entry count");
    }
    let peers = body[HEADER..]
        .chunks_exact(ENTRY)
        .map(|e| {
            let mut peer = [0u8; ELEMENT_BYTES];
            peer.copy_from_slice(&e[..ELEMENT_BYTES]);
            let mut z = Zeroizing::new([0u8; ELEMENT_BYTES]);
            z.copy_from_slice(&e[ELEMENT_BYTES..]);
            (peer, z)
        })
        .collect();
    Ok(Snapshot {
        made: u64::from_be_bytes(made),
        private,
        public,
        peers,
    })
}

fn encode(s: &Snapshot) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        HEADER + s.peers.len() * ENTRY + CHECKSUM,
    ));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&s.made.to_be_bytes());
    out.extend_from_slice(&*s.private);
    out.extend_from_slice(&s.public);
    // At most MAX_PEERS entries, so the count fits.
    out.extend_from_slice(&(s.peers.len() as u32).to_be_bytes());
    for (peer, z) in &s.peers {
        out.extend_from_slice(peer);
        out.extend_from_slice(&**z);
    }
    let sum = Sha1::digest(&out[..]);
    out.extend_from_slice(&sum);
    out
}

/// The file as one version of it: a new version (every write renames a new file into
/// place) or a change of owner or mode changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    mode: u32,
    uid: u32,
}

impl Stamp {
    fn of(m: &Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            mode: m.mode(),
            uid: m.uid(),
        }
    }
}

/// What a read of the file found.
enum OnDisk {
    Missing,
    Corrupt(&'static str),
    Valid(std::boxed::Box<Snapshot>),
}

/// A key cache file at a path, with its lock file beside it (`<path>.lock`) and its
/// temporary file (`<path>.tmp`, present only while a write is under way or after a
/// writer was killed).
///
/// A `CacheFile` remembers the version of the file it last read or wrote holding the key
/// pair of the cache it serves, so that [`own_key_pair`](Self::own_key_pair) need not
/// read an unchanged file: use one `CacheFile` per [`KeyCache`].
#[derive(Debug)]
pub struct CacheFile {
    path: PathBuf,
    /// The version of the file known to hold our current key pair.
    synced: Mutex<Option<Stamp>>,
}

impl Clone for CacheFile {
    /// The same path, with nothing known of the file yet (the clone may serve another
    /// cache).
    fn clone(&self) -> Self {
        Self::new(self.path.clone())
    }
}

/// The error for a file we refuse to use.
fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        ErrorKind::PermissionDenied,
        std::format!(
            "key cache {}: {why}; refused (it must be a regular file owned by uid {} with no \
             group or other permissions)",
            path.display(),
            rustix::process::geteuid().as_raw()
        ),
    )
}

/// Refuses what is not a regular file of ours, closed to group and others.
fn check_owner_only(path: &Path, m: &Metadata) -> io::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if !m.file_type().is_file() {
        return Err(refused(path, "not a regular file"));
    }
    if m.uid() != me {
        return Err(refused(path, &std::format!("owned by uid {}", m.uid())));
    }
    if m.mode() & 0o077 != 0 {
        let mode = m.mode() & 0o7777;
        return Err(refused(path, &std::format!("mode {mode:04o}")));
    }
    Ok(())
}

/// Opens `path` without following a symbolic link (a link is refused: writes replace the
/// link, not its target, so reading through it would read another file than we write).
fn open_no_follow(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    options
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                refused(path, "a symbolic link")
            } else {
                e
            }
        })
}

impl CacheFile {
    /// The cache file at `path` (created on the first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synced: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.file_name();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    fn file_name(&self) -> OsString {
        self.path.file_name().unwrap_or_default().to_os_string()
    }

    fn set_synced(&self, stamp: Option<Stamp>) {
        *self.synced.lock().unwrap_or_else(PoisonError::into_inner) = stamp;
    }

    /// Whether the file is the version we last saw holding our pair (one `lstat`).
    fn unchanged(&self) -> bool {
        let known = *self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        known.is_some_and(|k| fs::symlink_metadata(&self.path).is_ok_and(|m| Stamp::of(&m) == k))
    }

    /// Takes the exclusive lock; it is released when the returned file is dropped (and
    /// by the kernel when a process dies holding it).
    fn lock(&self) -> io::Result<File> {
        let path = self.sibling(".lock");
        let f = open_no_follow(
            &path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600),
        )?;
        // Anyone who can open the lock file can hold the lock: it is owner-only too.
        check_owner_only(&path, &f.metadata()?)?;
        flock(&f, FlockOperation::LockExclusive)?;
        Ok(f)
    }

    /// The file's contents and version. Needs no lock: files are only ever replaced
    /// whole, by a rename.
    fn read(&self) -> io::Result<(OnDisk, Option<Stamp>)> {
        let f = match open_no_follow(&self.path, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok((OnDisk::Missing, None)),
            Err(e) => return Err(e),
        };
        let meta = f.metadata()?;
        check_owner_only(&self.path, &meta)?;
        // Sized once, so that no copy of the secrets is left behind by a reallocation.
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            meta.len().min(MAX_FILE as u64 + 1) as usize
        ));
        f.take(MAX_FILE as u64 + 1).read_to_end(&mut bytes)?;
        let found = if bytes.len() > MAX_FILE {
            OnDisk::Corrupt("longer than the largest cache")
        } else {
            match decode(&bytes) {
                Ok(s) => OnDisk::Valid(std::boxed::Box::new(s)),
                Err(why) => OnDisk::Corrupt(why),
            }
        };
        Ok((found, Some(Stamp::of(&meta))))
    }

    /// Writes `snapshot` as the new file: a fresh owner-only temporary file, written and
    /// `fsync`ed, renamed over the file, then the directory `fsync`ed, so that a reader
    /// (or a crash) sees the old file or the new one, never a mix. Call under the lock
    /// (the temporary file's name is fixed: only the lock holder writes one). Returns the
    /// new version.
    fn write(&self, snapshot: &Snapshot) -> io::Result<Stamp> {
        self.remove_stale_temporaries();
        let tmp = self.sibling(".tmp");
        let written = (|| -> io::Result<Stamp> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&encode(snapshot))?;
            f.sync_all()?;
            // The rename keeps the inode, size and mtime: this is the new file's version.
            let stamp = Stamp::of(&f.metadata()?);
            fs::rename(&tmp, &self.path)?;
            Ok(stamp)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        let stamp = written?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
        Ok(stamp)
    }

    /// Removes temporary files left by writers that were killed (ours, `<name>.tmp`, and
    /// the `<name>.tmp<pid>` of earlier versions). Under the lock no other writer is at
    /// work, so any that exists is stale. Failures are left for the create to report.
    fn remove_stale_temporaries(&self) {
        let mut prefix = self.file_name();
        prefix.push(".tmp");
        let prefix = prefix.as_encoded_bytes();
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let rest = name.as_encoded_bytes().strip_prefix(prefix);
            if rest.is_some_and(|r| r.iter().all(u8::is_ascii_digit)) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Reads the file into `cache` as of `now`: a valid file whose key pair is within
    /// its lifetime and not older than the cache's own is adopted with its peers (a
    /// different pair of ours stays the previous pair for its grace).
    ///
    /// [`own_key_pair`](Self::own_key_pair) is what processes sharing the file call
    /// before handing out a key; `load` only reads.
    ///
    /// # Errors
    /// I/O errors other than a missing file; a file or lock file refused by the
    /// owner-only rule ([`ErrorKind::PermissionDenied`]). A corrupt file is no error: it
    /// is reported as [`Loaded::Corrupt`] and ignored.
    pub fn load<const N: usize>(&self, cache: &mut KeyCache<N>, now: u64) -> io::Result<Loaded> {
        let _lock = self.lock()?;
        let (snapshot, stamp) = match self.read()? {
            (OnDisk::Missing, _) => return Ok(Loaded::Missing),
            (OnDisk::Corrupt(why), _) => return Ok(Loaded::Corrupt(why)),
            (OnDisk::Valid(s), stamp) => (*s, stamp),
        };
        let expired = aged(snapshot.made, now, cache.lifetime());
        let older = cache.own().is_some_and(|(_, _, made)| made > snapshot.made);
        if expired || older {
            return Ok(Loaded::Stale);
        }
        let peers = match adopt(cache, &snapshot, now) {
            Ok((_, peers)) => peers,
            Err(why) => return Ok(Loaded::Corrupt(why)),
        };
        self.set_synced(stamp);
        Ok(Loaded::Adopted {
            peers: peers.min(N),
        })
    }

    /// Writes `cache` to the file, merged with what other processes saved meanwhile:
    /// under the lock, the file is read again; if it holds the same key pair, the peers
    /// of both are kept. A different pair in the file is replaced only if it had expired
    /// when ours was made (so a pair never replaces one within its lifetime); otherwise
    /// nothing is written (ours is the intruder: [`own_key_pair`](Self::own_key_pair)
    /// takes the file's). No file or a corrupt one is replaced. A cache with no key
    /// pair writes nothing.
    ///
    /// # Errors
    /// I/O errors; a file or lock file refused by the owner-only rule
    /// ([`ErrorKind::PermissionDenied`]).
    pub fn save<const N: usize>(&self, cache: &KeyCache<N>) -> io::Result<()> {
        let Some((_, public, made)) = cache.own() else {
            return Ok(());
        };
        let _lock = self.lock()?;
        let on_disk = match self.read()?.0 {
            OnDisk::Valid(d) if d.public == public.to_be_bytes() => Some(*d),
            OnDisk::Valid(d) => {
                let expired_then = made
                    .checked_sub(d.made)
                    .is_some_and(|age| age >= cache.lifetime());
                if !expired_then {
                    return Ok(());
                }
                None
            }
            OnDisk::Missing | OnDisk::Corrupt(_) => None,
        };
        if let Some(ours) = merged(cache, on_disk) {
            let stamp = self.write(&ours)?;
            self.set_synced(Some(stamp));
        }
        Ok(())
    }

    /// The key pair every process sharing this file uses as of the clock `now`, made
    /// the cache's (with the peers in the file), and its public key: what a server
    /// calls before it hands out its public key.
    ///
    /// If our pair is within its lifetime and the file has not changed since we last
    /// read or wrote it, that is all (one `lstat`). Otherwise, under the exclusive lock,
    /// the file is read: a valid pair in it within its lifetime is taken; if it has none
    /// (missing, expired, corrupt), ours is written to it if within its lifetime, and
    /// otherwise a new pair is made and written (a fresh temporary file, `fsync`,
    /// rename, `fsync` of the directory) before it is used. So one pair serves each
    /// lifetime for all the processes: a new one is made only when the file's has
    /// expired, and only by the one process that holds the lock at that moment. A pair
    /// we replace stays the previous pair for its grace (docs/xcrypt.md §5.2).
    ///
    /// `now` is read under the lock when the file is read, so that a pair another
    /// process made while we waited for the lock is not taken as made in the future.
    ///
    /// # Errors
    /// I/O errors; a file or lock file refused by the owner-only rule
    /// ([`ErrorKind::PermissionDenied`]), which is never used nor replaced; the RNG's
    /// failure (as [`ErrorKind::Other`]). The cache is unchanged by a failed call.
    pub fn own_key_pair<const N: usize, R: TryCryptoRng + ?Sized>(
        &self,
        cache: &mut KeyCache<N>,
        now: impl Fn() -> u64,
        rng: &mut R,
    ) -> io::Result<(PublicKey, KeyPairFrom)> {
        // The cache's own_public_key is not called on this path: key its policy here.
        cache.seed_policy(rng);
        let lifetime = cache.lifetime();
        let t = now();
        if let Some(public) = current(cache, t) {
            if self.unchanged() {
                cache.end_grace(t);
                return Ok((public, KeyPairFrom::Memory));
            }
        }
        self.set_synced(None);
        let _lock = self.lock()?;
        let t = now();
        let (on_disk, stamp) = self.read()?;
        let why = match on_disk {
            OnDisk::Missing => Loaded::Missing,
            OnDisk::Corrupt(why) => Loaded::Corrupt(why),
            OnDisk::Valid(s) if aged(s.made, t, lifetime) => Loaded::Stale,
            OnDisk::Valid(s) => match adopt(cache, &s, t) {
                Ok((public, peers)) => {
                    cache.end_grace(t);
                    self.set_synced(stamp);
                    return Ok((public, KeyPairFrom::File { peers }));
                }
                Err(why) => Loaded::Corrupt(why),
            },
        };
        if let Some(public) = current(cache, t) {
            if let Some(ours) = merged(cache, None) {
                let stamp = self.write(&ours)?;
                cache.end_grace(t);
                self.set_synced(Some(stamp));
                return Ok((public, KeyPairFrom::Restored(why)));
            }
        }
        let pair = KeyPair::generate(rng)
            .map_err(|_| io::Error::other("the random number generator failed"))?;
        let public = pair.public();
        let fresh = Snapshot {
            made: t,
            private: Zeroizing::new(pair.private().to_be_bytes()),
            public: public.to_be_bytes(),
            peers: Vec::new(),
        };
        // Written before it is used: a pair no other process can find is never handed out.
        let stamp = self.write(&fresh)?;
        cache.adopt(pair, t, t, core::iter::empty());
        cache.end_grace(t);
        self.set_synced(Some(stamp));
        Ok((public, KeyPairFrom::Created(why)))
    }

    /// The shared secret of our key pair whose public half is `own` with `peer`, as
    /// [`KeyCache::shared_secret_for`] gives it, with the file as the cache of all the
    /// processes: a peer in our memory is a hit with no I/O; on a miss, under the lock,
    /// the file is read again and its peers added to ours (another process may have met
    /// this peer: a hit), and only if it is still missing is the secret computed (under
    /// the lock, so that two processes never compute the same peer at once) and written
    /// to the file, merged with the file's peers (as [`save`](Self::save) does).
    ///
    /// The file is left alone when it holds another pair than `own` (another process
    /// rotated it: the secret is then computed for us only), and when `own` is our
    /// previous pair (computed, not cached, as in memory). `None` when `own` is not
    /// ours.
    ///
    /// # Errors
    /// I/O errors; a file or lock file refused by the owner-only rule
    /// ([`ErrorKind::PermissionDenied`]). The cache may then lack the secret; the caller
    /// may fall back to [`KeyCache::shared_secret_for`].
    pub fn shared_secret_for<const N: usize>(
        &self,
        cache: &mut KeyCache<N>,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> io::Result<Option<(SharedSecret, Lookup)>> {
        if !cache.is_current(own) {
            return Ok(cache.shared_secret_for(own, peer));
        }
        if let Some(secret) = cache.cached(peer) {
            return Ok(Some((secret, Lookup::Hit)));
        }
        let _lock = self.lock()?;
        let (on_disk, _) = self.read()?;
        let same_pair = match on_disk {
            OnDisk::Valid(s) if s.public == own.to_be_bytes() => match peers_of(&s) {
                Ok(peers) => {
                    // The one we need first, even into a full cache; then the rest
                    // while there is room.
                    let wanted = peers.iter().position(|(p, _)| p == peer);
                    if let Some(at) = wanted {
                        let (p, z) = &peers[at];
                        cache.remember(*p, z.clone());
                    }
                    cache.add_peers(peers.into_iter());
                    Some(*s)
                }
                // A bad peer key: the file is corrupt, and replaced below.
                Err(_) => None,
            },
            OnDisk::Valid(_) => return Ok(cache.shared_secret_for(own, peer)),
            OnDisk::Missing | OnDisk::Corrupt(_) => None,
        };
        let found = cache.shared_secret_for(own, peer);
        if let (Some((_, Lookup::Miss)), Some(ours)) = (&found, merged(cache, same_pair)) {
            let stamp = self.write(&ours)?;
            self.set_synced(Some(stamp));
        }
        Ok(found)
    }
}

/// Our public key, if we have a pair within its lifetime as of `now`.
fn current<const N: usize>(cache: &KeyCache<N>, now: u64) -> Option<PublicKey> {
    cache
        .own()
        .filter(|&(_, _, made)| !aged(made, now, cache.lifetime()))
        .map(|(_, public, _)| public)
}

/// `cache`'s pair and peers, with the peers of `on_disk` (the same pair) it lacks; `None`
/// if the cache has no pair.
fn merged<const N: usize>(cache: &KeyCache<N>, on_disk: Option<Snapshot>) -> Option<Snapshot> {
    let (private, public, made) = cache.own()?;
    let mut snapshot = Snapshot {
        made,
        private: Zeroizing::new(private.to_be_bytes()),
        public: public.to_be_bytes(),
        peers: cache
            .peers()
            .map(|(p, z)| (p.to_be_bytes(), Zeroizing::new(*z.as_bytes())))
            .collect(),
    };
    for (peer, z) in on_disk.map(|d| d.peers).unwrap_or_default() {
        if snapshot.peers.len() < MAX_PEERS && !snapshot.peers.iter().any(|(p, _)| *p == peer) {
            snapshot.peers.push((peer, z));
        }
    }
    Some(snapshot)
}

/// The peers of a snapshot, checked.
fn peers_of(s: &Snapshot) -> Result<Vec<(PublicKey, SharedSecret)>, &'static str> {
    s.peers
        .iter()
        .map(|(peer, z)| {
            PublicKey::from_be_bytes(peer)
                .map(|p| (p, SharedSecret(**z)))
                .map_err(|_| "peer key out of range")
        })
        .collect()
}

/// Makes the snapshot's pair and peers `cache`'s as of `now`, after checking its keys:
/// the pair's public key and the number of peers in the file. The pair is rebuilt (one
/// exponentiation, to check its public key) only when it is not ours already.
fn adopt<const N: usize>(
    cache: &mut KeyCache<N>,
    s: &Snapshot,
    now: u64,
) -> Result<(PublicKey, usize), &'static str> {
    let peers = peers_of(s)?;
    let count = peers.len();
    let public = PublicKey::from_be_bytes(&s.public).map_err(|_| "public key out of range")?;
    if cache.is_current(&public) {
        cache.add_peers(peers.into_iter());
        return Ok((public, count));
    }
    let private = PrivateKey::from_be_bytes(&s.private).ok_or("private key out of range")?;
    let pair = KeyPair::new(private);
    if pair.public().to_be_bytes() != s.public {
        return Err("public key does not match the private key");
    }
    cache.adopt(pair, s.made, now, peers.into_iter());
    Ok((public, count))
}
