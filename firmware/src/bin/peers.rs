//! Instruction counts of ssmail beside peers, on the same emulated Cortex-M4F in the same
//! run, with the same inputs, and the results compared (a difference fails the run):
//! arrsyfor against the RustCrypto `rc4` crate (key setup and 64 bytes), and the
//! exponentiations against crypto-bigint 0.6's constant-time `MontyForm::pow` (fixed
//! 4-bit window over `U768`), the peer of the host's `--bench modexp` too. A separate
//! image, so that the firmware's size is not the peers'.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, U768};
use rc4::{KeyInit, Rc4, StreamCipher};
use ssmail_ciphers::{Algorithm, AnyCipher};
use ssmail_core::{PrivateKey, shared_secret};
use ssmail_firmware::inputs::Inputs;
use ssmail_firmware::measure::Figures;
use ssmail_firmware::out::Line;

/// The Oakley group 1 prime (RFC 2409 §6.1; docs/xcrypt.md §1), big-endian.
const P_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
);

/// `# peer <op> <implementation> stack <bytes> insns <count>`.
fn peer_line(op: &str, who: &str, f: Figures) {
    Line::new("# peer")
        .word(op)
        .word(who)
        .word("stack")
        .num(u64::from(f.stack))
        .word("insns")
        .num(f.instructions)
        .print();
}

fn private_key(inputs: &mut Inputs) -> ([u8; 96], PrivateKey) {
    loop {
        let b = inputs.bytes::<96>();
        if let Some(k) = PrivateKey::from_be_bytes(&b) {
            return (b, k);
        }
    }
}

#[entry]
fn main() -> ! {
    let (meter, mut inputs) = ssmail_firmware::start();

    let key = inputs.bytes::<10>();
    let (ours, f) = meter.measure(|| {
        let mut buf = [0u8; 64];
        let mut c = AnyCipher::new(Algorithm::Arrsyfor, &key).expect("10-byte key");
        c.apply_keystream(&mut buf);
        buf
    });
    peer_line("ks-arrsyfor-64", "ssmail", f);
    let (theirs, f) = meter.measure(|| {
        let mut buf = [0u8; 64];
        let mut c = Rc4::new_from_slice(&key).expect("10-byte key");
        c.apply_keystream(&mut buf);
        buf
    });
    peer_line("ks-arrsyfor-64", "rc4-crate", f);
    assert!(ours == theirs, "arrsyfor and the rc4 crate differ");

    let p = Option::<Odd<U768>>::from(Odd::new(U768::from_be_hex(P_HEX))).expect("p is odd");
    let params = MontyParams::new(p);
    let (a_bytes, a) = private_key(&mut inputs);
    let (_, b) = private_key(&mut inputs);
    let exp = U768::from_be_slice(&a_bytes);

    let (ours, f) = meter.measure(|| a.public_key());
    peer_line("pub", "ssmail", f);
    let (theirs, f) = meter.measure(|| MontyForm::new(&U768::from_u8(2), params).pow(&exp));
    peer_line("pub", "crypto-bigint", f);
    assert!(
        ours.to_be_bytes() == theirs.retrieve().to_be_bytes(),
        "public keys differ"
    );

    let peer = b.public_key();
    let base = U768::from_be_slice(&peer.to_be_bytes());
    let (ours, f) = meter.measure(|| shared_secret(&a, &peer));
    peer_line("dh", "ssmail", f);
    let (theirs, f) = meter.measure(|| MontyForm::new(&base, params).pow(&exp));
    peer_line("dh", "crypto-bigint", f);
    assert!(
        *ours.as_bytes() == theirs.retrieve().to_be_bytes(),
        "shared secrets differ"
    );

    Line::new("done").print();
    ssmail_firmware::exit_success()
}
