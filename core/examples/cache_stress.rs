//! The proof of the shared key cache file (docs/xcrypt.md §5.7): many processes doing
//! XCRYPT exchanges at once against one `CacheFile`, some SIGKILLed at random moments
//! (in the middle of writing the file, too) and started again, while this driver reads
//! the file without the lock all the time. Then it checks, from the file and from what
//! every process logged:
//!
//! - the file always decodes (magic, version, length, SHA-1: never torn or corrupt), with
//!   a decoder written here, not the library's, and never goes missing once made;
//! - its key pair is never lost: a pair is replaced only by one made at least a lifetime
//!   later, and every pair any process handed out was the file's;
//! - one key pair per lifetime: every process logs the public key it handed out with the
//!   clock value the choice was made at; the handouts of each pair fit in one lifetime,
//!   and those of two pairs never interleave;
//! - every shared secret, logged or in the file, is right: recomputed here from the
//!   peer's private key.
//!
//! ```sh
//! cargo run --release -p ssmail-core --features std --example cache_stress -- \
//!     [--procs 50] [--secs 20] [--lifetime 2] [--peers 128] [--kill-every-ms 40] [--dir DIR]
//! ```
//! Exit status 0 when every check passes, 1 otherwise (each failure printed).
//!
//! `--legacy` makes the processes use the file as they did before
//! `CacheFile::own_key_pair` (a pair made in memory and saved): the checks must then
//! fail, which shows they can.
#![allow(
    clippy::integer_division_remainder_used,
    reason = "a test driver: no secret is divided"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};
use ssmail_core::cache::file::{CacheFile, KeyPairFrom};
use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::{KeyCache, PrivateKey, PublicKey, derive, shared_secret};

/// Peers a worker process can hold in memory (more than any run uses).
const CAPACITY: usize = 256;
/// The cache file's layout (docs/xcrypt.md §5.3), for the independent decoder.
const HEADER: usize = 8 + 4 + 8 + 96 + 96 + 4;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("worker") => worker(&args[1..]),
        _ => drive(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cache_stress: {e}");
            ExitCode::from(2)
        }
    }
}

/// Seconds since the Unix epoch: the cache's clock in every process.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// xorshift64*, for repeatable peer keys and the driver's choices (not for our own keys).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl rand_core::TryRng for XorShift {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next() as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

// Only peer keys come from it: the peers' secrets must be known to the checker.
impl rand_core::TryCryptoRng for XorShift {}

/// Peer `i`'s private key, the same in every process.
fn peer_private(i: usize) -> PrivateKey {
    let Ok(k) = PrivateKey::generate(&mut XorShift(0x5EED_0000 + i as u64 * 7919));
    k
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A short name for a public key in the logs (its first 8 bytes).
fn fingerprint(key: &[u8; 96]) -> String {
    hex(&key[..8])
}

/// A short, checkable name for a shared secret: the first 8 bytes of its SHA-1.
fn secret_print(z: &[u8; 96]) -> String {
    hex(&Sha1::digest(z)[..8])
}

// ---------------------------------------------------------------- worker

/// One mail server process: hands out the server key pair, then finds the shared secret
/// with a random peer and derives the session keys, over and over, logging each step.
fn worker(args: &[String]) -> Result<bool, String> {
    let [dir, id, lifetime, peers, mode] = args else {
        return Err("usage: worker DIR ID LIFETIME PEERS shared|legacy".into());
    };
    let legacy = mode == "legacy";
    let dir = PathBuf::from(dir);
    let lifetime: u64 = lifetime.parse().map_err(|_| "bad lifetime")?;
    let peers: usize = peers.parse().map_err(|_| "bad peer count")?;
    let peer_keys: Vec<PublicKey> = (0..peers).map(|i| peer_private(i).public_key()).collect();
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log").join(format!("{id}.log")))
        .map_err(|e| format!("log: {e}"))?;
    let file = CacheFile::new(dir.join("cache"));
    let mut cache: Box<KeyCache<CAPACITY>> = Box::new(KeyCache::new(lifetime));
    let mut pick = XorShift(u64::from(std::process::id()) << 20 | 1);
    let mut rng = getrandom::SysRng;
    if legacy {
        file.load(&mut cache, unix_now())
            .map_err(|e| format!("load: {e}"))?;
    }
    loop {
        if legacy {
            legacy_exchange(&file, &mut cache, &peer_keys, &mut pick, &mut log)?;
            std::thread::sleep(Duration::from_micros(2000 + pick.below(10_000)));
            continue;
        }
        // The clock value the file's pair was judged by (the last one read).
        let decided = std::cell::Cell::new(0);
        let clock = || {
            decided.set(unix_now());
            decided.get()
        };
        let (own, from) = file
            .own_key_pair(&mut cache, clock, &mut rng)
            .map_err(|e| format!("own_key_pair: {e}"))?;
        let from = match from {
            KeyPairFrom::Memory => "memory",
            KeyPairFrom::File { .. } => "file",
            KeyPairFrom::Restored(_) => "restored",
            KeyPairFrom::Created(_) => "created",
        };
        let own_bytes = own.to_be_bytes();
        let line = format!("K {} {} {from}\n", decided.get(), fingerprint(&own_bytes));
        log.write_all(line.as_bytes()).map_err(|e| e.to_string())?;

        let p = pick.below(peers as u64) as usize;
        let (z, how) = file
            .shared_secret_for(&mut cache, &own, &peer_keys[p])
            .map_err(|e| format!("shared_secret_for: {e}"))?
            .ok_or("the pair just handed out is not ours")?;
        let mut na = [0u8; NONCE_BYTES];
        getrandom::fill(&mut na).map_err(|e| e.to_string())?;
        let nb = [7u8; NONCE_BYTES];
        let keys = derive(z.as_bytes(), &na, &nb);
        std::hint::black_box(&keys);
        let line = format!(
            "S {} {p} {} {how:?}\n",
            fingerprint(&own_bytes),
            secret_print(z.as_bytes())
        );
        log.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        // A session's worth of pause: 2 to 12 ms.
        std::thread::sleep(Duration::from_micros(2000 + pick.below(10_000)));
    }
}

/// One exchange the way a process used the file before `own_key_pair`: the pair made
/// in memory at expiry and saved after it, peers saved after a miss. The driver's
/// `--legacy` runs it to show that the checks catch what went wrong with it.
fn legacy_exchange(
    file: &CacheFile,
    cache: &mut KeyCache<CAPACITY>,
    peer_keys: &[PublicKey],
    pick: &mut XorShift,
    log: &mut File,
) -> Result<(), String> {
    let t = unix_now();
    let before = cache.rotations();
    let own = cache
        .own_public_key(t, &mut getrandom::SysRng)
        .map_err(|e| e.to_string())?;
    if cache.rotations() != before {
        file.save(cache).map_err(|e| format!("save: {e}"))?;
    }
    let own_bytes = own.to_be_bytes();
    let line = format!("K {t} {} legacy\n", fingerprint(&own_bytes));
    log.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
    let p = pick.below(peer_keys.len() as u64) as usize;
    let (z, how) = cache
        .shared_secret_for(&own, &peer_keys[p])
        .ok_or("the pair just handed out is not ours")?;
    if how == ssmail_core::Lookup::Miss {
        file.save(cache).map_err(|e| format!("save: {e}"))?;
    }
    let line = format!(
        "S {} {p} {} {how:?}\n",
        fingerprint(&own_bytes),
        secret_print(z.as_bytes())
    );
    log.write_all(line.as_bytes()).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- driver

struct Settings {
    procs: usize,
    secs: u64,
    lifetime: u64,
    peers: usize,
    kill_every: Duration,
    dir: PathBuf,
    /// Workers use the file the old way (`legacy_exchange`): the checks must fail.
    legacy: bool,
}

fn settings(args: &[String]) -> Result<Settings, String> {
    let mut s = Settings {
        procs: 50,
        secs: 20,
        lifetime: 2,
        peers: 128,
        kill_every: Duration::from_millis(40),
        dir: std::env::temp_dir().join(format!("ssmail-cache-stress-{}", std::process::id())),
        legacy: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--legacy" {
            s.legacy = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--procs" => s.procs = number()? as usize,
            "--secs" => s.secs = number()?,
            "--lifetime" => s.lifetime = number()?,
            "--peers" => s.peers = number()? as usize,
            "--kill-every-ms" => s.kill_every = Duration::from_millis(number()?),
            "--dir" => s.dir = PathBuf::from(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if s.procs == 0 || s.lifetime == 0 || s.peers == 0 || s.peers > CAPACITY {
        return Err(format!("need procs, lifetime > 0 and 1..={CAPACITY} peers"));
    }
    Ok(s)
}

/// A key pair as the file holds it.
struct Pair {
    made: u64,
    public: [u8; 96],
}

/// The file decoded by the format of docs/xcrypt.md §5.3, independently of the library.
struct Decoded {
    made: u64,
    private: [u8; 96],
    public: [u8; 96],
    peers: Vec<([u8; 96], [u8; 96])>,
}

fn decode(b: &[u8]) -> Result<Decoded, &'static str> {
    if b.len() < HEADER + 20 {
        return Err("shorter than a header and checksum");
    }
    let (body, sum) = b.split_at(b.len() - 20);
    if &b[..8] != b"SSMAILKC" {
        return Err("bad magic");
    }
    if Sha1::digest(body).as_slice() != sum {
        return Err("checksum mismatch");
    }
    if b[8..12] != 1u32.to_be_bytes() {
        return Err("bad version");
    }
    let count = u32::from_be_bytes([b[212], b[213], b[214], b[215]]) as usize;
    if body.len() != HEADER + count * 192 {
        return Err("length does not match the count");
    }
    let take = |at: usize| -> [u8; 96] {
        let mut k = [0u8; 96];
        k.copy_from_slice(&b[at..at + 96]);
        k
    };
    let mut made = [0u8; 8];
    made.copy_from_slice(&b[12..20]);
    Ok(Decoded {
        made: u64::from_be_bytes(made),
        private: take(20),
        public: take(116),
        peers: (0..count)
            .map(|i| (take(HEADER + 192 * i), take(HEADER + 192 * i + 96)))
            .collect(),
    })
}

/// What the driver saw and found wrong.
#[derive(Default)]
struct Findings {
    failures: Vec<String>,
    polls: u64,
    /// Reads that found the file torn, corrupt or missing.
    bad_reads: u64,
    temp_seen: u64,
    kills: u64,
    /// Kills of the process that held the lock (inside a read-modify-write).
    killed_holding_lock: u64,
    /// Kills that left a temporary file behind (between its creation and the rename).
    killed_mid_write: u64,
    /// Every pair the file held, in order.
    pairs: Vec<Pair>,
    /// Shared secrets checked: (own public key, peer index) → SHA-1 print.
    right_secrets: HashMap<([u8; 96], usize), String>,
}

impl Findings {
    fn fail(&mut self, what: String) {
        if self.failures.len() < 50 {
            eprintln!("FAIL: {what}");
        }
        self.failures.push(what);
    }

    /// The right shared secret of `public` with peer `i` (computed once).
    fn right_secret(&mut self, public: &[u8; 96], i: usize, peers: &[PrivateKey]) -> String {
        self.right_secrets
            .entry((*public, i))
            .or_insert_with(|| match PublicKey::from_be_bytes(public) {
                Ok(k) => secret_print(shared_secret(&peers[i], &k).as_bytes()),
                Err(_) => "invalid public key".into(),
            })
            .clone()
    }

    /// One look at the file, without the lock, as any reader may look at it.
    fn poll(&mut self, s: &Settings, peers: &[PrivateKey], peer_publics: &[[u8; 96]]) {
        self.polls += 1;
        let path = s.dir.join("cache");
        if s.dir.join("cache.tmp").exists() {
            self.temp_seen += 1;
        }
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.pairs.is_empty() {
                    self.bad_reads += 1;
                    self.fail("the cache file went missing after it was made".into());
                }
                return;
            }
            Err(e) => return self.fail(format!("reading the cache file: {e}")),
        };
        let d = match decode(&bytes) {
            Ok(d) => d,
            Err(why) => {
                self.bad_reads += 1;
                return self.fail(format!("torn or corrupt cache file: {why}"));
            }
        };
        let new_pair = self.pairs.last().is_none_or(|p| p.public != d.public);
        if new_pair {
            match PrivateKey::from_be_bytes(&d.private) {
                Some(k) if k.public_key().to_be_bytes() == d.public => {}
                _ => self.fail("the file's public key is not its private key's".into()),
            }
            if self.pairs.iter().any(|p| p.public == d.public) {
                self.fail("a replaced key pair came back".into());
            }
            if let Some(last_made) = self.pairs.last().map(|p| p.made) {
                if d.made < last_made + s.lifetime {
                    self.fail(format!(
                        "pair made at {} replaced one made at {last_made}, within its lifetime of {} s",
                        d.made, s.lifetime
                    ));
                }
            }
            self.pairs.push(Pair {
                made: d.made,
                public: d.public,
            });
        }
        for (peer, z) in &d.peers {
            let Some(i) = peer_publics.iter().position(|p| p == peer) else {
                self.fail("a peer in the file that no process met".into());
                continue;
            };
            let right = self.right_secret(&d.public, i, peers);
            if secret_print(z) != right {
                self.fail(format!("wrong shared secret for peer {i} in the file"));
            }
        }
    }
}

fn spawn(s: &Settings, slot: usize, generation: u64) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    Command::new(exe)
        .arg("worker")
        .arg(&s.dir)
        .arg(format!("{slot}-{generation}"))
        .arg(s.lifetime.to_string())
        .arg(s.peers.to_string())
        .arg(if s.legacy { "legacy" } else { "shared" })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting a worker: {e}"))
}

/// Whether a temporary file is left and no one holds the lock: a writer was killed
/// between creating its temporary file and renaming it.
fn stale_temp(dir: &Path) -> bool {
    if !dir.join("cache.tmp").exists() {
        return false;
    }
    let Ok(lock) = File::open(dir.join("cache.lock")) else {
        return false;
    };
    // Taken and let go at once: only to see that no writer is at work.
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
        && dir.join("cache.tmp").exists()
}

/// The process holding the cache's lock now, from `/proc/locks` (Linux): one inside
/// the read-modify-write of the file, the moment to kill it. `None` if no one holds it
/// (or the kernel does not say).
fn lock_holder(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let inode = fs::metadata(dir.join("cache.lock")).ok()?.ino();
    let locks = fs::read_to_string("/proc/locks").ok()?;
    // "1: FLOCK  ADVISORY  WRITE 4242 fd:00:1234 0 EOF"; waiters have "->" and are not holders.
    locks.lines().find_map(|line| {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            [_, "FLOCK", _, "WRITE", pid, dev_ino, ..] => {
                let ino = dev_ino.rsplit(':').next()?.parse::<u64>().ok()?;
                (ino == inode).then(|| pid.parse().ok()).flatten()
            }
            _ => None,
        }
    })
}

fn drive(args: &[String]) -> Result<bool, String> {
    let s = settings(args)?;
    let _ = fs::remove_dir_all(&s.dir);
    fs::create_dir_all(s.dir.join("log")).map_err(|e| format!("{}: {e}", s.dir.display()))?;
    let peers: Vec<PrivateKey> = (0..s.peers).map(peer_private).collect();
    let peer_publics: Vec<[u8; 96]> = peers.iter().map(|k| k.public_key().to_be_bytes()).collect();
    println!(
        "cache_stress: {} processes, {} s, key lifetime {} s, {} peers, a SIGKILL every {} ms, in {}",
        s.procs,
        s.secs,
        s.lifetime,
        s.peers,
        s.kill_every.as_millis(),
        s.dir.display()
    );
    let started = Instant::now();
    let mut f = Findings::default();
    let mut generation = 0u64;
    let mut workers: Vec<Child> = Vec::with_capacity(s.procs);
    for slot in 0..s.procs {
        workers.push(spawn(&s, slot, generation)?);
    }
    let mut choose = XorShift(0xC0FF_EE00 ^ u64::from(std::process::id()));
    let end = started + Duration::from_secs(s.secs);
    let mut next_kill = Instant::now() + s.kill_every;
    while Instant::now() < end {
        f.poll(&s, &peers, &peer_publics);
        if Instant::now() >= next_kill {
            next_kill += s.kill_every;
            // Every other kill goes to the process inside the locked read-modify-write
            // of the file, if one is; the others to any process.
            let holder = (f.kills % 2 == 0)
                .then(|| {
                    // Waits up to 100 ms for someone to take the lock, looking at the
                    // file meanwhile.
                    (0..200).find_map(|_| {
                        let pid = lock_holder(&s.dir);
                        if pid.is_none() {
                            f.poll(&s, &peers, &peer_publics);
                            std::thread::sleep(Duration::from_micros(500));
                        }
                        pid
                    })
                })
                .flatten()
                .and_then(|pid| workers.iter().position(|w| w.id() == pid));
            let slot = holder.unwrap_or_else(|| choose.below(s.procs as u64) as usize);
            // Child::kill sends SIGKILL.
            let _ = workers[slot].kill();
            let _ = workers[slot].wait();
            f.kills += 1;
            if holder.is_some() {
                f.killed_holding_lock += 1;
            }
            if stale_temp(&s.dir) {
                f.killed_mid_write += 1;
            }
            generation += 1;
            workers[slot] = spawn(&s, slot, generation)?;
        }
        for (slot, w) in workers.iter_mut().enumerate() {
            if let Ok(Some(status)) = w.try_wait() {
                f.fail(format!("worker {slot} stopped by itself: {status}"));
                generation += 1;
                *w = spawn(&s, slot, generation)?;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    f.poll(&s, &peers, &peer_publics);
    let ran = started.elapsed();
    check_logs(&s, &mut f, &peers)?;
    println!(
        "file: {} reads without the lock, {} torn, corrupt or missing; {} key pairs; temporary file seen in {} reads",
        f.polls,
        f.bad_reads,
        f.pairs.len(),
        f.temp_seen
    );
    println!(
        "kills: {} SIGKILLs, {} of them of the process holding the lock (mid-update), {} left a \
         half-written temporary file behind",
        f.kills, f.killed_holding_lock, f.killed_mid_write
    );
    println!("ran {:.1} s", ran.as_secs_f64());
    if f.failures.is_empty() {
        println!("cache_stress: PASS");
        let _ = fs::remove_dir_all(&s.dir);
        Ok(true)
    } else {
        println!(
            "cache_stress: FAIL ({} failures; logs kept in {})",
            f.failures.len(),
            s.dir.display()
        );
        Ok(false)
    }
}

/// Every complete line the workers logged (a killed worker's last line may be cut).
fn log_lines(dir: &Path) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for e in fs::read_dir(dir.join("log")).map_err(|e| e.to_string())? {
        let text =
            fs::read_to_string(e.map_err(|e| e.to_string())?.path()).map_err(|e| e.to_string())?;
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        lines.extend(complete.lines().map(str::to_owned));
    }
    Ok(lines)
}

fn check_logs(s: &Settings, f: &mut Findings, peers: &[PrivateKey]) -> Result<(), String> {
    let by_print: HashMap<String, [u8; 96]> = f
        .pairs
        .iter()
        .map(|p| (fingerprint(&p.public), p.public))
        .collect();
    // Handout times of each pair, and counts.
    let mut handouts: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut how_got: BTreeMap<String, u64> = BTreeMap::new();
    let (mut hits, mut misses) = (0u64, 0u64);
    let mut computed: HashMap<(String, usize), u64> = HashMap::new();
    let mut checked = HashSet::new();
    let lines = log_lines(&s.dir)?;
    for line in &lines {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["K", t, key, from] => {
                let t: u64 = t.parse().map_err(|_| format!("bad line {line}"))?;
                if !by_print.contains_key(*key) {
                    f.fail(format!("key pair {key} handed out but never in the file"));
                }
                let e = handouts.entry((*key).to_owned()).or_insert((t, t, 0));
                e.0 = e.0.min(t);
                e.1 = e.1.max(t);
                e.2 += 1;
                *how_got.entry((*from).to_owned()).or_default() += 1;
            }
            ["S", key, peer, print, how] => {
                let i: usize = peer.parse().map_err(|_| format!("bad line {line}"))?;
                match *how {
                    "Hit" => hits += 1,
                    _ => {
                        misses += 1;
                        *computed.entry(((*key).to_owned(), i)).or_default() += 1;
                    }
                }
                if !checked.insert(((*key).to_owned(), i, (*print).to_owned())) {
                    continue;
                }
                match by_print.get(*key) {
                    Some(public) => {
                        let public = *public;
                        if f.right_secret(&public, i, peers) != *print {
                            f.fail(format!("wrong shared secret with peer {i} for {key}"));
                        }
                    }
                    None => f.fail(format!("secret for a key pair {key} the file never held")),
                }
            }
            _ => f.fail(format!("unreadable log line {line:?}")),
        }
    }
    // One pair per lifetime: each pair's handouts fit in one lifetime, and two pairs'
    // handouts never interleave.
    let mut spans: Vec<(u64, u64, &String)> =
        handouts.iter().map(|(k, &(a, b, _))| (a, b, k)).collect();
    spans.sort();
    let mut failures = Vec::new();
    for (a, b, k) in &spans {
        if b - a >= s.lifetime {
            failures.push(format!(
                "pair {k} handed out from {a} to {b}: longer than a lifetime"
            ));
        }
    }
    for pair in spans.windows(2) {
        let ((_, end, k1), (start, _, k2)) = (pair[0], pair[1]);
        if end >= start {
            failures.push(format!(
                "pairs {k1} and {k2} both handed out at {start}..={end}: two pairs in one lifetime"
            ));
        }
    }
    let overlaps = failures.len();
    for e in failures {
        f.fail(e);
    }
    let distinct: BTreeSet<_> = computed.keys().collect();
    let most = computed.values().max().copied().unwrap_or(0);
    let made = f.pairs.len() as u64;
    let run_secs = s.secs + 1;
    if made > run_secs / s.lifetime + 2 {
        f.fail(format!(
            "{made} key pairs in {run_secs} s with a lifetime of {} s",
            s.lifetime
        ));
    }
    println!(
        "logs: {} lines; key handed out {} times ({}), by {} pairs; {}",
        lines.len(),
        handouts.values().map(|h| h.2).sum::<u64>(),
        how_got
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        handouts.len(),
        if overlaps == 0 {
            "each pair's handouts within one lifetime, no two pairs' interleaved".to_owned()
        } else {
            format!("{overlaps} pairs longer than a lifetime or interleaved with another")
        }
    );
    println!(
        "secrets: {hits} hits, {misses} computed for {} (pair, peer) combinations (at most {most} times one), {} distinct secrets recomputed and checked",
        distinct.len(),
        f.right_secrets.len()
    );
    Ok(())
}
