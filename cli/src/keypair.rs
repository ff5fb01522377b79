//! `ssmail keygen` and `ssmail derive`: XCRYPT key pairs and key agreements from the
//! command line.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use ssmail_core::group::ELEMENT_BYTES;
use ssmail_core::{PrivateKey, PublicKey, derive as derive_keys, shared_secret};
use zeroize::Zeroizing;

use crate::args::DeriveArgs;
use crate::failure::Failure;
use crate::hexkey::encode as hex_string;
use crate::modexp::backend;
use ssmail_core::hex;

/// Exactly `N` bytes from exactly `2N` hex digits (after trimming white space); `what`
/// names the option in errors. The private key comes through here: it is decoded
/// straight into the result, with no copy left behind.
pub(crate) fn exact_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], Failure> {
    let mut out = [0u8; N];
    hex::decode_into(text.trim().as_bytes(), &mut out)
        .map_err(|e| Failure::Usage(format!("{what}: {e}")))?;
    Ok(out)
}

/// Writes `text` to `path`, owner-only. Without `force` an existing file is an error;
/// with it the file is replaced atomically (a temporary beside it, then a rename).
pub(crate) fn write_private(path: &Path, text: &str, force: bool) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Io(format!("{}: {e}", path.display()));
    let target = if force {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp{}", std::process::id()));
        path.with_file_name(name)
    } else {
        path.to_path_buf()
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists && !force {
                Failure::Usage(format!(
                    "{} exists; pass --force to replace it",
                    path.display()
                ))
            } else {
                io(e)
            }
        })?;
    let done = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            if force {
                fs::rename(&target, path)
            } else {
                Ok(())
            }
        });
    done.map_err(|e| {
        // Nothing half-written is left behind.
        let _ = fs::remove_file(&target);
        io(e)
    })
}

/// A new key pair. Returns what goes to stdout: the public key, after the private key
/// when there is no `out` file.
pub fn keygen(out: Option<&Path>, force: bool) -> Result<String, Failure> {
    let key = PrivateKey::generate(&mut getrandom::SysRng)
        .map_err(|e| Failure::Io(format!("no randomness from the system: {e}")))?;
    let private = Zeroizing::new(format!(
        "{}\n",
        hex_string(&*Zeroizing::new(key.to_be_bytes()))
    ));
    let public = hex_string(&key.public_key().to_be_bytes());
    match out {
        Some(path) => {
            write_private(path, &private, force)?;
            Ok(public)
        }
        None => Ok(format!("{}{public}", private.as_str())),
    }
}

/// A private key given as 192 hex digits or `@FILE`; `what` names the option. A file
/// that cannot be read or does not hold a key is a key-file failure.
pub(crate) fn read_private(given: &str, what: &str) -> Result<PrivateKey, Failure> {
    let from_file = given.strip_prefix('@');
    let text = match from_file {
        Some(file) => Zeroizing::new(
            fs::read_to_string(file).map_err(|e| Failure::KeyFile(format!("{file}: {e}")))?,
        ),
        None => Zeroizing::new(given.to_owned()),
    };
    let bytes = exact_hex::<ELEMENT_BYTES>(&text, what).map_err(|e| match from_file {
        Some(file) => Failure::KeyFile(format!("{file}: {}", e.message().unwrap_or_default())),
        None => e,
    })?;
    let bytes = Zeroizing::new(bytes);
    PrivateKey::from_be_bytes(&bytes)
        .ok_or_else(|| Failure::Usage(format!("{what}: out of range (must be 2..=p-2)")))
}

/// A key agreement as one JSON object.
pub fn derive(args: &DeriveArgs) -> Result<String, Failure> {
    backend(args.backend.as_deref())?;
    let own = read_private(&args.private, "--private")?;
    let peer = PublicKey::from_hex(args.peer.trim())
        .map_err(|e| Failure::Usage(format!("--peer: {e}")))?;
    let na = exact_hex::<10>(&args.na, "--na")?;
    let nb = exact_hex::<10>(&args.nb, "--nb")?;
    let z = shared_secret(&own, &peer);
    let keys = derive_keys(z.as_bytes(), &na, &nb);
    Ok(format!(
        r#"{{"public": "{}", "shared_secret": "{}", "key_c2s": "{}", "key_s2c": "{}"}}"#,
        hex_string(&own.public_key().to_be_bytes()),
        hex_string(z.as_bytes()),
        hex_string(&keys.client_to_server),
        hex_string(&keys.server_to_client)
    ))
}
