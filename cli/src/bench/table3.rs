//! Table 3 of the paper: the CPU time per message once the shared secret is known: the
//! SHA-1 key derivation, the two key setups (one cipher per direction), and the
//! encryption of a 14,671-byte message (the trace's mean size). The library's own code
//! paths: `ssmail_core::derive` and the `ssmail-ciphers` types.

use ssmail_ciphers::Paths as _;
use std::hint::black_box;

use ssmail_ciphers::{Arrsyfor, ArrsyforPath, KeyInit, StreamCipher, T32, T32Path};
use ssmail_core::derive;

use super::timing::{Plan, Sample, measure};

/// The mean message size of the paper's trace, in bytes.
pub const MESSAGE: usize = 14_671;

/// One cipher's column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The cipher's name, as on the command line.
    pub cipher: &'static str,
    /// SHA-1 over Z, Na and Nb into the two direction keys.
    pub keygen: Sample,
    /// Two key setups.
    pub key_setups: Sample,
    /// Encrypting `MESSAGE` bytes.
    pub encrypt: Sample,
}

impl Column {
    /// Encryption speed in 10^6 bytes per second (the paper's "MB/s").
    pub fn mb_per_s(&self) -> f64 {
        MESSAGE as f64 / self.encrypt.median
    }

    /// The row total, from the medians.
    pub fn total(&self) -> f64 {
        self.keygen.median + self.key_setups.median + self.encrypt.median
    }
}

/// The paper's Pentium Pro 233 values (µs): keygen, key setups, encryption, MB/s, total.
pub fn paper(cipher: &str) -> [f64; 5] {
    match cipher {
        "arrsyfor" => [22.12, 127.6, 1640.0, 8.947, 1790.0],
        _ => [22.12, 6.06, 1213.0, 12.09, 1241.0],
    }
}

/// Measures both columns.
pub fn run(plan: Plan) -> [Column; 2] {
    let z = [0x5au8; 96];
    let (na, nb) = ([1u8; 10], [2u8; 10]);
    let keygen = measure(plan, || {
        black_box(derive(black_box(&z), black_box(&na), black_box(&nb)));
    });
    let keys = derive(&z, &na, &nb);
    let (k1, k2) = (keys.client_to_server, keys.server_to_client);
    let mut msg = vec![0x42u8; MESSAGE];

    let mut a = Arrsyfor::new(&k1.into());
    let arrsyfor = Column {
        cipher: "arrsyfor",
        keygen,
        key_setups: measure(plan, || {
            black_box(Arrsyfor::new(black_box(&k1.into())));
            black_box(Arrsyfor::new(black_box(&k2.into())));
        }),
        encrypt: measure(plan, || a.apply_keystream(black_box(&mut msg))),
    };
    let mut t = T32::new(&k1.into());
    let t32 = Column {
        cipher: "t32",
        keygen,
        key_setups: measure(plan, || {
            black_box(T32::new(black_box(&k1.into())));
            black_box(T32::new(black_box(&k2.into())));
        }),
        encrypt: measure(plan, || t.apply_keystream(black_box(&mut msg))),
    };
    [arrsyfor, t32]
}

/// One keystream path's encryption of a [`MESSAGE`]-byte message.
#[derive(Debug, Clone, Copy)]
pub struct PathRow {
    /// The path's name (`ssmail backends`).
    pub name: &'static str,
    /// Whether new ciphers use it (the default here, or forced).
    pub default: bool,
    /// Encrypting `MESSAGE` bytes.
    pub encrypt: Sample,
}

/// Every runnable keystream path of each cipher: arrsyfor's, then t32's.
pub fn paths(plan: Plan) -> [Vec<PathRow>; 2] {
    let key = [0x5au8; 10];
    let mut msg = vec![0x42u8; MESSAGE];
    let chosen = ArrsyforPath::default_path();
    let arrsyfor = ArrsyforPath::runnable()
        .map(|p| {
            let mut c = Arrsyfor::with_path(&key, p).expect("a 10-byte key is valid");
            PathRow {
                name: p.name(),
                default: p == chosen,
                encrypt: measure(plan, || c.apply_keystream(black_box(&mut msg))),
            }
        })
        .collect();
    let chosen = T32Path::default_path();
    let t32 = T32Path::runnable()
        .map(|p| {
            let mut c = T32::with_path(&key, None, p).expect("a 10-byte key is valid");
            PathRow {
                name: p.name(),
                default: p == chosen,
                encrypt: measure(plan, || c.apply_keystream(black_box(&mut msg))),
            }
        })
        .collect();
    [arrsyfor, t32]
}
