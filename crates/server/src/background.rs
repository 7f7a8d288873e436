//! The thread each worker of `coalesce serve` runs on beside the HTTP server (webhooks, duplicates, contact
//! counts), and the handle that stops it. Written once so that every worker stops the same way: between two
//! rounds, never in the middle of one (a round is a database transaction or a batch of deliveries), and within
//! a short step while it pauses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A running background thread; [`Background::stop`] ends it after its current round.
pub struct Background {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts a thread named `name` that runs `round` until stopped, pausing after each round for as long as
    /// the round returned (zero: the next round at once). While it pauses, it looks for the stop every
    /// `wake_every`: how long a stop may wait for a pausing worker. When no thread can be started, the handle
    /// has none and stopping it does nothing (as with a worker that never had work).
    pub fn spawn(name: &str, wake_every: Duration, mut round: impl FnMut() -> Duration + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let pause = round();
                    sleep_unless_stopped(&flag, pause, wake_every);
                }
            })
            .ok();
        Self { stop, thread }
    }

    /// Ends the thread and waits for its current round to finish.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    /// Only asks the thread to stop: dropping a handle never blocks on a round in progress (`stop` waits).
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sleeps `total` in steps of `step`, returning early once `stop` is set.
fn sleep_unless_stopped(stop: &AtomicBool, total: Duration, step: Duration) {
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(total - slept));
        slept += step;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::time::Instant;

    use super::*;

    #[test]
    fn stop_ends_a_pausing_thread_within_a_step_and_waits_for_it() {
        let rounds = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&rounds);
        let background = Background::spawn("test-background", Duration::from_millis(10), move || {
            counted.fetch_add(1, Ordering::Relaxed);
            Duration::from_secs(60)
        });
        let started = Instant::now();
        while rounds.load(Ordering::Relaxed) == 0 {
            assert!(started.elapsed() < Duration::from_secs(5), "the first round never ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        let stopping = Instant::now();
        background.stop();
        assert!(stopping.elapsed() < Duration::from_secs(5), "stop waited out the pause: {:?}", stopping.elapsed());
        assert_eq!(rounds.load(Ordering::Relaxed), 1, "no round after the stop");
    }
}
