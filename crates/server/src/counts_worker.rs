//! The contact-count worker each `coalesce serve` runs beside the HTTP server: about once a second it folds the
//! contact-count changes the database appended (one per statement that added or removed contacts) into each
//! account's total (`PgDatabase::fold_contact_counts`). A count is right without it (the reader adds what is
//! not folded yet); the fold keeps that addition to a handful of rows. Several processes may run it at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use adapters_postgres::PgDatabase;

/// A running worker; [`CountsWorker::stop`] ends it after its current fold.
pub struct CountsWorker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CountsWorker {
    /// Ends the worker and waits for its current fold to finish.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for CountsWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the worker thread, folding every `interval`. `db` should be a pool of its own (one connection is
/// enough), so that the worker never takes a connection a request is waiting for.
pub fn spawn(db: PgDatabase, interval: Duration) -> CountsWorker {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("counts-worker".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if let Err(e) = db.fold_contact_counts() {
                    log::warn!("contact counts fold failed: {e}");
                }
                crate::duplicates_worker::sleep_unless_stopped(&flag, interval);
            }
        })
        .ok();
    CountsWorker { stop, thread }
}
