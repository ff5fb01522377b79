//! The parts of the `ssmail` command that are worth reaching from outside the binary:
//! the authenticated stream format of `ssmail encrypt` and `ssmail decrypt` (without
//! I/O, so that it can be fuzzed). See `cli/STREAM-FORMAT.md`.
#![forbid(unsafe_code)]

pub mod stream_format;
