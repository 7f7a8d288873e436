//! The connection pool, [`PgDatabase`]. The `Database` port on it, which hands out sessions, is implemented in
//! `store` next to the session, so that the pool knows nothing of sessions.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use application::StoreError;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, ManageConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection};

use crate::errors::from_pool;

/// A pooled PostgreSQL connection.
pub type PgPooled = PooledConnection<Manager>;

/// How long a connection back in the pool is trusted without a check. A connection that has been idle longer
/// is checked with a round trip (`SELECT 1`) before it is handed out, so one that died with the server is
/// replaced instead of failing a request. Under load connections come back within milliseconds and skip the
/// check, which would otherwise be one more round trip in every request (the pool's default checks each
/// checkout). A connection that dies inside this window fails its next statement; diesel then marks it broken,
/// the pool discards it, and `PgDatabase`'s `Database::begin` (in `store`) retries once on a new connection.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A connection and when it last came back to the pool.
pub struct PgConn {
    conn: PgConnection,
    returned_at: Instant,
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

/// diesel's connection manager, checking at checkout only the connections idle for longer than
/// `TRUSTED_FOR` (one second).
#[derive(Debug)]
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    /// Checks made (each one statement), so that [`PgDatabase::statement_count`] can leave them out.
    checks: Arc<AtomicU64>,
}

impl ManageConnection for Manager {
    type Connection = PgConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConn, Self::Error> {
        Ok(PgConn { conn: self.inner.connect()?, returned_at: Instant::now() })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), Self::Error> {
        if conn.returned_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        self.checks.fetch_add(1, Ordering::Relaxed);
        self.inner.is_valid(&mut conn.conn)
    }

    /// Called each time a connection comes back to the pool.
    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.returned_at = Instant::now();
        self.inner.has_broken(&mut conn.conn)
    }
}

/// How to reach the database and how many connections to keep.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub database_url: String,
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a connection before it fails with `Unavailable` (a 503).
    pub connection_timeout: Duration,
}

impl PoolConfig {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self { database_url: database_url.into(), max_size: 10, connection_timeout: Duration::from_secs(2) }
    }
}

/// PostgreSQL behind the [`application::Database`] port.
#[derive(Clone)]
pub struct PgDatabase {
    pool: Pool<Manager>,
    statements: Arc<AtomicU64>,
    checks: Arc<AtomicU64>,
}

/// Counts every statement sent on the pool's connections (tests and the benchmark read it).
#[derive(Debug)]
struct CountStatements(Arc<AtomicU64>);

impl CustomizeConnection<PgConn, diesel::r2d2::Error> for CountStatements {
    fn on_acquire(&self, conn: &mut PgConn) -> Result<(), diesel::r2d2::Error> {
        let counter = Arc::clone(&self.0);
        conn.set_instrumentation(StatementCounter(counter));
        Ok(())
    }
}

struct StatementCounter(Arc<AtomicU64>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl PgDatabase {
    /// Builds the pool without connecting: the service starts even while the database is down, answers 503
    /// meanwhile, and recovers on its own when the database comes back.
    pub fn new(config: &PoolConfig) -> Self {
        let statements = Arc::new(AtomicU64::new(0));
        let checks = Arc::new(AtomicU64::new(0));
        let manager =
            Manager { inner: ConnectionManager::new(config.database_url.clone()), checks: Arc::clone(&checks) };
        let pool = Pool::builder()
            .max_size(config.max_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(config.connection_timeout)
            // a connection that died with the server is found and replaced at checkout (see `TRUSTED_FOR`)
            .test_on_check_out(true)
            .connection_customizer(Box::new(CountStatements(Arc::clone(&statements))))
            .build_unchecked(manager);
        Self { pool, statements, checks }
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

    /// A connection from the pool.
    pub(crate) fn get(&self) -> Result<PgPooled, StoreError> {
        self.pool.get().map_err(|e| from_pool(&e))
    }
}
