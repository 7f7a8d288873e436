//! [`UndoStore`] in memory: the merge record's lock (a no-op: a session owns its copy), re-creating a contact
//! with its own id, and moving the ledger's rows back.

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactId, IdentitySource, UserId};

use super::{count, MemorySession};
use crate::ports::{LedgerFacts, MovedCounts, Sender, StoreError, UndoCounts, UndoStore, UndoableMerge};

impl UndoStore for MemorySession {
    fn lock_merge(&mut self, account: AccountId, id: i64) -> Result<Option<UndoableMerge>, StoreError> {
        let index = usize::try_from(id - 1).ok();
        let Some(entry) = index.and_then(|i| self.entry(i)).filter(|e| e.account_id == account) else {
            return Ok(None);
        };
        let ledger = index
            .and_then(|i| self.work.merges.get(i))
            .and_then(|r| r.ledger.as_ref())
            .map(|l| LedgerFacts { base_snapshot: l.base_snapshot.clone(), written: l.written.clone() });
        Ok(Some(UndoableMerge { entry, ledger }))
    }

    fn merge_that_took(&mut self, account: AccountId, contact: ContactId) -> Result<Option<i64>, StoreError> {
        Ok((0..self.work.merges.len())
            .rev()
            .filter_map(|i| self.entry(i))
            .find(|e| e.account_id == account && e.mergee_contact_id == contact && e.undone_at.is_none())
            .map(|e| e.id))
    }

    fn restore_contact(&mut self, contact: &Contact, merge_id: i64, base: ContactId) -> Result<Contact, StoreError> {
        if self.work.has_contact(contact.account_id, contact.id) {
            return Err(StoreError::Other("duplicate key value violates contacts_pkey".into()));
        }
        let account = contact.account_id;
        let ledger = usize::try_from(merge_id - 1)
            .ok()
            .and_then(|i| self.work.merges.get(i))
            .and_then(|r| r.ledger.as_ref())
            .map(|l| l.rows.clone())
            .unwrap_or_default();
        let own = |i: &domain::Identity| {
            let a = &contact.attributes;
            let field = match i.kind {
                domain::IdentityKind::Email => &a.email,
                domain::IdentityKind::PhoneNumber => &a.phone_number,
                domain::IdentityKind::Identifier => &a.identifier,
            };
            field.as_deref() == Some(i.value.as_str())
        };
        for (_, i) in
            self.work.identities.iter_mut().filter(|(a, i)| *a == account && i.contact_id == base && !i.primary)
        {
            // the ledger's identities, each with its source before the merge; and the base's secondaries that
            // are the contact's own values (a merge recorded before identities moved left them on the base)
            if let Some(at) = ledger.identity_ids.iter().position(|id| *id == i.id) {
                i.contact_id = contact.id;
                let source = ledger.identity_sources.get(at).and_then(|s| IdentitySource::parse(s));
                i.source = source.unwrap_or(IdentitySource::Api);
            } else if own(i) {
                i.contact_id = contact.id;
            }
        }
        if let Some(field) = self.work.clash(contact.account_id, Some(contact.id), &contact.attributes) {
            return Err(StoreError::Taken { field });
        }
        let restored = Contact { updated_at: Utc::now(), ..contact.clone() };
        self.work.contacts.push(restored.clone());
        self.work.sync_identities(account, contact.id, None, &contact.attributes);
        self.work.queue_refresh(contact.account_id, contact.id);
        Ok(restored)
    }

    fn move_back(
        &mut self,
        account: AccountId,
        merge_id: i64,
        base: ContactId,
        mergee: ContactId,
        _merged_at: DateTime<Utc>,
    ) -> Result<UndoCounts, StoreError> {
        let index = usize::try_from(merge_id - 1).map_err(|_| StoreError::Other("no such merge".into()))?;
        let w = &mut self.work;
        let (Some(record), Some(meta)) = (w.merges.get(index).cloned(), w.merge_meta.get(index).cloned()) else {
            return Err(StoreError::Other("no such merge".into()));
        };
        let Some(ledger) = record.ledger else { return Err(StoreError::Other("no ledger".into())) };
        let rows = &ledger.rows;
        let mut back = MovedCounts::default();
        let mut kept = MovedCounts::default();
        for c in w.conversations.iter_mut().filter(|c| c.account_id == account && c.contact_id == base) {
            if rows.conversation_ids.contains(&c.id.get()) {
                c.contact_id = mergee;
                back.conversations += 1;
            } else if c.id.get() > meta.watermark {
                kept.conversations += 1;
            }
        }
        for m in w.messages.iter_mut().filter(|m| m.account_id == account && m.sender == Sender::Contact(base)) {
            if rows.message_ids.contains(&m.id) {
                m.sender = Sender::Contact(mergee);
                back.messages += 1;
            } else if m.id > meta.watermark {
                kept.messages += 1;
            }
        }
        for (_, ci) in w.contact_inboxes.iter_mut().filter(|(a, ci)| *a == account && ci.contact_id == base) {
            if rows.contact_inbox_ids.contains(&ci.id) {
                ci.contact_id = mergee;
                back.contact_inboxes += 1;
            } else if ci.id > meta.watermark {
                kept.contact_inboxes += 1;
            }
        }
        for n in w.notes.iter_mut().filter(|n| n.account_id == account && n.contact_id == base) {
            if rows.note_ids.contains(&n.id.get()) {
                n.contact_id = mergee;
                back.notes += 1;
            } else if n.id.get() > meta.watermark {
                kept.notes += 1;
            }
        }
        kept.labels = count(
            w.labels
                .iter()
                .filter(|(a, c, l)| *a == account && *c == base && !meta.base_labels.contains(l))
                .filter(|(_, _, l)| !rows.labels_added.contains(l))
                .count(),
        );
        w.labels.retain(|(a, c, l)| !(*a == account && *c == base && rows.labels_added.contains(l)));
        for label in &rows.mergee_labels {
            if !w.labels.iter().any(|(a, c, l)| *a == account && *c == mergee && l == label) {
                w.labels.push((account, mergee, label.clone()));
                back.labels += 1;
            }
        }
        let deleted = MovedCounts {
            conversations: count(rows.conversation_ids.len()) - back.conversations,
            messages: count(rows.message_ids.len()) - back.messages,
            contact_inboxes: count(rows.contact_inbox_ids.len()) - back.contact_inboxes,
            notes: count(rows.note_ids.len()) - back.notes,
            labels: 0,
        };
        Ok(UndoCounts { moved_back: back, deleted_since: deleted, kept_on_base: kept })
    }

    fn mark_undone(
        &mut self,
        account: AccountId,
        merge_id: i64,
        actor: UserId,
        counts: &serde_json::Value,
    ) -> Result<DateTime<Utc>, StoreError> {
        let index = usize::try_from(merge_id - 1).map_err(|_| StoreError::Other("no such merge".into()))?;
        let at = Utc::now();
        let found = self.work.merges.get(index).is_some_and(|r| r.account_id == account);
        match self.work.merge_meta.get_mut(index) {
            Some(meta) if found => {
                meta.undone_at = Some(at);
                meta.undone_by = Some(actor);
                meta.undo_counts = Some(counts.clone());
                Ok(at)
            }
            _ => Err(StoreError::Other("no such merge".into())),
        }
    }
}
