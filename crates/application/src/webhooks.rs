//! Signed webhooks: subscriptions per account, and the delivery worker's two steps.
//!
//! 1. [`fan_out`] turns committed outbox events into one delivery per subscribed webhook (events exist only
//!    once their transaction committed, so a rolled-back merge never reaches anyone).
//! 2. [`deliver_due`] claims due deliveries with `FOR UPDATE SKIP LOCKED` — several `coalesce serve`
//!    processes share the work and never send the same delivery twice — POSTs each one signed with
//!    HMAC-SHA256 over the body, and records the outcome: delivered, retry later with exponential backoff, or
//!    failed after the last attempt.
//!
//! Where a webhook may point is [`crate::webhook_targets`]'s business: public addresses only, checked at
//! registration and again at every delivery against the addresses actually connected to.

use std::net::SocketAddr;
use std::time::Duration;

use domain::Violations;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::auth::Member;
use crate::ports::{in_transaction, on_connection, Database, Role, Session, StoreError};
pub use crate::ports::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};
pub use crate::webhook_targets::MAX_URL_LEN;
use crate::webhook_targets::{DeliveryRefused, TargetPolicy, WebhookTarget};

/// The events a webhook can subscribe to.
pub const EVENTS: [&str; 5] =
    ["contact_created", "contact_updated", "contact_deleted", "contact_merged", "contact_unmerged"];

/// Sends one HTTP POST (the outbound port, implemented with an HTTP client by the server).
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` with the headers to `url`, connecting only to `addresses` (already resolved and checked:
    /// the implementation MUST NOT resolve the URL's host itself, and MUST NOT follow redirects).
    /// `Ok(status)` for any HTTP answer, `Err` when none came.
    ///
    /// # Errors
    /// Connection failures and time-outs, as text that names no address.
    fn post(&self, url: &str, addresses: &[SocketAddr], headers: &[(&str, String)], body: &[u8])
        -> Result<u16, String>;
}

/// Why a webhook request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid webhook: {0}")]
    Invalid(Violations),
    #[error("only administrators manage webhooks")]
    AdministratorRequired,
    #[error("webhook not found")]
    NotFound,
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::idempotency::KeyReused> for WebhookError {
    fn from(_: crate::idempotency::KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => {
                Self::Invalid(Violations::one(field, "taken", "already has a webhook in this account"))
            }
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

fn require_administrator(member: &Member) -> Result<(), WebhookError> {
    if member.role == Role::Administrator {
        Ok(())
    } else {
        Err(WebhookError::AdministratorRequired)
    }
}

/// A webhook to create, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    target: WebhookTarget,
    subscriptions: Vec<String>,
}

impl NewWebhook {
    /// Checks the URL ([`WebhookTarget::parse`]: http or https, no user name or password) and the events (those
    /// we send, at least one; duplicates dropped). Not the address: that needs resolving.
    ///
    /// # Errors
    /// `Invalid` with one violation per broken rule.
    pub fn parse(url: &str, subscriptions: &[String]) -> Result<Self, WebhookError> {
        let mut v = Violations::default();
        let target = WebhookTarget::parse(url);
        if let Err(url_violations) = &target {
            for f in url_violations.as_slice() {
                v.push(&f.field, &f.code, f.message.clone());
            }
        }
        if subscriptions.is_empty() {
            v.push("subscriptions", "blank", "subscribe to at least one event");
        }
        for s in subscriptions {
            if !EVENTS.contains(&s.as_str()) {
                v.push(
                    "subscriptions",
                    "invalid_value",
                    format!("unknown event {s:?}; events are {}", EVENTS.join(", ")),
                );
            }
        }
        v.into_result().map_err(WebhookError::Invalid)?;
        let target = target.map_err(WebhookError::Invalid)?;
        let mut subscriptions = subscriptions.to_vec();
        subscriptions.sort();
        subscriptions.dedup();
        Ok(Self { target, subscriptions })
    }
}

/// Subscribes a URL to events, inside the caller's transaction; the webhook gets a new random signing secret.
///
/// The address check may resolve the URL's host (bounded by the resolver's time-out) while the transaction is
/// open; registering a webhook is rare and administrators-only, so that wait is accepted for exact
/// `Idempotency-Key` semantics (a replay never resolves again).
///
/// # Errors
/// `AdministratorRequired` (checked first), then as [`NewWebhook::parse`]; `Invalid` with `forbidden_address`
/// on `url` when its address is not public ([`TargetPolicy::check_registration`]); `Invalid` (`url` taken)
/// when the account already has a webhook for the URL.
pub fn create_webhook_in(
    tx: &mut dyn Session,
    member: &Member,
    targets: &TargetPolicy,
    url: &str,
    subscriptions: &[String],
) -> Result<Webhook, WebhookError> {
    require_administrator(member)?;
    let new = NewWebhook::parse(url, subscriptions)?;
    targets.check_registration(&new.target).map_err(WebhookError::Invalid)?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    Ok(tx.insert_webhook(member.account_id, new.target.url(), &new.subscriptions, &hex::encode(secret))?)
}

/// [`create_webhook_in`] in its own transaction, from unchecked input.
///
/// # Errors
/// As [`NewWebhook::parse`] and [`create_webhook_in`].
pub fn create_webhook(
    db: &dyn Database,
    member: &Member,
    targets: &TargetPolicy,
    url: &str,
    subscriptions: &[String],
) -> Result<Webhook, WebhookError> {
    in_transaction(db, |tx| create_webhook_in(tx, member, targets, url, subscriptions))
}

/// The account's webhooks with their delivery status.
///
/// # Errors
/// `AdministratorRequired`; storage failures.
pub fn list_webhooks(db: &dyn Database, member: &Member) -> Result<Vec<Webhook>, WebhookError> {
    require_administrator(member)?;
    Ok(on_connection(db, |s| s.list_webhooks(member.account_id))?)
}

/// Deletes a webhook and its deliveries.
///
/// # Errors
/// `NotFound` when the account has no such webhook; `AdministratorRequired`.
pub fn delete_webhook(db: &dyn Database, member: &Member, id: i64) -> Result<(), WebhookError> {
    require_administrator(member)?;
    in_transaction(
        db,
        |tx| if tx.delete_webhook(member.account_id, id)? { Ok(()) } else { Err(WebhookError::NotFound) },
    )
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further failure.
    pub base_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 8, base_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(3600) }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 → base, 2 → 2 × base, …), capped.
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
        self.base_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Hex HMAC-SHA256 of `body` under `secret`, as sent in `X-Coalesce-Signature: sha256=<hex>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => String::new(),
    }
}

/// The body a delivery POSTs: the event's name and id, then the event's own fields.
pub fn delivery_body(d: &DueDelivery) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("event".into(), d.event_type.clone().into());
    body.insert("event_id".into(), d.event_id.into());
    body.insert("account_id".into(), d.account_id.get().into());
    body.insert("created_at".into(), d.created_at.timestamp().into());
    if let serde_json::Value::Object(fields) = &d.payload {
        for (k, v) in fields {
            body.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    serde_json::to_vec(&serde_json::Value::Object(body)).unwrap_or_default()
}

/// Step 1: turns committed events into deliveries. Returns how many events it processed.
///
/// # Errors
/// Storage failures.
pub fn fan_out(db: &dyn Database, batch: u32) -> Result<u64, StoreError> {
    in_transaction(db, |tx| tx.fan_out_events(batch))
}

/// What a delivery refused by the address rule records as its error: that it was refused, never what the
/// target resolved to.
pub const REFUSED_ERROR: &str = "forbidden_address: the webhook's address is not public; the delivery was refused";

/// Step 2: sends the due deliveries this worker could claim. Returns how many it attempted.
///
/// Each delivery's host is resolved once and every address checked against the address rule; the POST then
/// connects to exactly those addresses. A delivery to a forbidden address is not sent and is given up at once
/// (recorded as failed with [`REFUSED_ERROR`]); a name that does not resolve is retried like a connection
/// failure.
///
/// # Errors
/// Storage failures.
pub fn deliver_due(
    db: &dyn Database,
    sender: &dyn WebhookSender,
    targets: &TargetPolicy,
    policy: &RetryPolicy,
    batch: u32,
) -> Result<DeliveryRound, StoreError> {
    let mut tx = db.begin()?;
    let due = tx.claim_due_deliveries(batch)?;
    let mut round = DeliveryRound { claimed: due.len(), ..DeliveryRound::default() };
    for d in &due {
        let body = delivery_body(d);
        let headers = [
            ("Content-Type", "application/json".to_owned()),
            ("X-Coalesce-Event", d.event_type.clone()),
            ("X-Coalesce-Event-Id", d.event_id.to_string()),
            ("X-Coalesce-Delivery-Attempt", (d.attempts + 1).to_string()),
            ("X-Coalesce-Signature", format!("sha256={}", signature(&d.secret, &body))),
        ];
        let attempt = d.attempts + 1;
        let addresses = WebhookTarget::parse(&d.url)
            .map_err(|_| DeliveryRefused::ForbiddenAddress)
            .and_then(|target| targets.delivery_addresses(&target));
        // Ok(the 2xx status the receiver answered), or Err((what went wrong, the status if there was one)).
        let answer = match addresses {
            Err(DeliveryRefused::ForbiddenAddress) => {
                let outcome = DeliveryOutcome::Failed { error: REFUSED_ERROR.to_owned(), status: None };
                tx.record_delivery(d.id, &outcome)?;
                round.count(&outcome);
                continue;
            }
            Err(DeliveryRefused::Unresolved) => Err(("could not resolve the host name".to_owned(), None)),
            Ok(addresses) => match sender.post(&d.url, &addresses, &headers, &body) {
                Ok(status) if (200..300).contains(&status) => Ok(status),
                Ok(status) => Err((format!("HTTP {status}"), Some(status))),
                Err(e) => Err((e, None)),
            },
        };
        let outcome = match answer {
            Ok(status) => DeliveryOutcome::Delivered { status },
            Err((error, status)) if attempt >= policy.max_attempts => DeliveryOutcome::Failed { error, status },
            Err((error, status)) => DeliveryOutcome::Retry { error, status, next_attempt_in: policy.backoff(attempt) },
        };
        tx.record_delivery(d.id, &outcome)?;
        round.count(&outcome);
    }
    tx.commit().map_err(StoreError::from)?;
    Ok(round)
}

/// What one call of [`deliver_due`] did (committed: a round that fails reports nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    /// Deliveries claimed and attempted (or refused) in this round.
    pub claimed: usize,
    /// Answered with a 2xx status.
    pub delivered: usize,
    /// Failed, and scheduled for another attempt.
    pub retrying: usize,
    /// Failed for good: out of attempts, or refused by the address rule.
    pub given_up: usize,
}

impl DeliveryRound {
    fn count(&mut self, outcome: &DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Delivered { .. } => self.delivered += 1,
            DeliveryOutcome::Retry { .. } => self.retrying += 1,
            DeliveryOutcome::Failed { .. } => self.given_up += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::AccountId;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    }

    use std::sync::{Arc, Mutex};

    use crate::memory::MemoryDb;
    use crate::webhook_targets::tests::TableResolver;

    /// (url, headers, body) of one POST.
    type Sent = (String, Vec<(String, String)>, Vec<u8>);

    /// Answers with the given statuses in turn and records what it was sent.
    struct ScriptedReceiver {
        answers: Mutex<Vec<Result<u16, String>>>,
        seen: Mutex<Vec<Sent>>,
    }

    impl WebhookSender for ScriptedReceiver {
        fn post(
            &self,
            url: &str,
            _addresses: &[SocketAddr],
            headers: &[(&str, String)],
            body: &[u8],
        ) -> Result<u16, String> {
            let headers = headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
            self.seen.lock().unwrap().push((url.to_owned(), headers, body.to_vec()));
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                Ok(200)
            } else {
                answers.remove(0)
            }
        }
    }

    fn admin() -> Member {
        Member { user_id: domain::UserId::new(1), account_id: AccountId::new(1), role: Role::Administrator }
    }

    /// Private addresses allowed, as in development.
    fn lenient() -> TargetPolicy {
        TargetPolicy::new(TableResolver::with(&[]), true)
    }

    #[test]
    fn deliveries_are_signed_retried_and_given_up() {
        let db = MemoryDb::default();
        let webhook =
            create_webhook(&db, &admin(), &lenient(), "http://127.0.0.1:9/hook", &["contact_merged".into()]).unwrap();
        db.lock().events.push((AccountId::new(1), "contact.merged".into(), serde_json::json!({"base_contact_id": 5})));
        db.lock().events.push((AccountId::new(1), "contact.created".into(), serde_json::json!({"id": 6})));
        assert_eq!(fan_out(&db, 10).unwrap(), 2);
        assert_eq!(db.snapshot().deliveries.len(), 1, "only the subscribed event becomes a delivery");

        let receiver = ScriptedReceiver {
            answers: Mutex::new(vec![Err("connection refused".into()), Ok(500), Ok(503)]),
            seen: Mutex::new(Vec::new()),
        };
        let policy = RetryPolicy { max_attempts: 3, base_backoff: Duration::ZERO, max_backoff: Duration::ZERO };
        let rounds: Vec<DeliveryRound> =
            (0..5).map(|_| deliver_due(&db, &receiver, &lenient(), &policy, 10).unwrap()).collect();
        let retry = DeliveryRound { claimed: 1, retrying: 1, ..DeliveryRound::default() };
        let given_up = DeliveryRound { claimed: 1, given_up: 1, ..DeliveryRound::default() };
        assert_eq!(rounds, [retry, retry, given_up, DeliveryRound::default(), DeliveryRound::default()]);
        let seen = receiver.seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "three attempts, then given up");
        assert_eq!(db.snapshot().deliveries[0].1, "failed");
        let (url, headers, body) = &seen[0];
        assert_eq!(url, "http://127.0.0.1:9/hook");
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(header("X-Coalesce-Signature"), format!("sha256={}", signature(&webhook.secret, body)));
        assert_eq!(header("X-Coalesce-Event"), "contact_merged");
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(json["event"], "contact_merged");
        assert_eq!(json["base_contact_id"], 5);
    }

    #[test]
    fn webhook_input_is_checked_and_needs_an_administrator() {
        let db = MemoryDb::default();
        let agent = Member { role: Role::Agent, ..admin() };
        assert_eq!(
            create_webhook(&db, &agent, &lenient(), "https://x.io", &["contact_merged".into()]),
            Err(WebhookError::AdministratorRequired)
        );
        let Err(WebhookError::Invalid(v)) = create_webhook(&db, &admin(), &lenient(), "ftp://x", &["nope".into()])
        else {
            panic!("expected Invalid")
        };
        let fields: Vec<&str> = v.as_slice().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["url", "subscriptions"]);
        create_webhook(&db, &admin(), &lenient(), "https://x.io/a", &["contact_merged".into()]).unwrap();
        let Err(WebhookError::Invalid(v)) =
            create_webhook(&db, &admin(), &lenient(), "https://x.io/a", &["contact_merged".into()])
        else {
            panic!("expected taken")
        };
        assert_eq!(v.as_slice()[0].code, "taken");
    }

    #[test]
    fn a_private_address_is_refused_at_registration_and_at_delivery() {
        let db = MemoryDb::default();
        let resolver = TableResolver::with(&[("hooks.example", &["93.184.215.14"]), ("localhost", &["127.0.0.1"])]);
        let strict = TargetPolicy::new(Arc::clone(&resolver) as Arc<dyn crate::webhook_targets::HostResolver>, false);
        let merged = ["contact_merged".to_owned()];
        for url in ["http://localhost:8080/", "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/"] {
            let Err(WebhookError::Invalid(v)) = create_webhook(&db, &admin(), &strict, url, &merged) else {
                panic!("{url} accepted")
            };
            assert_eq!(v.as_slice()[0].code, "forbidden_address");
        }
        assert!(db.snapshot().webhooks.is_empty(), "nothing stored");

        // Public at registration, private at delivery: the rebinding is caught and nothing is sent.
        create_webhook(&db, &admin(), &strict, "https://hooks.example/in", &merged).unwrap();
        resolver.set("hooks.example", &["10.0.0.7"]);
        db.lock().events.push((AccountId::new(1), "contact.merged".into(), serde_json::json!({"base_contact_id": 5})));
        fan_out(&db, 10).unwrap();
        let receiver = ScriptedReceiver { answers: Mutex::new(Vec::new()), seen: Mutex::new(Vec::new()) };
        let round = deliver_due(&db, &receiver, &strict, &RetryPolicy::default(), 10).unwrap();
        assert_eq!(round, DeliveryRound { claimed: 1, given_up: 1, ..DeliveryRound::default() });
        assert!(receiver.seen.lock().unwrap().is_empty(), "nothing sent to a private address");
        assert_eq!(db.snapshot().deliveries[0].1, "failed", "refused deliveries are given up at once");
    }

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231 test case 2
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

#[cfg(test)]
mod tests_more;
