//! The client state machine on any sequence of bytes from the peer and the local
//! submitter: it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod drive;

fuzz_target!(|data: &[u8]| {
    drive::client_session(data);
});
