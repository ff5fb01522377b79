//! `ssmail encrypt` and `ssmail decrypt` with the authenticated format
//! (`stream_format`): keys from files or a recipient's public key, input and output as
//! files or pipes, a progress bar on a terminal, and output to a path that appears only
//! when everything went well.

use std::fs::{self, File};
use std::io::{self, ErrorKind, IsTerminal as _, Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ssmail_cli::stream_format::{
    CHUNK_LOG2, FIXED, FormatError, Header, KeyMode, NONCE, SYMMETRIC_KEY, Secret, Stream, TAG,
    short_header,
};
use ssmail_core::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::args::CryptArgs;
use crate::failure::Failure;
use crate::keypair::{exact_hex, read_private};

/// Where the key comes from.
enum FileKey {
    File(Zeroizing<[u8; SYMMETRIC_KEY]>),
    To(PublicKey),
    Private(PrivateKey),
}

fn file_key(args: &CryptArgs, encrypting: bool) -> Result<FileKey, Failure> {
    let given = [
        args.key_file.is_some(),
        args.to.is_some(),
        args.private.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        return Err(Failure::Usage(if encrypting {
            "give exactly one of --key-file FILE or --to KEY".into()
        } else {
            "give exactly one of --key-file FILE or --private @FILE".into()
        }));
    }
    if let Some(path) = &args.key_file {
        return read_symmetric(path).map(FileKey::File);
    }
    if let Some(to) = &args.to {
        if !encrypting {
            return Err(Failure::Usage(
                "--to is for encrypt; decrypt with --private @FILE".into(),
            ));
        }
        let text = match to.strip_prefix('@') {
            Some(file) => {
                fs::read_to_string(file).map_err(|e| Failure::KeyFile(format!("{file}: {e}")))?
            }
            None => to.clone(),
        };
        return PublicKey::from_hex(text.trim())
            .map(FileKey::To)
            .map_err(|e| Failure::Usage(format!("--to: {e}")));
    }
    if encrypting {
        return Err(Failure::Usage(
            "--private is for decrypt; encrypt to a public key with --to KEY".into(),
        ));
    }
    let private = args.private.as_deref().unwrap_or_default();
    read_private(private, "--private").map(FileKey::Private)
}

/// A symmetric key file: 64 hex digits (as `ssmail keygen --symmetric` writes).
fn read_symmetric(path: &Path) -> Result<Zeroizing<[u8; SYMMETRIC_KEY]>, Failure> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|e| Failure::KeyFile(format!("{}: {e}", path.display())))?,
    );
    exact_hex::<SYMMETRIC_KEY>(&text, &format!("key file {}", path.display()))
        .map(Zeroizing::new)
        .map_err(|e| Failure::KeyFile(e.message().unwrap_or_default().to_owned()))
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// [`fill`] from the input, failures named.
fn read(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, Failure> {
    fill(r, buf).map_err(|e| io_failure("reading the input", &e))
}

fn io_failure(what: &str, e: &io::Error) -> Failure {
    match e.kind() {
        ErrorKind::PermissionDenied => Failure::Permission(format!("{what}: {e}")),
        ErrorKind::BrokenPipe => Failure::BrokenPipe,
        _ => Failure::Io(format!("{what}: {e}")),
    }
}

/// The input, and its size if known (for the progress bar).
fn open_input(path: Option<&Path>) -> Result<(Box<dyn Read>, Option<u64>), Failure> {
    match path {
        Some(p) => {
            let f = File::open(p).map_err(|e| io_failure(&p.display().to_string(), &e))?;
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            Ok((Box::new(io::BufReader::with_capacity(1 << 17, f)), len))
        }
        None => Ok((Box::new(io::stdin().lock()), None)),
    }
}

/// Output to a path goes to a temporary file beside it, renamed over it only when
/// everything succeeded; output to stdout is written as it comes.
enum Output {
    Stdout(io::Stdout),
    File {
        tmp: tempfile::NamedTempFile,
        path: PathBuf,
        force: bool,
    },
}

impl Output {
    fn open(path: Option<&Path>, force: bool) -> Result<Self, Failure> {
        let Some(path) = path else {
            return Ok(Self::Stdout(io::stdout()));
        };
        if !force && path.exists() {
            return Err(Failure::OutputExists(format!(
                "{} exists; pass --force to replace it",
                path.display()
            )));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".ssmail-")
            .tempfile_in(dir)
            .map_err(|e| io_failure(&format!("creating a file in {}", dir.display()), &e))?;
        Ok(Self::File {
            tmp,
            path: path.to_path_buf(),
            force,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let r = match self {
            Self::Stdout(s) => s.write_all(bytes),
            Self::File { tmp, .. } => tmp.write_all(bytes),
        };
        r.map_err(|e| io_failure("writing the output", &e))
    }

    /// Everything is written: make it visible. (Dropping an unfinished `File` output
    /// deletes the temporary.)
    fn finish(self) -> Result<(), Failure> {
        match self {
            Self::Stdout(mut s) => s.flush().map_err(|e| io_failure("writing stdout", &e)),
            Self::File { tmp, path, force } => {
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| io_failure("writing the output", &e))?;
                let done = if force {
                    tmp.persist(&path).map(drop)
                } else {
                    tmp.persist_noclobber(&path).map(drop)
                };
                done.map_err(|e| {
                    if e.error.kind() == ErrorKind::AlreadyExists {
                        Failure::OutputExists(format!(
                            "{} appeared meanwhile; pass --force to replace it",
                            path.display()
                        ))
                    } else {
                        io_failure(&path.display().to_string(), &e.error)
                    }
                })
            }
        }
    }
}

fn progress(args: &CryptArgs, len: Option<u64>) -> Option<ProgressBar> {
    let len = len?;
    if args.quiet || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn format_failure(e: FormatError) -> Failure {
    let m = e.to_string();
    match e {
        FormatError::NotSsmail => Failure::NotSsmail(m),
        FormatError::Unsupported(_) => Failure::Unsupported(m),
        FormatError::BadTag { .. } | FormatError::Malformed(_) => Failure::Corrupted(m),
        FormatError::Truncated => Failure::Truncated(m),
    }
}

/// `ssmail encrypt` (not raw).
pub fn encrypt(args: &CryptArgs) -> Result<(), Failure> {
    let cipher = crate::keystream::parse(args.cipher.as_deref().unwrap_or("t32"))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let key = file_key(args, true)?;
    let rng = |e| Failure::Io(format!("no randomness from the system: {e}"));
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce).map_err(|e| rng(e.to_string()))?;
    let ephemeral = match &key {
        FileKey::To(_) => {
            Some(PrivateKey::generate(&mut getrandom::SysRng).map_err(|e| rng(e.to_string()))?)
        }
        _ => None,
    };
    let (mode, secret) = match (&key, &ephemeral) {
        (FileKey::File(k), _) => (KeyMode::Symmetric, Secret::Symmetric(k)),
        (FileKey::To(r), Some(e)) => (
            KeyMode::Recipient {
                ephemeral: e.public_key(),
            },
            Secret::ToRecipient {
                ephemeral: e,
                recipient: r,
            },
        ),
        _ => return Err(Failure::Usage("no key".into())),
    };
    let header = Header {
        cipher,
        mode,
        chunk: 1 << CHUNK_LOG2,
        nonce,
    };
    let (mut input, len) = open_input(args.input.as_deref())?;
    let mut out = Output::open(args.output.as_deref(), args.force)?;
    let bar = progress(args, len);
    let (head, stream) = Stream::seal_start(&header, &secret).map_err(format_failure)?;
    out.write(&head)?;
    let chunk = stream.chunk_size();
    let (mut cipher, mut mac) = stream.split();
    // This thread reads and encrypts; the other tags and writes.
    let out = pipeline(
        chunk,
        out,
        |hand: &mut Hand<'_>| {
            let mut cur = hand.buffer()?;
            let mut n = read(&mut input, &mut cur)?;
            loop {
                // A full chunk is the last one only if nothing follows it.
                let mut next = hand.buffer()?;
                let m = if n == chunk {
                    read(&mut input, &mut next)?
                } else {
                    0
                };
                let last = m == 0;
                cipher.apply(&mut cur[..n]);
                hand.give(cur, n, last)?;
                if last {
                    return Ok(());
                }
                cur = next;
                n = m;
            }
        },
        |out: &mut Output, data: &mut [u8], last: bool| {
            let (w, tag) = mac.tag(data, last);
            out.write(&w)?;
            out.write(data)?;
            out.write(&tag)?;
            if let Some(b) = &bar {
                b.inc(data.len() as u64);
            }
            Ok(())
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out.finish()
}

/// Buffers handed between the two threads of a [`pipeline`].
struct Hand<'a> {
    free: &'a std::sync::mpsc::Receiver<Vec<u8>>,
    full: &'a std::sync::mpsc::SyncSender<(Vec<u8>, usize, bool)>,
}

impl Hand<'_> {
    /// A free buffer; `Err` if the other side has stopped (its error is the one shown).
    fn buffer(&mut self) -> Result<Vec<u8>, Failure> {
        self.free
            .recv()
            .map_err(|_| Failure::Io("the writer stopped".into()))
    }

    /// Hands `buf[..n]` over.
    fn give(&mut self, buf: Vec<u8>, n: usize, last: bool) -> Result<(), Failure> {
        self.full
            .send((buf, n, last))
            .map_err(|_| Failure::Io("the writer stopped".into()))
    }
}

/// Runs `produce` here and `consume` (with `out`) on a second thread, over chunks in a
/// fixed set of buffers (constant memory). Returns `out` when both succeeded; the first
/// failure otherwise (the consumer's, if it stopped first).
fn pipeline(
    chunk: usize,
    mut out: Output,
    produce: impl FnOnce(&mut Hand<'_>) -> Result<(), Failure>,
    mut consume: impl FnMut(&mut Output, &mut [u8], bool) -> Result<(), Failure> + Send,
) -> Result<Output, Failure> {
    use std::sync::mpsc::sync_channel;
    const BUFFERS: usize = 4;
    let (free_tx, free_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize, bool)>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = free_tx.send(vec![0u8; chunk]);
    }
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || -> Result<Output, Failure> {
            for (mut buf, n, last) in full_rx {
                consume(&mut out, &mut buf[..n], last)?;
                // The producer may have finished already; then the buffer is not needed.
                let _ = free_tx.send(buf);
                if last {
                    break;
                }
            }
            Ok(out)
        });
        let produced = produce(&mut Hand {
            free: &free_rx,
            full: &full_tx,
        });
        drop(full_tx);
        let consumed = consumer
            .join()
            .unwrap_or_else(|_| Err(Failure::Io("the writer thread failed".into())));
        match (produced, consumed) {
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => Err(e),
            (Ok(()), Ok(out)) => Ok(out),
        }
    })
}

/// `ssmail decrypt` (not raw). Each chunk is written only after its MAC checked out;
/// output to a path appears only if the whole file did.
pub fn decrypt(args: &CryptArgs) -> Result<(), Failure> {
    if args.cipher.is_some() {
        return Err(Failure::Usage(
            "--cipher is for encrypt (and raw mode): the file names its cipher".into(),
        ));
    }
    let key = file_key(args, false)?;
    let (mut input, len) = open_input(args.input.as_deref())?;
    let mut first = [0u8; FIXED];
    let got = read(&mut input, &mut first)?;
    if got < FIXED {
        return Err(format_failure(short_header(&first[..got])));
    }
    let total = Header::length(&first).map_err(format_failure)?;
    let mut head = vec![0u8; total];
    head[..FIXED].copy_from_slice(&first);
    if read(&mut input, &mut head[FIXED..])? < total - FIXED {
        return Err(format_failure(FormatError::Truncated));
    }
    let (header, tag) = Header::parse(&head).map_err(format_failure)?;
    let secret = match (&key, &header.mode) {
        (FileKey::File(k), KeyMode::Symmetric) => Secret::Symmetric(k),
        (FileKey::Private(p), KeyMode::Recipient { .. }) => Secret::AsRecipient(p),
        (FileKey::File(_), _) => {
            return Err(Failure::Usage(
                "this file was encrypted to a public key: decrypt it with --private @FILE".into(),
            ));
        }
        _ => {
            return Err(Failure::Usage(
                "this file was encrypted with a symmetric key: decrypt it with --key-file FILE"
                    .into(),
            ));
        }
    };
    let stream = Stream::open_start(&header, &tag, &secret).map_err(format_failure)?;
    // The output is opened only once the key is known to be right.
    let out = Output::open(args.output.as_deref(), args.force)?;
    let bar = progress(args, len);
    let chunk = stream.chunk_size();
    let (mut cipher, mut mac) = stream.split();
    // This thread reads and checks each chunk's MAC; the other decrypts and writes, and
    // sees only chunks that passed.
    let out = pipeline(
        chunk,
        out,
        |hand: &mut Hand<'_>| {
            loop {
                let mut w = [0u8; 4];
                if read(&mut input, &mut w)? < 4 {
                    return Err(format_failure(FormatError::Truncated));
                }
                let (n, last) = mac.chunk_word(w).map_err(format_failure)?;
                let mut buf = hand.buffer()?;
                let mut tag = [0u8; TAG];
                if read(&mut input, &mut buf[..n])? < n || read(&mut input, &mut tag)? < TAG {
                    return Err(format_failure(FormatError::Truncated));
                }
                mac.check(w, &buf[..n], &tag).map_err(format_failure)?;
                hand.give(buf, n, last)?;
                if last {
                    break;
                }
            }
            if read(&mut input, &mut [0u8; 1])? != 0 {
                return Err(format_failure(FormatError::Malformed(
                    "bytes after the final chunk".into(),
                )));
            }
            Ok(())
        },
        |out: &mut Output, data: &mut [u8], _last: bool| {
            cipher.apply(data);
            out.write(data)?;
            if let Some(b) = &bar {
                b.inc((data.len() + TAG + 4) as u64);
            }
            Ok(())
        },
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out.finish()
}

/// `ssmail keygen --symmetric`: 32 random bytes as 64 hex digits, written to `out`
/// (then `None`) or returned for printing.
pub fn keygen_symmetric(
    out: Option<&Path>,
    force: bool,
) -> Result<Option<Zeroizing<String>>, Failure> {
    let mut key = Zeroizing::new([0u8; SYMMETRIC_KEY]);
    getrandom::fill(&mut key[..])
        .map_err(|e| Failure::Io(format!("no randomness from the system: {e}")))?;
    let text = Zeroizing::new(crate::hexkey::encode(&key[..]));
    match out {
        Some(path) => {
            let line = Zeroizing::new(format!("{}\n", *text));
            crate::keypair::write_private(path, &line, force)?;
            Ok(None)
        }
        None => Ok(Some(text)),
    }
}
