//! The duplicates worker each `coalesce serve` runs beside the HTTP server (unless `COALESCE_DUPLICATES_WORKER`
//! is false): it recomputes the duplicate suggestions of the contacts the database queued
//! (`application::duplicates::refresh_queued`), one account per transaction. Several processes may run it at
//! once: each account's refresh lock lets one of them at a time work on it, the others take other accounts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapters_postgres::PgDatabase;
use application::duplicates::{refresh_queued, QUEUE_BATCH};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct DuplicatesSettings {
    /// Pause between two rounds when there was nothing to do: the longest a change waits for its
    /// suggestions when the worker is idle.
    pub poll_interval: Duration,
    /// Queued contacts refreshed per transaction.
    pub batch: u64,
    /// After a round that refreshed something, the worker pauses this many times the round's duration before
    /// the next one: 1.0 keeps it busy at most about half the time, so that a burst of writes leaves the
    /// requests most of the machine and the queue is caught up once the burst is over. 0 drains the queue as
    /// fast as possible.
    pub yield_ratio: f64,
}

impl Default for DuplicatesSettings {
    fn default() -> Self {
        Self { poll_interval: Duration::from_millis(200), batch: QUEUE_BATCH, yield_ratio: 1.0 }
    }
}

/// A running worker; [`DuplicatesWorker::stop`] ends it after its current round.
pub struct DuplicatesWorker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DuplicatesWorker {
    /// Ends the worker and waits for its current round to finish.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DuplicatesWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the worker thread. `db` should be a pool of its own (one connection is enough), so that the
/// worker never takes a connection a request is waiting for.
pub fn spawn(db: PgDatabase, settings: DuplicatesSettings) -> DuplicatesWorker {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("duplicates-worker".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                // busy while it refreshed something: the next round follows after the yield, until the queue is
                // drained
                let busy = match refresh_queued(&db, settings.batch) {
                    Ok(round) => {
                        crate::metrics::duplicate_refreshes(&round.done);
                        round.done.refreshed > 0
                    }
                    Err(e) => {
                        log::warn!("duplicates refresh failed: {e}");
                        false
                    }
                };
                let pause = if busy {
                    started.elapsed().mul_f64(settings.yield_ratio.clamp(0.0, 100.0))
                } else {
                    settings.poll_interval
                };
                sleep_unless_stopped(&flag, pause);
            }
        })
        .ok();
    DuplicatesWorker { stop, thread }
}

pub(crate) fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(20);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(total - slept));
        slept += step;
    }
}
