//! The Diffie-Hellman pool: key-cache misses are computed here, a few at a time on
//! blocking threads, never on the async workers and never under the cache's lock, so a
//! flood of new keys cannot stall the sessions whose peers are cached. The queue is
//! bounded: when it is full the exchange is refused (454, docs/xcrypt.md §4.4) rather
//! than waited for.
//!
//! This CPU (and the code path here) computes one exponentiation per job; batching
//! misses through `ssmail-bigint-x86`'s multi-buffer API (worth it with IFMA) is not done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ssmail_core::cache::detached::{Computed, Job};
use tokio::sync::Semaphore;

/// The pool: `threads` computations at once, `queue` more waiting.
#[derive(Debug)]
pub struct DhPool {
    running: Arc<Semaphore>,
    /// Jobs admitted and not finished (running or waiting).
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

/// The pool had no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl DhPool {
    /// A pool of `threads` (at least 1) with `queue` places to wait.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        Self {
            running: Arc::new(Semaphore::new(threads)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: threads + queue,
        }
    }

    /// Jobs running or waiting now (for the metrics' DH queue depth).
    #[allow(
        dead_code,
        reason = "read by the tests; the metrics endpoint is to read it"
    )]
    pub fn depth(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Computes `job` in the pool, or says it is full. `None` if the computation was
    /// lost (its thread panicked, the runtime is shutting down).
    pub async fn compute(&self, job: Job) -> Result<Option<Computed>, Full> {
        let admitted = &self.admitted;
        let mut now = admitted.load(Ordering::Acquire);
        loop {
            if now >= self.capacity {
                return Err(Full);
            }
            match admitted.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(seen) => now = seen,
            }
        }
        // Counted out however this ends (the session may be dropped while it waits).
        let _admission = Admission(Arc::clone(admitted));
        let Ok(permit) = Arc::clone(&self.running).acquire_owned().await else {
            return Ok(None);
        };
        let done = tokio::task::spawn_blocking(move || {
            let computed = job.compute();
            drop(permit);
            computed
        })
        .await;
        Ok(done.ok())
    }
}

/// One admitted job, counted out when dropped.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use ssmail_core::KeyCache;
    use ssmail_core::cache::detached::Detached;
    use ssmail_core::keys::KeyPair;

    use super::*;

    fn job(cache: &mut KeyCache<4>) -> Job {
        let own = cache
            .own_public_key(1, &mut getrandom::SysRng)
            .expect("rng");
        let peer = KeyPair::generate(&mut getrandom::SysRng)
            .expect("rng")
            .public();
        match cache.lookup_detached(&own, &peer) {
            Some(Detached::Miss(job)) => job,
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    #[test]
    fn a_full_pool_refuses_at_once_and_frees_its_places() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut cache = KeyCache::<4>::new(100);
            let pool = DhPool::new(1, 1);
            let (a, b, c) = (job(&mut cache), job(&mut cache), job(&mut cache));
            // Two admitted (one running, one waiting), the third refused while they are.
            let first = pool.compute(a);
            let second = pool.compute(b);
            tokio::pin!(first, second);
            // Poll both once so they are admitted.
            let _ = futures_poll(&mut first).await;
            let _ = futures_poll(&mut second).await;
            assert_eq!(pool.depth(), 2);
            assert_eq!(pool.compute(c).await.err(), Some(Full));
            let one = first.await.expect("admitted").expect("computed");
            let two = second.await.expect("admitted").expect("computed");
            assert!(cache.remember_computed(&one));
            assert!(cache.remember_computed(&two));
            assert_eq!(pool.depth(), 0);
            assert!(pool.compute(job(&mut cache)).await.is_ok());
        });
    }

    /// Polls a future once (to let it take its place), without waiting for it.
    async fn futures_poll<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
