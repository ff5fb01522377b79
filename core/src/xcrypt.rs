//! The XCRYPT dialogue (docs/xcrypt.md §4): its lines as values, and the client and server
//! state machines that run it inside an SMTP session, sans I/O and without allocation.
//!
//! A [`Server`] sits between the network and a local SMTP server that knows nothing of
//! XCRYPT; a [`Client`] between a local SMTP client and the network. Each is fed the
//! bytes that arrive on either side and hands what to send on to a [`Sink`], with
//! [`Event`]s for logs and policy; keys and nonces come from a [`KeySource`] (a
//! [`KeyCache`](crate::KeyCache) through [`CachedKeys`], or [`StaticKeys`]). After the
//! switch points the same objects encrypt and decrypt the rest of the session.

mod client;
pub mod codes;
mod command;
mod ehlo;
mod events;
mod framing;
mod key_source;
mod line;
mod pending;
mod relay;
mod reply;
mod server;
mod version;

pub use client::Client;
pub use command::{Command, CommandError};
pub use events::{Event, Fallback, SessionError, Sink};
pub use key_source::{CachedKeys, KeySource, KeyUnavailable, StaticKeys};
// For the cache file's key source (cache::file), which shares them.
#[cfg(all(feature = "std", unix))]
pub(crate) use key_source::{note_lookup, random_nonce};
pub use line::{LINE_MAX, Line};
pub use reply::{Reply, ReplyError, offer_in_ehlo_line};
pub use server::Server;
pub use version::{Offer, Version};
