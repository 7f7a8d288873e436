//! [`ContactStore`] in memory: contacts, contact inboxes, the sorted and searched list (the same rules as the SQL:
//! missing values last, id breaks ties) and the delete of a contact's children.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, ConversationId, InboxId};

use super::{count, MemorySession};
use crate::ports::{
    AuthStore, ContactPage, ContactQuery, ContactSort, ContactSortKey, ContactStore, CredentialsAndContact,
    DeletedCounts, NewContact, Sender, StoreError, StoredContactInbox, SEARCH_COUNT_CEILING,
};

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

/// The search rule: a case-insensitive substring of name, email, phone number or identifier (or, see
/// `contacts_page`, of a secondary identity).
fn matches(contact: &Contact, term: &str) -> bool {
    let term = term.to_lowercase();
    let a = &contact.attributes;
    [Some(&a.name), a.email.as_ref(), a.phone_number.as_ref(), a.identifier.as_ref()]
        .into_iter()
        .flatten()
        .any(|v| v.to_lowercase().contains(&term))
}

impl ContactStore for MemorySession {
    fn credentials_and_contact(
        &mut self,
        token_digest: &[u8],
        account: AccountId,
        id: ContactId,
    ) -> Result<CredentialsAndContact, StoreError> {
        let credentials = self.credentials(token_digest, Some(account))?;
        let found = match self.find_contact(account, id)? {
            Some(contact) => Some((contact, self.contact_inboxes(account, id)?)),
            None => None,
        };
        Ok((credentials, found))
    }

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
        // identities are part of their contact (ON DELETE CASCADE in PostgreSQL)
        self.work.identities.retain(|(a, i)| !(*a == account && i.contact_id == id));
        // the cascade of contact_duplicate_pairs' foreign keys
        self.work.duplicate_pairs.retain(|(a, p)| !(*a == account && (p.low == id || p.high == id)));
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
        self.work.queue_refresh(account, id);
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
        let a = &contact.attributes;
        let compared = (&a.name, &a.email, &a.phone_number, &a.identifier)
            != (&attributes.name, &attributes.email, &attributes.phone_number, &attributes.identifier);
        let old = std::mem::replace(&mut contact.attributes, attributes.clone());
        contact.blocked = blocked;
        contact.updated_at = Utc::now();
        let updated = contact.clone();
        self.work.sync_identities(account, id, Some(&old), attributes);
        if compared {
            self.work.queue_refresh(account, id);
        }
        Ok(updated)
    }

    fn touch_contact(&mut self, account: AccountId, id: ContactId, at: DateTime<Utc>) -> Result<(), StoreError> {
        for c in self.work.contacts.iter_mut().filter(|c| c.account_id == account && c.id == id) {
            c.last_activity_at = Some(at);
        }
        Ok(())
    }

    fn contacts_page(&mut self, account: AccountId, query: &ContactQuery) -> Result<ContactPage, StoreError> {
        let w = &self.work;
        // a contact is also found by its secondary identities
        let by_identity = |c: &Contact, term: &str| {
            w.identities.iter().any(|(a, i)| {
                *a == account
                    && i.contact_id == c.id
                    && !i.primary
                    && i.value.to_lowercase().contains(&term.to_lowercase())
            })
        };
        let mut found: Vec<Contact> = w
            .contacts
            .iter()
            .filter(|c| {
                c.account_id == account && query.search.as_deref().is_none_or(|t| matches(c, t) || by_identity(c, t))
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| compare(a, b, query.sort));
        let total = match query.search {
            Some(_) => count(found.len()).min(SEARCH_COUNT_CEILING),
            None => count(found.len()),
        };
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
        self.work.queue_refresh(account, contact);
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
