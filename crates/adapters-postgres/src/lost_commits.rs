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
//!
//! An id names one transaction only within one history. When none of a transaction's WAL reached the standby
//! before a failover, the new primary gives the same id to a transaction of its own, and `pg_xact_status` then
//! describes that one. So the id is taken with the WAL position and timeline of the transaction's last write
//! (same statement, no round trip more). Asked on another timeline, the new primary's timeline history (its
//! `.history` file, read with `pg_read_file`) says where the old timeline ended in its history: before that
//! position, the commit cannot be in it (not committed); after it, the id is the transaction's own (its status
//! holds). When the history cannot be read (a role without the right to `pg_read_file`), `committed` across a
//! timeline change is not trusted: the outcome stays unknown (503), never a success that did not happen.

use std::time::{Duration, Instant};

use application::StoreError;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::errors::StoreResult;
use crate::pool::PgDatabase;

/// The transaction's id (NULL when it wrote nothing: it then has nothing to lose), with the WAL position past
/// its writes (its commit record comes after it) and the timeline it is written on.
pub(crate) const TRANSACTION_ID_SQL: &str = "SELECT pg_current_xact_id_if_assigned()::text::bigint AS xid, \
     pg_current_wal_insert_lsn()::text AS lsn, \
     ('x' || left(pg_walfile_name(pg_current_wal_insert_lsn()), 8))::bit(32)::int AS timeline";

/// `future` for an id past every id the server has given out (a transaction the server never saw: its primary
/// was lost before any of it was replicated); `pg_xact_status` would fail on it. Taking an id of its own (the
/// comparison does) is also what makes this statement's commit wait for the synchronous standby.
/// The timeline the answer is written on comes with it.
const STATUS_SQL: &str = "SELECT CASE WHEN $1::text::xid8 >= pg_current_xact_id() THEN 'future' \
                          ELSE pg_xact_status($1::text::xid8) END AS status, \
                          ('x' || left(pg_walfile_name(pg_current_wal_insert_lsn()), 8))::bit(32)::int AS timeline";

/// A timeline's history: one line per ancestor, `parent-timeline  switch-position  reason`.
const HISTORY_SQL: &str =
    "SELECT pg_read_file(format('pg_wal/%s.history', lpad(upper(to_hex($1)), 8, '0'))) AS history";

/// How long to wait between two questions while the transaction is still in progress (its backend has not
/// noticed yet that its client is gone) or the question failed (no primary yet).
const ASK_AGAIN_AFTER: Duration = Duration::from_millis(100);

/// A transaction about to commit: its id, and where in which history its writes are.
#[derive(QueryableByName, Debug, Clone)]
pub(crate) struct TransactionId {
    #[diesel(sql_type = Nullable<BigInt>)]
    pub(crate) xid: Option<i64>,
    #[diesel(sql_type = Text)]
    lsn: String,
    #[diesel(sql_type = Integer)]
    timeline: i32,
}

#[derive(QueryableByName)]
struct Status {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Integer)]
    timeline: i32,
}

#[derive(QueryableByName)]
struct History {
    #[diesel(sql_type = Text)]
    history: String,
}

/// Where the answering server's history stands to the transaction's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lineage {
    /// The same timeline: the id is the transaction's.
    Same,
    /// The transaction's timeline ended in this history after its writes: the id is the transaction's.
    ForkedAfter,
    /// It ended at or before them (or is not in this history): the commit cannot be in it.
    ForkedBefore,
    /// Another timeline whose history could not be read.
    Unknown,
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

    /// What a status means, given where the answering server's history stands to the transaction.
    fn judged(status: Option<&str>, lineage: Lineage) -> Option<Self> {
        match lineage {
            Lineage::Same | Lineage::ForkedAfter => Self::of(status),
            Lineage::ForkedBefore => Some(Self::NotCommitted),
            // the id may be another transaction's: only what rules the commit out is trusted
            Lineage::Unknown => match Self::of(status) {
                Some(Self::Committed) => Some(Self::Unknown),
                other => other,
            },
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

/// Looks up what became of transaction `tx` (which has an id), asking again while it is in progress or the
/// question fails, for at most the pool's connection timeout.
pub(crate) fn look_up(db: &PgDatabase, tx: &TransactionId, xid: i64) -> Outcome {
    let deadline = Instant::now() + db.pool().connection_timeout();
    loop {
        match ask(db, tx, xid) {
            Ok((status, lineage)) => {
                if lineage != Lineage::Same {
                    log::warn!("transaction {xid} looked up on another timeline: {lineage:?}, status {status:?}");
                }
                if let Some(outcome) = Outcome::judged(status.as_deref(), lineage) {
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

fn ask(db: &PgDatabase, tx: &TransactionId, xid: i64) -> Result<(Option<String>, Lineage), Asked> {
    let mut conn = db.get().map_err(Asked::NoConnection)?;
    let status = conn
        .transaction(|c| diesel::sql_query(STATUS_SQL).bind::<BigInt, _>(xid).get_result::<Status>(c))
        .store()
        .map_err(Asked::Failed)?;
    if status.timeline == tx.timeline {
        return Ok((status.status, Lineage::Same));
    }
    let history = diesel::sql_query(HISTORY_SQL).bind::<Integer, _>(status.timeline).get_result::<History>(&mut **conn);
    let lineage = match history {
        Ok(h) => lineage(&h.history, tx),
        Err(e) => {
            log::warn!("the history of timeline {} cannot be read: {e}", status.timeline);
            Lineage::Unknown
        }
    };
    Ok((status.status, lineage))
}

/// Where timeline `tx.timeline` ended in a `.history` file's history, against the position past the
/// transaction's writes.
fn lineage(history: &str, tx: &TransactionId) -> Lineage {
    let Some(written) = parse_lsn(&tx.lsn) else { return Lineage::Unknown };
    let ended = history.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let parent = fields.next()?.parse::<i32>().ok()?;
        (parent == tx.timeline).then(|| fields.next().and_then(parse_lsn))
    });
    match ended {
        Some(Some(switch)) if switch > written => Lineage::ForkedAfter,
        Some(Some(_)) => Lineage::ForkedBefore,
        // a malformed line
        Some(None) => Lineage::Unknown,
        // not an ancestor: nothing of that timeline after its common part is in this history; with no
        // position to compare, say nothing
        None => Lineage::Unknown,
    }
}

/// A WAL position as PostgreSQL prints it (`16/B374D848`).
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
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

    fn tx(lsn: &str, timeline: i32) -> TransactionId {
        TransactionId { xid: Some(1234), lsn: lsn.to_owned(), timeline }
    }

    #[test]
    fn a_history_says_whether_the_old_timeline_ended_after_the_writes() {
        let history = "1\t0/5000000\tno recovery target specified\n\n2\t1/A0000A8\tno recovery target specified\n";
        assert_eq!(lineage(history, &tx("0/4FFFFF0", 1)), Lineage::ForkedAfter);
        assert_eq!(lineage(history, &tx("0/5000000", 1)), Lineage::ForkedBefore);
        assert_eq!(lineage(history, &tx("0/6000000", 1)), Lineage::ForkedBefore);
        assert_eq!(lineage(history, &tx("1/A0000A0", 2)), Lineage::ForkedAfter);
        assert_eq!(lineage(history, &tx("2/0", 2)), Lineage::ForkedBefore);
        // timeline 3 is not an ancestor of this one; a malformed position says nothing either
        assert_eq!(lineage(history, &tx("0/1", 3)), Lineage::Unknown);
        assert_eq!(lineage("1\tnot-a-position\treason\n", &tx("0/1", 1)), Lineage::Unknown);
        assert_eq!(lineage(history, &tx("garbage", 1)), Lineage::Unknown);
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
    }

    #[test]
    fn committed_on_another_timeline_is_trusted_only_when_the_id_is_the_transactions() {
        let committed = Some("committed");
        assert_eq!(Outcome::judged(committed, Lineage::Same), Some(Outcome::Committed));
        assert_eq!(Outcome::judged(committed, Lineage::ForkedAfter), Some(Outcome::Committed));
        // the id was given again on the new timeline: another transaction's status
        assert_eq!(Outcome::judged(committed, Lineage::ForkedBefore), Some(Outcome::NotCommitted));
        assert_eq!(Outcome::judged(Some("in progress"), Lineage::ForkedBefore), Some(Outcome::NotCommitted));
        assert_eq!(Outcome::judged(committed, Lineage::Unknown), Some(Outcome::Unknown));
        // what rules the commit out holds whoever's the id is
        assert_eq!(Outcome::judged(Some("aborted"), Lineage::Unknown), Some(Outcome::NotCommitted));
        assert_eq!(Outcome::judged(Some("future"), Lineage::Unknown), Some(Outcome::NotCommitted));
        assert_eq!(Outcome::judged(Some("in progress"), Lineage::Unknown), None);
        assert_eq!(Outcome::judged(Some("aborted"), Lineage::ForkedAfter), Some(Outcome::NotCommitted));
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
