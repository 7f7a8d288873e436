//! The ports: what the use cases need from storage, as traits. `adapters-postgres` implements them with diesel;
//! the tests of this crate implement them in memory.
//!
//! A [`Session`] is one database connection, either inside a transaction ([`Database::begin`]) or in autocommit
//! mode ([`Database::connect`], for single-statement reads). Dropping a transactional session without calling
//! [`Session::commit`] rolls everything back, so an early `?` in a use case can never leave half a change.

use chrono::{DateTime, Utc};
use domain::{
    AccountId, Contact, ContactAttributes, ContactId, ContactInbox, ConversationId, InboxId, InboxSummary, NoteId,
    UserId,
};

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
/// What a platform app created, and so may provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformGrant {
    Account(AccountId),
    User(UserId),
}

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
    /// Records that a platform app created the account or the user, which it may then provision.
    ///
    /// # Errors
    /// Storage failures.
    fn grant_platform_app(&mut self, app: i64, grant: PlatformGrant) -> Result<(), StoreError>;
    /// Whether the platform app created the account, and whether it created the user.
    ///
    /// # Errors
    /// Storage failures.
    fn platform_app_grants(&mut self, app: i64, account: AccountId, user: UserId) -> Result<(bool, bool), StoreError>;
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

    /// The contact's channel addresses, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn contact_inboxes(&mut self, account: AccountId, id: ContactId) -> Result<Vec<ContactInbox>, StoreError>;

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

    /// The contacts among `ids` that exist in the account, in no particular order.
    ///
    /// # Errors
    /// Storage failures.
    fn find_contacts(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError>;

    /// Inserts a contact (attributes already normalized and validated).
    ///
    /// # Errors
    /// `Taken { field }` when email, identifier or phone number belongs to another contact of the account.
    fn insert_contact(&mut self, account: AccountId, contact: &NewContact) -> Result<Contact, StoreError>;

    /// Writes the six attributes and `blocked` and returns the stored contact.
    ///
    /// # Errors
    /// `Taken { field }` as for [`ContactStore::insert_contact`].
    fn update_contact(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
        blocked: bool,
    ) -> Result<Contact, StoreError>;

    /// Sets the contact's `last_activity_at`.
    ///
    /// # Errors
    /// Storage failures.
    fn touch_contact(&mut self, account: AccountId, id: ContactId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// One page of the account's contacts, optionally narrowed by a search term, and the number of contacts
    /// that match in all. The search is a case-insensitive substring match on name, email, phone number and
    /// identifier, in which every character of the term (`%`, `_` and `\` included) stands for itself.
    ///
    /// # Errors
    /// Storage failures.
    fn contacts_page(&mut self, account: AccountId, query: &ContactQuery) -> Result<ContactPage, StoreError>;

    /// The channel addresses of several contacts at once (oldest first), each with its owner.
    ///
    /// # Errors
    /// Storage failures.
    fn contact_inboxes_of(
        &mut self,
        account: AccountId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactId, ContactInbox)>, StoreError>;

    /// Adds a channel address to a contact.
    ///
    /// # Errors
    /// `Taken { field: "source_id" }` when the inbox already has that source id; `MissingReference` when the
    /// contact or the inbox is not in the account.
    fn insert_contact_inbox(
        &mut self,
        account: AccountId,
        contact: ContactId,
        inbox: InboxId,
        source_id: &str,
    ) -> Result<StoredContactInbox, StoreError>;

    /// The channel address with this source id in the inbox, `None` when there is none.
    ///
    /// # Errors
    /// Storage failures.
    fn find_contact_inbox_by_source(
        &mut self,
        account: AccountId,
        inbox: InboxId,
        source_id: &str,
    ) -> Result<Option<StoredContactInbox>, StoreError>;

    /// The contact's oldest channel address in the inbox, `None` when it has none there.
    ///
    /// # Errors
    /// Storage failures.
    fn find_contact_inbox_of(
        &mut self,
        account: AccountId,
        contact: ContactId,
        inbox: InboxId,
    ) -> Result<Option<StoredContactInbox>, StoreError>;

    /// Deletes everything that belongs to the contact, one set-based statement per table: the messages of its
    /// conversations and the messages it sent elsewhere, its conversations, contact inboxes, notes and labels.
    /// The contact row itself stays (see [`ContactStore::delete_contact_row`]).
    ///
    /// # Errors
    /// Storage failures.
    fn delete_contact_children(&mut self, account: AccountId, id: ContactId) -> Result<DeletedCounts, StoreError>;
}

/// A contact to insert.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewContact {
    pub attributes: ContactAttributes,
    pub blocked: bool,
}

/// What contacts can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSortKey {
    Name,
    Email,
    PhoneNumber,
    LastActivityAt,
    CreatedAt,
}

/// A sort order of contact lists. Contacts without a value for the key come last in both directions, and
/// the id breaks ties (in the same direction), so pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactSort {
    pub key: ContactSortKey,
    pub descending: bool,
}

impl Default for ContactSort {
    /// Most recently active first, as the reference lists contacts.
    fn default() -> Self {
        Self { key: ContactSortKey::LastActivityAt, descending: true }
    }
}

/// Which contacts to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactQuery {
    /// A search term; `None` lists every contact.
    pub search: Option<String>,
    pub sort: ContactSort,
    pub offset: u64,
    pub limit: u64,
}

/// One page of contacts.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage {
    /// How many contacts match in all pages together.
    pub total: u64,
    pub contacts: Vec<Contact>,
}

/// A stored channel address of a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContactInbox {
    pub id: i64,
    pub contact_id: ContactId,
    pub contact_inbox: ContactInbox,
}

/// How many rows deleting a contact removed, per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeletedCounts {
    pub messages: u64,
    pub conversations: u64,
    pub contact_inboxes: u64,
    pub notes: u64,
    pub labels: u64,
}

/// Inboxes.
pub trait InboxStore {
    /// # Errors
    /// Storage failures.
    fn insert_inbox(&mut self, account: AccountId, name: &str, channel_type: &str) -> Result<InboxSummary, StoreError>;

    /// The account's inboxes, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn list_inboxes(&mut self, account: AccountId) -> Result<Vec<InboxSummary>, StoreError>;

    /// The inbox, `None` when it is not in the account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_inbox(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxSummary>, StoreError>;
}

/// A conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub account_id: AccountId,
    /// The number clients know the conversation by, unique within the account.
    pub display_id: i64,
    pub inbox_id: InboxId,
    pub contact_id: ContactId,
    pub contact_inbox_id: Option<i64>,
    /// `open`, `resolved`, `pending` or `snoozed`.
    pub status: String,
    pub last_activity_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A conversation to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    pub display_id: i64,
    pub inbox_id: InboxId,
    pub contact_id: ContactId,
    pub contact_inbox_id: Option<i64>,
}

/// The kind of a message, as stored (`incoming`, `outgoing`, `activity`, `template`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Incoming,
    Outgoing,
    Activity,
    Template,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
            Self::Activity => "activity",
            Self::Template => "template",
        }
    }

    /// The reference's integer code (0 incoming, 1 outgoing, 2 activity, 3 template).
    pub fn code(self) -> u8 {
        match self {
            Self::Incoming => 0,
            Self::Outgoing => 1,
            Self::Activity => 2,
            Self::Template => 3,
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            "activity" => Some(Self::Activity),
            "template" => Some(Self::Template),
            _ => None,
        }
    }
}

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Contact(ContactId),
    User(UserId),
    /// Activity messages are sent by nobody.
    Nobody,
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: i64,
    pub account_id: AccountId,
    pub conversation_id: ConversationId,
    pub message_type: MessageType,
    pub content: String,
    pub sender: Sender,
    pub created_at: DateTime<Utc>,
}

/// Conversations and their messages.
pub trait ConversationStore {
    /// Hands out the account's next conversation number. The counter row stays locked until the transaction
    /// ends, so numbers are never handed out twice and never skipped by a committed conversation.
    ///
    /// # Errors
    /// `MissingReference` when the account does not exist.
    fn next_display_id(&mut self, account: AccountId) -> Result<i64, StoreError>;

    /// # Errors
    /// `MissingReference` when the inbox, contact or contact inbox is not in the account.
    fn insert_conversation(
        &mut self,
        account: AccountId,
        conversation: &NewConversation,
    ) -> Result<Conversation, StoreError>;

    /// The conversation with this display id, `None` when it is not in the account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_conversation(&mut self, account: AccountId, display_id: i64) -> Result<Option<Conversation>, StoreError>;

    /// The contact's conversations, most recently active first.
    ///
    /// # Errors
    /// Storage failures.
    fn conversations_of_contact(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// Sets the conversation's `last_activity_at`.
    ///
    /// # Errors
    /// Storage failures.
    fn touch_conversation(
        &mut self,
        account: AccountId,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// `MissingReference` when the conversation or the sending contact no longer exists.
    fn insert_message(
        &mut self,
        account: AccountId,
        conversation: ConversationId,
        message_type: MessageType,
        content: &str,
        sender: Sender,
    ) -> Result<Message, StoreError>;

    /// The conversation's messages, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn messages(&mut self, account: AccountId, conversation: ConversationId) -> Result<Vec<Message>, StoreError>;

    /// The users among `ids` (message senders, note authors).
    ///
    /// # Errors
    /// Storage failures.
    fn find_users(&mut self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
}

/// A note about a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub id: NoteId,
    pub account_id: AccountId,
    pub contact_id: ContactId,
    /// The user who wrote it; `None` when it was imported or its author is gone.
    pub author: Option<User>,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Notes about contacts.
pub trait NoteStore {
    /// The contact's notes, newest first.
    ///
    /// # Errors
    /// Storage failures.
    fn notes(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Note>, StoreError>;

    /// The note, `None` unless it belongs to that contact in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<Option<Note>, StoreError>;

    /// # Errors
    /// `MissingReference` when the contact no longer exists.
    fn insert_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        author: UserId,
        content: &str,
    ) -> Result<Note, StoreError>;

    /// Rewrites the content; `None` unless the note belongs to that contact in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn update_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: NoteId,
        content: &str,
    ) -> Result<Option<Note>, StoreError>;

    /// Deletes the note; `false` unless it belonged to that contact in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn delete_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<bool, StoreError>;
}

/// Labels of contacts.
pub trait LabelStore {
    /// The contact's labels, sorted.
    ///
    /// # Errors
    /// Storage failures.
    fn labels(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<String>, StoreError>;

    /// Makes `labels` (normalized, without duplicates) the contact's whole set: labels not in it are removed,
    /// missing ones added, those already there left alone; set-based, whatever the number of labels.
    ///
    /// # Errors
    /// `MissingReference` when the contact no longer exists.
    fn replace_labels(&mut self, account: AccountId, contact: ContactId, labels: &[String]) -> Result<(), StoreError>;
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
    /// a number of statements that does not grow with the rows. Labels are a union: a label both contacts carry
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
