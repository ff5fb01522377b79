//! Where a dialogue gets its keys and nonces: a trait the caller implements (or takes
//! ready-made here), so that the state machines need no clock, RNG or cache of their own.

use rand_core::TryCryptoRng;

use crate::agreement::{SharedSecret, shared_secret};
use crate::cache::{KeyCache, Lookup};
use crate::kdf::NONCE_BYTES;
use crate::keys::{KeyPair, PublicKey};

/// A key or nonce could not be had (the RNG failed, or the key pair was rotated
/// mid-exchange). The dialogue then falls back to plaintext: 454 on a server, `XCRYPT
/// FAIL` or no `XCRYPT` at all on a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUnavailable;

/// The keys of the XCRYPT exchanges of a session.
pub trait KeySource {
    /// Our public key for a new exchange.
    ///
    /// # Errors
    /// When no key pair can be had.
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable>;

    /// The shared secret of our key pair whose public half is `own` (as returned by
    /// [`own_public_key`](Self::own_public_key) for this exchange) with `peer`.
    ///
    /// # Errors
    /// When that key pair is gone.
    fn shared_secret(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable>;

    /// A fresh nonce.
    ///
    /// # Errors
    /// When the RNG fails.
    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable>;
}

/// Keys from a [`KeyCache`] (rotated by its lifetime, shared secrets reused) as of the
/// time `now`, and nonces from `rng`. Made per call, so that one cache serves many
/// sessions.
pub struct CachedKeys<'a, const N: usize, R: ?Sized> {
    /// The cache.
    pub cache: &'a mut KeyCache<N>,
    /// The caller's clock, in the cache's seconds.
    pub now: u64,
    /// A cryptographic RNG.
    pub rng: &'a mut R,
    /// Whether the latest [`shared_secret`](KeySource::shared_secret) came from the
    /// cache; `None` before the first, or when the latest failed. For the caller's log
    /// (a mail server may say "key cache hit"): nothing on the wire depends on it.
    pub lookup: Option<Lookup>,
}

impl<'a, const N: usize, R: ?Sized> CachedKeys<'a, N, R> {
    /// Keys from `cache` as of `now`, nonces from `rng`, no lookup yet.
    pub fn new(cache: &'a mut KeyCache<N>, now: u64, rng: &'a mut R) -> Self {
        Self {
            cache,
            now,
            rng,
            lookup: None,
        }
    }
}

impl<const N: usize, R: TryCryptoRng + ?Sized> KeySource for CachedKeys<'_, N, R> {
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable> {
        self.cache
            .own_public_key(self.now, self.rng)
            .map_err(|_| KeyUnavailable)
    }

    fn shared_secret(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable> {
        note_lookup(&mut self.lookup, self.cache.shared_secret_for(own, peer))
    }

    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
        random_nonce(self.rng)
    }
}

/// One fixed key pair, no cache (every shared secret computed afresh), and nonces from
/// `rng`: for tests, tools and devices that keep their key elsewhere.
pub struct StaticKeys<'a, R: ?Sized> {
    pair: &'a KeyPair,
    rng: &'a mut R,
}

impl<'a, R: ?Sized> StaticKeys<'a, R> {
    /// The key pair `pair`, nonces from `rng`.
    pub fn new(pair: &'a KeyPair, rng: &'a mut R) -> Self {
        Self { pair, rng }
    }
}

impl<R: TryCryptoRng + ?Sized> KeySource for StaticKeys<'_, R> {
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable> {
        Ok(self.pair.public())
    }

    fn shared_secret(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable> {
        if *own != self.pair.public() {
            return Err(KeyUnavailable);
        }
        Ok(shared_secret(self.pair.private(), peer))
    }

    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
        random_nonce(self.rng)
    }
}

/// A fresh nonce from `rng`, for every key source here.
pub(crate) fn random_nonce<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
    let mut n = [0; NONCE_BYTES];
    rng.try_fill_bytes(&mut n).map_err(|_| KeyUnavailable)?;
    Ok(n)
}

/// The secret of a cache's answer `found`, keeping in `lookup` whether it was a hit, for
/// the caller's log (`None` when there was no secret).
pub(crate) fn note_lookup(
    lookup: &mut Option<Lookup>,
    found: Option<(SharedSecret, Lookup)>,
) -> Result<SharedSecret, KeyUnavailable> {
    *lookup = found.as_ref().map(|&(_, l)| l);
    found.map(|(secret, _)| secret).ok_or(KeyUnavailable)
}
