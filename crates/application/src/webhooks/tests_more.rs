//! More webhook tests against the in-memory ports: who may list and delete webhooks, what registration
//! accepts, and what the delivery worker records for each kind of answer (the exact status, error and backoff).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use domain::{AccountId, UserId};

use super::*;
use crate::memory::MemoryDb;
use crate::webhook_targets::tests::TableResolver;

const ACCOUNT: AccountId = AccountId::new(1);
const MERGED: &str = "contact_merged";

fn admin() -> Member {
    Member { user_id: UserId::new(1), account_id: ACCOUNT, role: Role::Administrator }
}

fn agent() -> Member {
    Member { role: Role::Agent, ..admin() }
}

/// Private addresses allowed, as in development; `hooks.example` resolves, `nowhere.example` does not.
fn lenient() -> TargetPolicy {
    TargetPolicy::new(TableResolver::with(&[("hooks.example", &["127.0.0.1"])]), true)
}

fn events(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

fn create(db: &MemoryDb, member: &Member, url: &str) -> Webhook {
    create_webhook(db, member, &lenient(), url, &events(&[MERGED])).unwrap()
}

/// Answers with the given results in turn (200 once they run out) and records each attempt's number.
struct Receiver {
    answers: Mutex<Vec<Result<u16, String>>>,
    attempts: Mutex<Vec<String>>,
}

impl Receiver {
    fn answering(answers: Vec<Result<u16, String>>) -> Self {
        Self { answers: Mutex::new(answers), attempts: Mutex::new(Vec::new()) }
    }

    fn attempts(&self) -> Vec<String> {
        self.attempts.lock().unwrap().clone()
    }
}

impl WebhookSender for Receiver {
    fn post(
        &self,
        _url: &str,
        _addresses: &[SocketAddr],
        headers: &[(&str, String)],
        _body: &[u8],
    ) -> Result<u16, String> {
        let attempt = headers.iter().find(|(k, _)| *k == "X-Coalesce-Delivery-Attempt").map(|(_, v)| v.clone());
        self.attempts.lock().unwrap().push(attempt.unwrap_or_default());
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            Ok(200)
        } else {
            answers.remove(0)
        }
    }
}

/// A database with one webhook at `url` and one merge event fanned out into one pending delivery.
fn one_delivery(url: &str) -> MemoryDb {
    let db = MemoryDb::default();
    create(&db, &admin(), url);
    db.lock().events.push((ACCOUNT, "contact.merged".into(), serde_json::json!({"base_contact_id": 5})));
    assert_eq!(fan_out(&db, 10).unwrap(), 1);
    db
}

/// The outcomes recorded so far, in order.
fn outcomes(db: &MemoryDb) -> Vec<DeliveryOutcome> {
    db.snapshot().delivery_outcomes.into_iter().map(|(_, o)| o).collect()
}

fn retry(error: &str, status: Option<u16>, secs: u64) -> DeliveryOutcome {
    DeliveryOutcome::Retry { error: error.into(), status, next_attempt_in: Duration::from_secs(secs) }
}

#[test]
fn administrators_list_their_accounts_webhooks_oldest_first() {
    let db = MemoryDb::default();
    let first = create(&db, &admin(), "https://hooks.example/a");
    let second = create(&db, &admin(), "https://hooks.example/b");
    let elsewhere = Member { account_id: AccountId::new(2), ..admin() };
    create(&db, &elsewhere, "https://hooks.example/a");

    let listed = list_webhooks(&db, &admin()).unwrap();
    assert_eq!(listed, [first, second]);
    assert_eq!(listed[0].url, "https://hooks.example/a");
    assert_eq!(listed[0].subscriptions, [MERGED]);
    assert_eq!(list_webhooks(&db, &elsewhere).unwrap().len(), 1);
    assert_eq!(list_webhooks(&db, &agent()), Err(WebhookError::AdministratorRequired));
}

#[test]
fn administrators_delete_webhooks_and_they_are_gone() {
    let db = MemoryDb::default();
    let kept = create(&db, &admin(), "https://hooks.example/kept");
    let doomed = create(&db, &admin(), "https://hooks.example/doomed");

    assert_eq!(delete_webhook(&db, &agent(), doomed.id), Err(WebhookError::AdministratorRequired));
    assert_eq!(list_webhooks(&db, &admin()).unwrap().len(), 2, "an agent deletes nothing");

    let elsewhere = Member { account_id: AccountId::new(2), ..admin() };
    assert_eq!(delete_webhook(&db, &elsewhere, doomed.id), Err(WebhookError::NotFound), "another account's");
    assert_eq!(delete_webhook(&db, &admin(), 999), Err(WebhookError::NotFound));

    assert_eq!(delete_webhook(&db, &admin(), doomed.id), Ok(()));
    assert_eq!(list_webhooks(&db, &admin()).unwrap(), [kept]);
    assert_eq!(delete_webhook(&db, &admin(), doomed.id), Err(WebhookError::NotFound), "deleted once only");
}

#[test]
fn registration_needs_known_events_and_keeps_each_once_in_order() {
    let db = MemoryDb::default();
    let all = events(&EVENTS);
    let webhook = create_webhook(&db, &admin(), &lenient(), "  https://hooks.example/all  ", &all).unwrap();
    assert_eq!(webhook.url, "https://hooks.example/all", "the URL is stored trimmed");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(webhook.subscriptions, sorted, "every event we send can be subscribed to, kept in name order");
    assert_eq!(webhook.secret.len(), 64, "a 32-byte secret, in hex");
    assert!(webhook.secret.chars().all(|c| c.is_ascii_hexdigit()));

    let twice = events(&[MERGED, "contact_created", MERGED]);
    let webhook = create_webhook(&db, &admin(), &lenient(), "https://hooks.example/twice", &twice).unwrap();
    assert_eq!(webhook.subscriptions, ["contact_created", MERGED]);

    let violations = |subscriptions: &[&str]| match NewWebhook::parse("https://hooks.example/", &events(subscriptions))
    {
        Err(WebhookError::Invalid(v)) => {
            v.as_slice().iter().map(|f| (f.field.clone(), f.code.clone())).collect::<Vec<_>>()
        }
        other => panic!("{subscriptions:?} accepted: {other:?}"),
    };
    let on_subscriptions = |code: &str| ("subscriptions".to_owned(), code.to_owned());
    assert_eq!(violations(&[]), [on_subscriptions("blank")]);
    assert_eq!(violations(&["contact.merged"]), [on_subscriptions("invalid_value")]);
    assert_eq!(
        violations(&[MERGED, "nope", "CONTACT_MERGED"]),
        [on_subscriptions("invalid_value"), on_subscriptions("invalid_value")],
        "one violation per unknown event, none for the known one"
    );
    assert!(NewWebhook::parse("https://hooks.example/", &events(&[MERGED])).is_ok());
    assert!(matches!(NewWebhook::parse("ftp://hooks.example/", &events(&[MERGED])), Err(WebhookError::Invalid(_))));
}

#[test]
fn a_refused_registration_stores_nothing_and_a_taken_url_is_a_violation_on_url() {
    let db = MemoryDb::default();
    assert!(create_webhook(&db, &admin(), &lenient(), "https://hooks.example/", &[]).is_err());
    assert!(db.snapshot().webhooks.is_empty());
    create(&db, &admin(), "https://hooks.example/");
    let Err(WebhookError::Invalid(v)) =
        create_webhook(&db, &admin(), &lenient(), "https://hooks.example/", &events(&["contact_created"]))
    else {
        panic!("expected taken")
    };
    assert_eq!((v.as_slice()[0].field.as_str(), v.as_slice()[0].code.as_str()), ("url", "taken"));
    assert_eq!(db.snapshot().webhooks.len(), 1);
}

#[test]
fn store_errors_become_webhook_errors() {
    assert_eq!(WebhookError::from(StoreError::Unavailable("down".into())), WebhookError::Unavailable);
    assert!(matches!(
        WebhookError::from(StoreError::MissingReference { entity: "webhook" }),
        WebhookError::Internal(text) if !text.is_empty()
    ));
    assert_eq!(WebhookError::from(crate::idempotency::KeyReused), WebhookError::IdempotencyKeyReused);
}

#[test]
fn a_2xx_answer_is_delivered_with_the_status_the_receiver_gave() {
    for status in [200, 201, 204, 299] {
        let db = one_delivery("http://hooks.example/in");
        let receiver = Receiver::answering(vec![Ok(status)]);
        let round = deliver_due(&db, &receiver, &lenient(), &RetryPolicy::default(), 10).unwrap();
        assert_eq!(round, DeliveryRound { claimed: 1, delivered: 1, ..DeliveryRound::default() });
        assert_eq!(outcomes(&db), [DeliveryOutcome::Delivered { status }], "{status}");
        assert_eq!(db.snapshot().deliveries[0].1, "delivered");
        assert_eq!(receiver.attempts(), ["1"]);
        assert_eq!(
            deliver_due(&db, &receiver, &lenient(), &RetryPolicy::default(), 10).unwrap().claimed,
            0,
            "sent once"
        );
    }
}

#[test]
fn any_other_answer_is_retried_with_doubling_waits_then_given_up() {
    let db = one_delivery("http://hooks.example/in");
    let receiver = Receiver::answering(vec![Ok(199), Ok(300), Err("connection refused".into()), Ok(404)]);
    let policy =
        RetryPolicy { max_attempts: 4, base_backoff: Duration::from_secs(10), max_backoff: Duration::from_secs(30) };
    for _ in 0..6 {
        deliver_due(&db, &receiver, &lenient(), &policy, 10).unwrap();
    }
    assert_eq!(receiver.attempts(), ["1", "2", "3", "4"], "each attempt says its number; none after the last");
    assert_eq!(
        outcomes(&db),
        [
            retry("HTTP 199", Some(199), 10),
            retry("HTTP 300", Some(300), 20),
            retry("connection refused", None, 30),
            DeliveryOutcome::Failed { error: "HTTP 404".into(), status: Some(404) },
        ]
    );
    assert_eq!(db.snapshot().deliveries[0].1, "failed");
}

#[test]
fn a_name_that_does_not_resolve_is_retried_without_sending() {
    let db = one_delivery("http://nowhere.example/in");
    let receiver = Receiver::answering(Vec::new());
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    assert_eq!(deliver_due(&db, &receiver, &lenient(), &policy, 10).unwrap().claimed, 1);
    assert_eq!(deliver_due(&db, &receiver, &lenient(), &policy, 10).unwrap().claimed, 1);
    assert!(receiver.attempts().is_empty(), "nothing sent");
    let unresolved = "could not resolve the host name";
    assert_eq!(
        outcomes(&db),
        [retry(unresolved, None, 1), DeliveryOutcome::Failed { error: unresolved.into(), status: None }]
    );
}

#[test]
fn a_batch_claims_at_most_its_size() {
    let db = MemoryDb::default();
    create(&db, &admin(), "http://hooks.example/in");
    for id in 0..3 {
        db.lock().events.push((ACCOUNT, "contact.merged".into(), serde_json::json!({ "base_contact_id": id })));
    }
    assert_eq!(fan_out(&db, 2).unwrap(), 2);
    assert_eq!(fan_out(&db, 2).unwrap(), 1);
    assert_eq!(fan_out(&db, 2).unwrap(), 0);
    let receiver = Receiver::answering(Vec::new());
    assert_eq!(deliver_due(&db, &receiver, &lenient(), &RetryPolicy::default(), 2).unwrap().claimed, 2);
    assert_eq!(deliver_due(&db, &receiver, &lenient(), &RetryPolicy::default(), 2).unwrap().claimed, 1);
    assert_eq!(deliver_due(&db, &receiver, &lenient(), &RetryPolicy::default(), 2).unwrap().claimed, 0);
    assert_eq!(receiver.attempts().len(), 3);
}

#[test]
fn the_default_policy_waits_a_second_then_doubles_up_to_an_hour_over_eight_attempts() {
    let p = RetryPolicy::default();
    assert_eq!(p.max_attempts, 8);
    let waits: Vec<u64> = [0, 1, 2, 3, 7, 12, 13, 31, 32, u32::MAX].iter().map(|&n| p.backoff(n).as_secs()).collect();
    assert_eq!(waits, [1, 1, 2, 4, 64, 2048, 3600, 3600, 3600, 3600]);
}

#[test]
fn the_body_names_the_event_first_and_the_payload_cannot_override_it() {
    let d = DueDelivery {
        id: 1,
        event_id: 42,
        event_type: MERGED.into(),
        account_id: ACCOUNT,
        payload: serde_json::json!({"event": "forged", "account_id": 99, "base_contact_id": 5}),
        attempts: 0,
        url: "http://hooks.example/".into(),
        secret: "s".into(),
        created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
    };
    let body: serde_json::Value = serde_json::from_slice(&delivery_body(&d)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "event": MERGED, "event_id": 42, "account_id": 1, "created_at": 1_700_000_000, "base_contact_id": 5
        })
    );
    let not_an_object = DueDelivery { payload: serde_json::json!([1, 2]), ..d };
    let body: serde_json::Value = serde_json::from_slice(&delivery_body(&not_an_object)).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 4, "only the event's own fields");
}
