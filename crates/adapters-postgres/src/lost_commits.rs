//! What became of a transaction whose connection was lost during its `COMMIT`: looked up on a new connection,
//! so that a planned failover costs a client nothing.
//!
//! A `COMMIT` in flight when the primary goes away may have committed or not. Answering 503 either way is safe
//! but visible; running the work again blindly could do it twice. When the pool is set to look lost commits up
//! ([`crate::PoolConfig::look_up_lost_commits`]), a session asks for its transaction's id just before `COMMIT`
//! (one more round trip, only on a database that can fail over). If the commit then fails with its connection,
//! it asks the primary, on a new connection, `pg_xact_status` of that id: `committed` means the work is stored
//! (the request succeeds), `aborted` (or an id the server never reached) means nothing of it is (it may run
//! again), and anything else stays unknown (503).
//!
//! The question is asked in a transaction that takes an id of its own and commits. With synchronous
//! replication its commit returns only once the standby has everything before it, the looked-up commit
//! included, so `committed` is never said of a commit that a failover could still lose.

use std::time::{Duration, Instant};

use application::StoreError;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::errors::StoreResult;
use crate::pool::PgDatabase;

/// The transaction's id, or NULL when it wrote nothing (it then has nothing to lose).
pub(crate) const TRANSACTION_ID_SQL: &str = "SELECT pg_current_xact_id_if_assigned()::text::bigint AS xid";

/// `future` for an id past every id the server has given out (a transaction the server never saw: its primary
/// was lost before any of it was replicated); `pg_xact_status` would fail on it. Taking an id of its own (the
/// comparison does) is also what makes this statement's commit wait for the synchronous standby.
const STATUS_SQL: &str = "SELECT CASE WHEN $1::text::xid8 >= pg_current_xact_id() THEN 'future' \
                          ELSE pg_xact_status($1::text::xid8) END AS status";

/// How long to wait between two questions while the transaction is still in progress (its backend has not
/// noticed yet that its client is gone) or the question failed (no primary yet).
const ASK_AGAIN_AFTER: Duration = Duration::from_millis(100);

#[derive(QueryableByName)]
pub(crate) struct TransactionId {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) xid: Option<i64>,
}

#[derive(QueryableByName)]
struct Status {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
}

/// What became of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Committed,
    NotCommitted,
    Unknown,
}

impl Outcome {
    /// The name metrics give it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Committed => "committed",
            Self::NotCommitted => "not_committed",
            Self::Unknown => "unknown",
        }
    }

    fn of(status: Option<&str>) -> Option<Self> {
        match status {
            Some("committed") => Some(Self::Committed),
            Some("aborted" | "future") => Some(Self::NotCommitted),
            // still running: ask again
            Some("in progress") => None,
            // too old for the server to tell, which a transaction of a moment ago never is
            _ => Some(Self::Unknown),
        }
    }
}

/// Looks up what became of transaction `xid`, asking again while it is in progress or the question fails, for
/// at most the pool's connection timeout.
pub(crate) fn look_up(db: &PgDatabase, xid: i64) -> Outcome {
    let deadline = Instant::now() + db.pool().connection_timeout();
    loop {
        match ask(db, xid) {
            Ok(status) => {
                if let Some(outcome) = Outcome::of(status.as_deref()) {
                    return outcome;
                }
            }
            // `get` has waited the pool's whole timeout: no primary to ask
            Err(Asked::NoConnection(e)) => {
                log::warn!("the outcome of transaction {xid} cannot be looked up: {e}");
                return Outcome::Unknown;
            }
            Err(Asked::Failed(e)) => log::info!("looking up transaction {xid}: {e}"),
        }
        if Instant::now() + ASK_AGAIN_AFTER >= deadline {
            return Outcome::Unknown;
        }
        std::thread::sleep(ASK_AGAIN_AFTER);
    }
}

enum Asked {
    NoConnection(StoreError),
    Failed(StoreError),
}

fn ask(db: &PgDatabase, xid: i64) -> Result<Option<String>, Asked> {
    let mut conn = db.get().map_err(Asked::NoConnection)?;
    let status = conn
        .transaction(|c| diesel::sql_query(STATUS_SQL).bind::<BigInt, _>(xid).get_result::<Status>(c))
        .store()
        .map_err(Asked::Failed)?;
    Ok(status.status)
}

/// Whether a libpq connection string names more than one host (`postgres://h1:5432,h2:5432/db`, or
/// `host=h1,h2` in the keyword form): a database that can fail over from one to the other.
pub fn names_several_hosts(url: &str) -> bool {
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts);
        return hosts.contains(',')
            || rest.split_once('?').is_some_and(|(_, query)| query.split('&').any(is_host_list));
    }
    url.split_whitespace().any(is_host_list)
}

fn is_host_list(pair: &str) -> bool {
    pair.split_once('=').is_some_and(|(key, value)| matches!(key.trim(), "host" | "hostaddr") && value.contains(','))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_several_hosts_are_told_from_single_host_ones() {
        for several in [
            "postgres://127.0.0.1:54371,127.0.0.1:54372/coalesce?target_session_attrs=read-write",
            "postgresql://user:pa,ss@a:1,b:2/db",
            "postgres:///db?host=a,b&port=1,2",
            "host=a,b port=5432,5433 dbname=db",
            "hostaddr=10.0.0.1,10.0.0.2 dbname=db",
        ] {
            assert!(names_several_hosts(several), "{several}");
        }
        for single in [
            "postgres://localhost:54329/coalesce",
            "postgres://user:pa,ss@localhost/db",
            "postgres:///db?host=/tmp&application_name=a,b",
            "host=localhost dbname=db options=-c%20a=b,c",
            "",
        ] {
            assert!(!names_several_hosts(single), "{single}");
        }
    }

    #[test]
    fn statuses_map_to_outcomes_and_in_progress_asks_again() {
        assert_eq!(Outcome::of(Some("committed")), Some(Outcome::Committed));
        assert_eq!(Outcome::of(Some("aborted")), Some(Outcome::NotCommitted));
        assert_eq!(Outcome::of(Some("future")), Some(Outcome::NotCommitted));
        assert_eq!(Outcome::of(Some("in progress")), None);
        assert_eq!(Outcome::of(None), Some(Outcome::Unknown));
        assert_eq!(Outcome::of(Some("something else")), Some(Outcome::Unknown));
    }
}
