//! The webhook delivery worker each `coalesce serve` runs beside the HTTP server: it fans committed outbox events
//! out into deliveries and sends the due ones, sharing the work with every other process through
//! `FOR UPDATE SKIP LOCKED`. Also the outbound HTTP client (the `WebhookSender` port) it sends with.
//!
//! Where a delivery may go is decided before the client runs (`application::webhook_targets`): the host is
//! resolved once, every address checked, and the client connects to those addresses only — it never resolves
//! the name itself, follows no redirect and uses no proxy, so what was checked is what is connected to.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use adapters_postgres::PgDatabase;
use application::webhook_targets::TargetPolicy;
use application::webhooks::{deliver_due, fan_out, DeliveryRound, RetryPolicy, WebhookSender};

use crate::background::Background;
use crate::resolver::SystemResolver;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Pause between two rounds when there was nothing to do.
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
    /// Longest wait for a receiver's whole answer (connecting, sending, reading).
    pub timeout: Duration,
    /// Longest wait for a connection to be established.
    pub connect_timeout: Duration,
    /// Where deliveries may go.
    pub targets: Arc<TargetPolicy>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            targets: Arc::new(TargetPolicy::new(Arc::new(SystemResolver::default()), false)),
        }
    }
}

/// The most of a receiver's answer body that is read (and discarded): enough for a receiver's usual short
/// acknowledgement to complete cleanly, never an unbounded download.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// POSTs with ureq; any HTTP status is an answer, only transport failures are errors.
pub struct HttpSender {
    timeout: Duration,
    connect_timeout: Duration,
}

impl HttpSender {
    pub fn new(timeout: Duration, connect_timeout: Duration) -> Self {
        Self { timeout, connect_timeout: connect_timeout.min(timeout) }
    }

    /// A client for one delivery whose resolver answers exactly the checked addresses, whatever name it is
    /// asked for. No connection is kept for another delivery: each one connects to the addresses checked for
    /// it.
    fn agent(&self, addresses: &[SocketAddr]) -> ureq::Agent {
        let pinned = addresses.to_vec();
        ureq::AgentBuilder::new()
            .resolver(move |_netloc: &str| Ok(pinned.clone()))
            .try_proxy_from_env(false)
            .timeout_connect(self.connect_timeout)
            .timeout(self.timeout)
            .redirects(0)
            .max_idle_connections(0)
            .build()
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of an answer's body.
fn drain(response: ureq::Response) {
    let mut capped = response.into_reader().take(MAX_RESPONSE_BYTES);
    let _ = std::io::copy(&mut capped, &mut std::io::sink());
}

impl WebhookSender for HttpSender {
    fn post(
        &self,
        url: &str,
        addresses: &[SocketAddr],
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<u16, String> {
        if addresses.is_empty() {
            return Err("no address to connect to".to_owned());
        }
        let mut request = self.agent(addresses).post(url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.send_bytes(body) {
            Ok(response) | Err(ureq::Error::Status(_, response)) => {
                let status = response.status();
                drain(response);
                Ok(status)
            }
            // The kind only ("Connection Failed", "Network Error"): the recorded error is shown to the
            // webhook's owner and must not describe the network behind the address.
            Err(ureq::Error::Transport(t)) => Err(t.kind().to_string()),
        }
    }
}

/// Events turned into deliveries per round, and deliveries sent per transaction.
const BATCH: u32 = 50;

/// Starts the worker thread; [`Background::stop`] ends it after its current round.
pub fn spawn(db: PgDatabase, settings: WebhookSettings) -> Background {
    let sender = HttpSender::new(settings.timeout, settings.connect_timeout);
    Background::spawn("webhook-worker", Duration::from_millis(50), move || {
        if round(&db, &sender, &settings) {
            Duration::ZERO
        } else {
            settings.poll_interval
        }
    })
}

/// One round: fan out, then deliver. Whether there was work (then the next round starts at once).
fn round(db: &PgDatabase, sender: &HttpSender, settings: &WebhookSettings) -> bool {
    let fanned = fan_out(db, BATCH).unwrap_or_else(|e| {
        log::warn!("webhook fan-out failed: {e}");
        0
    });
    let round = deliver_due(db, sender, &settings.targets, &settings.retry, BATCH).unwrap_or_else(|e| {
        log::warn!("webhook delivery failed: {e}");
        DeliveryRound::default()
    });
    crate::metrics::deliveries(&round);
    fanned > 0 || round.claimed > 0
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;

    /// Accepts one connection, reports the request's head (lower-cased), answers with `head`, then streams
    /// `body_bytes` zero bytes (or until the client hangs up).
    fn receiver(head: &'static str, body_bytes: usize) -> (SocketAddr, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                request.push_str(&line.to_ascii_lowercase());
            }
            tx.send(request).unwrap();
            let mut stream = stream;
            let _ = stream.write_all(head.as_bytes());
            let chunk = [0u8; 8192];
            let mut sent = 0;
            while sent < body_bytes && stream.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
        });
        (address, rx)
    }

    #[test]
    fn posts_to_the_checked_address_and_never_resolves_the_name() {
        let (address, seen) = receiver("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 0);
        let sender = HttpSender::new(Duration::from_secs(5), Duration::from_secs(1));
        // The name cannot resolve (.invalid): only the pinned address can be reached.
        let url = format!("http://target.invalid:{}/hook", address.port());
        assert_eq!(sender.post(&url, &[address], &[("X-Test", "1".to_owned())], b"{}"), Ok(204));
        let head = seen.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(head.starts_with("post /hook http/1.1"), "{head}");
        assert!(head.contains(&format!("host: target.invalid:{}", address.port())), "{head}");
        assert!(head.contains("x-test: 1"), "{head}");
        assert_eq!(sender.post(&url, &[], &[], b"{}"), Err("no address to connect to".to_owned()));
    }

    #[test]
    fn redirects_are_answers_not_followed() {
        let (address, _seen) =
            receiver("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n", 0);
        let sender = HttpSender::new(Duration::from_secs(5), Duration::from_secs(1));
        let url = format!("http://127.0.0.1:{}/hook", address.port());
        assert_eq!(sender.post(&url, &[address], &[], b"{}"), Ok(302));
    }

    #[test]
    fn a_long_answer_is_read_only_up_to_the_cap() {
        // 1 GiB announced and streamed: reading it all would take far longer than the 3 s time-out.
        let (address, _seen) = receiver("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n", 1 << 30);
        let sender = HttpSender::new(Duration::from_secs(3), Duration::from_secs(1));
        let url = format!("http://127.0.0.1:{}/hook", address.port());
        let started = Instant::now();
        assert_eq!(sender.post(&url, &[address], &[], b"{}"), Ok(200));
        assert!(started.elapsed() < Duration::from_secs(2), "read past the cap: {:?}", started.elapsed());
    }

    #[test]
    fn a_receiver_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let sender = HttpSender::new(Duration::from_millis(500), Duration::from_millis(200));
        let started = Instant::now();
        let result = sender.post(&format!("http://127.0.0.1:{}/", address.port()), &[address], &[], b"{}");
        assert!(result.is_err(), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert!(!result.unwrap_err().contains("127.0.0.1"), "the error names no address");
        drop(listener);
    }
}
