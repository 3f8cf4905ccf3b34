//! Password hashing within bounds (SPEC §10, §11). An argon2id hash holds 19 MiB and a
//! core for tens of milliseconds, so sign-ins and new passwords are hashed on a few
//! dedicated, lower-priority threads behind a short queue: a flood of sign-ins from many
//! addresses gets quick 503s instead of a growing backlog, memory stays a couple of hashes
//! wide, and the webhooks that carry the business's calls keep the CPU.

use crate::config::PasswordHashConfig;
use crate::crypto::{self, CryptoError};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Seconds a refused sign-in is told to wait (`Retry-After`): a hash takes tens of
/// milliseconds, so the queue has long drained by then.
pub const RETRY_AFTER_SECS: u64 = 2;

/// How much lower than the server's threads the hashing threads run (`nice` increment).
const HASH_THREAD_NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Why a hash was not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// As many requests already wait as the queue holds.
    #[error("too many sign-ins are waiting")]
    QueueFull,
    /// No thread became free within the configured wait.
    #[error("no password-hashing thread became free in time")]
    WaitedTooLong,
    /// The hashing threads are gone (the appliance is stopping).
    #[error("the password-hashing threads have stopped")]
    Stopped,
}

impl Busy {
    /// A stable name for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Busy::QueueFull => "queue_full",
            Busy::WaitedTooLong => "wait_timeout",
            Busy::Stopped => "stopped",
        }
    }
}

/// The dedicated hashing threads and the admission in front of them.
pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    /// One permit per thread: a job is handed over only with a permit, so the channel never
    /// holds more than the threads can take at once.
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
    rejected_queue_full: AtomicU64,
    rejected_wait: AtomicU64,
}

impl PasswordHasher {
    /// Starts `cfg.threads` hashing threads; they end when the hasher is dropped.
    pub fn start(cfg: &PasswordHashConfig) -> std::io::Result<Self> {
        let threads = cfg.threads.max(1);
        let (jobs, rx) = mpsc::sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(PasswordHasher {
            jobs,
            slots: Arc::new(Semaphore::new(threads)),
            waiting: AtomicUsize::new(0),
            queue: cfg.queue,
            wait: Duration::from_secs(u64::from(cfg.wait_secs)),
            rejected_queue_full: AtomicU64::new(0),
            rejected_wait: AtomicU64::new(0),
        })
    }

    /// Checks `password` against `stored` (see [`crypto::verify_password`]; with no stored
    /// hash it costs the same as with one).
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        self.run(move || crypto::verify_password(&password, stored.as_deref()))
            .await
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<Result<String, CryptoError>, Busy> {
        self.run(move || crypto::hash_password(&password)).await
    }

    /// Requests refused since start, by [`Busy::reason`].
    pub fn rejected(&self) -> [(&'static str, u64); 2] {
        [
            (
                Busy::QueueFull.reason(),
                self.rejected_queue_full.load(Ordering::Relaxed),
            ),
            (
                Busy::WaitedTooLong.reason(),
                self.rejected_wait.load(Ordering::Relaxed),
            ),
        ]
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = self.admit().await?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let out = work();
            // The slot frees when the work ends, even if the caller has gone.
            drop(permit);
            let _ = tx.send(out);
        });
        self.jobs.try_send(job).map_err(|_| Busy::Stopped)?;
        rx.await.map_err(|_| Busy::Stopped)
    }

    /// Waits for a free thread, within the queue's size and the wait's length.
    async fn admit(&self) -> Result<OwnedSemaphorePermit, Busy> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let _waiting = match Waiting::enter(&self.waiting, self.queue) {
            Some(w) => w,
            None => {
                self.rejected_queue_full.fetch_add(1, Ordering::Relaxed);
                return Err(Busy::QueueFull);
            }
        };
        match tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Busy::Stopped),
            Err(_) => {
                self.rejected_wait.fetch_add(1, Ordering::Relaxed);
                Err(Busy::WaitedTooLong)
            }
        }
    }
}

/// A place in the queue, given back when the waiter is admitted, refused or gone.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, limit: usize) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiting(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    // Lower priority than the server: under a flood of sign-ins the webhooks still get the
    // CPU first. Failing to lower it (a sandbox that forbids it) changes nothing else.
    if let Err(e) = rustix::process::nice(HASH_THREAD_NICENESS) {
        log::debug!("could not lower the password-hashing thread's priority: {e}");
    }
    loop {
        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(threads: usize, queue: usize, wait_secs: u32) -> PasswordHasher {
        PasswordHasher::start(&PasswordHashConfig {
            threads,
            queue,
            wait_secs,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_and_verifies_on_its_own_threads() {
        let h = hasher(1, 4, 5);
        let hash = h.hash("a long passphrase".into()).await.unwrap().unwrap();
        assert!(h
            .verify("a long passphrase".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!h.verify("another".into(), Some(hash)).await.unwrap());
        assert!(!h.verify("a long passphrase".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn beyond_the_threads_and_the_queue_requests_are_refused_at_once() {
        let h = Arc::new(hasher(1, 2, 30));
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let h = Arc::clone(&h);
                tokio::spawn(async move { h.verify(format!("guess {i}"), None).await })
            })
            .collect();
        let mut done = 0;
        let mut refused = 0;
        for c in calls {
            match c.await.unwrap() {
                Ok(false) => done += 1,
                Err(Busy::QueueFull) => refused += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        // One running and two waiting at most; the rest never waited.
        assert!(
            done >= 3 && refused >= 1 && done + refused == 8,
            "{done} done, {refused} refused"
        );
        assert_eq!(h.rejected()[0], ("queue_full", refused));
    }

    #[tokio::test]
    async fn a_waiter_is_refused_when_no_thread_frees_in_time() {
        let h = Arc::new(hasher(1, 4, 1));
        // Hold the only slot as a long hash would.
        let held = Arc::clone(&h.slots).try_acquire_owned().unwrap();
        let refused = h.verify("x".into(), None).await;
        assert_eq!(refused, Err(Busy::WaitedTooLong));
        drop(held);
        assert_eq!(h.verify("x".into(), None).await, Ok(false));
        assert_eq!(h.rejected()[1], ("wait_timeout", 1));
    }
}
