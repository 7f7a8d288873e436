//! In-memory ports for the use-case unit tests. A session works on a copy of the state and writes it back on
//! commit, so a dropped session rolls back exactly as a PostgreSQL transaction does. The rules PostgreSQL
//! enforces with constraints (unique values per account, no row pointing at a missing contact) are checked
//! here by hand, so the use cases meet the same refusals in both.
//!
//! This file holds the state, the database and the session, and the helpers tests use to arrange rows; each
//! port family is implemented in the submodule of the same name as in `crate::ports` (`memory/contacts.rs`,
//! `memory/merges.rs`, …). Submodules use this file's helpers, never each other's.

mod admin;
mod auth;
mod contacts;
mod conversations;
mod duplicates;
mod idempotency;
mod identities;
mod inboxes;
mod labels;
mod merges;
mod notes;
mod undo;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use domain::{
    AccountId, Contact, ContactAttributes, ContactId, ContactInbox, ConversationId, InboxId, InboxSummary, NoteId,
    UserId,
};

use crate::ports::{
    Account, CommitError, Conversation, Database, MergeRecord, Message, MessageType, Note, PlatformGrant, Role, Sender,
    Session, StoreError, StoredContactInbox, StoredResponse, TokenOwner, User,
};
use crate::webhooks::{DeliveryOutcome, DueDelivery, Webhook};

/// Every row, as plain vectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub next_id: i64,
    pub accounts: Vec<Account>,
    /// The last conversation number handed out, per account.
    pub display_ids: BTreeMap<AccountId, i64>,
    pub users: Vec<User>,
    pub memberships: Vec<(AccountId, UserId, Role)>,
    pub tokens: Vec<(Vec<u8>, TokenOwner)>,
    pub platform_apps: Vec<(i64, String)>,
    /// What each platform app created.
    pub platform_grants: Vec<(i64, PlatformGrant)>,
    pub inboxes: Vec<(AccountId, InboxSummary)>,
    pub contacts: Vec<Contact>,
    /// Every identity, primary and secondary (kept in step with the contacts' fields by `sync_identities`).
    pub identities: Vec<(AccountId, domain::Identity)>,
    pub contact_inboxes: Vec<(AccountId, StoredContactInbox)>,
    pub conversations: Vec<Conversation>,
    pub messages: Vec<Message>,
    pub notes: Vec<Note>,
    pub labels: Vec<(AccountId, ContactId, String)>,
    pub merges: Vec<MergeRecord>,
    /// What PostgreSQL keeps in the other columns of `contact_merges`, one per merge record.
    pub merge_meta: Vec<MergeMeta>,
    pub events: Vec<(AccountId, String, serde_json::Value)>,
    /// (account, key, fingerprint, response)
    pub idempotency: Vec<(AccountId, String, Vec<u8>, Option<StoredResponse>)>,
    pub webhooks: Vec<Webhook>,
    /// (delivery, status)
    pub deliveries: Vec<(DueDelivery, &'static str)>,
    /// Every outcome recorded, in order: (delivery id, outcome).
    pub delivery_outcomes: Vec<(i64, DeliveryOutcome)>,
    /// How many of `events` have been fanned out.
    pub events_processed: usize,
    pub duplicate_pairs: Vec<(AccountId, crate::ports::StoredPair)>,
    /// (account, low, high)
    pub dismissals: Vec<(AccountId, ContactId, ContactId)>,
    /// The duplicates worker's queue, in order; filled where PostgreSQL's triggers would
    /// (`queue_refresh`).
    pub duplicate_refreshes: Vec<(AccountId, ContactId)>,
}

/// A merge record's columns beyond [`MergeRecord`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeMeta {
    pub created_at: DateTime<Utc>,
    /// The last id handed out before the merge: rows with a higher id came after it.
    pub watermark: i64,
    /// The base's labels right after the merge.
    pub base_labels: Vec<String>,
    pub undone_at: Option<DateTime<Utc>>,
    pub undone_by: Option<UserId>,
    pub undo_counts: Option<serde_json::Value>,
}

/// A fixed instant for rows the tests arrange.
fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default()
}

impl State {
    /// What the triggers on contacts and contact inboxes do in PostgreSQL: queue the contact for the
    /// duplicates worker.
    fn queue_refresh(&mut self, account: AccountId, contact: ContactId) {
        self.duplicate_refreshes.push((account, contact));
    }

    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a contact with the given attributes and returns its id.
    pub fn add_contact(&mut self, account: AccountId, attributes: ContactAttributes) -> ContactId {
        let id = ContactId::new(self.id());
        self.contacts.push(Contact {
            id,
            account_id: account,
            attributes,
            blocked: false,
            thumbnail: String::new(),
            last_activity_at: None,
            created_at: epoch(),
            updated_at: epoch(),
        });
        let attributes = self.contacts.last().map(|c| c.attributes.clone()).unwrap_or_default();
        self.sync_identities(account, id, None, &attributes);
        id
    }

    /// Changes a contact's attributes as an update would (its identities follow).
    pub fn edit_contact(&mut self, id: ContactId, edit: impl FnOnce(&mut ContactAttributes)) {
        let Some(contact) = self.contacts.iter_mut().find(|c| c.id == id) else { return };
        let old = contact.attributes.clone();
        edit(&mut contact.attributes);
        let (account, new) = (contact.account_id, contact.attributes.clone());
        self.sync_identities(account, id, Some(&old), &new);
    }

    /// Adds an API inbox and returns it.
    pub fn add_inbox(&mut self, account: AccountId, name: &str) -> InboxSummary {
        let inbox = InboxSummary {
            id: InboxId::new(self.id()),
            name: name.into(),
            channel_type: "Channel::Api".into(),
            avatar_url: String::new(),
            provider: None,
        };
        self.inboxes.push((account, inbox.clone()));
        inbox
    }

    /// Gives a contact one row of every kind (in a new inbox), plus the label `label`.
    pub fn add_children(&mut self, account: AccountId, contact: ContactId, label: &str) {
        let inbox = self.add_inbox(account, "API");
        let source_id = format!("src-{}", self.id());
        let ci_id = self.id();
        self.contact_inboxes.push((
            account,
            StoredContactInbox {
                id: ci_id,
                contact_id: contact,
                contact_inbox: ContactInbox { source_id, inbox: inbox.clone() },
            },
        ));
        let display_id = {
            let counter = self.display_ids.entry(account).or_insert(0);
            *counter += 1;
            *counter
        };
        let conversation = ConversationId::new(self.id());
        self.conversations.push(Conversation {
            id: conversation,
            account_id: account,
            display_id,
            inbox_id: inbox.id,
            contact_id: contact,
            contact_inbox_id: Some(ci_id),
            status: "open".into(),
            last_activity_at: epoch(),
            created_at: epoch(),
            updated_at: epoch(),
        });
        let message = self.id();
        self.messages.push(Message {
            id: message,
            account_id: account,
            conversation_id: conversation,
            message_type: MessageType::Incoming,
            content: "hello".into(),
            sender: Sender::Contact(contact),
            created_at: epoch(),
        });
        let note = NoteId::new(self.id());
        self.notes.push(Note {
            id: note,
            account_id: account,
            contact_id: contact,
            author: None,
            content: "a note".into(),
            created_at: epoch(),
            updated_at: epoch(),
        });
        self.labels.push((account, contact, label.to_owned()));
    }

    fn has_contact(&self, account: AccountId, id: ContactId) -> bool {
        self.contacts.iter().any(|c| c.account_id == account && c.id == id)
    }

    fn has_inbox(&self, account: AccountId, id: InboxId) -> bool {
        self.inboxes.iter().any(|(a, i)| *a == account && i.id == id)
    }

    /// The unique field of `attributes` another contact of the account already holds, if any.
    fn clash(&self, account: AccountId, id: Option<ContactId>, attributes: &ContactAttributes) -> Option<&'static str> {
        let fields: [(&'static str, UniqueField); 3] =
            [("email", |a| &a.email), ("identifier", |a| &a.identifier), ("phone_number", |a| &a.phone_number)];
        let taken_by_field = fields.into_iter().find_map(|(name, field)| {
            let taken = field(attributes).is_some()
                && self
                    .contacts
                    .iter()
                    .any(|c| c.account_id == account && Some(c.id) != id && field(&c.attributes) == field(attributes));
            taken.then_some(name)
        });
        // a value another contact keeps as a secondary identity is taken too (one unique index in PostgreSQL)
        taken_by_field.or_else(|| {
            domain::IdentityKind::ALL.into_iter().find_map(|kind| {
                let value = kind.of(attributes)?;
                self.identity_holder(account, kind, value, id).map(|_| kind.as_str())
            })
        })
    }
}

/// Reads one of a contact's unique attributes.
type UniqueField = fn(&ContactAttributes) -> &Option<String>;

/// The in-memory database.
#[derive(Clone, Default)]
pub struct MemoryDb {
    pub state: Arc<Mutex<State>>,
    /// How many of the next sessions report their connection lost (as one to a failed-over server would).
    pub lose_next: Arc<Mutex<u32>>,
    /// How the next commits fail, first to last (as ones whose connection was lost would); later ones succeed.
    pub failing_commits: Arc<Mutex<Vec<CommitError>>>,
}

impl MemoryDb {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }
}

impl Database for MemoryDb {
    fn begin(&self) -> Result<Box<dyn Session>, StoreError> {
        let lost = match self.lose_next.lock() {
            Ok(mut n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        Ok(Box::new(MemorySession { shared: self.clone(), work: self.snapshot(), lost }))
    }

    fn connect(&self) -> Result<Box<dyn Session>, StoreError> {
        self.begin()
    }

    fn ping(&self) -> bool {
        true
    }
}

struct MemorySession {
    shared: MemoryDb,
    work: State,
    lost: bool,
}

impl Session for MemorySession {
    fn commit(self: Box<Self>) -> Result<(), CommitError> {
        if self.lost {
            return Err(CommitError::NotCommitted(StoreError::Unavailable("connection lost".to_owned())));
        }
        if let Ok(mut failing) = self.shared.failing_commits.lock() {
            if !failing.is_empty() {
                return Err(failing.remove(0));
            }
        }
        *self.shared.lock() = self.work;
        Ok(())
    }

    fn connection_lost(&self) -> bool {
        self.lost
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
