//! The migrations in the workspace's `migrations/` folder, embedded into the binary and applied at start.

use diesel::migration::MigrationVersion;
use diesel::{sql_query, Connection, PgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// Every migration, compiled in.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A lock number only Coalesce's migration runner takes, so that several processes starting at once apply
/// the migrations one after the other instead of racing.
const MIGRATION_LOCK: i64 = 0x00C0_A1E5_CE00;

/// Applies every pending migration; returns the versions applied.
///
/// # Errors
/// A connection or migration failure, as text for the operator.
pub fn run_pending(database_url: &str) -> Result<Vec<String>, String> {
    let mut conn = PgConnection::establish(database_url).map_err(|e| format!("cannot connect: {e}"))?;
    sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(&mut conn).map_err(|e| e.to_string())?;
    let applied: Result<Vec<MigrationVersion<'_>>, _> = conn.run_pending_migrations(MIGRATIONS);
    let applied = applied.map(|v| v.iter().map(ToString::to_string).collect()).map_err(|e| e.to_string());
    sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(&mut conn).map_err(|e| e.to_string())?;
    applied
}

/// Reverts every applied migration, newest first (for the up/down/up test).
///
/// # Errors
/// A connection or migration failure.
pub fn revert_all(database_url: &str) -> Result<usize, String> {
    let mut conn = PgConnection::establish(database_url).map_err(|e| format!("cannot connect: {e}"))?;
    conn.revert_all_migrations(MIGRATIONS).map(|v| v.len()).map_err(|e| e.to_string())
}

/// Reverts the newest applied migration; returns its version (for the tests of a migration's own up and down).
///
/// # Errors
/// A connection or migration failure.
pub fn revert_last(database_url: &str) -> Result<String, String> {
    let mut conn = PgConnection::establish(database_url).map_err(|e| format!("cannot connect: {e}"))?;
    conn.revert_last_migration(MIGRATIONS).map(|v| v.to_string()).map_err(|e| e.to_string())
}
