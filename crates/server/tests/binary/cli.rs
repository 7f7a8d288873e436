//! The `coalesce` binary end to end: admin commands, migrate, openapi, serve with graceful shutdown, and the
//! project-local database script.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use adapters_postgres::testing::TestDatabase;
use diesel::sql_types::BigInt;
use diesel::{sql_query, QueryableByName, RunQueryDsl};
use serde_json::Value;

fn coalesce(db: &TestDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coalesce"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run coalesce")
}

/// Runs a command that must succeed and print exactly one JSON object.
fn json_of(db: &TestDatabase, args: &[&str]) -> Value {
    let out = coalesce(db, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "one JSON object on one line: {stdout}");
    let value: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(value.is_object(), "{value}");
    value
}

fn failure_of(db: &TestDatabase, args: &[&str]) -> String {
    let out = coalesce(db, args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    String::from_utf8(out.stderr).unwrap()
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(db: &TestDatabase, query: &str) -> i64 {
    sql_query(query).get_result::<N>(&mut db.connection()).unwrap().n
}

#[test]
fn admin_commands_end_to_end() {
    let db = TestDatabase::empty();

    let account = json_of(&db, &["admin", "create-account", "--name", "Acme Support"]);
    assert_eq!(account["name"], "Acme Support");
    let account_id = account["id"].as_i64().unwrap();
    let id = account_id.to_string();

    let user = json_of(
        &db,
        &[
            "admin",
            "create-user",
            "--account-id",
            &id,
            "--name",
            "Ada",
            "--email",
            "Ada@Example.com",
            "--role",
            "administrator",
        ],
    );
    let token = user["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let user_id = user["id"].as_i64().unwrap();
    assert_eq!(
        count(&db, &format!("SELECT count(*) AS n FROM account_users WHERE user_id = {user_id} AND account_id = {account_id} AND role = 'administrator'")),
        1
    );
    assert_eq!(
        count(&db, &format!("SELECT count(*) AS n FROM access_tokens WHERE user_id = {user_id} AND token_digest = sha256(convert_to('{token}', 'UTF8'))")),
        1,
        "only the digest is stored"
    );
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM users WHERE email = 'ada@example.com'"),
        1,
        "emails are lower-cased"
    );

    let app = json_of(&db, &["admin", "create-platform-app", "--name", "CRM sync"]);
    assert!(app["id"].is_i64() && app["access_token"].as_str().unwrap().len() == 64);

    let suspended = json_of(&db, &["admin", "suspend-account", "--id", &id]);
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(
        count(&db, &format!("SELECT count(*) AS n FROM accounts WHERE id = {account_id} AND status = 'suspended'")),
        1
    );

    // bad input: a clear message on stderr and a non-zero exit
    let taken = failure_of(
        &db,
        &[
            "admin",
            "create-user",
            "--account-id",
            &id,
            "--name",
            "Ada2",
            "--email",
            "ada@example.com",
            "--role",
            "agent",
        ],
    );
    assert!(taken.contains("email") && taken.contains("taken"), "{taken}");
    let bad_email = failure_of(
        &db,
        &["admin", "create-user", "--account-id", &id, "--name", "B", "--email", "nope", "--role", "agent"],
    );
    assert!(bad_email.contains("email"), "{bad_email}");
    let no_account = failure_of(
        &db,
        &["admin", "create-user", "--account-id", "9999", "--name", "C", "--email", "c@x.io", "--role", "agent"],
    );
    assert!(no_account.contains("account not found"), "{no_account}");
    let bad_role = failure_of(
        &db,
        &["admin", "create-user", "--account-id", &id, "--name", "D", "--email", "d@x.io", "--role", "owner"],
    );
    assert!(bad_role.contains("owner"), "{bad_role}");
    let blank = failure_of(&db, &["admin", "create-account", "--name", "  "]);
    assert!(blank.contains("name"), "{blank}");
    let unknown = failure_of(&db, &["admin", "suspend-account", "--id", "9999"]);
    assert!(unknown.contains("account not found"), "{unknown}");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM users"), 1, "failed commands created nothing");
}

#[test]
fn demo_is_created_once() {
    let db = TestDatabase::new();
    let first = json_of(&db, &["admin", "demo"]);
    assert_eq!(first["created"], true);
    assert!(first["access_token"].is_string() && first["inbox_id"].is_i64());
    let second = json_of(&db, &["admin", "demo"]);
    assert_eq!(second, serde_json::json!({"created": false}));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM accounts"), 1);
}

#[test]
fn migrate_and_openapi() {
    let db = TestDatabase::empty();
    let applied = json_of(&db, &["migrate"]);
    assert!(!applied["applied"].as_array().unwrap().is_empty());
    let again = json_of(&db, &["migrate"]);
    assert_eq!(again["applied"], serde_json::json!([]));

    let out = coalesce(&db, &["openapi"]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["paths"]["/api/v1/accounts/{account_id}/actions/contact_merge"]["post"]["operationId"],
        "contactMerge"
    );
}

#[test]
fn serve_answers_and_stops_gracefully_on_sigterm() {
    let db = TestDatabase::new();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coalesce"))
        .args(["serve", "--bind", &bind, "--shutdown-timeout", "5"])
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "info")
        .env("COALESCE_METRICS_BIND", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        match agent.get(&format!("http://{bind}/ready")).call() {
            Ok(r) => break r.status(),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("server never became ready: {e}"),
        }
    };
    assert_eq!(ready, 200);
    assert_eq!(agent.get(&format!("http://{bind}/health")).call().unwrap().status(), 200);

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(
        log.contains("] request method=GET path=/ready route=/ready status=200"),
        "one log line per request: {log}"
    );
    assert!(agent.get(&format!("http://{bind}/health")).call().is_err(), "no longer accepting connections");
}

#[test]
fn database_script_starts_from_nothing_and_is_idempotent() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let dir = std::env::temp_dir().join(format!("coalesce-db-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("pgdata");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let script = |action: &str| {
        Command::new("bash")
            .arg(format!("{root}/scripts/db.sh"))
            .arg(action)
            .env_remove("DATABASE_URL")
            .env("COALESCE_PGDATA", &data)
            .env("COALESCE_PGPORT", &port)
            .output()
            .unwrap()
    };
    // The cluster's owner (postgres, when we are root) must be able to reach the folder.
    let _ = Command::new("chmod").args(["755", dir.to_str().unwrap()]).status();

    let first = script("start");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stderr).contains("creating cluster"));
    let second = script("start");
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));

    let url = String::from_utf8(script("url").stdout).unwrap();
    assert_eq!(url.trim(), format!("postgres://postgres@127.0.0.1:{port}/coalesce"));
    let mut conn = <diesel::PgConnection as diesel::Connection>::establish(url.trim()).expect("the database answers");
    assert_eq!(sql_query("SELECT 1::bigint AS n").get_result::<N>(&mut conn).unwrap().n, 1);
    drop(conn);

    assert!(script("status").status.success());
    assert!(script("stop").status.success());
    assert!(!script("status").status.success(), "stopped");
    assert!(script("stop").status.success(), "stopping twice is fine");
    let _ = std::fs::remove_dir_all(&dir);
}
