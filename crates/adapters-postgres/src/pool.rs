//! The connection pool and the [`Database`] port's entry points.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use application::{Database, Session, StoreError};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection};

use crate::errors::from_pool;
use crate::store::PgSession;

/// A pooled PostgreSQL connection.
pub type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

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

/// PostgreSQL behind the [`Database`] port.
#[derive(Clone)]
pub struct PgDatabase {
    pool: Pool<ConnectionManager<PgConnection>>,
    statements: Arc<AtomicU64>,
}

/// Counts every statement sent on the pool's connections (tests and the benchmark read it).
#[derive(Debug)]
struct CountStatements(Arc<AtomicU64>);

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for CountStatements {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
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
        let pool = Pool::builder()
            .max_size(config.max_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(config.connection_timeout)
            // a connection that died with the server is found and replaced at checkout
            .test_on_check_out(true)
            .connection_customizer(Box::new(CountStatements(Arc::clone(&statements))))
            .build_unchecked(ConnectionManager::new(config.database_url.clone()));
        Self { pool, statements }
    }

    /// Statements sent so far on this pool's connections: queries, transaction control and the pool's
    /// checkout check (one per checkout).
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn get(&self) -> Result<PgPooled, StoreError> {
        self.pool.get().map_err(|e| from_pool(&e))
    }
}

impl Database for PgDatabase {
    fn begin(&self) -> Result<Box<dyn Session>, StoreError> {
        Ok(Box::new(PgSession::begin(self.get()?)?))
    }

    fn connect(&self) -> Result<Box<dyn Session>, StoreError> {
        Ok(Box::new(PgSession::autocommit(self.get()?)))
    }

    fn ping(&self) -> bool {
        self.pool.get().is_ok()
    }
}
