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
    /// the next one: 1.0 keeps it busy at most about half the time, so that the queue is caught up quickly
    /// when the process is quiet. 0 drains the queue as fast as possible.
    pub yield_ratio: f64,
    /// The same while the process is answering requests (`serving`): 4.0 keeps the worker busy at most a fifth
    /// of the time, so that a burst of writes keeps nearly all of the machine and the queue is caught up once
    /// the burst is over.
    pub busy_yield_ratio: f64,
    /// Whether the process is answering requests right now.
    pub serving: fn() -> bool,
}

impl Default for DuplicatesSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(200),
            batch: QUEUE_BATCH,
            yield_ratio: 1.0,
            busy_yield_ratio: 4.0,
            serving: || false,
        }
    }
}

impl DuplicatesSettings {
    /// The pause after a round that took `round` and refreshed something (`busy`), or found nothing to do.
    fn pause_after(&self, round: Duration, busy: bool) -> Duration {
        if !busy {
            return self.poll_interval;
        }
        let ratio = if (self.serving)() { self.busy_yield_ratio } else { self.yield_ratio };
        round.mul_f64(ratio.clamp(0.0, 100.0))
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
        settings.pause_after(started.elapsed(), busy)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_round_is_followed_by_its_yield_and_more_of_it_while_requests_are_answered() {
        let quiet = DuplicatesSettings { yield_ratio: 1.0, busy_yield_ratio: 4.0, ..DuplicatesSettings::default() };
        let round = Duration::from_millis(30);
        assert_eq!(quiet.pause_after(round, true), Duration::from_millis(30));
        let serving = DuplicatesSettings { serving: || true, ..quiet.clone() };
        assert_eq!(serving.pause_after(round, true), Duration::from_millis(120));
        // nothing to do: the idle interval, whatever the traffic
        assert_eq!(quiet.pause_after(round, false), quiet.poll_interval);
        assert_eq!(serving.pause_after(round, false), quiet.poll_interval);
        // out-of-range ratios are clamped: never negative, never more than 100 times the round
        let wild = DuplicatesSettings { yield_ratio: -3.0, busy_yield_ratio: 1e9, ..serving.clone() };
        assert_eq!(wild.pause_after(round, true), Duration::from_secs(3));
        let drain = DuplicatesSettings { yield_ratio: -3.0, ..quiet };
        assert_eq!(drain.pause_after(round, true), Duration::ZERO);
    }
}
