//! A connection lost under a request — the server went away, or turned read-only in a failover — is discarded,
//! and the work runs once more on a new connection when nothing of it was committed; a lost `COMMIT` is never
//! run again (its outcome is unknown: `Unavailable`, a 503).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::time::{Duration, Instant};

use adapters_postgres::testing::TestDatabase;
use application::ports::{in_transaction, on_connection};
use application::{Database, StoreError};
use diesel::sql_types::BigInt;
use diesel::{sql_query, PgConnection, QueryableByName, RunQueryDsl};

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn scalar(conn: &mut PgConnection, query: &str) -> i64 {
    sql_query(query).get_result::<N>(conn).unwrap().n
}

/// Terminates every other session on the test database (the pool's), and waits until they are gone.
fn terminate_pool_sessions(db: &TestDatabase) {
    let mut conn = db.connection();
    let others = format!("FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()", db.name());
    let killed = scalar(&mut conn, &format!("SELECT count(pg_terminate_backend(pid)) AS n {others}"));
    assert!(killed > 0, "no pool session to terminate");
    let deadline = Instant::now() + Duration::from_secs(10);
    while scalar(&mut conn, &format!("SELECT count(*) AS n {others}")) > 0 {
        assert!(Instant::now() < deadline, "sessions still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn accounts_named(db: &TestDatabase, name: &str) -> i64 {
    scalar(&mut db.connection(), &format!("SELECT count(*) AS n FROM accounts WHERE name = '{name}'"))
}

fn warm(pool: &dyn Database) {
    on_connection(pool, |s| s.has_accounts()).unwrap();
}

#[test]
fn a_transaction_whose_connection_is_terminated_before_its_commit_runs_once_more_and_commits_once() {
    let db = TestDatabase::new();
    let pool = db.pool(1);
    warm(&pool);
    let tries = Cell::new(0);
    let account = in_transaction(&pool, |tx| {
        tries.set(tries.get() + 1);
        if tries.get() == 1 {
            // the connection dies after BEGIN, before the transaction's first statement
            terminate_pool_sessions(&db);
        }
        tx.insert_account("retried")
    })
    .unwrap();
    assert_eq!(tries.get(), 2);
    assert_eq!(account.name, "retried");
    assert_eq!(accounts_named(&db, "retried"), 1);
}

#[test]
fn a_connection_lost_during_commit_is_not_run_again_and_answers_unavailable() {
    let db = TestDatabase::new();
    let pool = db.pool(1);
    warm(&pool);
    let tries = Cell::new(0);
    let outcome = in_transaction(&pool, |tx| {
        tries.set(tries.get() + 1);
        let account = tx.insert_account("unknown outcome")?;
        // the work is done; the connection dies before COMMIT reaches the server
        terminate_pool_sessions(&db);
        Ok::<_, StoreError>(account)
    });
    assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");
    assert_eq!(tries.get(), 1);
    // here the server never saw the COMMIT; the service cannot know that, hence no second try
    assert_eq!(accounts_named(&db, "unknown outcome"), 0);
    // the pool replaced the dead connection by itself
    in_transaction(&pool, |tx| tx.insert_account("after")).unwrap();
    assert_eq!(accounts_named(&db, "after"), 1);
}

#[test]
fn a_connection_that_answers_read_only_is_dropped_and_the_transaction_runs_on_a_new_one() {
    let db = TestDatabase::new();
    let mut admin = db.connection();
    // the pool's first connection opens read-only, as one to a demoted primary would be
    sql_query(format!("ALTER DATABASE {} SET default_transaction_read_only = on", db.name()))
        .execute(&mut admin)
        .unwrap();
    let pool = db.pool(1);
    warm(&pool);
    sql_query(format!("ALTER DATABASE {} RESET default_transaction_read_only", db.name())).execute(&mut admin).unwrap();
    let tries = Cell::new(0);
    in_transaction(&pool, |tx| {
        tries.set(tries.get() + 1);
        tx.insert_account("written")
    })
    .unwrap();
    assert_eq!(tries.get(), 2, "the read-only connection failed the first try");
    assert_eq!(accounts_named(&db, "written"), 1);
}

#[test]
fn read_only_without_a_writable_server_fails_unavailable_after_one_more_try() {
    let db = TestDatabase::new();
    let mut admin = db.connection();
    sql_query(format!("ALTER DATABASE {} SET default_transaction_read_only = on", db.name()))
        .execute(&mut admin)
        .unwrap();
    let pool = db.pool(2);
    let tries = Cell::new(0);
    let outcome = in_transaction(&pool, |tx| {
        tries.set(tries.get() + 1);
        tx.insert_account("never")
    });
    assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");
    assert_eq!(tries.get(), 2);
    assert_eq!(accounts_named(&db, "never"), 0);
}

#[test]
fn after_one_lost_connection_the_others_are_checked_before_use_and_a_read_succeeds() {
    let db = TestDatabase::new();
    let pool = db.pool(3);
    // three connections back in the pool, trusted (they came back just now)
    let sessions: Vec<_> = (0..3).map(|_| pool.connect().unwrap()).collect();
    drop(sessions);
    terminate_pool_sessions(&db);
    let tries = Cell::new(0);
    let found = on_connection(&pool, |s| {
        tries.set(tries.get() + 1);
        s.has_accounts()
    })
    .unwrap();
    assert!(!found);
    // the first try found its connection dead; the second got a checked (hence new) connection
    assert_eq!(tries.get(), 2);
    let alive = scalar(
        &mut db.connection(),
        &format!(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
            db.name()
        ),
    );
    assert_eq!(alive, 1, "only the new connection is open");
}
