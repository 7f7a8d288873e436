//! The duplicates worker each `coalesce serve` runs beside the HTTP server (unless `COALESCE_DUPLICATES_WORKER`
//! is false): it recomputes the duplicate suggestions of the contacts the database queued
//! (`application::duplicates::refresh_queued`), one account per transaction. Several processes may run it at
//! once: each account's refresh lock lets one of them at a time work on it, the others take other accounts.

use std::time::{Duration, Instant};

use adapters_postgres::PgDatabase;
use application::duplicates::{refresh_queued, QUEUE_BATCH};

use crate::background::Background;

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

/// Starts the worker thread; [`Background::stop`] ends it after its current round. `db` should be a pool of its
/// own (one connection is enough), so that the worker never takes a connection a request is waiting for.
pub fn spawn(db: PgDatabase, settings: DuplicatesSettings) -> Background {
    Background::spawn("duplicates-worker", Duration::from_millis(20), move || {
        let started = Instant::now();
        // busy while it refreshed something: the next round follows after the yield, until the queue is drained
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
        if busy {
            started.elapsed().mul_f64(settings.yield_ratio.clamp(0.0, 100.0))
        } else {
            settings.poll_interval
        }
    })
}
