//! ssmail on an emulated Cortex-M4F (QEMU `mps2-an386`): every computation prints one
//! line with its inputs and result in lowercase hex (the format of README.md's firmware
//! section, which `check.py` recomputes on the host), each followed by a `#` line with
//! its peak stack and instruction count; then `done`, and QEMU exits with status 0.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use ssmail_ciphers::{Algorithm, AnyCipher};
use ssmail_core::xcrypt::{Client, Server, Version};
use ssmail_core::{KeyPair, PrivateKey, PublicKey, derive, shared_secret};
use ssmail_firmware::exchange;
use ssmail_firmware::inputs::Inputs;
use ssmail_firmware::measure::Figures;
use ssmail_firmware::out::Line;

/// Keystream bytes printed per cipher.
const KS_BYTES: usize = 64;

/// The `#` line after an operation's line: `# <op> stack <bytes> insns <count>`.
fn figures(op: &[&str], f: Figures) {
    let mut line = Line::new("#");
    for word in op {
        line = line.word(word);
    }
    line.word("stack")
        .num(u64::from(f.stack))
        .word("insns")
        .num(f.instructions)
        .print();
}

/// A private key from the inputs: 96 bytes drawn until they are in `[2, p-2]`.
fn private_key(inputs: &mut Inputs) -> PrivateKey {
    loop {
        if let Some(k) = PrivateKey::from_be_bytes(&inputs.bytes::<96>()) {
            return k;
        }
    }
}

#[entry]
fn main() -> ! {
    let (meter, mut inputs) = ssmail_firmware::start();
    Line::new("# calibration: systick ticks for")
        .num(2_000_000)
        .word("instructions")
        .num(u64::from(meter.calibration_ticks))
        .print();
    // What a device holds per connection besides the stack.
    Line::new("# sizes: client")
        .num(size_of::<Client>() as u64)
        .word("server")
        .num(size_of::<Server>() as u64)
        .word("keypair")
        .num(size_of::<KeyPair>() as u64)
        .print();

    // Keystreams of both ciphers, from a 10-byte key (XCRYPT's direction key length).
    for (version, algorithm) in [
        (Version::ArrsyforV1_0, Algorithm::Arrsyfor),
        (Version::T32V1_0, Algorithm::T32),
    ] {
        let key = inputs.bytes::<10>();
        let (ks, f) = meter.measure(|| {
            let mut buf = [0u8; KS_BYTES];
            let mut c = AnyCipher::new(algorithm, &key).expect("10-byte keys are valid");
            c.apply_keystream(&mut buf);
            buf
        });
        Line::new("ks")
            .word(version.as_str())
            .hex(&key)
            .num(KS_BYTES as u64)
            .hex(&ks)
            .print();
        figures(&["ks", version.as_str()], f);
    }

    // Public keys of two parties, then the shared secret from each side.
    let a = private_key(&mut inputs);
    let b = private_key(&mut inputs);
    let mut publics = [[0u8; 96]; 2];
    for (i, k) in [&a, &b].into_iter().enumerate() {
        let (p, f) = meter.measure(|| k.public_key());
        publics[i] = p.to_be_bytes();
        Line::new("pub")
            .hex(&k.to_be_bytes())
            .hex(&publics[i])
            .print();
        figures(&["pub"], f);
    }
    let mut secret = [0u8; 96];
    for (own, peer) in [(&a, &publics[1]), (&b, &publics[0])] {
        let peer_key = PublicKey::from_be_bytes(peer).expect("a public key we made is valid");
        let (z, f) = meter.measure(|| shared_secret(own, &peer_key));
        Line::new("dh")
            .hex(&own.to_be_bytes())
            .hex(peer)
            .hex(z.as_bytes())
            .print();
        figures(&["dh"], f);
        secret = *z.as_bytes();
    }

    // The direction keys from the secret and two nonces.
    let (na, nb) = (inputs.bytes::<10>(), inputs.bytes::<10>());
    let (keys, f) = meter.measure(|| derive(&secret, &na, &nb));
    Line::new("kdf")
        .hex(&secret)
        .hex(&na)
        .hex(&nb)
        .hex(&keys.client_to_server)
        .hex(&keys.server_to_client)
        .print();
    figures(&["kdf"], f);

    // A whole session per version: the key pairs are made outside it (a device keeps
    // its pair), so the figures are the exchange's: two shared secrets, the dialogue and
    // the ciphers.
    let client_pair = KeyPair::new(private_key(&mut inputs));
    let server_pair = KeyPair::new(private_key(&mut inputs));
    for version in [Version::ArrsyforV1_0, Version::T32V1_0] {
        let mut session = exchange::session(version, &client_pair, &server_pair, &mut inputs);
        let (r, f) = meter.measure(|| session.run());
        match r {
            Ok(v) => Line::new("xcrypt ok").word(v.as_str()).print(),
            Err(e) => {
                Line::new("xcrypt failed")
                    .word(version.as_str())
                    .word(e.0)
                    .print();
                ssmail_firmware::exit_failure();
            }
        }
        figures(&["xcrypt", version.as_str()], f);
    }

    Line::new("done").print();
    ssmail_firmware::exit_success()
}
