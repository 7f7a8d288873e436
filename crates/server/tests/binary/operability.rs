//! Operating the real binary: the Prometheus metrics endpoint (counters and labels after a merge, an undo, 404s
//! and a 429; route labels that are patterns, never ids; an exposition `promtool` accepts; never on the API's
//! port), request ids (kept, or generated, on every response and log line) and JSON logs (one object per line,
//! no token).

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use adapters_postgres::testing::TestDatabase;
use adapters_postgres::{PgDatabase, PoolConfig};
use application::admin;
use application::ports::Role;
use serde_json::{json, Value};

use crate::common::{free_port, sample, scrape, Server};

/// An account and an administrator's token on a migrated database.
fn account(url: &str) -> (i64, String) {
    adapters_postgres::migrations::run_pending(url).unwrap();
    let pg = PgDatabase::new(&PoolConfig::new(url));
    let account = admin::create_account(&pg, "Ops").unwrap().id;
    let token = admin::create_user(&pg, "Op", "op@x.io", Some((account, Role::Administrator))).unwrap().access_token;
    (account.get(), token)
}

/// A request with optional token, request id and body: status, headers (lower-cased names), JSON body.
fn request(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    request_id: Option<&str>,
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, Value) {
    let mut req = ureq::request(method, &format!("{base}{path}")).timeout(Duration::from_secs(60));
    if let Some(token) = token {
        req = req.set("api_access_token", token);
    }
    if let Some(id) = request_id {
        req = req.set("X-Request-Id", id);
    }
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| (n.to_ascii_lowercase(), response.header(&n).unwrap_or_default().to_owned()))
        .collect();
    (response.status(), headers, response.into_json().unwrap_or(Value::Null))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A UUID v4 as text (8-4-4-4-12 lower-case hex digits, version 4).
fn is_uuid_v4(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        && groups[2].starts_with('4')
}

/// Every value of the label `route` in an exposition.
fn route_labels(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect()
}

/// `promtool check metrics` on an exposition: Prometheus's own parser and linter. promtool comes from the
/// project's script, which installs Debian's package when it is missing; a machine where that fails fails here.
fn promtool_check(exposition: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/promtool.sh");
    let found = Command::new("bash").arg(script).stderr(Stdio::inherit()).output().unwrap();
    assert!(found.status.success(), "promtool is missing and scripts/promtool.sh could not install it");
    let promtool = String::from_utf8(found.stdout).unwrap().trim().to_owned();
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_count_merges_undos_404s_and_429s_by_route_pattern() {
    let db = TestDatabase::new();
    let (account, token) = account(db.url());
    let metrics = format!("127.0.0.1:{}", free_port());
    // one request a minute without a known token: the token's first request takes it, so anonymous ones are 429
    let env = [("COALESCE_METRICS_BIND", metrics.as_str()), ("COALESCE_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE", "1")];
    let server = Server::start(db.url(), &env);
    let a = format!("/api/v1/accounts/{account}");
    let create = |name: &str| {
        let (status, _, body) =
            request(&server.base, "POST", &format!("{a}/contacts"), Some(&token), None, Some(json!({"name": name})));
        assert_eq!(status, 200, "{body}");
        body["payload"]["contact"]["id"].as_i64().unwrap()
    };
    let (base, mergee) = (create("Base"), create("Mergee"));
    let labels = format!("{a}/contacts/{mergee}/labels");
    assert_eq!(request(&server.base, "POST", &labels, Some(&token), None, Some(json!({"labels": ["vip"]}))).0, 200);
    let merge = json!({"base_contact_id": base, "mergee_contact_id": mergee});
    let merged = request(&server.base, "POST", &format!("{a}/actions/contact_merge"), Some(&token), None, Some(merge));
    assert_eq!(merged.0, 200, "{}", merged.2);
    let merge_path = format!("{}{a}/actions/contact_merge", server.base);
    for _ in 0..2 {
        let replayable = ureq::post(&merge_path)
            .set("api_access_token", &token)
            .set("Idempotency-Key", "ops-1")
            .send_json(json!({"base_contact_id": base, "mergee_contact_id": base}));
        assert_eq!(replayable.unwrap().status(), 200, "the same id twice changes nothing");
    }
    let bad_body =
        request(&server.base, "POST", &format!("{a}/actions/contact_merge"), Some(&token), None, Some(json!({})));
    assert_eq!(bad_body.0, 400);
    let missing_merge = json!({"base_contact_id": base, "mergee_contact_id": 987_654});
    let (status, _, _) =
        request(&server.base, "POST", &format!("{a}/actions/contact_merge"), Some(&token), None, Some(missing_merge));
    assert_eq!(status, 404);
    let history = request(&server.base, "GET", &format!("{a}/contact_merges"), Some(&token), None, None).2;
    let merge_id = history["payload"][0]["id"].as_i64().unwrap();
    let undo = format!("{a}/contact_merges/{merge_id}/undo");
    assert_eq!(request(&server.base, "POST", &undo, Some(&token), None, None).0, 200);
    assert_eq!(request(&server.base, "POST", &undo, Some(&token), None, None).0, 409);
    let (one, two, three) = (create("One"), create("Two"), create("Three"));
    let many = format!("{a}/actions/contact_merge_many");
    let body = json!({"base_contact_id": one, "mergee_contact_ids": [two, three]});
    assert_eq!(request(&server.base, "POST", &many, Some(&token), None, Some(body)).0, 200);
    let body = json!({"base_contact_id": one, "mergee_contact_ids": [two]});
    assert_eq!(request(&server.base, "POST", &many, Some(&token), None, Some(body)).0, 404);
    assert_eq!(request(&server.base, "GET", &format!("{a}/contacts/987654"), Some(&token), None, None).0, 404);
    let (status, headers, _) = request(&server.base, "GET", "/no/such/route/123456", Some(&token), None, None);
    assert_eq!(status, 404);
    assert!(header(&headers, "x-request-id").is_some(), "a 404 route has a request id");
    let (status, headers, body) = request(&server.base, "GET", &format!("{a}/contacts"), None, None, None);
    assert_eq!(status, 429, "{body}");
    assert!(header(&headers, "x-request-id").is_some(), "a 429 has a request id");
    assert_eq!(request(&server.base, "GET", "/metrics", None, None, None).0, 429, "anonymous and over budget");
    let public = request(&server.base, "GET", "/metrics", Some(&token), None, None);
    assert_eq!(public.0, 404, "the API's port never serves metrics: {}", public.2);

    let exposition = scrape(&metrics);
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&exposition, series), Some(value), "{series} in\n{exposition}");
    };
    let merge_route = "/api/v1/accounts/{account_id}/actions/contact_merge";
    expect(&format!("http_requests_total{{method=\"POST\",route=\"{merge_route}\",status=\"200\"}}"), 3.0);
    expect(&format!("http_requests_total{{method=\"POST\",route=\"{merge_route}\",status=\"400\"}}"), 1.0);
    expect(&format!("http_requests_total{{method=\"POST\",route=\"{merge_route}\",status=\"404\"}}"), 1.0);
    expect(&format!("http_request_duration_seconds_count{{method=\"POST\",route=\"{merge_route}\"}}"), 5.0);
    expect(
        &format!("http_request_duration_seconds_bucket{{method=\"POST\",route=\"{merge_route}\",le=\"+Inf\"}}"),
        5.0,
    );
    expect(
        "http_requests_total{method=\"GET\",route=\"/api/v1/accounts/{account_id}/contacts/{id}\",status=\"404\"}",
        1.0,
    );
    expect("http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}", 2.0);
    expect("http_requests_total{method=\"GET\",route=\"unmatched\",status=\"429\"}", 1.0);
    expect("http_requests_total{method=\"GET\",route=\"/api/v1/accounts/{account_id}/contacts\",status=\"429\"}", 1.0);
    expect("coalesce_rate_limited_requests_total{budget=\"address\"}", 2.0);
    expect("coalesce_merges_total{outcome=\"merged\"}", 1.0);
    expect("coalesce_merges_total{outcome=\"not_found\"}", 1.0);
    expect("coalesce_merges_total{outcome=\"unchanged\"}", 1.0);
    expect("coalesce_merges_total{outcome=\"replayed\"}", 1.0);
    expect("coalesce_merges_total{outcome=\"rejected\"}", 1.0);
    expect("coalesce_merge_rows_moved_total{table=\"labels\"}", 1.0);
    expect("coalesce_merge_rows_moved_total{table=\"conversations\"}", 0.0);
    // the duplicates worker refreshed the contacts created above (it runs every 200 ms: give it a few seconds)
    let refreshed = "coalesce_duplicate_refreshes_total{outcome=\"refreshed\"}";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sample(&scrape(&metrics), refreshed).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(sample(&scrape(&metrics), refreshed).is_some_and(|n| n >= 1.0), "{refreshed} missing");
    expect("coalesce_merge_many_total{outcome=\"merged\"}", 1.0);
    expect("coalesce_merge_many_total{outcome=\"not_found\"}", 1.0);
    expect("coalesce_merge_many_mergees_total", 2.0);
    expect("coalesce_merge_undos_total{outcome=\"undone\"}", 1.0);
    expect("coalesce_merge_undos_total{outcome=\"already_undone\"}", 1.0);
    expect("coalesce_merge_undo_rows_moved_back_total{table=\"labels\"}", 1.0);
    expect("coalesce_db_pool_max_connections", 16.0);
    expect("coalesce_database_up", 1.0);
    for series in [
        "coalesce_db_pool_connections{state=\"in_use\"}",
        "coalesce_db_pool_connections{state=\"idle\"}",
        "coalesce_db_pool_wait_seconds_count",
        "coalesce_outbox_events_pending",
        "coalesce_outbox_oldest_pending_age_seconds",
        "coalesce_webhook_deliveries_pending",
    ] {
        assert!(sample(&exposition, series).is_some(), "{series} missing in\n{exposition}");
    }

    // Cardinality: a route label is a pattern of the API's document or the fixed one, never a path with an id.
    let doc = request(&server.base, "GET", "/api-docs/openapi.json", Some(&token), None, None);
    let patterns: BTreeSet<String> =
        doc.2["paths"].as_object().map_or_else(BTreeSet::new, |p| p.keys().cloned().collect());
    let routes = route_labels(&exposition);
    assert!(routes.len() >= 6, "{routes:?}");
    for route in &routes {
        assert!(route == "unmatched" || patterns.contains(route), "route label {route} is no pattern");
        assert!(!route.split('/').any(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())), "{route}");
    }
    for id in [account, base, mergee, 987_654, 123_456] {
        assert!(!exposition.contains(&format!("/{id}")), "id {id} in a label:\n{exposition}");
    }

    promtool_check(&exposition);
}

#[test]
fn request_ids_round_trip_and_json_logs_parse_line_by_line_without_the_token() {
    let db = TestDatabase::new();
    let (account, token) = account(db.url());
    let env = [
        ("RUST_LOG", "info"),
        ("COALESCE_LOG_FORMAT", "json"),
        ("COALESCE_RATE_LIMIT_PER_SECOND", "0.001"),
        ("COALESCE_RATE_LIMIT_BURST", "1"),
    ];
    let server = Server::start(db.url(), &env);
    let contacts = format!("/api/v1/accounts/{account}/contacts");

    let (status, headers, _) = request(&server.base, "GET", &contacts, Some(&token), Some("ops-req-42"), None);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-request-id"), Some("ops-req-42"), "a sane id is kept");
    let (status, headers, _) = request(&server.base, "GET", &contacts, Some(&token), Some("ops-req-43"), None);
    assert_eq!(status, 429, "the token's burst is spent");
    assert_eq!(header(&headers, "x-request-id"), Some("ops-req-43"), "429s carry it");
    let (status, headers, _) = request(&server.base, "GET", "/nowhere", None, Some("ops-req-44"), None);
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "x-request-id"), Some("ops-req-44"), "404s carry it");
    let long = "x".repeat(129);
    for insane in ["two words", "quote\"d", long.as_str()] {
        let (_, headers, _) = request(&server.base, "GET", "/health", None, Some(insane), None);
        let id = header(&headers, "x-request-id").unwrap();
        assert!(is_uuid_v4(id), "{insane:?} is replaced by a fresh UUID, not {id}");
    }
    let (_, first, _) = request(&server.base, "GET", "/health", None, None, None);
    let (_, second, _) = request(&server.base, "GET", "/health", None, None, None);
    let (first, second) = (header(&first, "x-request-id").unwrap(), header(&second, "x-request-id").unwrap());
    assert!(is_uuid_v4(first) && first != second, "{first} {second}");

    let log = server.log();
    assert!(!log.contains(&token), "the token is never logged");
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    assert!(lines.len() >= 8, "{log}");
    for line in &lines {
        for key in ["time", "level", "target", "message"] {
            assert!(line[key].is_string(), "{key} missing: {line}");
        }
    }
    let access = |id: &str| {
        let mine: Vec<&Value> = lines.iter().filter(|l| l["request_id"] == id).collect();
        assert_eq!(mine.len(), 1, "one line for request {id}: {log}");
        mine[0].clone()
    };
    let ok = access("ops-req-42");
    assert_eq!(ok["target"], "access");
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["method"], "GET");
    assert_eq!(ok["path"], contacts);
    assert_eq!(ok["route"], "/api/v1/accounts/{account_id}/contacts");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["account_id"], account);
    assert!(ok["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{ok}");
    assert_eq!(access("ops-req-43")["status"], 429);
    let unmatched = access("ops-req-44");
    assert_eq!((unmatched["status"].clone(), unmatched["route"].clone()), (json!(404), json!("unmatched")));
    assert!(unmatched.get("account_id").is_none(), "no account on a route without one: {unmatched}");
    assert!(lines.iter().any(|l| l["request_id"] == first), "a generated id is logged too");
}

#[test]
fn text_logs_carry_the_request_id() {
    let db = TestDatabase::new();
    let (account, token) = account(db.url());
    let server = Server::start(db.url(), &[("RUST_LOG", "info")]);
    let path = format!("/api/v1/accounts/{account}/contacts");
    assert_eq!(request(&server.base, "GET", &path, Some(&token), Some("text-req-7"), None).0, 200);
    let log = server.log();
    let line = log.lines().find(|l| l.contains("text-req-7")).unwrap_or_else(|| panic!("no line: {log}"));
    assert!(line.contains(" INFO  access text-req-7] request method=GET"), "{line}");
    assert!(line.contains(&format!("path={path} route=/api/v1/accounts/{{account_id}}/contacts status=200")), "{line}");
    assert!(line.contains(&format!("account_id={account}")), "{line}");
    assert!(line.ends_with(" peer=127.0.0.1"), "{line}");
    let duration = line.split(" duration_ms=").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
    assert!(duration.contains('.') && duration.parse::<f64>().is_ok_and(|d| d >= 0.0), "{line}");
    // a route without an account leaves the field out rather than writing a null
    assert_eq!(request(&server.base, "GET", "/health", None, Some("text-req-8"), None).0, 200);
    let log = server.log();
    let health = log.lines().find(|l| l.contains("text-req-8")).unwrap_or_else(|| panic!("no line: {log}"));
    assert!(health.contains("path=/health ") && !health.contains("account_id"), "{health}");
    assert!(!log.contains(&token));
    assert!(log.contains("metrics are off"), "the test servers run without metrics: {log}");
}

#[test]
fn a_metrics_address_that_cannot_be_bound_stops_the_start_with_a_clear_message() {
    let db = TestDatabase::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_at = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_coalesce"))
        .args(["serve", "--bind", "127.0.0.1:0", "--metrics-bind", &taken_at])
        .env("DATABASE_URL", db.url())
        .env("COALESCE_WEBHOOK_WORKER", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot bind the metrics endpoint to {taken_at}")), "{stderr}");
    let bad = Command::new(env!("CARGO_BIN_EXE_coalesce"))
        .args(["serve", "--log-format", "xml"])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("xml"), "an unknown log format is refused");
}
