//! The contacts port ([`ContactStore`]): contacts, their channel addresses, the paged and searched list, and
//! the delete of a contact's children (used by `crate::contacts`; the merge use cases lock and rewrite contacts
//! through it too).

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, InboxId};

use super::auth::Credentials;
use super::error::StoreError;

/// A contact with its channel addresses, oldest first.
pub type ContactWithAddresses = (Contact, Vec<ContactInbox>);

/// One request's read of a contact with the request's credentials ([`crate::Database::read_contact`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRead {
    /// The digest of the token the request sent.
    pub token_digest: Vec<u8>,
    pub account: AccountId,
    pub id: ContactId,
}

/// What such a read finds: the credentials, and the contact when it is in the account and the token makes a
/// member of it (as [`ContactStore::credentials_and_contact`] reads them).
pub type CredentialsAndContact = (Credentials, Option<ContactWithAddresses>);

/// Where the outcome of a [`ContactRead`] goes; called once, possibly on another thread.
pub type ContactReadDone = Box<dyn FnOnce(Result<CredentialsAndContact, StoreError>) + Send>;

/// Reads and writes contacts.
pub trait ContactStore {
    /// The contact, `None` when it is not in that account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_contact(&mut self, account: AccountId, id: ContactId) -> Result<Option<Contact>, StoreError>;

    /// In one round trip: the credentials of the token with `token_digest` for `account` (as
    /// [`super::auth::AuthStore::credentials`] finds them) and the contact with its channel addresses, oldest first
    /// (`None` when it is not in the account). The caller decides from the credentials whether to show it.
    ///
    /// # Errors
    /// Storage failures.
    fn credentials_and_contact(
        &mut self,
        token_digest: &[u8],
        account: AccountId,
        id: ContactId,
    ) -> Result<CredentialsAndContact, StoreError>;

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
    /// that match in all: exact for the list, at most [`SEARCH_COUNT_CEILING`] for a search. The search is a
    /// case-insensitive substring match on name, email, phone number and identifier, in which every character
    /// of the term (`%`, `_` and `\` included) stands for itself.
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

/// A search counts its matches up to this many and no further: counting every contact a broad term matches
/// (`a`, `gmail`) would cost a scan of the account, while nobody pages through ten thousand hits. A search's
/// `meta.count` is therefore the exact number of matches below the ceiling, and the ceiling above it.
pub const SEARCH_COUNT_CEILING: u64 = 10_000;

/// One page of contacts.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage {
    /// How many contacts match in all pages together (a search's at most [`SEARCH_COUNT_CEILING`]).
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
