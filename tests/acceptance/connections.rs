//! The pool's connections dying under the server: the backends are killed with `pg_terminate_backend`, as an
//! administrator, a failover or a crashed backend would. A connection idle for more than a second is checked
//! before use; one used within the last second is trusted without a round trip, and a transaction that finds it
//! dead starts again on a new connection.

use std::time::Duration;

use application::Database;
use coalesce_tests::TestApp;

/// Kills every session of the app's database but the one asking; returns how many were killed.
fn kill_pool_connections(app: &TestApp) -> i64 {
    app.count(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
}

/// An app whose pool has served one request: the app, a contact's path and a token that may read it.
fn app_after_one_read() -> (TestApp, String, String) {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let contact = app.insert_contact(account, "Ada", None, None, None);
    let path = format!("/api/v1/accounts/{account}/contacts/{contact}");
    assert_eq!(app.get(&path, &token).status, 200);
    (app, path, token)
}

#[test]
fn an_idle_connection_that_died_is_replaced_before_use() {
    let (app, path, token) = app_after_one_read();

    std::thread::sleep(Duration::from_millis(1_200));
    assert!(kill_pool_connections(&app) >= 1, "the pool kept its connection");
    let r = app.get(&path, &token);
    assert_eq!(r.status, 200, "checked at checkout and replaced: {}", r.body);
}

#[test]
fn a_transaction_on_a_connection_that_died_while_trusted_starts_again() {
    let app = TestApp::spawn();
    // A session that ends returns its connection to the pool, trusted for a second.
    let mut session = app.pg.connect().unwrap();
    assert!(session.find_contact(domain::AccountId::new(1), domain::ContactId::new(1)).unwrap().is_none());
    drop(session);
    assert!(kill_pool_connections(&app) >= 1);

    let before = app.pg.statement_count();
    let mut tx = app.pg.begin().expect("BEGIN failed on the dead connection, then succeeded on a new one");
    assert!(tx.find_contact(domain::AccountId::new(1), domain::ContactId::new(1)).unwrap().is_none());
    tx.commit().unwrap();
    assert_eq!(app.pg.statement_count() - before, 4, "the failed BEGIN, BEGIN, the query, COMMIT");
}

#[test]
fn a_read_on_a_connection_that_died_while_trusted_answers_503_once_then_recovers() {
    let (app, path, token) = app_after_one_read();
    let killed = kill_pool_connections(&app);
    assert!(killed >= 1);

    // Each dead connection can fail one request (its first statement may already have been sent, so it is not
    // retried), and is then discarded: the clear 503 a client retries on, never a 500.
    let mut failures = 0;
    loop {
        let r = app.get(&path, &token);
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        r.assert_envelope();
        failures += 1;
        assert!(failures <= killed, "more failures ({failures}) than dead connections ({killed})");
    }
    assert_eq!(app.get(&path, &token).status, 200);
}
