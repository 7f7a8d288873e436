//! Faults and bounds: the database going away and coming back, a process killed mid-merge or mid-undo, a graceful
//! stop with a merge in flight, tokens kept out of the logs, and the threads a burst of requests may start.

use std::time::{Duration, Instant};

use adapters_postgres::testing::TestDatabase;
use adapters_postgres::{PgDatabase, PoolConfig};
use application::admin;
use application::ports::Role;
use serde_json::json;

use crate::common::{execute, sample, scalar, scrape, Cluster, Server};

struct Seeded {
    account: i64,
    token: String,
    base: i64,
    mergee: i64,
}

/// An account with an administrator, a base with 10 conversations and a mergee with `n` conversations (one
/// message each), seeded set-based.
fn seed(url: &str, n: i64) -> Seeded {
    adapters_postgres::migrations::run_pending(url).unwrap();
    let pg = PgDatabase::new(&PoolConfig::new(url));
    let account = admin::create_account(&pg, "Acme").unwrap().id.get();
    let token = admin::create_user(
        &pg,
        "Admin",
        &format!("a{n}@x.io"),
        Some((domain::AccountId::new(account), Role::Administrator)),
    )
    .unwrap()
    .access_token;
    let inbox =
        scalar(url, &format!("INSERT INTO inboxes (account_id, name) VALUES ({account}, 'Bulk') RETURNING id AS n"));
    let base =
        scalar(url, &format!("INSERT INTO contacts (account_id, name) VALUES ({account}, 'Base') RETURNING id AS n"));
    let mergee = scalar(
        url,
        &format!("INSERT INTO contacts (account_id, email) VALUES ({account}, 'big@x.io') RETURNING id AS n"),
    );
    for (contact, count, offset) in [(base, 10, 0), (mergee, n, 10)] {
        execute(
            url,
            &format!(
                "INSERT INTO conversations (account_id, display_id, inbox_id, contact_id) \
                 SELECT {account}, {offset} + g, {inbox}, {contact} FROM generate_series(1, {count}) g"
            ),
        );
        execute(
            url,
            &format!(
                "INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id) \
                 SELECT account_id, id, 'incoming', 'hi', contact_id FROM conversations WHERE contact_id = {contact}"
            ),
        );
    }
    execute(url, "ANALYZE");
    Seeded { account, token, base, mergee }
}

fn owned(url: &str, contact: i64) -> (i64, i64) {
    (
        scalar(url, &format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {contact}")),
        scalar(url, &format!("SELECT count(*) AS n FROM messages WHERE sender_contact_id = {contact}")),
    )
}

/// Waits until a server session is inside the merge's transaction, moving the children.
fn wait_for_merge_in_flight(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(
        url,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND xact_start IS NOT NULL AND query ILIKE '%conversations_moved%'",
    ) == 0
    {
        assert!(Instant::now() < deadline, "the merge never started");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until a server session is inside the undo's transaction, moving the ledger's rows back.
fn wait_for_undo_in_flight(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(
        url,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND xact_start IS NOT NULL AND query ILIKE '%conversations_back%'",
    ) == 0
    {
        assert!(Instant::now() < deadline, "the undo never started");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until no other session is connected to the database (the killed server's backend has finished).
fn wait_for_no_sessions(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while scalar(
        url,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    ) > 0
    {
        assert!(Instant::now() < deadline, "sessions linger");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn database_down_fails_fast_and_recovers_without_restart() {
    let cluster = Cluster::new();
    let url = cluster.url();
    let s = seed(&url, 3);
    let metrics = format!("127.0.0.1:{}", crate::common::free_port());
    let server = Server::start(&url, &[("COALESCE_POOL_TIMEOUT_MS", "500"), ("COALESCE_METRICS_BIND", &metrics)]);
    let merge = format!("/api/v1/accounts/{}/actions/contact_merge", s.account);
    let self_merge = json!({"base_contact_id": s.base, "mergee_contact_id": s.base});
    assert_eq!(server.call("POST", &merge, &s.token, Some(self_merge.clone())).0, 200);
    assert_eq!(server.status_of("/ready"), Some(200));

    cluster.stop();
    let response = ureq::post(&format!("{}{merge}", server.base))
        .set("api_access_token", &s.token)
        .set("X-Request-Id", "while-down-1")
        .send_json(self_merge.clone());
    let Err(ureq::Error::Status(status, response)) = response else { panic!("not an error status: {response:?}") };
    assert_eq!(status, 503);
    assert_eq!(response.header("x-request-id"), Some("while-down-1"));
    assert_eq!(response.header("Retry-After"), Some("2"), "a 503 says when to retry");
    let body: serde_json::Value = response.into_json().unwrap();
    assert_eq!(body["errors"][0]["code"], "service_unavailable");
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains("while-down-1] the database is unavailable")),
        "the 503's cause is logged with the request's id: {log}"
    );
    // The metrics still answer, and say what happened; nothing stale is shown for the backlog.
    let exposition = scrape(&metrics);
    assert_eq!(sample(&exposition, "coalesce_database_up"), Some(0.0), "{exposition}");
    assert_eq!(sample(&exposition, "coalesce_merges_total{outcome=\"failed\"}"), Some(1.0), "{exposition}");
    assert!(sample(&exposition, "coalesce_db_pool_checkout_timeouts_total").is_some_and(|n| n >= 1.0), "{exposition}");
    assert_eq!(sample(&exposition, "coalesce_outbox_events_pending"), None, "{exposition}");
    assert_eq!(server.status_of("/ready"), Some(503));
    assert_eq!(server.status_of("/health"), Some(200), "the process itself is fine");

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.status_of("/ready") != Some(200) {
        assert!(Instant::now() < deadline, "never ready again");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) =
        server.call("POST", &merge, &s.token, Some(json!({"base_contact_id": s.base, "mergee_contact_id": s.mergee})));
    assert_eq!(status, 200, "the same process serves again: {body}");
    assert_eq!(sample(&scrape(&metrics), "coalesce_database_up"), Some(1.0));
    assert_eq!(owned(&url, s.base), (13, 13));
}

#[test]
fn a_process_killed_mid_merge_leaves_all_or_nothing() {
    let db = TestDatabase::new();
    let url = db.url().to_owned();
    let s = seed(&url, 100_000);
    let before = db_state(&url, &s);
    let mut server = Server::start(&url, &[]);
    let base_url = server.base.clone();
    let (account, token, base, mergee) = (s.account, s.token.clone(), s.base, s.mergee);
    let request = std::thread::spawn(move || {
        ureq::post(&format!("{base_url}/api/v1/accounts/{account}/actions/contact_merge"))
            .set("api_access_token", &token)
            .send_json(json!({"base_contact_id": base, "mergee_contact_id": mergee}))
            .is_ok()
    });
    wait_for_merge_in_flight(&url);
    server.signal("-KILL");
    server.wait_exit(10);
    assert!(!request.join().unwrap(), "the client saw the connection die, not a response");
    wait_for_no_sessions(&url);

    let after = db_state(&url, &s);
    let complete = (0, 1, (100_010, 100_010), (0, 0), scalar(&url, "SELECT count(*) AS n FROM conversations"), 1);
    assert!(after == before || after == complete, "never half a merge: before {before:?}, after {after:?}");

    // A new process serves the same data.
    let again = Server::start(&url, &[]);
    assert_eq!(again.status_of("/ready"), Some(200));
    let (status, _) = again.call("GET", &format!("/api/v1/accounts/{}/contact_merges", s.account), &s.token, None);
    assert_eq!(status, 200);
}

#[test]
fn a_process_killed_mid_undo_leaves_all_or_nothing() {
    let db = TestDatabase::new();
    let url = db.url().to_owned();
    let s = seed(&url, 100_000);
    let server = Server::start(&url, &[]);
    let (status, body) = server.call(
        "POST",
        &format!("/api/v1/accounts/{}/actions/contact_merge", s.account),
        &s.token,
        Some(json!({"base_contact_id": s.base, "mergee_contact_id": s.mergee})),
    );
    assert_eq!(status, 200, "{body}");
    let merge_id = scalar(&url, "SELECT max(id) AS n FROM contact_merges");
    let merged = db_state(&url, &s);
    assert_eq!((merged.2, merged.3), ((100_010, 100_010), (0, 0)));
    drop(server);

    let mut server = Server::start(&url, &[]);
    let base_url = server.base.clone();
    let (account, token) = (s.account, s.token.clone());
    let request = std::thread::spawn(move || {
        ureq::post(&format!("{base_url}/api/v1/accounts/{account}/contact_merges/{merge_id}/undo"))
            .set("api_access_token", &token)
            .call()
            .is_ok()
    });
    wait_for_undo_in_flight(&url);
    server.signal("-KILL");
    server.wait_exit(10);
    assert!(!request.join().unwrap(), "the client saw the connection die, not a response");
    wait_for_no_sessions(&url);

    let after = db_state(&url, &s);
    let undone = (1, 1, (10, 10), (100_000, 100_000), merged.4, merged.5 + 1);
    assert!(after == merged || after == undone, "never half an undo: merged {merged:?}, after {after:?}");
    let undone_at = scalar(&url, &format!("SELECT count(undone_at) AS n FROM contact_merges WHERE id = {merge_id}"));
    assert_eq!(undone_at, i64::from(after == undone), "the record says undone exactly when the rows moved back");

    // A new process finishes the job when the kill came first, and the merge is then undone for good.
    let again = Server::start(&url, &[]);
    let undo = format!("/api/v1/accounts/{}/contact_merges/{merge_id}/undo", s.account);
    let (status, body) = again.call("POST", &undo, &s.token, None);
    if after == merged {
        assert_eq!(status, 200, "{body}");
    } else {
        assert_eq!((status, body["errors"][0]["code"].as_str()), (409, Some("already_undone")), "{body}");
    }
    assert_eq!(db_state(&url, &s), undone);
}

/// (merge records, base exists, base's rows, mergee's rows, all conversations, contacts)
fn db_state(url: &str, s: &Seeded) -> (i64, i64, (i64, i64), (i64, i64), i64, i64) {
    (
        scalar(url, "SELECT count(*) AS n FROM contact_merges"),
        scalar(url, &format!("SELECT count(*) AS n FROM contacts WHERE id = {}", s.base)),
        owned(url, s.base),
        owned(url, s.mergee),
        scalar(url, "SELECT count(*) AS n FROM conversations"),
        scalar(url, "SELECT count(*) AS n FROM contacts"),
    )
}

#[test]
fn sigterm_lets_the_merge_in_flight_finish_and_refuses_new_connections() {
    let db = TestDatabase::new();
    let url = db.url().to_owned();
    let s = seed(&url, 100_000);
    let mut server = Server::start(&url, &[("COALESCE_SHUTDOWN_TIMEOUT", "60")]);
    let base_url = server.base.clone();
    let (account, token, base, mergee) = (s.account, s.token.clone(), s.base, s.mergee);
    let request = std::thread::spawn(move || {
        match ureq::post(&format!("{base_url}/api/v1/accounts/{account}/actions/contact_merge"))
            .timeout(Duration::from_secs(120))
            .set("api_access_token", &token)
            .send_json(json!({"base_contact_id": base, "mergee_contact_id": mergee}))
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("the in-flight request was cut: {e}"),
        }
    });
    wait_for_merge_in_flight(&url);
    server.signal("-TERM");
    std::thread::sleep(Duration::from_millis(100));
    let refused = ureq::get(&format!("{}/health", server.base)).timeout(Duration::from_secs(2)).call();
    assert!(refused.is_err(), "no new connections once stopping");
    assert_eq!(request.join().unwrap(), 200, "the merge in flight finished");
    assert!(server.wait_exit(60).success());
    assert_eq!(owned(&url, s.base), (100_010, 100_010));
}

#[test]
fn tokens_never_reach_the_log() {
    let db = TestDatabase::new();
    let url = db.url().to_owned();
    let s = seed(&url, 1);
    let server = Server::start(&url, &[("RUST_LOG", "debug")]);
    let merge = format!("/api/v1/accounts/{}/actions/contact_merge", s.account);
    server.call("POST", &merge, &s.token, Some(json!({"base_contact_id": s.base, "mergee_contact_id": s.base})));
    server.call("POST", &merge, "some-wrong-token-value", Some(json!({})));
    let log = server.log();
    assert!(log.contains(&merge), "requests are logged: {log}");
    assert!(!log.contains(&s.token), "a valid token is never logged");
    assert!(!log.contains("some-wrong-token-value"), "nor an invalid one");
}

/// Threads of a process, from /proc.
fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(Iterator::count).unwrap_or(0)
}

#[test]
fn database_work_runs_on_no_more_threads_than_the_pool_has_connections() {
    let db = TestDatabase::new();
    let url = db.url().to_owned();
    let s = seed(&url, 1);
    let env = [("COALESCE_POOL_SIZE", "4"), ("COALESCE_WORKERS", "2"), ("COALESCE_WEBHOOK_WORKER", "false")];
    let server = std::sync::Arc::new(Server::start(&url, &env));
    let pid = server.child.id();
    let path = format!("/api/v1/accounts/{}/contacts/{}", s.account, s.base);
    assert_eq!(server.call("GET", &path, &s.token, None).0, 200);
    let before = threads_of(pid);

    // 32 clients at once: with tokio's default blocking pool each would soon have a thread of its own.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (server, stop, path, token) = (server.clone(), stop.clone(), path.clone(), s.token.clone());
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    answers.push(server.call("GET", &path, &token, None).0);
                }
                answers
            })
        })
        .collect();
    let mut most = before;
    let until = Instant::now() + Duration::from_millis(1_500);
    while Instant::now() < until {
        most = most.max(threads_of(pid));
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers: Vec<u16> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    assert!(answers.len() > 32, "the load ran: {} answers", answers.len());
    assert!(answers.iter().all(|s| *s == 200), "every request answered: {answers:?}");
    // Two workers × two blocking threads (their share of 4 connections), one of which the first request started.
    assert!(most <= before + 3, "threads grew from {before} to {most} under 32 concurrent requests");
}
