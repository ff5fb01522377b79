//! The server state machine on any sequence of bytes from the peer and the local MTA:
//! it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod drive;

fuzz_target!(|data: &[u8]| {
    drive::server_session(data);
});
