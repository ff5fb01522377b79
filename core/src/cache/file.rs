//! The key cache on disk, for mail servers that run one process per session
//! (docs/xcrypt.md §5.3-§5.6): created owner-only, replaced atomically, versioned,
//! checksummed, and shared under a lock so that concurrent processes do not lose each
//! other's entries.
//!
//! The file holds secrets (our private key and the shared secrets). Not using this type
//! switches the disk cache off; the in-memory [`KeyCache`] works alone.
//!
//! Format, version 1, all integers big-endian:
//! `"SSMAILKC"`, version (u32), made (u64 seconds), private key (96), public key (96),
//! count (u32), count × (peer public key (96), shared secret (96)), then SHA-1 of all
//! the bytes before it (20). The checksum finds corruption and truncation; it is no
//! defence against someone who can write the file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::vec::Vec;

use rustix::fs::{FlockOperation, flock};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use crate::agreement::SharedSecret;
use crate::cache::KeyCache;
use crate::cache::aged;
use crate::group::ELEMENT_BYTES;
use crate::keys::{KeyPair, PrivateKey, PublicKey};

const MAGIC: &[u8; 8] = b"SSMAILKC";
const VERSION: u32 = 1;
/// Peers kept in the file at most, whatever the processes' capacities.
const MAX_PEERS: usize = 1 << 16;
const HEADER: usize = 8 + 4 + 8 + 2 * ELEMENT_BYTES + 4;
const ENTRY: usize = 2 * ELEMENT_BYTES;
const CHECKSUM: usize = 20;

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

/// A key cache file at a path, with its lock file beside it (`<path>.lock`).
#[derive(Debug, Clone)]
pub struct CacheFile {
    path: PathBuf,
}

impl CacheFile {
    /// The cache file at `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// Takes the exclusive lock; it is released when the returned file is dropped.
    fn lock(&self) -> io::Result<File> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.sibling(".lock"))?;
        flock(&f, FlockOperation::LockExclusive)?;
        Ok(f)
    }

    /// The file's contents: `Ok(None)` if there is none.
    fn read(&self) -> io::Result<Option<Result<Snapshot, &'static str>>> {
        let mut bytes = Zeroizing::new(Vec::new());
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
                Ok(Some(decode(&bytes)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the file into `cache` as of `now`: a valid file whose key pair is within
    /// its lifetime and not older than the cache's own is adopted with its peers.
    ///
    /// # Errors
    /// I/O errors other than a missing file (permissions, say). A corrupt file is no
    /// error: it is reported as [`Loaded::Corrupt`] and ignored.
    pub fn load<const N: usize>(&self, cache: &mut KeyCache<N>, now: u64) -> io::Result<Loaded> {
        let _lock = self.lock()?;
        let snapshot = match self.read()? {
            None => return Ok(Loaded::Missing),
            Some(Err(why)) => return Ok(Loaded::Corrupt(why)),
            Some(Ok(s)) => s,
        };
        let expired = aged(snapshot.made, now, cache.lifetime());
        let older = cache.own().is_some_and(|(_, _, made)| made > snapshot.made);
        if expired || older {
            return Ok(Loaded::Stale);
        }
        let Some(private) = PrivateKey::from_be_bytes(&snapshot.private) else {
            return Ok(Loaded::Corrupt("private key out of range"));
        };
        // The pair's one exponentiation: its public key is checked and then kept.
        let pair = KeyPair::new(private);
        if pair.public().to_be_bytes() != snapshot.public {
            return Ok(Loaded::Corrupt("public key does not match the private key"));
        }
        let mut peers = Vec::with_capacity(snapshot.peers.len());
        for (peer, z) in &snapshot.peers {
            let Ok(peer) = PublicKey::from_be_bytes(peer) else {
                return Ok(Loaded::Corrupt("peer key out of range"));
            };
            peers.push((peer, SharedSecret(**z)));
        }
        let count = peers.len().min(N);
        cache.adopt(pair, snapshot.made, peers.into_iter());
        Ok(Loaded::Adopted { peers: count })
    }

    /// Writes `cache` to the file, merged with what other processes saved meanwhile:
    /// under the lock, the file is read again; if it holds the same key pair, the peers
    /// of both are kept; if it holds a newer one, it is left as it is (ours is stale);
    /// otherwise ours replaces it. The new contents go to a temporary file (owner-only)
    /// that is then renamed over the old one, so a reader sees the old or the new file,
    /// never half of one. A cache with no key pair writes nothing.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save<const N: usize>(&self, cache: &KeyCache<N>) -> io::Result<()> {
        let Some((private, public, made)) = cache.own() else {
            return Ok(());
        };
        let _lock = self.lock()?;
        let mut snapshot = Snapshot {
            made,
            private: Zeroizing::new(private.to_be_bytes()),
            public: public.to_be_bytes(),
            peers: cache
                .peers()
                .map(|(p, z)| (p.to_be_bytes(), Zeroizing::new(*z.as_bytes())))
                .collect(),
        };
        if let Some(Ok(on_disk)) = self.read()? {
            if on_disk.public == snapshot.public {
                for (peer, z) in on_disk.peers {
                    if snapshot.peers.len() < MAX_PEERS
                        && !snapshot.peers.iter().any(|(p, _)| *p == peer)
                    {
                        snapshot.peers.push((peer, z));
                    }
                }
            } else if on_disk.made > made {
                return Ok(());
            }
        }
        let tmp = self.sibling(&std::format!(".tmp{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&encode(&snapshot))?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}
