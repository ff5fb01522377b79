//! `ssmail`: the paper's benchmarks (`bench`, `cache-sim`), key tools (`keygen`,
//! `derive`), the exponentiation (`modexp`, `backends`), and stream encryption
//! (`encrypt`/`decrypt` in the authenticated format of `cli/STREAM-FORMAT.md`, or
//! `--raw` for a bare keystream XOR), and the XCRYPT proxies in front of unmodified MTAs
//! (`gateway`, `gateway/GATEWAY.md`; the `ssmail-gateway` crate, behind the default-on
//! cargo feature `gateway`).
//!
//! The top of the workspace: it may import every library crate (`ssmail-cpu`,
//! `ssmail-ciphers`, `ssmail-bigint-x86`, `ssmail-core`, `ssmail-gateway`) and none
//! imports it; its library part (`ssmail_cli`, the stream format) is reached only by the
//! fuzz targets.

mod args;
mod bench;
mod cpu;
mod failure;
#[cfg(feature = "gateway")]
mod gateway;
mod hexkey;
mod keypair;
mod keystream;
mod modexp;
mod paths;
mod raw;
mod stream_cmd;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use args::{Cli, Command, CryptArgs};
use failure::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` come through here too, with exit code 0. Printing is
            // best-effort: a closed stderr must not turn into a panic.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message() {
                // Not `eprintln!`: it panics if stderr is a broken pipe.
                let _ = writeln!(std::io::stderr().lock(), "ssmail: {message}");
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    paths::force(&cli.paths)?;
    match cli.command {
        // In raw mode the two are the same XOR.
        Command::Encrypt(args) | Command::Decrypt(args) if args.raw => crypt(&args),
        // Checked before anything else: a raw-mode key without --raw is a likely slip.
        Command::Encrypt(args) | Command::Decrypt(args) if args.key_hex.is_some() => {
            Err(Failure::Usage(
                "--key-hex is for --raw mode; the file format takes --key-file, --to or --private"
                    .into(),
            ))
        }
        Command::Encrypt(args) => stream_cmd::encrypt(&args),
        Command::Decrypt(args) => stream_cmd::decrypt(&args),
        Command::Modexp(args) => {
            let hex = modexp::modexp(&args.base, &args.exp, args.backend.as_deref())?;
            print_line(&hex)
        }
        Command::Backends(args) => print_line(&paths::backends(args.json)),
        Command::Keygen(args) if args.symmetric => {
            // The key is printed only when it was not written to a file.
            match stream_cmd::keygen_symmetric(args.out.as_deref(), args.force)? {
                Some(text) => print_line(&text),
                None => Ok(()),
            }
        }
        Command::Keygen(args) => print_line(&keypair::keygen(args.out.as_deref(), args.force)?),
        Command::Derive(args) => print_line(&keypair::derive(&args)?),
        Command::Bench(args) => {
            print_line(&bench::bench(args.quick, args.all_backends, args.json)?)
        }
        Command::CacheSim(args) => match (args.flood, &args.trace) {
            (Some(rate), _) => print_line(&bench::cache_flood(
                &bench::Flood {
                    rate,
                    known_every: args.known_every,
                    secs: args.secs,
                    lifetime: args.lifetime,
                },
                args.json,
            )?),
            (None, Some(trace)) => print_line(&bench::cache_sim(trace, args.lifetime, args.json)?),
            (None, None) => Err(Failure::Usage(
                "cache-sim needs --trace FILE or --flood RATE".into(),
            )),
        },
        #[cfg(feature = "gateway")]
        Command::Gateway(args) => gateway::run(&args),
        #[cfg(not(feature = "gateway"))]
        Command::Gateway(_) => Err(Failure::Usage(
            "this ssmail was built without the gateway (cargo feature `gateway`)".into(),
        )),
    }
}

/// Writes one line to stdout; a closed stdout is a quiet failure, not a panic.
fn print_line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Failure::BrokenPipe
            } else {
                Failure::Io(format!("writing stdout: {e}"))
            }
        })
}

/// Raw mode: a bare keystream XOR from stdin to stdout.
fn crypt(args: &CryptArgs) -> Result<(), Failure> {
    let (Some(cipher), Some(key_hex)) = (&args.cipher, &args.key_hex) else {
        return Err(Failure::Usage(
            "--raw needs --cipher <arrsyfor|t32> and --key-hex <HEX>".into(),
        ));
    };
    if args.key_file.is_some() || args.to.is_some() || args.private.is_some() {
        return Err(Failure::Usage(
            "--raw takes its key from --key-hex only".into(),
        ));
    }
    // Cipher first: the allowed key length depends on it.
    let cipher = keystream::parse(cipher).map_err(|e| Failure::Usage(e.to_string()))?;
    // Wiped when dropped; the copy in the process arguments is beyond our reach.
    let key = zeroize::Zeroizing::new(
        hexkey::decode(key_hex).map_err(|e| Failure::Usage(format!("--key-hex: {e}")))?,
    );
    let mut cipher = keystream::keyed(cipher, &key).map_err(|e| Failure::Usage(e.to_string()))?;
    raw::xor_stdin_to_stdout(&mut cipher)
}
