//! Test support shared by every crate's tests (feature `test-support`): a fresh, migrated database per test,
//! cloned from a template so that migrations run once per schema version, not once per test; and a
//! statement's query plan ([`plan_of`]), for the tests that check which indexes answer it.
//!
//! The server is found through `DATABASE_URL` (`make test` starts the project-local cluster and sets it). The
//! template's name carries a hash of the migrations, so a changed schema gets a new template by itself.

#![allow(clippy::expect_used, clippy::panic)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::Text;
use diesel::{sql_query, Connection, PgConnection, QueryableByName, RunQueryDsl};

use crate::pool::{PgDatabase, PoolConfig};

/// A throwaway database, dropped with the value.
pub struct TestDatabase {
    name: String,
    server_url: String,
    url: String,
}

/// The server's URL from `DATABASE_URL`.
///
/// # Panics
/// When `DATABASE_URL` is not set: tests need a real PostgreSQL.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point to a PostgreSQL server (run the tests with `make test`)")
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

fn migrations_hash() -> u64 {
    let mut hasher = DefaultHasher::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    let mut files: Vec<_> = walk(std::path::Path::new(dir));
    files.sort();
    for f in files {
        f.hash(&mut hasher);
        std::fs::read(&f).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Creates the migrated template once per process (and once per schema version across processes).
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("coalesce_template_{:016x}", migrations_hash());
        let server = server_url();
        let mut admin = PgConnection::establish(&with_database(&server, "postgres")).expect("connect to postgres");
        // Several test processes may start at once: one builds the template, the others wait.
        sql_query("SELECT pg_advisory_lock(7345001)").execute(&mut admin).expect("lock");
        let exists = sql_query(format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))
            .execute(&mut admin)
            .expect("query pg_database")
            == 1;
        if !exists {
            let building = format!("{name}_building");
            sql_query(format!("DROP DATABASE IF EXISTS {building}")).execute(&mut admin).expect("drop");
            sql_query(format!("CREATE DATABASE {building}")).execute(&mut admin).expect("create template");
            crate::migrations::run_pending(&with_database(&server, &building)).expect("migrate template");
            sql_query(format!("ALTER DATABASE {building} RENAME TO {name}")).execute(&mut admin).expect("rename");
        }
        sql_query("SELECT pg_advisory_unlock(7345001)").execute(&mut admin).expect("unlock");
        name
    })
}

impl TestDatabase {
    /// A new database with every migration applied.
    ///
    /// # Panics
    /// When PostgreSQL cannot be reached: a test without its database cannot mean anything.
    pub fn new() -> Self {
        Self::create(Some(template()))
    }

    /// A new, empty database (no migrations), for testing the migrations themselves.
    pub fn empty() -> Self {
        Self::create(None)
    }

    fn create(template: Option<&str>) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let server_url = server_url();
        let mut admin = PgConnection::establish(&with_database(&server_url, "postgres")).expect("connect");
        let create = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        // CREATE DATABASE … TEMPLATE fails while another session is copying the same template: retry briefly.
        let mut attempt = 0;
        loop {
            match sql_query(&create).execute(&mut admin) {
                Ok(_) => break,
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("cannot create test database {name}: {e}"),
            }
        }
        // Tests trade durability for speed; production settings are untouched.
        sql_query(format!("ALTER DATABASE {name} SET synchronous_commit = off")).execute(&mut admin).expect("alter");
        let url = with_database(&server_url, &name);
        Self { name, server_url, url }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool on this database.
    pub fn pool(&self, max_size: u32) -> PgDatabase {
        let mut config = PoolConfig::new(self.url.clone());
        config.max_size = max_size;
        PgDatabase::new(&config)
    }

    /// A plain connection, for arranging rows and checking them with SQL.
    pub fn connection(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test database")
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&with_database(&self.server_url, "postgres")) {
            let _ = sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin);
        }
    }
}

/// An `EXPLAIN` being given its parameters, for [`plan_of`].
pub type Explain = BoxedSqlQuery<'static, Pg, SqlQuery>;

/// The lines of the plan PostgreSQL picks for `sql`, with the parameters `bind` gives it: how a test checks
/// that a statement is answered from the indexes it was written for.
///
/// # Panics
/// When the statement cannot be explained.
pub fn plan_of(conn: &mut PgConnection, sql: &str, bind: impl FnOnce(Explain) -> Explain) -> Vec<String> {
    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let plan: Vec<PlanLine> = bind(sql_query(format!("EXPLAIN {sql}")).into_boxed()).load(conn).expect("explain");
    plan.into_iter().map(|l| l.line).collect()
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(with_database("postgres://u@h:1/db", "x"), "postgres://u@h:1/x");
        assert_eq!(with_database("postgres://u@h:1/db?sslmode=disable", "x"), "postgres://u@h:1/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    }
}
