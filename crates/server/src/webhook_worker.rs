//! The webhook delivery worker each `coalesce serve` runs beside the HTTP server: it fans committed outbox events
//! out into deliveries and sends the due ones, sharing the work with every other process through
//! `FOR UPDATE SKIP LOCKED`. Also the outbound HTTP client (the `WebhookSender` port) it sends with.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use adapters_postgres::PgDatabase;
use application::webhooks::{deliver_due, fan_out, RetryPolicy, WebhookSender};

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    /// Pause between two rounds when there was nothing to do.
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
    /// Longest wait for a receiver's answer.
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// POSTs with ureq; any HTTP status is an answer, only transport failures are errors.
pub struct HttpSender {
    agent: ureq::Agent,
}

impl HttpSender {
    pub fn new(timeout: Duration) -> Self {
        Self { agent: ureq::AgentBuilder::new().timeout(timeout).redirects(0).build() }
    }
}

impl WebhookSender for HttpSender {
    fn post(&self, url: &str, headers: &[(&str, String)], body: &[u8]) -> Result<u16, String> {
        let mut request = self.agent.post(url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.send_bytes(body) {
            Ok(response) => Ok(response.status()),
            Err(ureq::Error::Status(status, _)) => Ok(status),
            Err(ureq::Error::Transport(t)) => Err(t.to_string()),
        }
    }
}

/// A running worker; [`WorkerHandle::stop`] ends it after its current round.
pub struct WorkerHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Events turned into deliveries per round, and deliveries sent per transaction.
const BATCH: u32 = 50;

/// Starts the worker thread.
pub fn spawn(db: PgDatabase, settings: WebhookSettings) -> WorkerHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("webhook-worker".into())
        .spawn(move || {
            let sender = HttpSender::new(settings.timeout);
            while !flag.load(Ordering::Relaxed) {
                let busy = round(&db, &sender, &settings);
                if !busy {
                    sleep_unless_stopped(&flag, settings.poll_interval);
                }
            }
        })
        .ok();
    WorkerHandle { stop, thread }
}

/// One round: fan out, then deliver. Whether there was work (then the next round starts at once).
fn round(db: &PgDatabase, sender: &HttpSender, settings: &WebhookSettings) -> bool {
    let fanned = fan_out(db, BATCH).unwrap_or_else(|e| {
        log::warn!("webhook fan-out failed: {e}");
        0
    });
    let sent = deliver_due(db, sender, &settings.retry, BATCH).unwrap_or_else(|e| {
        log::warn!("webhook delivery failed: {e}");
        0
    });
    fanned > 0 || sent > 0
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(total - slept));
        slept += step;
    }
}
