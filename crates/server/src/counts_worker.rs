//! The contact-count worker each `coalesce serve` runs beside the HTTP server: about once a second it folds the
//! contact-count changes the database appended (one per statement that added or removed contacts) into each
//! account's total (`PgDatabase::fold_contact_counts`). A count is right without it (the reader adds what is
//! not folded yet); the fold keeps that addition to a handful of rows. Several processes may run it at once.

use std::time::Duration;

use adapters_postgres::PgDatabase;

use crate::background::Background;

/// Starts the worker thread, folding every `interval`; [`Background::stop`] ends it after its current fold.
/// `db` should be a pool of its own (one connection is enough), so that the worker never takes a connection a
/// request is waiting for.
pub fn spawn(db: PgDatabase, interval: Duration) -> Background {
    Background::spawn("counts-worker", Duration::from_millis(20), move || {
        if let Err(e) = db.fold_contact_counts() {
            log::warn!("contact counts fold failed: {e}");
        }
        interval
    })
}
