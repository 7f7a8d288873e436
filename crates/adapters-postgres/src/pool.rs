//! The connection pool, [`PgDatabase`]. The `Database` port on it, which hands out sessions, is implemented in
//! `store` next to the session, so that the pool knows nothing of sessions.
//!
//! A connection is *lost* when a statement on it finds the server gone (closed connection, unable to send) or
//! refusing writes (`cannot execute … in a read-only transaction`: the server was demoted, or is being, by a
//! failover). diesel's own test only looks at its transaction manager, so a connection that died outside a
//! transaction would go back to the pool as healthy; here every statement's outcome is watched (diesel's
//! instrumentation), a lost connection is discarded when it comes back, and every other connection that came
//! back before the loss is checked before its next use (after a failover they all point at the old primary).

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use application::StoreError;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::r2d2::{ConnectionManager, ManageConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use crate::batched_reads::ReadBatcher;
use crate::errors::from_pool;
use crate::trigram_shares::{take as take_sample, SearchSample, TrigramShares};

/// A pooled PostgreSQL connection.
pub type PgPooled = PooledConnection<Manager>;

/// How long a connection back in the pool is trusted without a check. A connection that has been idle longer
/// is checked with a round trip before it is handed out, so one that died with the server is replaced instead
/// of failing a request. Under load connections come back within milliseconds and skip the check, which would
/// otherwise be one more round trip in every request (the pool's default checks each checkout). A connection
/// that dies inside this window fails its next statement; it is then lost (see the module's documentation),
/// the pool discards it, and the use case's transaction runs again on a new connection
/// (`application::in_transaction`).
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// How often a request waiting for a connection asks the pool again (see [`PgDatabase::get`]).
const ASK_AGAIN_EVERY: Duration = Duration::from_millis(250);

/// A connection, when it last came back to the pool, and whether it was lost.
pub struct PgConn {
    conn: PgConnection,
    returned_at: Instant,
    /// The pool's count of lost connections when this one came back: a loss since then distrusts it.
    losses_seen: u64,
    lost: Arc<AtomicBool>,
}

impl PgConn {
    /// Whether a statement on this connection found the server gone or read-only (it will not be reused).
    pub(crate) fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Deref for PgConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// diesel's connection manager, checking at checkout only the connections idle for longer than `TRUSTED_FOR`
/// (one second), older than the pool's last lost connection, or any while connections are being lost (within
/// `TRUSTED_FOR` of the last loss), and discarding the lost ones.
#[derive(Debug)]
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    /// Statements sent on the pool's connections, checks included.
    statements: Arc<AtomicU64>,
    /// Checks made (each one statement), so that [`PgDatabase::statement_count`] can leave them out.
    checks: Arc<AtomicU64>,
    /// Connections lost so far.
    losses: Arc<AtomicU64>,
    /// When the last connection was lost, in milliseconds since `started`.
    last_loss: Arc<AtomicU64>,
    started: Instant,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

impl ManageConnection for Manager {
    type Connection = PgConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConn, Self::Error> {
        let mut conn = self.inner.connect()?;
        // The service's statements are short; PostgreSQL's JIT compiler would only add its compile time (tens to
        // hundreds of milliseconds) to the few whose estimated cost crosses `jit_above_cost`, such as a search
        // over a million contacts. Sent before the instrumentation is set, so that it is not counted as work.
        diesel::sql_query("SET jit = off").execute(&mut conn).map_err(diesel::r2d2::Error::QueryError)?;
        let lost = Arc::new(AtomicBool::new(false));
        conn.set_instrumentation(Watch {
            statements: Arc::clone(&self.statements),
            losses: Arc::clone(&self.losses),
            last_loss: Arc::clone(&self.last_loss),
            started: self.started,
            lost: Arc::clone(&lost),
        });
        Ok(PgConn { conn, returned_at: Instant::now(), losses_seen: self.losses.load(Ordering::Relaxed), lost })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), Self::Error> {
        // While connections are being lost (a failover under way) every checkout is checked: a connection that
        // came back after the last loss may still point at the server going away.
        let since_last_loss =
            self.started.elapsed().saturating_sub(Duration::from_millis(self.last_loss.load(Ordering::Relaxed)));
        let no_loss_lately = self.losses.load(Ordering::Relaxed) == 0 || since_last_loss >= TRUSTED_FOR;
        if conn.returned_at.elapsed() < TRUSTED_FOR
            && conn.losses_seen == self.losses.load(Ordering::Relaxed)
            && no_loss_lately
        {
            return Ok(());
        }
        self.checks.fetch_add(1, Ordering::Relaxed);
        // One round trip that also tells a server that now refuses writes (a demoted primary) from a primary.
        let setting = diesel::sql_query("SELECT current_setting('transaction_read_only') AS value")
            .get_result::<Setting>(&mut conn.conn)
            .map_err(diesel::r2d2::Error::QueryError)?;
        if setting.value == "on" {
            conn.lost.store(true, Ordering::Relaxed);
            return Err(diesel::r2d2::Error::QueryError(read_only()));
        }
        Ok(())
    }

    /// Called each time a connection comes back to the pool.
    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.returned_at = Instant::now();
        conn.losses_seen = self.losses.load(Ordering::Relaxed);
        conn.lost() || self.inner.has_broken(&mut conn.conn)
    }
}

fn read_only() -> DieselError {
    DieselError::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, Box::new("the server is read-only".to_owned()))
}

/// Whether an error means the connection can no longer do the service's work: the server is gone, or it
/// refuses writes (a standby or a primary being demoted).
pub(crate) fn is_loss(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ReadOnlyTransaction,
            _
        ) | DieselError::BrokenTransactionManager
    )
}

/// How to reach the database and how many connections to keep.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub database_url: String,
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a connection before it fails with `Unavailable` (a 503).
    pub connection_timeout: Duration,
    /// Whether a transaction whose connection is lost during `COMMIT` has its outcome looked up on a new
    /// connection (see `lost_commits`); it costs one round trip per committed transaction. On by default when
    /// the URL names several hosts.
    pub look_up_lost_commits: bool,
}

impl PoolConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        let database_url = database_url.into();
        let look_up_lost_commits = crate::names_several_hosts(&database_url);
        Self { database_url, max_size: 10, connection_timeout: Duration::from_secs(2), look_up_lost_commits }
    }
}

/// PostgreSQL behind the [`application::Database`] port.
#[derive(Clone)]
pub struct PgDatabase {
    pool: Pool<Manager>,
    statements: Arc<AtomicU64>,
    checks: Arc<AtomicU64>,
    look_up_lost_commits: bool,
    search_sample: Arc<SearchSample>,
    read_batcher: Arc<ReadBatcher>,
}

/// Watches every statement of a connection: counts it (tests and the benchmark read the count) and marks the
/// connection lost when it failed for a reason that makes the connection useless ([`is_loss`]).
struct Watch {
    statements: Arc<AtomicU64>,
    losses: Arc<AtomicU64>,
    last_loss: Arc<AtomicU64>,
    started: Instant,
    lost: Arc<AtomicBool>,
}

impl Instrumentation for Watch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.statements.fetch_add(1, Ordering::Relaxed);
            }
            // counted once per connection: the pool distrusts the connections that came back before it
            InstrumentationEvent::FinishQuery { error: Some(e), .. }
                if is_loss(e) && !self.lost.swap(true, Ordering::Relaxed) =>
            {
                let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.last_loss.store(now, Ordering::Relaxed);
                self.losses.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

impl PgDatabase {
    /// Builds the pool without connecting: the service starts even while the database is down, answers 503
    /// meanwhile, and recovers on its own when the database comes back.
    pub fn new(config: &PoolConfig) -> Self {
        let statements = Arc::new(AtomicU64::new(0));
        let checks = Arc::new(AtomicU64::new(0));
        let manager = Manager {
            inner: ConnectionManager::new(config.database_url.clone()),
            statements: Arc::clone(&statements),
            checks: Arc::clone(&checks),
            losses: Arc::new(AtomicU64::new(0)),
            last_loss: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
        };
        let pool = Pool::builder()
            .max_size(config.max_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(config.connection_timeout)
            // a connection that died with the server is found and replaced at checkout (see `TRUSTED_FOR`)
            .test_on_check_out(true)
            .event_handler(Box::new(crate::metrics::PoolEvents))
            .build_unchecked(manager);
        Self {
            pool,
            statements,
            checks,
            look_up_lost_commits: config.look_up_lost_commits,
            search_sample: Arc::default(),
            read_batcher: Arc::default(),
        }
    }

    /// Statements sent so far on this pool's connections for the service's work: queries and transaction
    /// control. The pool's checkout checks are left out: whether one is made depends on how long a connection
    /// sat idle, not on the work.
    pub fn statement_count(&self) -> u64 {
        // Exact while the pool is quiet, which is when tests and the benchmark read it.
        self.statements.load(Ordering::Relaxed).saturating_sub(self.checks.load(Ordering::Relaxed))
    }

    /// Most connections the pool opens at once.
    pub fn max_connections(&self) -> u32 {
        self.pool.max_size()
    }

    pub(crate) fn pool(&self) -> &Pool<Manager> {
        &self.pool
    }

    /// The sample of the searchable text that long search terms are looked up by (`crate::trigram_shares`),
    /// if one was taken. Starts taking the next one on a thread of its own when it is due (never on the
    /// caller's time).
    pub(crate) fn search_shares(&self) -> Option<Arc<TrigramShares>> {
        let (shares, due) = self.search_sample.current();
        if due {
            let db = self.clone();
            let spawned = thread::Builder::new().name("search-sample".into()).spawn(move || {
                // a failure is logged and retried by `SearchSample::taken`
                let _ = db.sample_search_text();
            });
            if let Err(e) = spawned {
                let _ = self.search_sample.taken(Err(StoreError::Other(format!("no thread for the sample: {e}"))));
            }
        }
        shares
    }

    /// Takes a new sample of the searchable text at once, on this thread (searches otherwise take one in the
    /// background on the first search and every two minutes). For tests and tools that just loaded contacts.
    ///
    /// # Errors
    /// `Unavailable` when no connection comes in time; storage failures.
    pub fn sample_search_text(&self) -> Result<(), StoreError> {
        let taken = self.get().and_then(|mut conn| take_sample(&mut conn));
        self.search_sample.taken(taken)
    }

    /// The queue of GET contact's reads (`crate::batched_reads`).
    pub(crate) fn read_batcher(&self) -> &Arc<ReadBatcher> {
        &self.read_batcher
    }

    /// Whether sessions look the outcome of a commit lost with its connection up ([`PoolConfig::look_up_lost_commits`]).
    pub(crate) fn looks_up_lost_commits(&self) -> bool {
        self.look_up_lost_commits
    }

    /// A connection from the pool, waiting at most the pool's timeout.
    ///
    /// r2d2 retries a failed connection attempt after a backoff that grows to half the timeout, so a database
    /// back from a failover could wait that long for the service's next attempt. Asking again every
    /// `ASK_AGAIN_EVERY` starts a fresh attempt meanwhile (while the pool has room for one), so requests find
    /// the new primary within a fraction of a second.
    pub(crate) fn get(&self) -> Result<PgPooled, StoreError> {
        let deadline = Instant::now() + self.pool.connection_timeout();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now()).min(ASK_AGAIN_EVERY);
            match self.pool.get_timeout(wait) {
                Ok(conn) => return Ok(conn),
                Err(e) if Instant::now() >= deadline => return Err(from_pool(&e)),
                Err(_) => {}
            }
        }
    }
}
