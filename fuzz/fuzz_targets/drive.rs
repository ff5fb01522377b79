//! Turns fuzz input into a session: each step is one byte saying which side the bytes
//! come from and how many, then the bytes. Keys are fixed so that an accepted
//! `XCRYPT` line (which the corpus seeds hold) reaches the encrypted states.
#![allow(dead_code, reason = "each fuzz target uses its own half of this")]

use ssmail_core::xcrypt::{Client, Event, Server, Sink, StaticKeys, Version};
use ssmail_core::{KeyPair, PrivateKey};

/// Discards everything, but looks at it.
pub struct Drain(pub usize);

impl Sink for Drain {
    fn to_peer(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    fn to_local(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    fn event(&mut self, _: Event) {
        self.0 += 1;
    }
}

/// A repeatable, non-cryptographic RNG (fuzzing only).
pub struct Rng(pub u64);

impl rand_core::TryRng for Rng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Ok(self.0 >> 11)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Rng {}

/// The fixed key pair of the side under test.
pub fn key() -> KeyPair {
    let mut b = [0x5a; 96];
    b[0] = 0x3c;
    KeyPair::new(PrivateKey::from_be_bytes(&b).expect("in range"))
}

/// Splits `data` into (side, bytes) steps.
pub fn steps(mut data: &[u8]) -> impl Iterator<Item = (bool, &[u8])> {
    core::iter::from_fn(move || {
        let (&head, rest) = data.split_first()?;
        let n = usize::from(head & 0x7f).min(rest.len());
        let (now, later) = rest.split_at(n);
        data = later;
        Some((head & 0x80 != 0, now))
    })
}

/// Runs a server session on `data` until it ends or errs; returns the server.
pub fn server_session(data: &[u8]) -> Server {
    let key = key();
    let mut rng = Rng(1);
    let mut keys = StaticKeys::new(&key, &mut rng);
    let mut out = Drain(0);
    let mut server = Server::new(&Version::ALL);
    for (from_local, bytes) in steps(data) {
        let r = if from_local {
            server.from_local(bytes, &mut keys, &mut out)
        } else {
            server.from_peer(bytes, &mut keys, &mut out)
        };
        if r.is_err() {
            break;
        }
    }
    server
}

/// Runs a client session on `data` until it ends or errs; returns the client.
pub fn client_session(data: &[u8]) -> Client {
    let key = key();
    let mut rng = Rng(2);
    let mut keys = StaticKeys::new(&key, &mut rng);
    let mut out = Drain(0);
    let mut client = Client::new(&Version::ALL);
    for (from_local, bytes) in steps(data) {
        let r = if from_local {
            client.from_local(bytes, &mut out)
        } else {
            client.from_peer(bytes, &mut keys, &mut out)
        };
        if r.is_err() {
            break;
        }
    }
    client
}
