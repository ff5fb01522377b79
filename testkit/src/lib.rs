//! ssmail's test tooling: one test SMTP peer, shared by the tests of `ssmail-core`,
//! `ssmail-gateway` and `ssmail` (the command line) and by the load generator
//! (`e2e/loadgen`, the `smtp_load` binary).
//!
//! The peer is written once, without I/O, and driven by whatever carries its bytes:
//!
//! - [`mta::Mta`]: the receiving SMTP server (an MTA that knows nothing of XCRYPT): fed
//!   bytes, it returns its replies and keeps the commands and messages it got. Core's
//!   tests wire it to the state machines in memory; the load generator runs it on tokio.
//! - [`sink::Sink`]: the same server on a TCP port, a thread per connection.
//! - [`reply`]: reading SMTP replies (multi-line ones too), for every client here.
//! - [`script::Script`]: a scripted client without I/O (steps of commands and the reply
//!   codes each expects); [`client::Smtp`]: a blocking TCP client.
//!
//! It may import the standard library only: no workspace crate (so no dependency cycle
//! with `ssmail-core`, whose tests use it) and no registry crate (core's tests also run
//! on i686 and on i586 under qemu with rustc 1.85, and each dependency would have to
//! build there too). The one exception is behind the `rng` feature: `rng::TestRng`
//! needs `rand_core`, which `ssmail-core` itself depends on, so it builds wherever core
//! does and adds nothing to those builds.
#![forbid(unsafe_code)]

pub mod client;
pub mod mta;
pub mod reply;
#[cfg(feature = "rng")]
pub mod rng;
pub mod script;
pub mod sink;

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
