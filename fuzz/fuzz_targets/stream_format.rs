//! The stream format's header and chunk parser on any input: it must never panic, and
//! must never return plaintext for a file it did not check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssmail_cli::stream_format::{Secret, open_buffer};

fuzz_target!(|data: &[u8]| {
    // The key of the seed files (corpus/stream_format), so that changed seeds get past
    // the header tag and reach the chunk parser.
    let key = [0x42u8; 32];
    let _ = open_buffer(data, &Secret::Symmetric(&key));
});
