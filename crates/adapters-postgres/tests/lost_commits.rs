//! A connection lost during `COMMIT`, with the pool set to look such commits up (as it is on a URL naming
//! several hosts): the outcome is asked on a new connection, so a commit that took effect succeeds, one that
//! did not runs once more, and one that cannot be looked up answers `Unavailable` without running again.
//!
//! The loss is made by a TCP proxy between the pool and PostgreSQL that cuts a connection when it sees the
//! transaction's `COMMIT` go by: after passing it on (the server commits, the answer never arrives) or instead
//! of passing it on (the server never sees it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use adapters_postgres::testing::TestDatabase;
use adapters_postgres::{PgDatabase, PoolConfig};
use application::ports::{in_transaction, on_connection};
use application::StoreError;
use diesel::sql_types::BigInt;
use diesel::{sql_query, QueryableByName, RunQueryDsl};

/// What the proxy does with the next `COMMIT` it sees.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Cut {
    Nothing = 0,
    /// Pass it on, then cut the connection before the answer comes back.
    AfterPassingOn = 1,
    /// Cut the connection without passing it on.
    InsteadOfPassingOn = 2,
}

struct Proxy {
    port: u16,
    cut: Arc<AtomicU8>,
    /// Whether new connections are refused (closed at once), as while no server takes writes.
    refusing: Arc<AtomicBool>,
}

impl Proxy {
    fn start(server: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicU8::new(Cut::Nothing as u8));
        let refusing = Arc::new(AtomicBool::new(false));
        let (server, cut_, refusing_) = (server.to_owned(), Arc::clone(&cut), Arc::clone(&refusing));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if refusing_.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = TcpStream::connect(&server).unwrap();
                let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || pump_answers(u2, c2));
                let cut = Arc::clone(&cut_);
                std::thread::spawn(move || pump_requests(client, upstream, &cut));
            }
        });
        Self { port, cut, refusing }
    }

    fn arm(&self, cut: Cut) {
        self.cut.store(cut as u8, Ordering::SeqCst);
    }
}

fn pump_answers(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 8192];
    while let Ok(n @ 1..) = from.read(&mut buf) {
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

/// Passes the client's messages on one by one, watching for a simple-protocol `COMMIT` (diesel's).
fn pump_requests(mut client: TcpStream, mut server: TcpStream, cut: &AtomicU8) {
    // untyped messages first: SSL/GSS requests (answered by the server through the other pump), then startup
    loop {
        let Some(message) = read_exact_message(&mut client, false) else { return };
        if server.write_all(&message).is_err() {
            return;
        }
        let code = u32::from_be_bytes([message[4], message[5], message[6], message[7]]);
        if code != 80_877_103 && code != 80_877_104 {
            break;
        }
    }
    while let Some(message) = read_exact_message(&mut client, true) {
        let is_commit = message[0] == b'Q' && message[5..].starts_with(b"COMMIT\0");
        let armed = cut.load(Ordering::SeqCst);
        if is_commit && armed != Cut::Nothing as u8 {
            cut.store(Cut::Nothing as u8, Ordering::SeqCst);
            // the client sees its connection close before any answer can reach it
            let _ = client.shutdown(Shutdown::Both);
            if armed == Cut::AfterPassingOn as u8 {
                let _ = server.write_all(&message);
                // give the server the time to commit, then let it see its client gone
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        if server.write_all(&message).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
}

/// One protocol message: a type byte (when `typed`) and a length that counts itself.
fn read_exact_message(from: &mut TcpStream, typed: bool) -> Option<Vec<u8>> {
    let head = if typed { 5 } else { 4 };
    let mut message = vec![0u8; head];
    from.read_exact(&mut message).ok()?;
    let len = u32::from_be_bytes(message[head - 4..head].try_into().ok()?) as usize;
    message.resize(head - 4 + len, 0);
    from.read_exact(&mut message[head..]).ok()?;
    Some(message)
}

struct Setup {
    db: TestDatabase,
    proxy: Proxy,
    pool: PgDatabase,
}

fn setup(timeout: Duration) -> Setup {
    let db = TestDatabase::new();
    let url = db.url().to_owned();
    let (head, rest) = url.split_once('@').unwrap();
    let (server, path) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(server);
    let mut config = PoolConfig::new(format!("{head}@127.0.0.1:{}/{path}", proxy.port));
    assert!(!config.look_up_lost_commits, "a single host: off by default");
    config.look_up_lost_commits = true;
    config.max_size = 1;
    config.connection_timeout = timeout;
    let pool = PgDatabase::new(&config);
    // the pool's one connection is open (through the proxy) before the proxy is armed
    on_connection(&pool, |s| s.has_accounts()).unwrap();
    Setup { db, proxy, pool }
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn accounts_named(db: &TestDatabase, name: &str) -> i64 {
    sql_query(format!("SELECT count(*) AS n FROM accounts WHERE name = '{name}'"))
        .get_result::<N>(&mut db.connection())
        .unwrap()
        .n
}

/// Creates an account named `name` in a transaction; returns the outcome and how many times the work ran.
fn create_account(pool: &PgDatabase, name: &str) -> (Result<application::ports::Account, StoreError>, u32) {
    let tries = Cell::new(0);
    let outcome = in_transaction(pool, |tx| {
        tries.set(tries.get() + 1);
        tx.insert_account(name)
    });
    (outcome, tries.get())
}

#[test]
fn a_commit_that_took_effect_before_its_connection_was_lost_succeeds_once() {
    let s = setup(Duration::from_secs(5));
    s.proxy.arm(Cut::AfterPassingOn);
    let (account, tries) = create_account(&s.pool, "committed");
    assert_eq!(tries, 1, "a committed transaction is never run again");
    assert_eq!(account.unwrap().name, "committed");
    assert_eq!(accounts_named(&s.db, "committed"), 1);
}

#[test]
fn a_commit_that_never_reached_the_server_runs_once_more_and_commits_once() {
    let s = setup(Duration::from_secs(5));
    s.proxy.arm(Cut::InsteadOfPassingOn);
    let (account, tries) = create_account(&s.pool, "retried");
    account.unwrap();
    assert_eq!(tries, 2, "looked up as not committed, so run again");
    assert_eq!(accounts_named(&s.db, "retried"), 1);
}

#[test]
fn a_lost_commit_that_cannot_be_looked_up_answers_unavailable_and_is_not_run_again() {
    let s = setup(Duration::from_millis(600));
    s.proxy.arm(Cut::AfterPassingOn);
    s.proxy.refusing.store(true, Ordering::SeqCst);
    let (outcome, tries) = create_account(&s.pool, "unknown");
    assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");
    assert_eq!(tries, 1);
    // it did commit: the service could not know, so it said 503 rather than run it twice
    assert_eq!(accounts_named(&s.db, "unknown"), 1);
    s.proxy.refusing.store(false, Ordering::SeqCst);
    create_account(&s.pool, "after").0.unwrap();
    assert_eq!(accounts_named(&s.db, "after"), 1);
}

#[test]
fn a_lost_commit_of_a_transaction_that_wrote_nothing_succeeds() {
    let s = setup(Duration::from_secs(5));
    s.proxy.arm(Cut::InsteadOfPassingOn);
    let tries = Cell::new(0);
    let found = in_transaction(&s.pool, |tx| {
        tries.set(tries.get() + 1);
        tx.has_accounts()
    })
    .unwrap();
    assert!(!found);
    assert_eq!(tries.get(), 1);
}
