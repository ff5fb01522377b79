//! XCRYPT key agreement for ssmail: the Oakley group, keys, SHA-1 key derivation, the key
//! cache and the sans-IO dialogue. Empty until its issue is taken up.
#![no_std]
#![forbid(unsafe_code)]
