//! ssmail's test vectors as data files, each naming its source in its first lines, with
//! a small loader. Dev-only: tests of the other crates read the vectors through here.
//!
//! It imports nothing; only tests, examples and benches import it (a dev-dependency).

/// RFC 6229 RC4 keystream vectors (`key offset keystream`), for arrsyfor.
pub const ARRSYFOR_RFC6229: &str = include_str!("../data/arrsyfor-rfc6229.txt");

/// QUALCOMM's published SOBER-t32 vectors and the worked example of docs/t32.md §2.9.
pub const T32_PUBLISHED: &str = include_str!("../data/t32-published.txt");

/// XCRYPT known answers: key agreements and raw modular exponentiations mod p.
pub const XCRYPT_KAT: &str = include_str!("../data/xcrypt-kat.txt");

/// One raw modular exponentiation mod the Oakley prime: `base^exp = result`, each 96
/// big-endian bytes.
#[derive(Debug, Clone)]
pub struct ModexpVector {
    /// Line in the file.
    pub line: usize,
    /// The base.
    pub base: Vec<u8>,
    /// The exponent.
    pub exp: Vec<u8>,
    /// The expected result.
    pub result: Vec<u8>,
}

/// One XCRYPT key agreement: both private keys, both public keys, the shared secret,
/// both nonces and the two direction keys.
#[derive(Debug, Clone)]
pub struct AgreementVector {
    /// Line in the file.
    pub line: usize,
    /// The client's private key.
    pub ra: Vec<u8>,
    /// The server's private key.
    pub rb: Vec<u8>,
    /// The client's public key.
    pub ka: Vec<u8>,
    /// The server's public key.
    pub kb: Vec<u8>,
    /// The shared secret.
    pub z: Vec<u8>,
    /// The client's nonce.
    pub na: Vec<u8>,
    /// The server's nonce.
    pub nb: Vec<u8>,
    /// The client-to-server key.
    pub c2s: Vec<u8>,
    /// The server-to-client key.
    pub s2c: Vec<u8>,
}

/// The value of `name=` among a record's fields.
fn field(line: usize, fields: &[&str], name: &str) -> Vec<u8> {
    fields
        .iter()
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .map(hex)
        .unwrap_or_else(|| panic!("line {line}: no {name}="))
}

/// The key-agreement lines of the XCRYPT known answers.
pub fn agreement_vectors() -> Vec<AgreementVector> {
    records(XCRYPT_KAT)
        .filter(|(_, f)| f.first().is_some_and(|x| x.starts_with("ra=")))
        .map(|(line, f)| AgreementVector {
            line,
            ra: field(line, &f, "ra"),
            rb: field(line, &f, "rb"),
            ka: field(line, &f, "ka"),
            kb: field(line, &f, "kb"),
            z: field(line, &f, "z"),
            na: field(line, &f, "na"),
            nb: field(line, &f, "nb"),
            c2s: field(line, &f, "c2s"),
            s2c: field(line, &f, "s2c"),
        })
        .collect()
}

/// The `modexp` lines of the XCRYPT known answers.
pub fn modexp_vectors() -> Vec<ModexpVector> {
    records(XCRYPT_KAT)
        .filter(|(_, f)| f.first() == Some(&"modexp"))
        .map(|(line, f)| ModexpVector {
            line,
            base: field(line, &f, "base"),
            exp: field(line, &f, "exp"),
            result: field(line, &f, "result"),
        })
        .collect()
}

/// The SOBER-t32 S-box as data (256 words, eight to a line).
pub const T32_SBOX: &str = include_str!("../data/t32-sbox.txt");

/// The lines of a vector file that carry data: not blank, not `#` comments, split into
/// whitespace-separated fields, each with its 1-based line number.
pub fn records(file: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    file.lines().enumerate().filter_map(|(n, line)| {
        let line = line.trim();
        (!line.is_empty() && !line.starts_with('#'))
            .then(|| (n + 1, line.split_whitespace().collect()))
    })
}

/// Decodes hex (either case).
///
/// # Panics
/// On anything that is not an even number of hex digits: vector files are ours, and a
/// broken one must stop the test that reads it.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() & 1 == 0, "odd-length hex in a vector file: {s}");
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let digit = |c: u8| match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => panic!("not hex in a vector file: {s}"),
            };
            digit(p[0]) << 4 | digit(p[1])
        })
        .collect()
}

/// One RFC 6229 row: keystream bytes `keystream` start at `offset` for `key`.
#[derive(Debug, Clone)]
pub struct OffsetVector {
    /// Line in the file.
    pub line: usize,
    /// The key.
    pub key: Vec<u8>,
    /// Offset of the first keystream byte given.
    pub offset: usize,
    /// The keystream bytes.
    pub keystream: Vec<u8>,
}

/// The arrsyfor (RC4) vectors of RFC 6229.
pub fn arrsyfor_vectors() -> Vec<OffsetVector> {
    records(ARRSYFOR_RFC6229)
        .map(|(line, f)| {
            assert_eq!(f.len(), 3, "line {line}: want `key offset keystream`");
            OffsetVector {
                line,
                key: hex(f[0]),
                offset: f[1].parse().expect("offset"),
                keystream: hex(f[2]),
            }
        })
        .collect()
}

/// One record of the t32 vector file.
#[derive(Debug, Clone)]
pub enum T32Vector {
    /// konst after key loading.
    Konst {
        /// Line in the file.
        line: usize,
        /// The key.
        key: Vec<u8>,
        /// Expected konst.
        konst: u32,
    },
    /// Keystream from offset 0, with an optional IV.
    Stream {
        /// Line in the file.
        line: usize,
        /// The key.
        key: Vec<u8>,
        /// The IV, or `None` for key-only (XCRYPT) mode.
        iv: Option<Vec<u8>>,
        /// Expected keystream.
        keystream: Vec<u8>,
    },
    /// QUALCOMM's iterated test: `buf = stream(key, iv)[..40]`, then `count` times
    /// `buf ^= stream(buf[..16], key only)[..40]`.
    Iterated {
        /// Line in the file.
        line: usize,
        /// The key.
        key: Vec<u8>,
        /// The IV of the first stream.
        iv: Option<Vec<u8>>,
        /// Number of iterations.
        count: u32,
        /// Expected final buffer.
        result: Vec<u8>,
    },
}

fn opt_iv(f: &str) -> Option<Vec<u8>> {
    (f != "-").then(|| hex(f))
}

/// The t32 vectors.
pub fn t32_vectors() -> Vec<T32Vector> {
    records(T32_PUBLISHED)
        .map(|(line, f)| match f[0] {
            "konst" => T32Vector::Konst {
                line,
                key: hex(f[1]),
                konst: u32::from_str_radix(f[2], 16).expect("konst"),
            },
            "stream" => T32Vector::Stream {
                line,
                key: hex(f[1]),
                iv: opt_iv(f[2]),
                keystream: hex(f[3]),
            },
            "iterated" => T32Vector::Iterated {
                line,
                key: hex(f[1]),
                iv: opt_iv(f[2]),
                count: f[3].parse().expect("count"),
                result: hex(f[4]),
            },
            other => panic!("line {line}: unknown record kind {other}"),
        })
        .collect()
}

/// The 256 S-box words.
pub fn t32_sbox() -> Vec<u32> {
    records(T32_SBOX)
        .flat_map(|(_, f)| {
            f.into_iter()
                .map(|w| u32::from_str_radix(w, 16).expect("sbox word"))
        })
        .collect()
}
