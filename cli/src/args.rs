//! The command line, as clap sees it.
//!
//! Cipher names and keys are plain strings here and are checked by the command itself, so
//! that a bad value gets a one-line `ssmail: ...` error rather than clap's usage block.

use clap::{Args, Parser, Subcommand};

/// Top level: `ssmail <COMMAND>`.
#[derive(Debug, Parser)]
#[command(
    name = "ssmail",
    version,
    about = "ssmail: XCRYPT's ciphers and Diffie-Hellman from the command line"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Which implementations run: by default the fastest this CPU runs (`ssmail backends`
    /// lists them); these force one by name, for tests and benchmarks.
    #[command(flatten)]
    pub paths: PathArgs,
}

/// Forcing an implementation path by name, on the command line or in the environment.
#[derive(Debug, Args)]
pub struct PathArgs {
    /// Force the arrsyfor (RC4) keystream implementation.
    #[arg(long, global = true, value_name = "NAME", env = "SSMAIL_ARRSYFOR_PATH")]
    pub arrsyfor_path: Option<String>,

    /// Force the t32 (SOBER-t32) keystream implementation.
    #[arg(long, global = true, value_name = "NAME", env = "SSMAIL_T32_PATH")]
    pub t32_path: Option<String>,

    /// Force the Diffie-Hellman exponentiation backend (a command's own `--backend`
    /// still wins for that command).
    #[arg(long, global = true, value_name = "NAME", env = "SSMAIL_DH_BACKEND")]
    pub dh_backend: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypt stdin to stdout.
    Encrypt(CryptArgs),
    /// Decrypt stdin to stdout.
    Decrypt(CryptArgs),
    /// Compute base^exp mod p over XCRYPT's 768-bit Oakley prime (RFC 2409, 6.1).
    Modexp(ModexpArgs),
    /// Name the CPU and list each primitive's implementations (cipher paths, exponentiation
    /// backends): compiled in, runnable here, and the default.
    Backends(BackendsArgs),
    /// Make a new XCRYPT key pair: the private key goes to a file (or stdout), the
    /// public key to stdout as 192 hex digits.
    Keygen(KeygenArgs),
    /// Work out an XCRYPT key agreement and print it as JSON, for checking against other
    /// implementations.
    Derive(DeriveArgs),
    /// Reproduce the paper's CPU-time tables on this machine, beside the paper's figures.
    Bench(BenchArgs),
    /// Replay a trace of arrivals (CSV: seconds,peer) through the key cache and count the
    /// Diffie-Hellman computations, or (--flood) a known peer's hits during a flood of
    /// one-off keys.
    CacheSim(CacheSimArgs),
    /// Run an XCRYPT proxy in front of an unmodified MTA (see gateway/GATEWAY.md).
    Gateway(GatewayArgs),
}

/// Options of `gateway`.
#[derive(Debug, Args)]
#[cfg_attr(
    not(feature = "gateway"),
    allow(dead_code, reason = "read by the gateway, which this build leaves out")
)]
pub struct GatewayArgs {
    /// Which side of the hop: `inbound` (in front of the receiving MTA: server side) or
    /// `outbound` (the sending MTA's relay: client side).
    #[arg(value_parser = ["inbound", "outbound"])]
    pub mode: String,

    /// Where to listen (ADDR:PORT); with --upstream, one route.
    #[arg(long)]
    pub listen: Option<String>,

    /// Where to forward (HOST:PORT); with --listen, one route.
    #[arg(long)]
    pub upstream: Option<String>,

    /// The config file (TOML): versions, key lifetime, cache file, timeouts, limits,
    /// more routes.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,

    /// Session log lines as `text` (key=value) or `json`.
    #[arg(long, value_parser = ["text", "json"])]
    pub log_format: Option<String>,

    /// Outbound: never send mail to the upstream in plaintext (the local MTA gets a 4xx
    /// and keeps the mail queued).
    #[arg(long)]
    pub require_xcrypt: bool,
}

/// Options of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A few seconds instead of the default (well under a minute); rougher figures.
    #[arg(long)]
    pub quick: bool,

    /// Measure every implementation path this CPU runs (the exponentiation backends and
    /// the ciphers' keystream paths), not only the defaults, and say whether each default
    /// is the fastest.
    #[arg(long)]
    pub all_backends: bool,

    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Options of `cache-sim`.
#[derive(Debug, Args)]
pub struct CacheSimArgs {
    /// The trace: one `seconds,peer` line per message, in time order.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "flood",
        conflicts_with = "flood"
    )]
    pub trace: Option<std::path::PathBuf>,

    /// Instead of a trace: a flood of this many one-off public keys a second (fresh
    /// valid keys, as an attacker sends them), with one known peer coming back; prints
    /// the known peer's hits with this cache and with a least-recently-used one.
    #[arg(long, value_name = "RATE")]
    pub flood: Option<f64>,

    /// With --flood: seconds between the known peer's sessions.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1.0,
        requires = "flood"
    )]
    pub known_every: f64,

    /// With --flood: length of the simulated run in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60.0,
        requires = "flood"
    )]
    pub secs: f64,

    /// Key lifetime in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = ssmail_core::DEFAULT_LIFETIME_SECS)]
    pub lifetime: u64,

    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Options of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the private key (192 hex digits) to this file, created owner-only (0600).
    /// Without it, the private key is printed on stdout before the public key.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,

    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,

    /// A 32-byte symmetric key for `encrypt --key-file` instead of a key pair (64 hex
    /// digits, to FILE or stdout).
    #[arg(long)]
    pub symmetric: bool,
}

/// Options of `derive`.
#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// Our private key: 192 hex digits, or @FILE to read them from FILE.
    #[arg(long, value_name = "HEX|@FILE")]
    pub private: String,

    /// The peer's public key: exactly 192 hex digits, as on the wire.
    #[arg(long, value_name = "HEX")]
    pub peer: String,

    /// The client's nonce: exactly 20 hex digits.
    #[arg(long, value_name = "HEX")]
    pub na: String,

    /// The server's nonce: exactly 20 hex digits.
    #[arg(long, value_name = "HEX")]
    pub nb: String,

    /// Force an exponentiation backend by name (see `ssmail backends`).
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
}

/// Options of `modexp`.
#[derive(Debug, Args)]
pub struct ModexpArgs {
    /// The base, in hex (up to 96 bytes; a base of p or more is reduced first).
    #[arg(long, value_name = "HEX")]
    pub base: String,

    /// The exponent, in hex (up to 96 bytes). Treated as secret: constant time.
    #[arg(long, value_name = "HEX")]
    pub exp: String,

    /// Force a backend by name (see `ssmail backends`).
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
}

/// Options of `backends`.
#[derive(Debug, Args)]
pub struct BackendsArgs {
    /// Print one JSON object (`cpu`, `paths`, and each primitive's list) instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Options shared by `encrypt` and `decrypt`.
#[derive(Debug, Args)]
pub struct CryptArgs {
    /// Bare keystream XOR with --cipher and --key-hex: no header, no integrity check, no
    /// nonce (for interop and tests only).
    #[arg(long)]
    pub raw: bool,

    /// Cipher: t32 (SOBER-t32, the default) or arrsyfor (RC4). Both are broken by modern
    /// standards. Decrypt reads it from the file (raw mode needs it).
    #[arg(long, value_name = "t32|arrsyfor")]
    pub cipher: Option<String>,

    /// Raw mode: the key as hexadecimal digits. Note that other local users may be able
    /// to read command lines.
    #[arg(long, value_name = "HEX")]
    pub key_hex: Option<String>,

    /// A symmetric key file, as `ssmail keygen --symmetric --out FILE` writes.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,

    /// Encrypt to this XCRYPT public key (192 hex digits, or @FILE holding them); only
    /// the holder of its private key can decrypt.
    #[arg(long, value_name = "HEX|@FILE")]
    pub to: Option<String>,

    /// Decrypt with this private key file (as `ssmail keygen --out FILE` writes).
    #[arg(long, value_name = "@FILE")]
    pub private: Option<String>,

    /// Read this file instead of stdin.
    #[arg(long = "in", value_name = "FILE")]
    pub input: Option<std::path::PathBuf>,

    /// Write this file instead of stdout (it appears only when everything succeeded).
    #[arg(long = "out", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}
