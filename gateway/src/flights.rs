//! One Diffie-Hellman computation per new peer key, however many sessions bring it at
//! once. An MTA that starts sending opens many sessions together, all with its one
//! public key: before the first shared secret is cached, each of them misses. Without
//! this, each miss took a place in the bounded DH pool, and a burst larger than the
//! pool's queue (e.g. e2e/load.sh's 200 concurrent sessions against 2 + 64 places) was
//! answered 454 in part: legitimate sessions went on in plaintext. Now the first miss
//! computes (the leader) and the others wait for its outcome (the followers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ssmail_core::PublicKey;
use tokio::sync::watch;

/// How a computation ended, as its followers learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still running.
    Pending,
    /// The shared secret is in the key cache.
    Cached,
    /// The pool refused it (full): the followers are refused too (454), as the leader.
    Refused,
    /// Lost (the runtime is ending): each follower is on its own.
    Lost,
}

/// Our public key and the peer's, as bytes: one computation.
type FlightKey = (Vec<u8>, Vec<u8>);

/// The computations in flight.
#[derive(Debug, Default)]
pub struct Flights {
    running: Mutex<HashMap<FlightKey, watch::Receiver<Outcome>>>,
}

/// What [`Flights::join`] made of the caller.
#[derive(Debug)]
pub enum Joined {
    /// Compute it, then [`Leader::finish`].
    Leader(Leader),
    /// Wait for the leader's outcome ([`follow`]).
    Follower(watch::Receiver<Outcome>),
}

/// The session that computes: its outcome reaches the followers when it finishes, or
/// `Lost` if it is dropped unfinished.
#[derive(Debug)]
pub struct Leader {
    flights: Arc<Flights>,
    key: FlightKey,
    tell: watch::Sender<Outcome>,
}

impl Flights {
    /// The leader of the computation of `own` with `peer` if none is running, else a
    /// follower of the running one.
    pub fn join(self: &Arc<Self>, own: &PublicKey, peer: &PublicKey) -> Joined {
        let key = (own.to_be_bytes().to_vec(), peer.to_be_bytes().to_vec());
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rx) = running.get(&key) {
            return Joined::Follower(rx.clone());
        }
        let (tell, rx) = watch::channel(Outcome::Pending);
        running.insert(key.clone(), rx);
        Joined::Leader(Leader {
            flights: Arc::clone(self),
            key,
            tell,
        })
    }

    /// Computations running now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is running.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Leader {
    /// Tells the followers how it ended (after a `Cached` outcome the secret must be in
    /// the cache already: followers look it up next).
    pub fn finish(self, outcome: Outcome) {
        // Out of the table first: a miss from now on starts a computation of its own.
        self.leave();
        let _ = self.tell.send(outcome);
    }

    fn leave(&self) {
        self.flights
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Finished: already out, and told. Dropped unfinished (the session ended while
        // waiting for the pool): the followers must not wait forever.
        self.leave();
        self.tell.send_if_modified(|o| {
            if *o == Outcome::Pending {
                *o = Outcome::Lost;
                true
            } else {
                false
            }
        });
    }
}

/// Waits for the leader's outcome.
pub async fn follow(mut rx: watch::Receiver<Outcome>) -> Outcome {
    match rx.wait_for(|o| *o != Outcome::Pending).await {
        Ok(o) => *o,
        // The leader is gone without a word (cannot happen: its drop tells).
        Err(_) => Outcome::Lost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(_: u64) -> PublicKey {
        ssmail_core::PrivateKey::generate(&mut getrandom::SysRng)
            .expect("a key")
            .public_key()
    }

    #[tokio::test]
    async fn one_leader_per_key_and_its_followers_hear_the_outcome() {
        let flights = Arc::new(Flights::default());
        let (own, peer, other) = (key(1), key(2), key(3));
        let Joined::Leader(leader) = flights.join(&own, &peer) else {
            panic!("the first miss leads");
        };
        let Joined::Follower(f1) = flights.join(&own, &peer) else {
            panic!("a second miss of the same key follows");
        };
        let Joined::Follower(f2) = flights.join(&own, &peer) else {
            panic!("and a third");
        };
        let Joined::Leader(other_leader) = flights.join(&own, &other) else {
            panic!("another peer's key has its own computation");
        };
        assert_eq!(flights.len(), 2);
        let waiting = tokio::spawn(follow(f1));
        leader.finish(Outcome::Cached);
        assert_eq!(waiting.await.expect("joined"), Outcome::Cached);
        assert_eq!(
            follow(f2).await,
            Outcome::Cached,
            "a late follower hears it too"
        );
        assert_eq!(flights.len(), 1);
        // After the outcome, a new miss of the same key leads again.
        assert!(matches!(flights.join(&own, &peer), Joined::Leader(_)));
        drop(other_leader);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_refusal_reaches_the_followers_and_a_dropped_leader_does_not_strand_them() {
        let flights = Arc::new(Flights::default());
        let (own, peer) = (key(4), key(5));
        let Joined::Leader(leader) = flights.join(&own, &peer) else {
            panic!("leads");
        };
        let Joined::Follower(f) = flights.join(&own, &peer) else {
            panic!("follows");
        };
        leader.finish(Outcome::Refused);
        assert_eq!(follow(f).await, Outcome::Refused);

        let Joined::Leader(leader) = flights.join(&own, &peer) else {
            panic!("leads again");
        };
        let Joined::Follower(f) = flights.join(&own, &peer) else {
            panic!("follows");
        };
        drop(leader);
        assert_eq!(follow(f).await, Outcome::Lost);
        assert!(flights.is_empty());
    }
}
