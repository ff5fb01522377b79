//! The Diffie-Hellman pool: key-cache misses are computed here, on at most `threads`
//! blocking threads, never on the async workers and never under the cache's lock, so a
//! flood of new keys cannot stall the sessions whose peers are cached (a hit never
//! enters the pool). The pool is bounded: when `threads + queue` jobs are in it (waiting
//! or being computed) the exchange is refused (454, docs/xcrypt.md §4.4) rather than
//! waited for. A job whose session has gone (the client hung up) is dropped unread and
//! gives its place back, so a flood of connections that send a key and reset neither
//! keeps places nor costs exponentiations once a worker or a new job looks.
//!
//! A worker takes what is queued, up to eight jobs ([`LANES`]) without waiting for more
//! (a miss's latency matters more than a full batch), and computes them as one batch
//! through `ssmail-bigint-x86`'s multi-buffer API when that runs the 8-lane AVX-512 IFMA
//! kernel ([`batching_pays`]); a lone job is computed alone, so it does not pay for
//! seven padding lanes. Elsewhere it takes one job at a time: there the batch API runs
//! the single exponentiations one after another (`MultiBackend::Each`,
//! `bigint-x86/src/multi.rs`) and pads a partial group of eight with full-cost dummy
//! exponentiations, so a batch is no faster and often slower. `limits.dh_batch` overrides
//! the choice (GATEWAY.md). Measured only without IFMA (AMD EPYC Zen 3, where `auto`
//! does not batch): see GATEWAY.md "The DH pool".

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ssmail_core::cache::detached::{Computed, Job, batching_pays};
use tokio::sync::oneshot;

/// The most jobs one batch computes: the IFMA kernel's lane count.
const LANES: usize = 8;

/// The pool: at most `threads` workers computing, `queue` more jobs waiting.
#[derive(Debug)]
pub struct DhPool {
    shared: Arc<Shared>,
    /// Jobs in the pool at most, waiting and being computed.
    capacity: usize,
}

/// What the sessions and the workers share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    threads: usize,
    /// Jobs a worker takes at once: [`LANES`] when batching, else 1.
    take: usize,
    /// Held by a test to keep the workers from taking jobs, so what it sees queued
    /// does not depend on how fast the threads run.
    #[cfg(test)]
    gate: Mutex<()>,
}

/// The queue, the jobs being computed and the workers, under one lock: a job is never
/// queued after the last worker has looked and left, and the count of places is exact.
#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Queued>,
    /// Jobs taken by workers and not yet answered.
    computing: usize,
    workers: usize,
}

impl State {
    /// Jobs in the pool.
    fn depth(&self) -> usize {
        self.queue.len() + self.computing
    }

    /// Drops the queued jobs whose sessions no longer wait for them.
    fn forget_abandoned(&mut self) {
        self.queue.retain(|q| !q.reply.is_closed());
    }
}

/// A job waiting, with where its result goes.
#[derive(Debug)]
struct Queued {
    job: Job,
    reply: oneshot::Sender<Computed>,
}

/// The pool had no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A job admitted to the pool: [`wait`](Self::wait) for its result. Dropping it
/// abandons the job (it gives its place back).
#[derive(Debug)]
pub struct Admitted(oneshot::Receiver<Computed>);

impl Admitted {
    /// The computed secret; `None` if the computation was lost (its thread panicked,
    /// the runtime is shutting down).
    pub async fn wait(self) -> Option<Computed> {
        self.0.await.ok()
    }
}

/// Whether the pool batches (`limits.dh_batch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// Where it pays on this CPU ([`batching_pays`]: the IFMA kernel runs); the config's
    /// default.
    Auto,
    /// Always (correct everywhere, faster only with IFMA; for tests and comparisons).
    Always,
    /// Never: one job at a time.
    Never,
}

impl DhPool {
    /// A pool of `threads` (at least 1) with `queue` places to wait, batching as told.
    pub fn new(threads: usize, queue: usize, batching: Batching) -> Self {
        let batch = match batching {
            Batching::Auto => batching_pays(),
            Batching::Always => true,
            Batching::Never => false,
        };
        let threads = threads.max(1);
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                threads,
                take: if batch { LANES } else { 1 },
                #[cfg(test)]
                gate: Mutex::new(()),
            }),
            capacity: threads + queue,
        }
    }

    /// Whether a worker computes several jobs as one batch.
    pub fn batches(&self) -> bool {
        self.shared.take > 1
    }

    /// Jobs waiting or being computed now (the metrics' DH queue depth).
    pub fn depth(&self) -> usize {
        self.shared.lock().depth()
    }

    /// Admits `job` to the pool, or says it is full. Never waits.
    pub fn submit(&self, job: Job) -> Result<Admitted, Full> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut state = self.shared.lock();
            if state.depth() >= self.capacity {
                // Full, perhaps of jobs nobody waits for any more: look before refusing.
                state.forget_abandoned();
                if state.depth() >= self.capacity {
                    return Err(Full);
                }
            }
            state.queue.push_back(Queued { job, reply });
            let start = state.workers < self.shared.threads;
            if start {
                state.workers += 1;
            }
            start
        };
        if start {
            let shared = Arc::clone(&self.shared);
            // Not awaited: the worker serves whatever is queued, not only this job.
            drop(tokio::task::spawn_blocking(move || shared.work()));
        }
        Ok(Admitted(answer))
    }

    /// [`submit`](Self::submit), then [`Admitted::wait`].
    #[cfg(test)]
    async fn compute(&self, job: Job) -> Result<Option<Computed>, Full> {
        Ok(self.submit(job)?.wait().await)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing is computed under the lock, so a panic cannot leave the queue half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker: computes what is queued, `take` at a time, until the queue is empty.
    fn work(&self) {
        // Counted out even if a computation panics, so a later job starts a new worker.
        let _worker = Worker(self);
        loop {
            #[cfg(test)]
            drop(self.gate.lock().unwrap_or_else(PoisonError::into_inner));
            let taken: Vec<Queued> = {
                let mut state = self.lock();
                state.forget_abandoned();
                let n = state.queue.len().min(self.take);
                state.computing += n;
                state.queue.drain(..n).collect()
            };
            if taken.is_empty() {
                return;
            }
            // Gives the places back however this ends, before the sessions hear.
            let computing = Computing(self, taken.len());
            let (jobs, replies): (Vec<Job>, Vec<_>) =
                taken.into_iter().map(|q| (q.job, q.reply)).unzip();
            // How many jobs were queued is public: this choice reveals no secret.
            let computed = if jobs.len() > 1 {
                Job::compute_batch(jobs)
            } else {
                jobs.into_iter().map(Job::compute).collect()
            };
            drop(computing);
            for (computed, reply) in computed.into_iter().zip(replies) {
                // A session that gave up no longer listens; nothing to do then.
                let _ = reply.send(computed);
            }
        }
    }
}

/// Jobs a worker has taken, counted out of the pool when dropped.
struct Computing<'a>(&'a Shared, usize);

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        self.0.lock().computing -= self.1;
    }
}

/// One worker, counted out when it leaves.
struct Worker<'a>(&'a Shared);

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.workers -= 1;
        // Left by a panic with jobs queued: nobody else may be coming for them.
        // Dropping them wakes their sessions with `None`.
        if std::thread::panicking() && state.workers == 0 {
            state.queue.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use ssmail_core::KeyCache;
    use ssmail_core::cache::detached::Detached;
    use ssmail_core::keys::{KeyPair, PublicKey};

    use super::*;

    fn peer() -> PublicKey {
        KeyPair::generate(&mut getrandom::SysRng)
            .expect("rng")
            .public()
    }

    fn job(cache: &mut KeyCache<4>) -> Job {
        let own = cache
            .own_public_key(1, &mut getrandom::SysRng)
            .expect("rng");
        match cache.lookup_detached(&own, &peer()) {
            Some(Detached::Miss(job)) => job,
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    /// Runs `test` on a one-thread runtime with a fresh cache and a pool of one thread
    /// and `queue` places, once one job at a time and once batching: the pool's
    /// bounds and answers are the same either way. The test holds the pool's gate
    /// while it arranges the queue, so what it sees queued does not depend on how fast
    /// the worker thread runs.
    fn each_batching<F: Future<Output = ()>>(
        queue: usize,
        test: impl Fn(DhPool, KeyCache<4>) -> F,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for batching in [Batching::Never, Batching::Always] {
            rt.block_on(test(DhPool::new(1, queue, batching), KeyCache::new(100)));
        }
    }

    #[test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the gate is held on purpose; the awaits under it poll once or are refused at once"
    )]
    fn a_full_pool_refuses_at_once_and_frees_its_places() {
        each_batching(1, |pool, mut cache| async move {
            let (a, b, c) = (job(&mut cache), job(&mut cache), job(&mut cache));
            // Two admitted (one taken, one waiting), the third refused while they are.
            let gate = pool.shared.gate.lock().expect("gate");
            let first = pool.compute(a);
            let second = pool.compute(b);
            tokio::pin!(first, second);
            // Poll both once so they are admitted.
            let _ = futures_poll(&mut first).await;
            let _ = futures_poll(&mut second).await;
            assert_eq!(pool.depth(), 2);
            assert_eq!(pool.compute(c).await.err(), Some(Full));
            drop(gate);
            let one = first.await.expect("admitted").expect("computed");
            let two = second.await.expect("admitted").expect("computed");
            assert!(cache.remember_computed(&one));
            assert!(cache.remember_computed(&two));
            assert_eq!(pool.depth(), 0);
            assert!(pool.compute(job(&mut cache)).await.is_ok());
        });
    }

    #[test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the gate is held on purpose; nothing under it waits for the worker"
    )]
    fn a_job_whose_session_left_gives_its_place_back() {
        each_batching(1, |pool, mut cache| async move {
            let gate = pool.shared.gate.lock().expect("gate");
            let kept = pool.submit(job(&mut cache)).expect("room");
            let left = pool.submit(job(&mut cache)).expect("room");
            assert_eq!(pool.depth(), 2);
            assert_eq!(pool.submit(job(&mut cache)).err(), Some(Full));
            // The second session hangs up: its place is the next one's.
            drop(left);
            let next = pool.submit(job(&mut cache)).expect("the abandoned place");
            assert_eq!(pool.depth(), 2);
            drop(gate);
            assert!(kept.wait().await.is_some());
            assert!(next.wait().await.is_some());
            assert_eq!(pool.depth(), 0);
        });
    }

    #[test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the gate is held on purpose; the awaits under it poll once"
    )]
    fn a_hit_is_answered_while_the_pool_is_busy_with_misses() {
        each_batching(16, |pool, mut cache| async move {
            let own = cache
                .own_public_key(1, &mut getrandom::SysRng)
                .expect("rng");
            let known = peer();
            let Some(Detached::Miss(first)) = cache.lookup_detached(&own, &known) else {
                panic!("miss");
            };
            assert!(cache.remember_computed(&first.compute()));
            let cache = Mutex::new(cache);
            // The worker may not take a job until the hit is answered.
            let gate = pool.shared.gate.lock().expect("gate");
            let mut misses: Vec<_> = (0..17)
                .map(|_| {
                    let job = job(&mut cache.lock().expect("lock"));
                    Box::pin(pool.compute(job))
                })
                .collect();
            for miss in &mut misses {
                assert!(futures_poll(miss).await.is_none(), "queued, not done");
            }
            // Seventeen misses queued, none computed: the hit needs only the cache's
            // lock, which no miss holds.
            let hit = cache.lock().expect("lock").lookup_detached(&own, &known);
            let busy = pool.depth();
            assert!(matches!(hit, Some(Detached::Hit(_))));
            assert_eq!(busy, 17, "the hit came before any miss was done");
            drop(gate);
            for miss in misses {
                assert!(miss.await.expect("admitted").is_some());
            }
            assert_eq!(pool.depth(), 0);
        });
    }

    #[test]
    #[allow(
        clippy::await_holding_lock,
        reason = "the gate is held on purpose while the sessions queue their jobs"
    )]
    fn the_forced_batch_path_gives_the_secrets_of_single_computations() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut cache = KeyCache::<4>::new(100);
            let own = cache
                .own_public_key(1, &mut getrandom::SysRng)
                .expect("rng");
            // One worker, held until all eleven are queued: it then takes a batch of
            // eight and one of three.
            let pool = Arc::new(DhPool::new(1, 16, Batching::Always));
            let gate = pool.shared.gate.lock().expect("gate");
            let peers: Vec<_> = (0..11).map(|_| peer()).collect();
            let mut tasks = tokio::task::JoinSet::new();
            for (i, peer) in peers.iter().enumerate() {
                let Some(Detached::Miss(job)) = cache.lookup_detached(&own, peer) else {
                    panic!("an empty cache misses");
                };
                let pool = Arc::clone(&pool);
                tasks.spawn(async move { (i, pool.compute(job).await) });
            }
            while pool.depth() < peers.len() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            drop(gate);
            let mut done = 0;
            while let Some(joined) = tasks.join_next().await {
                let (i, result) = joined.expect("task");
                let batched = result.expect("admitted").expect("computed");
                let Some(Detached::Miss(job)) = cache.lookup_detached(&own, &peers[i]) else {
                    panic!("still a miss");
                };
                assert_eq!(batched.secret(), job.compute().secret(), "job {i}");
                assert!(cache.remember_computed(&batched));
                done += 1;
            }
            assert_eq!(done, peers.len());
            assert_eq!(pool.depth(), 0);
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
