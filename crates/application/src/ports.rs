//! The ports: what the use cases need from storage, as traits. `adapters-postgres` implements them with diesel;
//! the tests of this crate implement them in memory.
//!
//! A [`Session`] is one database connection, either inside a transaction ([`Database::begin`]) or in autocommit
//! mode ([`Database::connect`], for single-statement reads). Dropping a transactional session without calling
//! [`Session::commit`] rolls everything back, so an early `?` in a use case can never leave half a change.
//!
//! This file holds what every port shares (the error, the database, the session, a listing page); each port
//! family lives in the submodule named after the use cases that need it (`ports/contacts.rs` for
//! `crate::contacts`, `ports/merges.rs` for the three merge use cases, …), and everything is re-exported here,
//! so `crate::ports::ContactStore` is the one path to use. `IdempotencyStore` and `WebhookStore` are defined
//! next to their types in `crate::idempotency` and `crate::webhooks`.

mod admin;
mod auth;
mod contacts;
mod conversations;
mod inboxes;
mod labels;
mod merges;
mod notes;
mod webhooks;

pub use admin::{Account, AdminStore, PlatformGrant, User};
pub use auth::{AccountStatus, AuthStore, Credentials, Role, TokenOwner};
pub use contacts::{
    ContactPage, ContactQuery, ContactSort, ContactSortKey, ContactStore, DeletedCounts, NewContact, StoredContactInbox,
};
pub use conversations::{Conversation, ConversationStore, Message, MessageType, NewConversation, Sender};
pub use inboxes::InboxStore;
pub use labels::LabelStore;
pub use merges::{MergeEntry, MergeRecord, MergeStore, MovedCounts, StoredMerge};
pub use notes::{Note, NoteStore};
pub use webhooks::OutboxStore;

pub use crate::idempotency::IdempotencyStore;
pub use crate::webhooks::WebhookStore;

/// What can go wrong in storage, in terms a use case can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write; `field` is the input field it guards (`email`, `identifier`, …).
    #[error("{field} is already taken")]
    Taken { field: &'static str },
    /// A referenced row does not exist (foreign key), e.g. a contact deleted by a concurrent merge.
    #[error("a referenced {entity} does not exist")]
    MissingReference { entity: &'static str },
    /// The database cannot be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the text is for the log only, never for clients.
    #[error("storage failure: {0}")]
    Other(String),
}

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
}

/// Runs `work` in a new transaction and commits it when `work` succeeds (dropping it rolls back otherwise).
///
/// # Errors
/// `work`'s error, or the store's when the transaction cannot begin or commit.
pub fn in_transaction<T, E: From<StoreError>>(
    db: &dyn Database,
    work: impl FnOnce(&mut dyn Session) -> Result<T, E>,
) -> Result<T, E> {
    let mut tx = db.begin()?;
    let out = work(tx.as_mut())?;
    tx.commit()?;
    Ok(out)
}

/// One connection with every store on it.
pub trait Session:
    AuthStore
    + AdminStore
    + ContactStore
    + InboxStore
    + ConversationStore
    + NoteStore
    + LabelStore
    + MergeStore
    + OutboxStore
    + IdempotencyStore
    + WebhookStore
{
    /// Commits the transaction (a no-op in autocommit mode).
    ///
    /// # Errors
    /// Whatever the database says at commit, e.g. `Unavailable` when the connection dropped.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A page of a listing: 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    /// Rows to skip.
    pub fn offset(self) -> u64 {
        u64::from(self.number.saturating_sub(1)) * u64::from(self.size)
    }
}
