//! Webhooks end to end against the real binary: subscription management, signed delivery to a local receiver,
//! retries, exactly-once delivery across two server processes, no event for a rolled-back merge, and no
//! delivery at all to a private address unless the deployment allows them.
//!
//! The local receiver listens on loopback, which production refuses: the tests that deliver to it start the
//! server with `COALESCE_WEBHOOK_ALLOW_PRIVATE=true`, as `make run` does for development.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters_postgres::testing::TestDatabase;
use application::admin;
use application::ports::Role;
use application::webhooks::{signature, REFUSED_ERROR};
use serde_json::{json, Value};

use crate::common::{self, Server};

/// A delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local HTTP receiver that answers with scripted statuses (200 once the script is used up).
pub(crate) struct Receiver {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) fn start(script: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, script) = (Arc::clone(&seen), Arc::new(Mutex::new(script)));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, script) = (Arc::clone(&log), Arc::clone(&script));
                std::thread::spawn(move || serve_one(stream, &log, &script));
            }
        });
        Self { url, seen }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (or fails after `secs`).
    fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "expected {n} deliveries, got {}", got.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve_one(stream: TcpStream, log: &Mutex<Vec<Received>>, script: &Mutex<Vec<u16>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end().to_owned();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length: usize =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    log.lock().unwrap().push(Received { headers, body });
    let status = {
        let mut s = script.lock().unwrap();
        if s.is_empty() {
            200
        } else {
            s.remove(0)
        }
    };
    let mut stream = stream;
    let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// A server that lets webhooks reach the local receiver.
fn start_allowing_private(database_url: &str) -> Server {
    Server::start(database_url, &[("COALESCE_WEBHOOK_ALLOW_PRIVATE", "true")])
}

/// The same with its metrics endpoint on: the server and the endpoint's address.
fn start_with_metrics(database_url: &str) -> (Server, String) {
    let metrics = format!("127.0.0.1:{}", common::free_port());
    let env = [("COALESCE_WEBHOOK_ALLOW_PRIVATE", "true"), ("COALESCE_METRICS_BIND", metrics.as_str())];
    (Server::start(database_url, &env), metrics)
}

/// The delivery counters and the pending gauge, once the counters reach `total` attempts (they are counted
/// after the round's transaction commits, a moment after the receiver saw the last attempt).
fn delivery_metrics(metrics: &str, total: f64) -> [Option<f64>; 4] {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let exposition = common::scrape(metrics);
        let counts = ["delivered", "retrying", "given_up"].map(|outcome| {
            common::sample(&exposition, &format!("coalesce_webhook_deliveries_total{{outcome=\"{outcome}\"}}"))
        });
        if counts.iter().flatten().sum::<f64>() >= total {
            return [
                counts[0],
                counts[1],
                counts[2],
                common::sample(&exposition, "coalesce_webhook_deliveries_pending"),
            ];
        }
        assert!(Instant::now() < deadline, "deliveries never counted:\n{exposition}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scalar(db: &TestDatabase, query: &str) -> i64 {
    common::scalar(db.url(), query)
}

struct Setup {
    db: TestDatabase,
    account: i64,
    admin_token: String,
    agent_token: String,
}

fn setup() -> Setup {
    let db = TestDatabase::new();
    let pg = db.pool(2);
    let account = admin::create_account(&pg, "Acme").unwrap().id;
    let admin_token = admin::create_user(&pg, "Admin", "admin@x.io", Some((account, Role::Administrator))).unwrap();
    let agent_token = admin::create_user(&pg, "Agent", "agent@x.io", Some((account, Role::Agent))).unwrap();
    Setup { db, account: account.get(), admin_token: admin_token.access_token, agent_token: agent_token.access_token }
}

fn contact(db: &TestDatabase, account: i64, email: &str) -> i64 {
    scalar(db, &format!("INSERT INTO contacts (account_id, email) VALUES ({account}, '{email}') RETURNING id AS n"))
}

#[test]
fn subscriptions_are_managed_by_administrators() {
    let s = setup();
    let server = Server::start(s.db.url(), &[]);
    let path = format!("/api/v1/accounts/{}/webhooks", s.account);
    let body = json!({"url": "https://crm.example.com/hook", "subscriptions": ["contact_merged", "contact_created"]});

    let (status, denied) = server.call("POST", &path, &s.agent_token, Some(body.clone()));
    assert_eq!((status, denied["errors"][0]["code"].clone()), (401, json!("administrator_required")));

    let (status, created) = server.call("POST", &path, &s.admin_token, Some(body.clone()));
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["url"], "https://crm.example.com/hook");
    assert_eq!(created["subscriptions"], json!(["contact_created", "contact_merged"]));
    assert_eq!(created["secret"].as_str().unwrap().len(), 64);
    assert_eq!(created["status"]["delivered"], 0);

    let (status, dup) = server.call("POST", &path, &s.admin_token, Some(body));
    assert_eq!((status, dup["errors"][0]["code"].clone()), (422, json!("taken")));
    let (status, bad) =
        server.call("POST", &path, &s.admin_token, Some(json!({"url": "ftp://x", "subscriptions": ["nope"]})));
    assert_eq!(status, 422);
    assert_eq!(bad["errors"].as_array().unwrap().len(), 2);
    let (status, _) = server.call("POST", &path, &s.admin_token, Some(json!({"url": "https://x.io"})));
    assert_eq!(status, 400, "subscriptions are required");

    let (status, list) = server.call("GET", &path, &s.admin_token, None);
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], created["id"]);

    let id = created["id"].as_i64().unwrap();
    let (status, _) = server.call("DELETE", &format!("{path}/{id}"), &s.admin_token, None);
    assert_eq!(status, 200);
    let (status, gone) = server.call("DELETE", &format!("{path}/{id}"), &s.admin_token, None);
    assert_eq!((status, gone["errors"][0]["code"].clone()), (404, json!("not_found")));
    let (_, list) = server.call("GET", &path, &s.admin_token, None);
    assert_eq!(list, json!([]));
}

#[test]
fn merges_are_delivered_signed_and_retried_until_the_receiver_answers() {
    let s = setup();
    let (server, metrics) = start_with_metrics(s.db.url());
    // The receiver fails twice, then accepts.
    let receiver = Receiver::start(vec![500, 503]);
    let path = format!("/api/v1/accounts/{}/webhooks", s.account);
    let (_, webhook) = server.call(
        "POST",
        &path,
        &s.admin_token,
        Some(json!({"url": receiver.url, "subscriptions": ["contact_merged"]})),
    );
    let secret = webhook["secret"].as_str().unwrap().to_owned();

    let base = contact(&s.db, s.account, "base@x.io");
    let mergee = contact(&s.db, s.account, "mergee@x.io");
    let (status, _) = server.call(
        "POST",
        &format!("/api/v1/accounts/{}/actions/contact_merge", s.account),
        &s.agent_token,
        Some(json!({"base_contact_id": base, "mergee_contact_id": mergee})),
    );
    assert_eq!(status, 200);

    let attempts = receiver.wait_for(3, 20);
    for (i, delivery) in attempts.iter().enumerate() {
        assert_eq!(
            delivery.header("X-Coalesce-Signature").unwrap(),
            format!("sha256={}", signature(&secret, &delivery.body)),
            "every attempt is signed over its body"
        );
        assert_eq!(delivery.header("X-Coalesce-Event"), Some("contact_merged"));
        assert_eq!(delivery.header("X-Coalesce-Delivery-Attempt"), Some((i + 1).to_string().as_str()));
        assert_eq!(delivery.body, attempts[0].body, "a retry sends the same event");
    }
    let event = attempts[0].json();
    assert_eq!(event["event"], "contact_merged");
    assert_eq!(event["base_contact_id"], base);
    assert_eq!(event["mergee_contact_id"], mergee);
    assert_eq!(event["mergee"]["email"], "mergee@x.io", "the merge record's mergee snapshot");
    assert!(event["moved"].is_object() && event["merge_id"].is_i64());
    assert_eq!(attempts[0].header("X-Coalesce-Event-Id").unwrap(), event["event_id"].to_string());

    // The webhook's status shows the delivery once it is recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = server.call("GET", &path, &s.admin_token, None);
        if list[0]["status"]["delivered"] == 1 {
            assert_eq!(list[0]["status"]["pending"], 0);
            assert_eq!(list[0]["status"]["failed"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "delivery never recorded: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(scalar(&s.db, "SELECT attempts::bigint AS n FROM webhook_deliveries"), 3);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.received().len(), 3, "nothing more after the success");
    assert_eq!(delivery_metrics(&metrics, 3.0), [Some(1.0), Some(2.0), None, Some(0.0)]);
}

#[test]
fn a_receiver_that_never_answers_well_is_given_up_after_the_last_attempt() {
    let s = setup();
    let (server, metrics) = start_with_metrics(s.db.url());
    let receiver = Receiver::start(vec![500; 10]);
    let path = format!("/api/v1/accounts/{}/webhooks", s.account);
    server.call("POST", &path, &s.admin_token, Some(json!({"url": receiver.url, "subscriptions": ["contact_merged"]})));
    let a = contact(&s.db, s.account, "a@x.io");
    let b = contact(&s.db, s.account, "b@x.io");
    server.call(
        "POST",
        &format!("/api/v1/accounts/{}/actions/contact_merge", s.account),
        &s.admin_token,
        Some(json!({"base_contact_id": a, "mergee_contact_id": b})),
    );
    receiver.wait_for(4, 20);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = server.call("GET", &path, &s.admin_token, None);
        if list[0]["status"]["failed"] == 1 {
            assert_eq!(list[0]["status"]["last_error"], "HTTP 500");
            break;
        }
        assert!(Instant::now() < deadline, "never given up: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(receiver.received().len(), 4, "max attempts is 4");
    assert_eq!(delivery_metrics(&metrics, 4.0), [None, Some(3.0), Some(1.0), Some(0.0)]);
}

#[test]
fn two_processes_deliver_each_event_exactly_once() {
    let s = setup();
    let receiver = Receiver::start(Vec::new());
    let first = start_allowing_private(s.db.url());
    let second = start_allowing_private(s.db.url());
    let path = format!("/api/v1/accounts/{}/webhooks", s.account);
    first.call("POST", &path, &s.admin_token, Some(json!({"url": receiver.url, "subscriptions": ["contact_merged"]})));

    // 20 merges through both processes at once.
    let pairs: Vec<(i64, i64)> = (0..20)
        .map(|i| (contact(&s.db, s.account, &format!("b{i}@x.io")), contact(&s.db, s.account, &format!("m{i}@x.io"))))
        .collect();
    let servers = [&first, &second];
    std::thread::scope(|scope| {
        for (i, (base, mergee)) in pairs.iter().enumerate() {
            let server = servers[i % 2];
            let token = &s.admin_token;
            let account = s.account;
            scope.spawn(move || {
                let (status, _) = server.call(
                    "POST",
                    &format!("/api/v1/accounts/{account}/actions/contact_merge"),
                    token,
                    Some(json!({"base_contact_id": base, "mergee_contact_id": mergee})),
                );
                assert_eq!(status, 200);
            });
        }
    });
    let got = receiver.wait_for(20, 30);
    std::thread::sleep(Duration::from_millis(800));
    let got = if receiver.received().len() > got.len() { receiver.received() } else { got };
    let mut ids: Vec<String> = got.iter().map(|r| r.header("X-Coalesce-Event-Id").unwrap().to_owned()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, 20, "20 deliveries, no duplicates");
    assert_eq!(ids.len(), 20, "each event exactly once");
    let mut mergees: Vec<i64> = got.iter().map(|r| r.json()["mergee_contact_id"].as_i64().unwrap()).collect();
    mergees.sort_unstable();
    let mut expected: Vec<i64> = pairs.iter().map(|p| p.1).collect();
    expected.sort_unstable();
    assert_eq!(mergees, expected);
}

#[test]
fn a_rolled_back_merge_sends_nothing() {
    let s = setup();
    let server = start_allowing_private(s.db.url());
    let receiver = Receiver::start(Vec::new());
    let path = format!("/api/v1/accounts/{}/webhooks", s.account);
    server.call("POST", &path, &s.admin_token, Some(json!({"url": receiver.url, "subscriptions": ["contact_merged"]})));
    // The merged phone number is not E.164: the merge is refused and rolled back.
    let base = contact(&s.db, s.account, "base@x.io");
    let bad = scalar(
        &s.db,
        &format!("INSERT INTO contacts (account_id, phone_number) VALUES ({}, '0049 30') RETURNING id AS n", s.account),
    );
    let merge = format!("/api/v1/accounts/{}/actions/contact_merge", s.account);
    let (status, _) =
        server.call("POST", &merge, &s.admin_token, Some(json!({"base_contact_id": base, "mergee_contact_id": bad})));
    assert_eq!(status, 422);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(receiver.received().is_empty(), "no event for a rolled-back merge");
    assert_eq!(scalar(&s.db, "SELECT count(*) AS n FROM outbox_events"), 0);

    let good = contact(&s.db, s.account, "good@x.io");
    let (status, _) =
        server.call("POST", &merge, &s.admin_token, Some(json!({"base_contact_id": base, "mergee_contact_id": good})));
    assert_eq!(status, 200);
    let got = receiver.wait_for(1, 10);
    assert_eq!(got[0].json()["mergee_contact_id"], good);
}

#[test]
fn a_delivery_to_a_private_address_is_refused_when_it_is_due_and_nothing_is_sent() {
    let s = setup();
    // Production's rule: private addresses are not allowed.
    let server = Server::start(s.db.url(), &[]);
    let receiver = Receiver::start(Vec::new());
    let port = receiver.url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/hook").to_owned();
    let path = format!("/api/v1/accounts/{}/webhooks", s.account);
    let (status, refused) = server.call(
        "POST",
        &path,
        &s.admin_token,
        Some(json!({"url": receiver.url, "subscriptions": ["contact_merged"]})),
    );
    assert_eq!((status, refused["errors"][0]["code"].clone()), (422, json!("forbidden_address")));

    // Registered under names that do not resolve, then pointed at the receiver behind the server's back (as a
    // name whose DNS answer changes would be): one row names `localhost`, one the loopback address itself.
    let mut ids = Vec::new();
    for (name, target) in
        [("a", format!("http://localhost:{port}/hook")), ("b", format!("http://127.0.0.1:{port}/hook"))]
    {
        let url = format!("https://hooks-{name}.example.invalid/in");
        let (status, created) =
            server.call("POST", &path, &s.admin_token, Some(json!({"url": url, "subscriptions": ["contact_merged"]})));
        assert_eq!(status, 200, "{created}");
        let id = created["id"].as_i64().unwrap();
        common::execute(s.db.url(), &format!("UPDATE webhooks SET url = '{target}' WHERE id = {id}"));
        ids.push(id);
    }
    let base = contact(&s.db, s.account, "base@x.io");
    let mergee = contact(&s.db, s.account, "mergee@x.io");
    let (status, _) = server.call(
        "POST",
        &format!("/api/v1/accounts/{}/actions/contact_merge", s.account),
        &s.admin_token,
        Some(json!({"base_contact_id": base, "mergee_contact_id": mergee})),
    );
    assert_eq!(status, 200);

    // Both deliveries are refused at once (no retries) and say so, without naming the target.
    let deadline = Instant::now() + Duration::from_secs(15);
    let list = loop {
        let (_, list) = server.call("GET", &path, &s.admin_token, None);
        if list.as_array().unwrap().iter().all(|w| w["status"]["failed"] == 1) {
            break list;
        }
        assert!(Instant::now() < deadline, "deliveries never refused: {list}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for webhook in list.as_array().unwrap() {
        assert!(ids.contains(&webhook["id"].as_i64().unwrap()));
        assert_eq!(webhook["status"]["last_error"], REFUSED_ERROR, "{webhook}");
        assert_eq!(
            (webhook["status"]["delivered"].clone(), webhook["status"]["pending"].clone()),
            (json!(0), json!(0))
        );
    }
    assert!(!REFUSED_ERROR.contains("127.0.0.1") && !REFUSED_ERROR.contains(&port));
    assert_eq!(scalar(&s.db, "SELECT max(attempts)::bigint AS n FROM webhook_deliveries"), 1, "given up at once");
    std::thread::sleep(Duration::from_millis(500));
    assert!(receiver.received().is_empty(), "the receiver got nothing");
}
