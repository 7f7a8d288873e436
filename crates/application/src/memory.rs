//! In-memory ports for the use-case unit tests. A session works on a copy of the state and writes it back on
//! commit, so a dropped session rolls back exactly as a PostgreSQL transaction does.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{TimeZone, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, InboxId, InboxSummary, UserId};

use crate::idempotency::{Claim, IdempotencyRequest, StoredResponse};
use crate::ports::{
    Account, AccountStatus, AdminStore, AuthStore, ContactStore, Credentials, Database, IdempotencyStore, MergeEntry,
    MergeRecord, MergeStore, MovedCounts, OutboxStore, Page, Role, Session, StoreError, StoredMerge, TokenOwner, User,
};
use crate::webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};

/// Every row, as plain vectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub next_id: i64,
    pub accounts: Vec<Account>,
    pub users: Vec<User>,
    pub memberships: Vec<(AccountId, UserId, Role)>,
    pub tokens: Vec<(Vec<u8>, TokenOwner)>,
    pub platform_apps: Vec<(i64, String)>,
    pub inboxes: Vec<(AccountId, InboxSummary)>,
    pub contacts: Vec<Contact>,
    pub contact_inboxes: Vec<(AccountId, ContactId, ContactInbox)>,
    /// (account, owner contact)
    pub conversations: Vec<(AccountId, ContactId)>,
    /// (account, sending contact)
    pub messages: Vec<(AccountId, Option<ContactId>)>,
    pub notes: Vec<(AccountId, ContactId)>,
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

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a contact with the given attributes and returns its id.
    pub fn add_contact(&mut self, account: AccountId, attributes: ContactAttributes) -> ContactId {
        let id = ContactId::new(self.id());
        let at = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default();
        self.contacts.push(Contact {
            id,
            account_id: account,
            attributes,
            blocked: false,
            thumbnail: String::new(),
            last_activity_at: None,
            created_at: at,
            updated_at: at,
        });
        id
    }

    /// Gives a contact one row of every kind, plus the label `label`.
    pub fn add_children(&mut self, account: AccountId, contact: ContactId, label: &str) {
        let inbox = InboxSummary {
            id: InboxId::new(self.id()),
            name: "API".into(),
            channel_type: "Channel::Api".into(),
            avatar_url: String::new(),
            provider: None,
        };
        let source_id = format!("src-{}", self.id());
        self.contact_inboxes.push((account, contact, ContactInbox { source_id, inbox }));
        self.conversations.push((account, contact));
        self.messages.push((account, Some(contact)));
        self.notes.push((account, contact));
        self.labels.push((account, contact, label.to_owned()));
    }
}

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

    fn has_accounts(&mut self) -> Result<bool, StoreError> {
        Ok(!self.work.accounts.is_empty())
    }

    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError> {
        let id = self.work.id();
        let inbox = InboxSummary {
            id: InboxId::new(id),
            name: name.into(),
            channel_type: "Channel::Api".into(),
            avatar_url: String::new(),
            provider: None,
        };
        self.work.inboxes.push((account, inbox));
        Ok(id)
    }
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

    fn contact_inboxes(&mut self, account: AccountId, ids: &[ContactId]) -> Result<Vec<ContactInbox>, StoreError> {
        Ok(self
            .work
            .contact_inboxes
            .iter()
            .filter(|(a, c, _)| *a == account && ids.contains(c))
            .map(|(_, _, ci)| ci.clone())
            .collect())
    }

    fn update_contact_attributes(
        &mut self,
        account: AccountId,
        id: ContactId,
        attributes: &ContactAttributes,
    ) -> Result<Contact, StoreError> {
        let clash = |field: fn(&ContactAttributes) -> &Option<String>| {
            field(attributes).is_some()
                && self
                    .work
                    .contacts
                    .iter()
                    .any(|c| c.account_id == account && c.id != id && field(&c.attributes) == field(attributes))
        };
        for (name, field) in [
            ("email", (|a| &a.email) as fn(&ContactAttributes) -> &Option<String>),
            ("identifier", |a| &a.identifier),
            ("phone_number", |a| &a.phone_number),
        ] {
            if clash(field) {
                return Err(StoreError::Taken { field: name });
            }
        }
        let contact = self
            .work
            .contacts
            .iter_mut()
            .find(|c| c.account_id == account && c.id == id)
            .ok_or(StoreError::MissingReference { entity: "contact" })?;
        contact.attributes = attributes.clone();
        Ok(contact.clone())
    }

    fn delete_contact_row(&mut self, account: AccountId, id: ContactId) -> Result<(), StoreError> {
        let w = &self.work;
        // the same guarantee the foreign keys give in PostgreSQL: no row may be left pointing at the contact
        let owns_rows = w.conversations.contains(&(account, id))
            || w.messages.contains(&(account, Some(id)))
            || w.notes.contains(&(account, id))
            || w.labels.iter().any(|(a, c, _)| *a == account && *c == id)
            || w.contact_inboxes.iter().any(|(a, c, _)| *a == account && *c == id);
        if owns_rows {
            return Err(StoreError::Other("contact still owns rows".into()));
        }
        self.work.contacts.retain(|c| !(c.account_id == account && c.id == id));
        Ok(())
    }
}

impl MergeStore for MemorySession {
    fn move_children(&mut self, account: AccountId, from: ContactId, to: ContactId) -> Result<MovedCounts, StoreError> {
        fn reassign<T>(
            rows: &mut [T],
            owner: impl Fn(&mut T) -> Option<&mut ContactId>,
            from: ContactId,
            to: ContactId,
        ) -> u64 {
            let mut n = 0;
            for row in rows.iter_mut() {
                if let Some(c) = owner(row) {
                    if *c == from {
                        *c = to;
                        n += 1;
                    }
                }
            }
            n
        }
        let w = &mut self.work;
        let conversations = reassign(&mut w.conversations, |r| (r.0 == account).then_some(&mut r.1), from, to);
        let messages = reassign(&mut w.messages, |r| if r.0 == account { r.1.as_mut() } else { None }, from, to);
        let contact_inboxes = reassign(&mut w.contact_inboxes, |r| (r.0 == account).then_some(&mut r.1), from, to);
        let notes = reassign(&mut w.notes, |r| (r.0 == account).then_some(&mut r.1), from, to);
        let moved_labels: Vec<String> =
            w.labels.iter().filter(|(a, c, _)| *a == account && *c == from).map(|l| l.2.clone()).collect();
        w.labels.retain(|(a, c, _)| !(*a == account && *c == from));
        for label in &moved_labels {
            if !w.labels.iter().any(|(a, c, l)| *a == account && *c == to && l == label) {
                w.labels.push((account, to, label.clone()));
            }
        }
        Ok(MovedCounts { conversations, messages, contact_inboxes, notes, labels: moved_labels.len() as u64 })
    }

    fn insert_merge_record(&mut self, record: &MergeRecord) -> Result<StoredMerge, StoreError> {
        self.work.merges.push(record.clone());
        Ok(StoredMerge { id: self.work.merges.len() as i64, created_at: Utc::now() })
    }

    fn count_children(&mut self, account: AccountId, contact: ContactId) -> Result<MovedCounts, StoreError> {
        let w = &self.work;
        let n = |k: usize| k as u64;
        Ok(MovedCounts {
            conversations: n(w.conversations.iter().filter(|r| **r == (account, contact)).count()),
            messages: n(w.messages.iter().filter(|r| **r == (account, Some(contact))).count()),
            contact_inboxes: n(w.contact_inboxes.iter().filter(|r| r.0 == account && r.1 == contact).count()),
            notes: n(w.notes.iter().filter(|r| **r == (account, contact)).count()),
            labels: n(w.labels.iter().filter(|r| r.0 == account && r.1 == contact).count()),
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
        let mut taken = Vec::new();
        for (field, get) in [
            ("email", (|a| &a.email) as fn(&ContactAttributes) -> &Option<String>),
            ("identifier", |a| &a.identifier),
            ("phone_number", |a| &a.phone_number),
        ] {
            if get(attributes).is_some() && others.iter().any(|c| get(&c.attributes) == get(attributes)) {
                taken.push(field);
            }
        }
        Ok(taken)
    }

    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError> {
        let mut current = id;
        let mut hops = 0;
        while let Some(m) = self.work.merges.iter().find(|m| m.account_id == account && m.mergee_contact_id == current)
        {
            current = m.base_contact_id;
            hops += 1;
        }
        let exists = self.work.contacts.iter().any(|c| c.account_id == account && c.id == current);
        Ok((hops > 0 && exists).then_some(current))
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
        let total = all.len() as u64;
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
