//! The server state machine on any sequence of bytes from the peer and the local MTA:
//! it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssmail_core::xcrypt::{Server, StaticKeys, Version};

mod drive;

fuzz_target!(|data: &[u8]| {
    let key = drive::key();
    let mut rng = drive::Rng(1);
    let mut keys = StaticKeys::new(&key, &mut rng);
    let mut out = drive::Drain(0);
    let mut server = Server::new(&Version::ALL);
    for (from_local, bytes) in drive::steps(data) {
        let r = if from_local {
            server.from_local(bytes, &mut keys, &mut out)
        } else {
            server.from_peer(bytes, &mut keys, &mut out)
        };
        if r.is_err() {
            return;
        }
    }
});
