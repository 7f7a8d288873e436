//! The ports: what the use cases need from storage, as traits. `adapters-postgres` implements them with diesel;
//! the tests of this crate implement them in memory.
//!
//! A [`Session`] is one database connection, either inside a transaction ([`Database::begin`]) or in autocommit
//! mode ([`Database::connect`], for single-statement reads). Dropping a transactional session without calling
//! [`Session::commit`] rolls everything back, so an early `?` in a use case can never leave half a change.
//!
//! This file holds what ties the ports together (the database, the session, [`in_transaction`],
//! [`in_rolled_back_transaction`] and [`on_connection`], which run work again once when its connection was
//! lost); each port
//! family lives in the submodule named after the use cases that need it (`ports/contacts.rs` for
//! `crate::contacts`, `ports/merges.rs` for the three merge use cases, `ports/undo.rs` for undoing one, `ports/duplicates.rs` for duplicate suggestions, …), the shared [`StoreError`] in the leaf
//! `ports/error.rs`, and everything is re-exported here, so `crate::ports::ContactStore` is the one path to use.
//! Submodules import `error` and, in one direction only, each other (`admin` uses `auth`'s roles; `conversations`
//! and `notes` use `admin`'s `User`), never this file.

mod admin;
mod auth;
mod contacts;
mod conversations;
mod duplicates;
mod error;
mod idempotency;
mod identities;
mod inboxes;
mod labels;
mod merges;
mod notes;
mod undo;
mod webhooks;

pub use admin::{Account, AdminStore, PlatformGrant, User};
pub use auth::{AccountStatus, AuthStore, Credentials, Role, TokenOwner};
pub use contacts::{
    ContactPage, ContactQuery, ContactRead, ContactReadDone, ContactSort, ContactSortKey, ContactStore,
    ContactWithAddresses, CredentialsAndContact, DeletedCounts, NewContact, StoredContactInbox, SEARCH_COUNT_CEILING,
};
pub use conversations::{Conversation, ConversationStore, Message, MessageType, NewConversation, Sender};
pub use duplicates::{Candidate, Candidates, DuplicateStore, HeldContacts, ScoredPair, StoredPair};
pub use error::{CommitError, StoreError};
pub use idempotency::{Claim, IdempotencyRequest, IdempotencyStore, StoredResponse};
pub use identities::IdentityStore;
pub use inboxes::InboxStore;
pub use labels::LabelStore;
pub use merges::{
    Absorbed, MergeEntry, MergeLedger, MergeRecord, MergeStore, MergeWrite, MergeWritten, MovedCounts, MovedRows, Page,
    StoredMerge,
};
pub use notes::{Note, NoteStore};
pub use undo::{LedgerFacts, UndoCounts, UndoStore, UndoableMerge};
pub use webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, OutboxStore, Webhook, WebhookStore};

/// The entry point of storage.
pub trait Database: Send + Sync {
    /// A session inside a new transaction.
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had in time.
    fn begin(&self) -> Result<Box<dyn Session>, StoreError>;

    /// A session in autocommit mode, for reads that need no transaction.
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had in time.
    fn connect(&self) -> Result<Box<dyn Session>, StoreError>;

    /// Whether the database answers at all (for readiness probes).
    fn ping(&self) -> bool;

    /// Reads what [`ContactStore::credentials_and_contact`] reads for `read` and hands the outcome to `done`.
    /// A store may run the read on a thread of its own, in one round trip with other requests' reads
    /// (`adapters-postgres` does, under load), so that the caller needs no thread to wait on; this default
    /// reads on the calling thread (once more when the connection was lost, as [`on_connection`] does).
    fn read_contact(&self, read: ContactRead, done: ContactReadDone) {
        let read_once = |s: &mut dyn Session| s.credentials_and_contact(&read.token_digest, read.account, read.id);
        done(twice_if_lost(|| self.connect(), read_once).map(|(found, _)| found));
    }
}

/// Runs `work` in a new transaction and commits it when `work` succeeds (dropping it rolls back otherwise).
///
/// When the transaction's connection is lost ([`Session::connection_lost`]: the server went away or turned
/// read-only in a failover) while nothing of it can have committed, `work` runs once more, from the start, in a
/// new transaction on a new connection. That is safe for every use case, merges included. It is so when `work`
/// fails on the lost connection (`COMMIT` was not sent), and when the commit fails with
/// [`CommitError::NotCommitted`] (the store looked the outcome up). A commit that fails otherwise is never
/// retried: it may have committed, and the caller answers `Unavailable` (503).
///
/// # Errors
/// `work`'s error, or the store's when the transaction cannot begin or commit.
pub fn in_transaction<T, E: From<StoreError>>(
    db: &dyn Database,
    mut work: impl FnMut(&mut dyn Session) -> Result<T, E>,
) -> Result<T, E> {
    let mut retried = false;
    loop {
        let mut tx = db.begin()?;
        let lost: E = match work(tx.as_mut()) {
            Ok(out) => match tx.commit() {
                Ok(()) => return Ok(out),
                Err(CommitError::NotCommitted(e)) => e.into(),
                Err(CommitError::Failed(e)) => return Err(e.into()),
            },
            Err(e) if tx.connection_lost() => e,
            Err(e) => return Err(e),
        };
        if retried {
            return Err(lost);
        }
        retried = true;
    }
}

/// Runs `work` in a new transaction that is always rolled back (previews: what a change would do now), once
/// more on a new connection when the first one was lost, as [`in_transaction`] does.
///
/// # Errors
/// `work`'s error, or the store's when the transaction cannot begin.
pub fn in_rolled_back_transaction<T, E: From<StoreError>>(
    db: &dyn Database,
    work: impl FnMut(&mut dyn Session) -> Result<T, E>,
) -> Result<T, E> {
    // dropping the session without a commit rolls every write back
    Ok(twice_if_lost(|| db.begin(), work)?.0)
}

/// Runs `work` on a connection in autocommit mode (reads), once more on a new connection when the first one
/// was lost, as [`in_transaction`] does.
///
/// # Errors
/// `work`'s error, or the store's when no connection can be had.
pub fn on_connection<T, E: From<StoreError>>(
    db: &dyn Database,
    work: impl FnMut(&mut dyn Session) -> Result<T, E>,
) -> Result<T, E> {
    Ok(twice_if_lost(|| db.connect(), work)?.0)
}

/// Runs `work` on a session from `open`, and once more on a second one when the first failed with its
/// connection lost. Returns the session `work` succeeded on, still open.
fn twice_if_lost<T, E: From<StoreError>>(
    open: impl Fn() -> Result<Box<dyn Session>, StoreError>,
    mut work: impl FnMut(&mut dyn Session) -> Result<T, E>,
) -> Result<(T, Box<dyn Session>), E> {
    let mut session = open()?;
    match work(session.as_mut()) {
        Ok(out) => Ok((out, session)),
        Err(_) if session.connection_lost() => {
            drop(session);
            let mut session = open()?;
            let out = work(session.as_mut())?;
            Ok((out, session))
        }
        Err(e) => Err(e),
    }
}

/// One connection with every store on it.
pub trait Session:
    AuthStore
    + AdminStore
    + ContactStore
    + IdentityStore
    + DuplicateStore
    + InboxStore
    + ConversationStore
    + NoteStore
    + LabelStore
    + MergeStore
    + UndoStore
    + OutboxStore
    + IdempotencyStore
    + WebhookStore
{
    /// Commits the transaction (a no-op in autocommit mode).
    ///
    /// # Errors
    /// [`CommitError::NotCommitted`] when the connection was lost and the transaction is known not to have
    /// committed; [`CommitError::Failed`] with whatever the database said otherwise, e.g. `Unavailable` when the
    /// connection dropped during the commit and its outcome is unknown.
    fn commit(self: Box<Self>) -> Result<(), CommitError>;

    /// Whether the connection was lost under this session (the server went away, or refuses writes since a
    /// failover demoted it): its transaction cannot have committed, and the connection will not be reused.
    fn connection_lost(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
