//! What the PostgreSQL adapter tells about itself, for the metrics endpoint: the pool's waits and checkout
//! time-outs as they happen (an r2d2 event handler feeding the `metrics` facade), and, read when scraped, the
//! pool's connections and the webhook backlog (outbox events not yet fanned out, deliveries pending).
//!
//! The backlog is read with one cheap query at scrape time rather than by the webhook worker: both counts use
//! partial indexes (`outbox_events_pending_idx`, `webhook_deliveries_due_idx`), the numbers are those of the
//! moment of the scrape, and they are there even in a process that runs no worker
//! (`COALESCE_WEBHOOK_WORKER=false`) — which is exactly when a backlog builds up. Every process reports the
//! same database-wide numbers.

use std::time::Duration;

use application::StoreError;
use diesel::r2d2::event::{CheckoutEvent, TimeoutEvent};
use diesel::r2d2::HandleEvent;
use diesel::sql_types::{BigInt, Double};
use diesel::{sql_query, Connection, QueryableByName, RunQueryDsl};
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

use crate::errors::{from_diesel, from_pool};
use crate::PgDatabase;

pub const POOL_WAIT: &str = "coalesce_db_pool_wait_seconds";
pub const POOL_TIMEOUTS: &str = "coalesce_db_pool_checkout_timeouts_total";
pub const LOST_COMMITS: &str = "coalesce_db_lost_commits_total";

/// Registers the help text of the metrics recorded here (call once, after the recorder is installed).
pub fn describe() {
    describe_histogram!(
        POOL_WAIT,
        Unit::Seconds,
        "Time to get a database connection from the pool (waiting for one, and checking an idle one)."
    );
    describe_counter!(POOL_TIMEOUTS, "Checkouts that found no connection within COALESCE_POOL_TIMEOUT_MS (a 503).");
    describe_counter!(
        LOST_COMMITS,
        "COMMITs lost with their connection, by what the lookup found: committed (the request succeeded), \
         not_committed (it ran once more) or unknown (a 503)."
    );
}

/// Counts a commit lost with its connection, by what became of it (`committed`, `not_committed`, `unknown`).
pub(crate) fn lost_commit(outcome: &'static str) {
    counter!(LOST_COMMITS, "outcome" => outcome).increment(1);
}

/// Feeds the pool's checkouts and time-outs to the metrics.
#[derive(Debug)]
pub(crate) struct PoolEvents;

impl HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: CheckoutEvent) {
        histogram!(POOL_WAIT).record(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, _event: TimeoutEvent) {
        counter!(POOL_TIMEOUTS).increment(1);
    }
}

/// The pool's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// The webhook backlog at one moment.
#[derive(Debug, Clone, Copy, PartialEq, QueryableByName)]
pub struct Backlog {
    /// Outbox events no worker has turned into deliveries yet.
    #[diesel(sql_type = BigInt)]
    pub outbox_pending: i64,
    /// Age of the oldest of them, in seconds (0 when there is none).
    #[diesel(sql_type = Double)]
    pub outbox_oldest_age_seconds: f64,
    /// Deliveries waiting for their first or next attempt.
    #[diesel(sql_type = BigInt)]
    pub deliveries_pending: i64,
}

const BACKLOG: &str = "SELECT \
    (SELECT count(*) FROM outbox_events WHERE processed_at IS NULL) AS outbox_pending, \
    COALESCE(EXTRACT(EPOCH FROM now() - (SELECT created_at FROM outbox_events WHERE processed_at IS NULL \
                                         ORDER BY id LIMIT 1)), 0)::float8 AS outbox_oldest_age_seconds, \
    (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS deliveries_pending";

impl PgDatabase {
    /// The pool's connections: in use, idle, and the most it opens.
    pub fn pool_usage(&self) -> PoolUsage {
        let state = self.pool().state();
        PoolUsage {
            in_use: state.connections.saturating_sub(state.idle_connections),
            idle: state.idle_connections,
            max: self.pool().max_size(),
        }
    }

    /// The webhook backlog, waiting at most `timeout` for a connection and as long again for the query.
    ///
    /// # Errors
    /// `Unavailable` when no connection comes in time or the database does not answer.
    pub fn backlog(&self, timeout: Duration) -> Result<Backlog, StoreError> {
        let mut conn = self.pool().get_timeout(timeout).map_err(|e| from_pool(&e))?;
        let millis = timeout.as_millis().max(1);
        conn.transaction(|c| {
            sql_query(format!("SET LOCAL statement_timeout = {millis}")).execute(c)?;
            sql_query(BACKLOG).get_result::<Backlog>(c)
        })
        .map_err(from_diesel)
    }
}
