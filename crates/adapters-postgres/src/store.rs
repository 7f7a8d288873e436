//! [`PgSession`]: every port of `application` implemented on one pooled connection, inside a transaction or in
//! autocommit mode. Dropping a transactional session without committing rolls it back.
//!
//! This file holds the session itself (transaction plumbing, and the `Database` port on the pool that hands
//! sessions out) and the few helpers several port families share;
//! each port family's SQL lives in the submodule named after its use cases (`merge_contacts`, `merge_preview` and
//! `merge_history` in [`merges`], and so on). Submodules use this file's helpers, never each other's, except
//! `admin`, which reads account statuses the way `auth` does.

mod admin;
mod auth;
mod contact_counts;
mod contacts;
mod conversations;
mod duplicates;
mod idempotency;
mod identities;
mod inboxes;
mod labels;
mod merges;
mod notes;
mod signed_in;
mod undo;
mod webhooks;

use application::ports::User;
use application::ports::{CommitError, ContactRead, ContactReadDone};
use application::{Database, Session, StoreError};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::sql_types::BigInt;
use domain::{AccountId, InboxId};

use crate::errors::StoreResult;
use crate::lost_commits::{self, Outcome, TransactionId, TRANSACTION_ID_SQL};
use crate::models::{InboxRow, UserRow};
use crate::pool::{PgDatabase, PgPooled};
// `schema::inboxes` is spelled out: the name `inboxes` is the submodule here.
use crate::schema::{self, users};

/// One connection, with or without an open transaction.
pub struct PgSession {
    conn: PgPooled,
    open_transaction: bool,
    /// The pool the session came from: the outcome of a commit lost with its connection is looked up on it,
    /// when it does ([`crate::PoolConfig::look_up_lost_commits`]), and a long search term's pieces are chosen
    /// by its sample (`crate::trigram_shares`). Without it (tests), neither.
    db: Option<PgDatabase>,
}

impl PgSession {
    /// Opens a transaction on the connection.
    pub fn begin(mut conn: PgPooled) -> Result<Self, StoreError> {
        AnsiTransactionManager::begin_transaction(&mut **conn).store()?;
        Ok(Self { conn, open_transaction: true, db: None })
    }

    /// Uses the connection in autocommit mode.
    pub fn autocommit(conn: PgPooled) -> Self {
        Self { conn, open_transaction: false, db: None }
    }

    /// Knows the pool it came from (its `db` field says what for).
    #[must_use]
    pub(crate) fn of(mut self, db: &PgDatabase) -> Self {
        self.db = Some(db.clone());
        self
    }

    /// The pool a commit lost with its connection is looked up on, when the pool does that.
    fn look_up_on(&self) -> Option<&PgDatabase> {
        self.db.as_ref().filter(|db| db.looks_up_lost_commits())
    }

    fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Drop for PgSession {
    fn drop(&mut self) {
        // A lost connection is discarded by the pool; a rollback on it could only fail.
        if self.open_transaction && !self.conn.lost() {
            // A failed rollback marks the connection broken, and the pool then discards it.
            if let Err(e) = AnsiTransactionManager::rollback_transaction(&mut **self.conn) {
                log::warn!("rollback failed: {e}");
            }
        }
    }
}

impl Session for PgSession {
    fn commit(mut self: Box<Self>) -> Result<(), CommitError> {
        if !self.open_transaction {
            return Ok(());
        }
        // Asked before `COMMIT`, so that a commit lost with its connection can be looked up: one more round trip.
        let tx = match self.look_up_on() {
            Some(_) => match diesel::sql_query(TRANSACTION_ID_SQL).get_result::<TransactionId>(self.conn()).store() {
                Ok(tx) => Some(tx),
                // `COMMIT` was not sent: nothing of the transaction is stored
                Err(e) if self.conn.lost() => return Err(CommitError::NotCommitted(e)),
                Err(e) => return Err(CommitError::Failed(e)),
            },
            None => None,
        };
        self.open_transaction = false;
        let Err(e) = AnsiTransactionManager::commit_transaction(&mut **self.conn) else { return Ok(()) };
        let e = crate::errors::from_diesel(e);
        match (
            self.db.take().filter(PgDatabase::looks_up_lost_commits),
            tx.as_ref().and_then(|tx| tx.xid.map(|xid| (tx, xid))),
        ) {
            (Some(db), Some((tx, xid))) if self.conn.lost() => {
                // the lost connection goes back to the pool (which discards it) before the lookup takes one
                drop(self);
                let outcome = lost_commits::look_up(&db, tx, xid);
                crate::metrics::lost_commit(outcome.as_str());
                match outcome {
                    Outcome::Committed => {
                        log::warn!("commit lost with its connection; transaction {xid} had committed: {e}");
                        Ok(())
                    }
                    Outcome::NotCommitted => {
                        log::warn!("commit lost with its connection; transaction {xid} had not committed: {e}");
                        Err(CommitError::NotCommitted(e))
                    }
                    Outcome::Unknown => {
                        log::warn!("commit failed, its outcome is unknown (transaction {xid}): {e}");
                        Err(CommitError::Failed(e))
                    }
                }
            }
            // a transaction that wrote nothing has nothing to lose
            (Some(_), None) if self.conn.lost() => Ok(()),
            (None, _) if self.conn.lost() => {
                // The transaction may or may not have committed; the client gets a 503 and decides.
                crate::metrics::lost_commit(Outcome::Unknown.as_str());
                log::warn!("commit failed, its outcome is unknown: {e}");
                Err(CommitError::Failed(e))
            }
            _ => {
                log::warn!("commit failed: {e}");
                Err(CommitError::Failed(e))
            }
        }
    }

    fn connection_lost(&self) -> bool {
        self.conn.lost()
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Lookups that more than one port family shares.
impl PgSession {
    fn inbox_row(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxRow>, StoreError> {
        schema::inboxes::table
            .filter(schema::inboxes::account_id.eq(account.get()))
            .filter(schema::inboxes::id.eq(id.get()))
            .select(InboxRow::as_select())
            .first(self.conn())
            .optional()
            .store()
    }

    fn users_by_id(&mut self, ids: &[i64]) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> =
            users::table.filter(users::id.eq_any(ids)).select(UserRow::as_select()).load(self.conn()).store()?;
        Ok(rows.into_iter().map(User::from).collect())
    }
}

/// Sessions come from the pool: the [`Database`] port on [`PgDatabase`].
impl Database for PgDatabase {
    fn begin(&self) -> Result<Box<dyn Session>, StoreError> {
        let session = match PgSession::begin(self.get()?) {
            // `BEGIN` is the transaction's first statement, so nothing was done yet: a connection that died
            // while trusted (it is now discarded) costs a second try, not the request.
            Err(StoreError::Unavailable(_)) => PgSession::begin(self.get()?)?,
            other => other?,
        };
        Ok(Box::new(session.of(self)))
    }

    fn connect(&self) -> Result<Box<dyn Session>, StoreError> {
        Ok(Box::new(PgSession::autocommit(self.get()?).of(self)))
    }

    fn ping(&self) -> bool {
        self.get().is_ok_and(|mut conn| conn.ping().is_ok())
    }

    /// Queued for the pool's readers, which read what arrives together in one statement (`batched_reads`).
    fn read_contact(&self, read: ContactRead, done: ContactReadDone) {
        self.read_batcher().submit(read, done, || {
            let db = self.clone();
            Box::new(move |reads| signed_in::read_together(&db, reads))
        });
    }
}
