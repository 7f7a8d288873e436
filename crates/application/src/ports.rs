//! The ports: what the use cases need from storage, as traits. `adapters-postgres` implements them with diesel;
//! the tests of this crate implement them in memory.
//!
//! A [`Session`] is one database connection, either inside a transaction ([`Database::begin`]) or in autocommit
//! mode ([`Database::connect`], for single-statement reads). Dropping a transactional session without calling
//! [`Session::commit`] rolls everything back, so an early `?` in a use case can never leave half a change.

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, UserId};

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

/// One connection with every store on it.
pub trait Session:
    AuthStore + AdminStore + ContactStore + MergeStore + OutboxStore + IdempotencyStore + WebhookStore
{
    /// Commits the transaction (a no-op in autocommit mode).
    ///
    /// # Errors
    /// Whatever the database says at commit, e.g. `Unavailable` when the connection dropped.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// A member's role in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Administrator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Administrator => "administrator",
        }
    }

    /// Parses `agent` or `administrator`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "administrator" => Some(Self::Administrator),
            _ => None,
        }
    }
}

/// Who owns an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    User(UserId),
    PlatformApp(i64),
}

/// Everything authentication needs about one request, found in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// The token's owner, `None` when no token has that digest.
    pub owner: Option<TokenOwner>,
    /// The account's status, `None` when it does not exist.
    pub account: Option<AccountStatus>,
    /// The owner's role in the account, `None` when the owner is not a member.
    pub role: Option<Role>,
}

/// Looks up tokens, accounts and memberships.
pub trait AuthStore {
    /// # Errors
    /// Storage failures only; unknown things are `None` fields of [`Credentials`].
    fn credentials(&mut self, token_digest: &[u8], account: Option<AccountId>) -> Result<Credentials, StoreError>;
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub status: AccountStatus,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

/// Provisioning: accounts, users, memberships, platform apps and their tokens.
pub trait AdminStore {
    /// # Errors
    /// Storage failures.
    fn insert_account(&mut self, name: &str) -> Result<Account, StoreError>;
    /// Sets the status; `Ok(false)` when there is no such account.
    ///
    /// # Errors
    /// Storage failures.
    fn set_account_status(&mut self, id: AccountId, status: AccountStatus) -> Result<bool, StoreError>;
    /// # Errors
    /// `Taken { field: "email" }` when a user already has that email (case-insensitive).
    fn insert_user(&mut self, name: &str, email: &str) -> Result<User, StoreError>;
    /// # Errors
    /// `MissingReference` when the account or the user does not exist; `Taken { field: "user_id" }` when the
    /// user is already a member.
    fn insert_membership(&mut self, account: AccountId, user: UserId, role: Role) -> Result<(), StoreError>;
    /// # Errors
    /// Storage failures.
    fn insert_platform_app(&mut self, name: &str) -> Result<i64, StoreError>;
    /// # Errors
    /// Storage failures.
    fn insert_access_token(&mut self, owner: TokenOwner, token_digest: &[u8]) -> Result<(), StoreError>;
    /// Whether the database holds no account at all (a fresh install).
    ///
    /// # Errors
    /// Storage failures.
    fn has_accounts(&mut self) -> Result<bool, StoreError>;
    /// # Errors
    /// Storage failures.
    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError>;
}

/// Reads and writes contacts.
pub trait ContactStore {
    /// The contact, `None` when it is not in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_contact(&mut self, account: AccountId, id: ContactId) -> Result<Option<Contact>, StoreError>;

    /// Locks the contacts among `ids` that exist in the account, **in ascending id order** (so that two merges
    /// of overlapping pairs can never deadlock), and returns them. A missing contact is simply absent from the
    /// result; a contact deleted by a transaction we waited for is absent too.
    ///
    /// # Errors
    /// Storage failures.
    fn lock_contacts(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError>;

    /// The channel addresses of the given contacts, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn contact_inboxes(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<ContactInbox>, StoreError>;

    /// Writes the six mergeable attributes (already normalized and validated) and returns the stored contact.
    ///
    /// # Errors
    /// `Taken { field }` when email, identifier or phone number belongs to another contact of the account.
    fn update_contact_attributes(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
    ) -> Result<Contact, StoreError>;

    /// Deletes the contact row itself. It MUST fail with `MissingReference`/`Other` rather than silently delete
    /// children: callers move or delete children first.
    ///
    /// # Errors
    /// Storage failures, including children still pointing at the contact.
    fn delete_contact_row(&mut self, account: AccountId, id: ContactId) -> Result<(), StoreError>;
}

/// How many rows of each kind a merge moved from the mergee to the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MovedCounts {
    pub conversations: u64,
    pub messages: u64,
    pub contact_inboxes: u64,
    pub notes: u64,
    pub labels: u64,
}

/// The audit record of one merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeRecord {
    pub account_id: AccountId,
    pub actor: Option<UserId>,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    /// The mergee as it was just before the merge.
    pub mergee_snapshot: serde_json::Value,
    pub moved: MovedCounts,
}

/// A stored merge record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMerge {
    pub id: i64,
    pub created_at: DateTime<Utc>,
}

/// The set-based moves of a merge and its audit trail.
pub trait MergeStore {
    /// Moves every conversation, contact-sent message, contact inbox, note and label of `from` to `to`, with
    /// one statement per table whatever the number of rows. Labels are a union: a label both contacts carry
    /// is kept once.
    ///
    /// # Errors
    /// Storage failures.
    fn move_children(&mut self, account: AccountId, from: ContactId, to: ContactId) -> Result<MovedCounts, StoreError>;

    /// Writes the audit row.
    ///
    /// # Errors
    /// Storage failures.
    fn insert_merge_record(&mut self, record: &MergeRecord) -> Result<StoredMerge, StoreError>;

    /// How many rows [`MergeStore::move_children`] would move from `contact` right now (for previews).
    ///
    /// # Errors
    /// Storage failures.
    fn count_children(&mut self, account: AccountId, contact: ContactId) -> Result<MovedCounts, StoreError>;

    /// The unique fields (`email`, `identifier`, `phone_number`) of `attributes` that a contact other than
    /// those in `exclude` already holds.
    ///
    /// # Errors
    /// Storage failures.
    fn taken_fields(
        &mut self,
        account: AccountId,
        attributes: &ContactAttributes,
        exclude: &[ContactId],
    ) -> Result<Vec<&'static str>, StoreError>;

    /// Where a merged-away contact lives now: follows the merge records from `id` (A into B, B into C → C) and
    /// returns the last base if it still exists; `None` when `id` was never merged away.
    ///
    /// # Errors
    /// Storage failures.
    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError>;

    /// One page of the account's merge records, newest first, optionally only those where `contact` was the
    /// base or the mergee; with the total count.
    ///
    /// # Errors
    /// Storage failures.
    fn list_merges(
        &mut self,
        account: AccountId,
        contact: Option<ContactId>,
        page: Page,
    ) -> Result<(Vec<MergeEntry>, u64), StoreError>;

    /// One merge record of the account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_merge(&mut self, account: AccountId, id: i64) -> Result<Option<MergeEntry>, StoreError>;
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

/// A stored merge record, as the history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeEntry {
    pub id: i64,
    pub account_id: AccountId,
    pub actor: Option<UserId>,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    pub mergee_snapshot: serde_json::Value,
    pub moved: MovedCounts,
    pub created_at: DateTime<Utc>,
}

/// Events for the outside world, written in the transaction of the change they describe.
pub trait OutboxStore {
    /// # Errors
    /// Storage failures.
    fn enqueue_event(
        &mut self,
        account: AccountId,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError>;
}
