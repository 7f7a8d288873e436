//! In-memory ports for the use-case unit tests. A session works on a copy of the state and writes it back on
//! commit, so a dropped session rolls back exactly as a PostgreSQL transaction does. The rules PostgreSQL
//! enforces with constraints (unique values per account, no row pointing at a missing contact) are checked
//! here by hand, so the use cases meet the same refusals in both.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use domain::{
    AccountId, Contact, ContactAttributes, ContactId, ContactInbox, ConversationId, InboxId, InboxSummary, NoteId,
    UserId,
};

use crate::idempotency::{Claim, IdempotencyRequest, StoredResponse};
use crate::ports::{
    Account, AccountStatus, AdminStore, AuthStore, ContactPage, ContactQuery, ContactSort, ContactSortKey,
    ContactStore, Conversation, ConversationStore, Credentials, Database, DeletedCounts, IdempotencyStore, InboxStore,
    LabelStore, MergeEntry, MergeRecord, MergeStore, Message, MessageType, MovedCounts, NewContact, NewConversation,
    Note, NoteStore, OutboxStore, Page, PlatformGrant, Role, Sender, Session, StoreError, StoredContactInbox,
    StoredMerge, TokenOwner, User,
};
use crate::webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};

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
    pub contact_inboxes: Vec<(AccountId, StoredContactInbox)>,
    pub conversations: Vec<Conversation>,
    pub messages: Vec<Message>,
    pub notes: Vec<Note>,
    pub labels: Vec<(AccountId, ContactId, String)>,
    pub merges: Vec<MergeRecord>,
    pub events: Vec<(AccountId, String, serde_json::Value)>,
    /// (account, key, fingerprint, response)
    pub idempotency: Vec<(AccountId, String, Vec<u8>, Option<StoredResponse>)>,
    pub webhooks: Vec<Webhook>,
    /// (delivery, status)
    pub deliveries: Vec<(DueDelivery, &'static str)>,
    /// How many of `events` have been fanned out.
    pub events_processed: usize,
}

/// A fixed instant for rows the tests arrange.
fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default()
}

impl State {
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
        id
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
        fields.into_iter().find_map(|(name, field)| {
            let taken = field(attributes).is_some()
                && self
                    .contacts
                    .iter()
                    .any(|c| c.account_id == account && Some(c.id) != id && field(&c.attributes) == field(attributes));
            taken.then_some(name)
        })
    }
}

/// Reads one of a contact's unique attributes.
type UniqueField = fn(&ContactAttributes) -> &Option<String>;

/// The in-memory database.
#[derive(Clone, Default)]
pub struct MemoryDb {
    pub state: Arc<Mutex<State>>,
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
        Ok(Box::new(MemorySession { shared: self.clone(), work: self.snapshot() }))
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
}

impl Session for MemorySession {
    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        *self.shared.lock() = self.work;
        Ok(())
    }
}

impl AuthStore for MemorySession {
    fn credentials(&mut self, digest: &[u8], account: Option<AccountId>) -> Result<Credentials, StoreError> {
        let owner = self.work.tokens.iter().find(|(d, _)| d == digest).map(|(_, o)| *o);
        let account_row = account.and_then(|a| self.work.accounts.iter().find(|x| x.id == a));
        let role = match (owner, account) {
            (Some(TokenOwner::User(u)), Some(a)) => {
                self.work.memberships.iter().find(|(ma, mu, _)| *ma == a && *mu == u).map(|m| m.2)
            }
            _ => None,
        };
        Ok(Credentials { owner, account: account_row.map(|a| a.status), role })
    }
}

impl AdminStore for MemorySession {
    fn insert_account(&mut self, name: &str) -> Result<Account, StoreError> {
        let account = Account { id: AccountId::new(self.work.id()), name: name.into(), status: AccountStatus::Active };
        self.work.accounts.push(account.clone());
        Ok(account)
    }

    fn set_account_status(&mut self, id: AccountId, status: AccountStatus) -> Result<bool, StoreError> {
        let found = self.work.accounts.iter_mut().find(|a| a.id == id);
        Ok(found.map(|a| a.status = status).is_some())
    }

    fn insert_user(&mut self, name: &str, email: &str) -> Result<User, StoreError> {
        if self.work.users.iter().any(|u| u.email.eq_ignore_ascii_case(email)) {
            return Err(StoreError::Taken { field: "email" });
        }
        let user = User { id: UserId::new(self.work.id()), name: name.into(), email: email.into() };
        self.work.users.push(user.clone());
        Ok(user)
    }

    fn insert_membership(&mut self, account: AccountId, user: UserId, role: Role) -> Result<(), StoreError> {
        if !self.work.accounts.iter().any(|a| a.id == account) {
            return Err(StoreError::MissingReference { entity: "account" });
        }
        if !self.work.users.iter().any(|u| u.id == user) {
            return Err(StoreError::MissingReference { entity: "user" });
        }
        if self.work.memberships.iter().any(|(a, u, _)| *a == account && *u == user) {
            return Err(StoreError::Taken { field: "user_id" });
        }
        self.work.memberships.push((account, user, role));
        Ok(())
    }

    fn insert_platform_app(&mut self, name: &str) -> Result<i64, StoreError> {
        let id = self.work.id();
        self.work.platform_apps.push((id, name.into()));
        Ok(id)
    }

    fn insert_access_token(&mut self, owner: TokenOwner, digest: &[u8]) -> Result<(), StoreError> {
        self.work.tokens.push((digest.to_vec(), owner));
        Ok(())
    }

    fn grant_platform_app(&mut self, app: i64, grant: PlatformGrant) -> Result<(), StoreError> {
        self.work.platform_grants.push((app, grant));
        Ok(())
    }

    fn platform_app_grants(&mut self, app: i64, account: AccountId, user: UserId) -> Result<(bool, bool), StoreError> {
        let granted = |g: PlatformGrant| self.work.platform_grants.contains(&(app, g));
        Ok((granted(PlatformGrant::Account(account)), granted(PlatformGrant::User(user))))
    }

    fn has_accounts(&mut self) -> Result<bool, StoreError> {
        Ok(!self.work.accounts.is_empty())
    }

    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError> {
        Ok(self.work.add_inbox(account, name).id.get())
    }
}

/// `a` before `b` under `sort`'s key: missing values last in both directions.
fn nulls_last<T: Ord>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) if descending => y.cmp(&x),
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

fn compare(a: &Contact, b: &Contact, sort: ContactSort) -> Ordering {
    let d = sort.descending;
    let (x, y) = (&a.attributes, &b.attributes);
    let by_key = match sort.key {
        ContactSortKey::Name => nulls_last(Some(x.name.to_lowercase()), Some(y.name.to_lowercase()), d),
        ContactSortKey::Email => nulls_last(x.email.as_ref(), y.email.as_ref(), d),
        ContactSortKey::PhoneNumber => nulls_last(x.phone_number.as_ref(), y.phone_number.as_ref(), d),
        ContactSortKey::LastActivityAt => nulls_last(a.last_activity_at, b.last_activity_at, d),
        ContactSortKey::CreatedAt => nulls_last(Some(a.created_at), Some(b.created_at), d),
    };
    by_key.then_with(|| if d { b.id.cmp(&a.id) } else { a.id.cmp(&b.id) })
}

/// The search rule: a case-insensitive substring of name, email, phone number or identifier.
fn matches(contact: &Contact, term: &str) -> bool {
    let term = term.to_lowercase();
    let a = &contact.attributes;
    [Some(&a.name), a.email.as_ref(), a.phone_number.as_ref(), a.identifier.as_ref()]
        .into_iter()
        .flatten()
        .any(|v| v.to_lowercase().contains(&term))
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl ContactStore for MemorySession {
    fn find_contact(&mut self, account: AccountId, id: ContactId) -> Result<Option<Contact>, StoreError> {
        Ok(self.work.contacts.iter().find(|c| c.account_id == account && c.id == id).cloned())
    }

    fn lock_contacts(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError> {
        let mut found: Vec<Contact> =
            self.work.contacts.iter().filter(|c| c.account_id == account && ids.contains(&c.id)).cloned().collect();
        found.sort_by_key(|c| c.id);
        Ok(found)
    }

    fn contact_inboxes(&mut self, account: AccountId, id: ContactId) -> Result<Vec<ContactInbox>, StoreError> {
        Ok(self.contact_inboxes_of(account, &[id])?.into_iter().map(|(_, ci)| ci).collect())
    }

    fn update_contact_attributes(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
    ) -> Result<Contact, StoreError> {
        let blocked = self.find_contact(account, id)?.is_some_and(|c| c.blocked);
        self.update_contact(account, id, attributes, blocked)
    }

    fn delete_contact_row(&mut self, account: AccountId, id: ContactId) -> Result<(), StoreError> {
        let w = &self.work;
        // the same guarantee the foreign keys give in PostgreSQL: no row may be left pointing at the contact
        let owns_rows = w.conversations.iter().any(|r| r.account_id == account && r.contact_id == id)
            || w.messages.iter().any(|r| r.account_id == account && r.sender == Sender::Contact(id))
            || w.notes.iter().any(|r| r.account_id == account && r.contact_id == id)
            || w.labels.iter().any(|(a, c, _)| *a == account && *c == id)
            || w.contact_inboxes.iter().any(|(a, ci)| *a == account && ci.contact_id == id);
        if owns_rows {
            return Err(StoreError::Other("contact still owns rows".into()));
        }
        self.work.contacts.retain(|c| !(c.account_id == account && c.id == id));
        Ok(())
    }

    fn find_contacts(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError> {
        self.lock_contacts(account, ids)
    }

    fn insert_contact(&mut self, account: AccountId, contact: &NewContact) -> Result<Contact, StoreError> {
        if let Some(field) = self.work.clash(account, None, &contact.attributes) {
            return Err(StoreError::Taken { field });
        }
        let id = self.work.add_contact(account, contact.attributes.clone());
        let stored = self.work.contacts.iter_mut().find(|c| c.id == id).ok_or(StoreError::Other("lost".into()))?;
        stored.blocked = contact.blocked;
        stored.created_at = Utc::now();
        Ok(stored.clone())
    }

    fn update_contact(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
        blocked: bool,
    ) -> Result<Contact, StoreError> {
        if let Some(field) = self.work.clash(account, Some(id), attributes) {
            return Err(StoreError::Taken { field });
        }
        let contact = self
            .work
            .contacts
            .iter_mut()
            .find(|c| c.account_id == account && c.id == id)
            .ok_or(StoreError::MissingReference { entity: "contact" })?;
        contact.attributes = attributes.clone();
        contact.blocked = blocked;
        contact.updated_at = Utc::now();
        Ok(contact.clone())
    }

    fn touch_contact(&mut self, account: AccountId, id: ContactId, at: DateTime<Utc>) -> Result<(), StoreError> {
        for c in self.work.contacts.iter_mut().filter(|c| c.account_id == account && c.id == id) {
            c.last_activity_at = Some(at);
        }
        Ok(())
    }

    fn contacts_page(&mut self, account: AccountId, query: &ContactQuery) -> Result<ContactPage, StoreError> {
        let mut found: Vec<Contact> = self
            .work
            .contacts
            .iter()
            .filter(|c| c.account_id == account && query.search.as_deref().is_none_or(|t| matches(c, t)))
            .cloned()
            .collect();
        found.sort_by(|a, b| compare(a, b, query.sort));
        let total = count(found.len());
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        Ok(ContactPage { total, contacts: found.into_iter().skip(offset).take(limit).collect() })
    }

    fn contact_inboxes_of(
        &mut self,
        account: AccountId,
        ids: &[ContactId],
    ) -> Result<Vec<(ContactId, ContactInbox)>, StoreError> {
        Ok(self
            .work
            .contact_inboxes
            .iter()
            .filter(|(a, ci)| *a == account && ids.contains(&ci.contact_id))
            .map(|(_, ci)| (ci.contact_id, ci.contact_inbox.clone()))
            .collect())
    }

    fn insert_contact_inbox(
        &mut self,
        account: AccountId,
        contact: ContactId,
        inbox: InboxId,
        source_id: &str,
    ) -> Result<StoredContactInbox, StoreError> {
        if !self.work.has_contact(account, contact) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        let summary = self
            .work
            .inboxes
            .iter()
            .find(|(a, i)| *a == account && i.id == inbox)
            .map(|(_, i)| i.clone())
            .ok_or(StoreError::MissingReference { entity: "inbox" })?;
        let taken = self.work.contact_inboxes.iter().any(|(a, ci)| {
            *a == account && ci.contact_inbox.inbox.id == inbox && ci.contact_inbox.source_id == source_id
        });
        if taken {
            return Err(StoreError::Taken { field: "source_id" });
        }
        let stored = StoredContactInbox {
            id: self.work.id(),
            contact_id: contact,
            contact_inbox: ContactInbox { source_id: source_id.to_owned(), inbox: summary },
        };
        self.work.contact_inboxes.push((account, stored.clone()));
        Ok(stored)
    }

    fn find_contact_inbox_by_source(
        &mut self,
        account: AccountId,
        inbox: InboxId,
        source_id: &str,
    ) -> Result<Option<StoredContactInbox>, StoreError> {
        Ok(self
            .work
            .contact_inboxes
            .iter()
            .find(|(a, ci)| {
                *a == account && ci.contact_inbox.inbox.id == inbox && ci.contact_inbox.source_id == source_id
            })
            .map(|(_, ci)| ci.clone()))
    }

    fn find_contact_inbox_of(
        &mut self,
        account: AccountId,
        contact: ContactId,
        inbox: InboxId,
    ) -> Result<Option<StoredContactInbox>, StoreError> {
        Ok(self
            .work
            .contact_inboxes
            .iter()
            .find(|(a, ci)| *a == account && ci.contact_id == contact && ci.contact_inbox.inbox.id == inbox)
            .map(|(_, ci)| ci.clone()))
    }

    fn delete_contact_children(&mut self, account: AccountId, id: ContactId) -> Result<DeletedCounts, StoreError> {
        let w = &mut self.work;
        let conversations: Vec<ConversationId> =
            w.conversations.iter().filter(|c| c.account_id == account && c.contact_id == id).map(|c| c.id).collect();
        let before = (w.messages.len(), w.conversations.len(), w.contact_inboxes.len(), w.notes.len(), w.labels.len());
        w.messages.retain(|m| {
            !(m.account_id == account
                && (conversations.contains(&m.conversation_id) || m.sender == Sender::Contact(id)))
        });
        w.conversations.retain(|c| !(c.account_id == account && c.contact_id == id));
        w.contact_inboxes.retain(|(a, ci)| !(*a == account && ci.contact_id == id));
        w.notes.retain(|n| !(n.account_id == account && n.contact_id == id));
        w.labels.retain(|(a, c, _)| !(*a == account && *c == id));
        Ok(DeletedCounts {
            messages: count(before.0 - w.messages.len()),
            conversations: count(before.1 - w.conversations.len()),
            contact_inboxes: count(before.2 - w.contact_inboxes.len()),
            notes: count(before.3 - w.notes.len()),
            labels: count(before.4 - w.labels.len()),
        })
    }
}

impl InboxStore for MemorySession {
    fn insert_inbox(&mut self, account: AccountId, name: &str, channel_type: &str) -> Result<InboxSummary, StoreError> {
        let mut inbox = self.work.add_inbox(account, name);
        inbox.channel_type = channel_type.to_owned();
        if let Some((_, stored)) = self.work.inboxes.iter_mut().find(|(_, i)| i.id == inbox.id) {
            stored.channel_type = channel_type.to_owned();
        }
        Ok(inbox)
    }

    fn list_inboxes(&mut self, account: AccountId) -> Result<Vec<InboxSummary>, StoreError> {
        Ok(self.work.inboxes.iter().filter(|(a, _)| *a == account).map(|(_, i)| i.clone()).collect())
    }

    fn find_inbox(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxSummary>, StoreError> {
        Ok(self.work.inboxes.iter().find(|(a, i)| *a == account && i.id == id).map(|(_, i)| i.clone()))
    }
}

impl ConversationStore for MemorySession {
    fn next_display_id(&mut self, account: AccountId) -> Result<i64, StoreError> {
        if !self.work.accounts.iter().any(|a| a.id == account) {
            return Err(StoreError::MissingReference { entity: "account" });
        }
        let counter = self.work.display_ids.entry(account).or_insert(0);
        *counter += 1;
        Ok(*counter)
    }

    fn insert_conversation(&mut self, account: AccountId, c: &NewConversation) -> Result<Conversation, StoreError> {
        if !self.work.has_contact(account, c.contact_id) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        if !self.work.has_inbox(account, c.inbox_id) {
            return Err(StoreError::MissingReference { entity: "inbox" });
        }
        let now = Utc::now();
        let conversation = Conversation {
            id: ConversationId::new(self.work.id()),
            account_id: account,
            display_id: c.display_id,
            inbox_id: c.inbox_id,
            contact_id: c.contact_id,
            contact_inbox_id: c.contact_inbox_id,
            status: "open".into(),
            last_activity_at: now,
            created_at: now,
            updated_at: now,
        };
        self.work.conversations.push(conversation.clone());
        Ok(conversation)
    }

    fn find_conversation(&mut self, account: AccountId, display_id: i64) -> Result<Option<Conversation>, StoreError> {
        Ok(self.work.conversations.iter().find(|c| c.account_id == account && c.display_id == display_id).cloned())
    }

    fn conversations_of_contact(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Conversation>, StoreError> {
        let mut found: Vec<Conversation> = self
            .work
            .conversations
            .iter()
            .filter(|c| c.account_id == account && c.contact_id == contact)
            .cloned()
            .collect();
        found.sort_by(|a, b| b.last_activity_at.cmp(&a.last_activity_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    fn touch_conversation(
        &mut self,
        account: AccountId,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for c in self.work.conversations.iter_mut().filter(|c| c.account_id == account && c.id == id) {
            c.last_activity_at = at;
        }
        Ok(())
    }

    fn insert_message(
        &mut self,
        account: AccountId,
        conversation: ConversationId,
        message_type: MessageType,
        content: &str,
        sender: Sender,
    ) -> Result<Message, StoreError> {
        if !self.work.conversations.iter().any(|c| c.account_id == account && c.id == conversation) {
            return Err(StoreError::MissingReference { entity: "conversation" });
        }
        if let Sender::Contact(c) = sender {
            if !self.work.has_contact(account, c) {
                return Err(StoreError::MissingReference { entity: "contact" });
            }
        }
        let message = Message {
            id: self.work.id(),
            account_id: account,
            conversation_id: conversation,
            message_type,
            content: content.to_owned(),
            sender,
            created_at: Utc::now(),
        };
        self.work.messages.push(message.clone());
        Ok(message)
    }

    fn messages(&mut self, account: AccountId, conversation: ConversationId) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .work
            .messages
            .iter()
            .filter(|m| m.account_id == account && m.conversation_id == conversation)
            .cloned()
            .collect())
    }

    fn find_users(&mut self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        Ok(self.work.users.iter().filter(|u| ids.contains(&u.id)).cloned().collect())
    }
}

impl NoteStore for MemorySession {
    fn notes(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Note>, StoreError> {
        let mut found: Vec<Note> =
            self.work.notes.iter().filter(|n| n.account_id == account && n.contact_id == contact).cloned().collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    fn find_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<Option<Note>, StoreError> {
        Ok(self.work.notes.iter().find(|n| n.account_id == account && n.contact_id == contact && n.id == id).cloned())
    }

    fn insert_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        author: UserId,
        content: &str,
    ) -> Result<Note, StoreError> {
        if !self.work.has_contact(account, contact) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        let now = Utc::now();
        let note = Note {
            id: NoteId::new(self.work.id()),
            account_id: account,
            contact_id: contact,
            author: self.work.users.iter().find(|u| u.id == author).cloned(),
            content: content.to_owned(),
            created_at: now,
            updated_at: now,
        };
        self.work.notes.push(note.clone());
        Ok(note)
    }

    fn update_note(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: NoteId,
        content: &str,
    ) -> Result<Option<Note>, StoreError> {
        let found =
            self.work.notes.iter_mut().find(|n| n.account_id == account && n.contact_id == contact && n.id == id);
        Ok(found.map(|n| {
            n.content = content.to_owned();
            n.updated_at = Utc::now();
            n.clone()
        }))
    }

    fn delete_note(&mut self, account: AccountId, contact: ContactId, id: NoteId) -> Result<bool, StoreError> {
        let before = self.work.notes.len();
        self.work.notes.retain(|n| !(n.account_id == account && n.contact_id == contact && n.id == id));
        Ok(self.work.notes.len() < before)
    }
}

impl LabelStore for MemorySession {
    fn labels(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<String>, StoreError> {
        let mut found: Vec<String> = self
            .work
            .labels
            .iter()
            .filter(|(a, c, _)| *a == account && *c == contact)
            .map(|(_, _, l)| l.clone())
            .collect();
        found.sort();
        Ok(found)
    }

    fn replace_labels(&mut self, account: AccountId, contact: ContactId, labels: &[String]) -> Result<(), StoreError> {
        if !self.work.has_contact(account, contact) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        self.work.labels.retain(|(a, c, l)| !(*a == account && *c == contact && !labels.contains(l)));
        for label in labels {
            if !self.work.labels.iter().any(|(a, c, l)| *a == account && *c == contact && l == label) {
                self.work.labels.push((account, contact, label.clone()));
            }
        }
        Ok(())
    }
}

impl MergeStore for MemorySession {
    fn move_children(&mut self, account: AccountId, from: ContactId, to: ContactId) -> Result<MovedCounts, StoreError> {
        let w = &mut self.work;
        let mut moved = MovedCounts::default();
        for c in w.conversations.iter_mut().filter(|c| c.account_id == account && c.contact_id == from) {
            c.contact_id = to;
            moved.conversations += 1;
        }
        for m in w.messages.iter_mut().filter(|m| m.account_id == account && m.sender == Sender::Contact(from)) {
            m.sender = Sender::Contact(to);
            moved.messages += 1;
        }
        for (_, ci) in w.contact_inboxes.iter_mut().filter(|(a, ci)| *a == account && ci.contact_id == from) {
            ci.contact_id = to;
            moved.contact_inboxes += 1;
        }
        for n in w.notes.iter_mut().filter(|n| n.account_id == account && n.contact_id == from) {
            n.contact_id = to;
            moved.notes += 1;
        }
        let moved_labels: Vec<String> =
            w.labels.iter().filter(|(a, c, _)| *a == account && *c == from).map(|l| l.2.clone()).collect();
        w.labels.retain(|(a, c, _)| !(*a == account && *c == from));
        for label in &moved_labels {
            if !w.labels.iter().any(|(a, c, l)| *a == account && *c == to && l == label) {
                w.labels.push((account, to, label.clone()));
            }
        }
        moved.labels = count(moved_labels.len());
        Ok(moved)
    }

    fn insert_merge_record(&mut self, record: &MergeRecord) -> Result<StoredMerge, StoreError> {
        self.work.merges.push(record.clone());
        Ok(StoredMerge { id: self.work.merges.len() as i64, created_at: Utc::now() })
    }

    fn count_children(&mut self, account: AccountId, contact: ContactId) -> Result<MovedCounts, StoreError> {
        let w = &self.work;
        Ok(MovedCounts {
            conversations: count(
                w.conversations.iter().filter(|c| c.account_id == account && c.contact_id == contact).count(),
            ),
            messages: count(
                w.messages.iter().filter(|m| m.account_id == account && m.sender == Sender::Contact(contact)).count(),
            ),
            contact_inboxes: count(
                w.contact_inboxes.iter().filter(|(a, ci)| *a == account && ci.contact_id == contact).count(),
            ),
            notes: count(w.notes.iter().filter(|n| n.account_id == account && n.contact_id == contact).count()),
            labels: count(w.labels.iter().filter(|(a, c, _)| *a == account && *c == contact).count()),
        })
    }

    fn taken_fields(
        &mut self,
        account: AccountId,
        attributes: &ContactAttributes,
        exclude: &[ContactId],
    ) -> Result<Vec<&'static str>, StoreError> {
        let others: Vec<&Contact> =
            self.work.contacts.iter().filter(|c| c.account_id == account && !exclude.contains(&c.id)).collect();
        let fields: [(&'static str, UniqueField); 3] =
            [("email", |a| &a.email), ("identifier", |a| &a.identifier), ("phone_number", |a| &a.phone_number)];
        Ok(fields
            .into_iter()
            .filter(|(_, get)| {
                get(attributes).is_some() && others.iter().any(|c| get(&c.attributes) == get(attributes))
            })
            .map(|(name, _)| name)
            .collect())
    }

    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError> {
        let mut current = id;
        let mut hops = 0;
        while let Some(m) = self.work.merges.iter().find(|m| m.account_id == account && m.mergee_contact_id == current)
        {
            current = m.base_contact_id;
            hops += 1;
        }
        Ok((hops > 0 && self.work.has_contact(account, current)).then_some(current))
    }

    fn list_merges(
        &mut self,
        account: AccountId,
        contact: Option<ContactId>,
        page: Page,
    ) -> Result<(Vec<MergeEntry>, u64), StoreError> {
        let all: Vec<MergeEntry> = (0..self.work.merges.len())
            .rev()
            .filter_map(|i| self.entry(i))
            .filter(|e| e.account_id == account)
            .filter(|e| contact.is_none_or(|c| e.base_contact_id == c || e.mergee_contact_id == c))
            .collect();
        let total = count(all.len());
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        Ok((all.into_iter().skip(skip).take(page.size as usize).collect(), total))
    }

    fn find_merge(&mut self, account: AccountId, id: i64) -> Result<Option<MergeEntry>, StoreError> {
        let index = usize::try_from(id - 1).ok();
        Ok(index.and_then(|i| self.entry(i)).filter(|e| e.account_id == account))
    }
}

impl MemorySession {
    fn entry(&self, index: usize) -> Option<MergeEntry> {
        self.work.merges.get(index).map(|r| MergeEntry {
            id: index as i64 + 1,
            account_id: r.account_id,
            actor: r.actor,
            base_contact_id: r.base_contact_id,
            mergee_contact_id: r.mergee_contact_id,
            mergee_snapshot: r.mergee_snapshot.clone(),
            moved: r.moved,
            created_at: Utc::now(),
        })
    }
}

impl IdempotencyStore for MemorySession {
    fn claim_idempotency_key(&mut self, account: AccountId, request: &IdempotencyRequest) -> Result<Claim, StoreError> {
        let found = self.work.idempotency.iter().find(|(a, k, _, _)| *a == account && *k == request.key);
        Ok(match found {
            None => {
                self.work.idempotency.push((account, request.key.clone(), request.fingerprint.clone(), None));
                Claim::Fresh
            }
            Some((_, _, fingerprint, _)) if *fingerprint != request.fingerprint => Claim::Reused,
            Some((_, _, _, response)) => {
                Claim::Replay(response.clone().unwrap_or(StoredResponse { status: 0, body: String::new() }))
            }
        })
    }

    fn save_idempotent_response(
        &mut self,
        account: AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.work.idempotency.iter_mut().find(|(a, k, _, _)| *a == account && k == key) {
            row.3 = Some(response.clone());
        }
        Ok(())
    }
}

impl WebhookStore for MemorySession {
    fn insert_webhook(
        &mut self,
        account: AccountId,
        url: &str,
        subscriptions: &[String],
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        if self.work.webhooks.iter().any(|w| w.account_id == account && w.url == url) {
            return Err(StoreError::Taken { field: "url" });
        }
        let webhook = Webhook {
            id: self.work.id(),
            account_id: account,
            url: url.into(),
            subscriptions: subscriptions.to_vec(),
            secret: secret.into(),
            stats: DeliveryStats::default(),
        };
        self.work.webhooks.push(webhook.clone());
        Ok(webhook)
    }

    fn list_webhooks(&mut self, account: AccountId) -> Result<Vec<Webhook>, StoreError> {
        Ok(self.work.webhooks.iter().filter(|w| w.account_id == account).cloned().collect())
    }

    fn delete_webhook(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        let before = self.work.webhooks.len();
        self.work.webhooks.retain(|w| !(w.account_id == account && w.id == id));
        Ok(self.work.webhooks.len() < before)
    }

    fn fan_out_events(&mut self, limit: u32) -> Result<u64, StoreError> {
        let start = self.work.events_processed;
        let end = (start + limit as usize).min(self.work.events.len());
        for index in start..end {
            let (account, event_type, payload) = self.work.events[index].clone();
            let name = event_type.replace('.', "_");
            let targets: Vec<Webhook> = self
                .work
                .webhooks
                .iter()
                .filter(|w| w.account_id == account && w.subscriptions.contains(&name))
                .cloned()
                .collect();
            for w in targets {
                let delivery = DueDelivery {
                    id: self.work.id(),
                    event_id: index as i64 + 1,
                    event_type: name.clone(),
                    account_id: account,
                    payload: payload.clone(),
                    attempts: 0,
                    url: w.url,
                    secret: w.secret,
                    created_at: Utc::now(),
                };
                self.work.deliveries.push((delivery, "pending"));
            }
        }
        self.work.events_processed = end;
        Ok((end - start) as u64)
    }

    fn claim_due_deliveries(&mut self, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        Ok(self.work.deliveries.iter().filter(|d| d.1 == "pending").take(limit as usize).map(|d| d.0.clone()).collect())
    }

    fn record_delivery(&mut self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        if let Some(d) = self.work.deliveries.iter_mut().find(|d| d.0.id == id) {
            d.0.attempts += 1;
            d.1 = match outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Retry { .. } => "pending",
                DeliveryOutcome::Failed { .. } => "failed",
            };
        }
        Ok(())
    }
}

impl OutboxStore for MemorySession {
    fn enqueue_event(
        &mut self,
        account: AccountId,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.work.events.push((account, event_type.into(), payload.clone()));
        Ok(())
    }
}
