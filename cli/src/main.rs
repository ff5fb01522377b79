//! `ssmail`: the paper's benchmarks (`bench`, `cache-sim`), key tools (`keygen`,
//! `derive`), the exponentiation (`modexp`, `backends`), and raw stream encryption
//! (`encrypt --raw` / `decrypt --raw`). The user-facing file format comes later.

mod args;
mod bench;
mod failure;
mod hexkey;
mod keypair;
mod keystream;
mod modexp;
mod raw;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use args::{Cli, Command, CryptArgs};
use failure::Failure;
use keystream::{CipherName, Keystream};

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
    match cli.command {
        // In raw mode the two are the same XOR; they are separate commands because the
        // file format that comes later will make them differ.
        Command::Encrypt(args) | Command::Decrypt(args) => crypt(&args),
        Command::Modexp(args) => {
            let hex = modexp::modexp(&args.base, &args.exp, args.backend.as_deref())?;
            print_line(&hex)
        }
        Command::Backends(args) => print_line(&modexp::backends(args.json)),
        Command::Keygen(args) => print_line(&keypair::keygen(args.out.as_deref(), args.force)?),
        Command::Derive(args) => print_line(&keypair::derive(&args)?),
        Command::Bench(args) => {
            print_line(&bench::bench(args.quick, args.all_backends, args.json)?)
        }
        Command::CacheSim(args) => {
            print_line(&bench::cache_sim(&args.trace, args.lifetime, args.json)?)
        }
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

fn crypt(args: &CryptArgs) -> Result<(), Failure> {
    if !args.raw {
        return Err(Failure::Usage(
            "only raw mode exists yet: pass --raw (a file format comes later)".into(),
        ));
    }
    // Cipher first: the allowed key length depends on it.
    let cipher = CipherName::parse(&args.cipher).map_err(|e| Failure::Usage(e.to_string()))?;
    // Wiped when dropped; the copy in the process arguments is beyond our reach.
    let key = zeroize::Zeroizing::new(
        hexkey::decode(&args.key_hex).map_err(|e| Failure::Usage(format!("--key-hex: {e}")))?,
    );
    let mut keystream = Keystream::new(cipher, &key).map_err(|e| Failure::Usage(e.to_string()))?;
    raw::xor_stdin_to_stdout(&mut keystream)
}
