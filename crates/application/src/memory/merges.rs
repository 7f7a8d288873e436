//! [`MergeStore`] in memory: the moves of a merge (labels as a union), preview counts, the merge records and the
//! chain of merged-away contacts.

use chrono::Utc;
use domain::{AccountId, Contact, ContactAttributes, ContactId, IdentityKind, IdentitySource};

use super::MergeMeta;
use super::{count, MemorySession, UniqueField};
use crate::ports::{
    Absorbed, ContactStore, MergeEntry, MergeLedger, MergeRecord, MergeStore, MergeWrite, MergeWritten, MovedCounts,
    MovedRows, OutboxStore, Page, Sender, StoreError, StoredMerge,
};
use crate::snapshot::completed_merge_event;

impl MergeStore for MemorySession {
    fn write_merge(&mut self, merge: &MergeWrite<'_>) -> Result<MergeWritten, StoreError> {
        // the steps PostgreSQL does in one statement, one after the other
        let account = merge.account_id;
        let absorbed = self.absorb_contact(account, merge.mergee_contact_id, merge.base_contact_id, merge.primaries)?;
        let contact = self.update_contact_attributes(account, merge.base_contact_id, merge.attributes)?;
        let stored = self.insert_merge_record(&MergeRecord {
            account_id: account,
            actor: merge.actor,
            base_contact_id: merge.base_contact_id,
            mergee_contact_id: merge.mergee_contact_id,
            mergee_snapshot: merge.mergee_snapshot.clone(),
            moved: absorbed.moved,
            ledger: Some(MergeLedger {
                rows: absorbed.rows.clone(),
                base_snapshot: merge.base_snapshot.clone(),
                written: merge.written.clone(),
            }),
        });
        let event = completed_merge_event(&merge.event, stored.id, stored.created_at, &absorbed.moved);
        self.enqueue_event(account, merge.event_type, &event)?;
        Ok(MergeWritten { contact, absorbed, stored })
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
        let undone = |i: usize| self.work.merge_meta.get(i).is_some_and(|m| m.undone_at.is_some());
        while let Some(m) = self
            .work
            .merges
            .iter()
            .enumerate()
            .find(|(i, m)| m.account_id == account && m.mergee_contact_id == current && !undone(*i))
            .map(|(_, m)| m)
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
    pub(super) fn entry(&self, index: usize) -> Option<MergeEntry> {
        let meta = self.work.merge_meta.get(index).cloned().unwrap_or_default();
        self.work.merges.get(index).map(|r| MergeEntry {
            id: index as i64 + 1,
            account_id: r.account_id,
            actor: r.actor,
            base_contact_id: r.base_contact_id,
            mergee_contact_id: r.mergee_contact_id,
            mergee_snapshot: r.mergee_snapshot.clone(),
            moved: r.moved,
            created_at: meta.created_at,
            undone_at: meta.undone_at,
            undone_by: meta.undone_by,
        })
    }
}

impl MemorySession {
    /// The moves of a merge and the mergee's delete.
    fn absorb_contact(
        &mut self,
        account: AccountId,
        from: ContactId,
        to: ContactId,
        primaries: &[IdentityKind],
    ) -> Result<Absorbed, StoreError> {
        let w = &mut self.work;
        let mut rows = MovedRows::default();
        for c in w.conversations.iter_mut().filter(|c| c.account_id == account && c.contact_id == from) {
            c.contact_id = to;
            rows.conversation_ids.push(c.id.get());
        }
        for m in w.messages.iter_mut().filter(|m| m.account_id == account && m.sender == Sender::Contact(from)) {
            m.sender = Sender::Contact(to);
            rows.message_ids.push(m.id);
        }
        for (_, ci) in w.contact_inboxes.iter_mut().filter(|(a, ci)| *a == account && ci.contact_id == from) {
            ci.contact_id = to;
            rows.contact_inbox_ids.push(ci.id);
        }
        if !rows.contact_inbox_ids.is_empty() {
            w.queue_refresh(account, to);
            w.queue_refresh(account, from);
        }
        for n in w.notes.iter_mut().filter(|n| n.account_id == account && n.contact_id == from) {
            n.contact_id = to;
            rows.note_ids.push(n.id.get());
        }
        rows.mergee_labels =
            w.labels.iter().filter(|(a, c, _)| *a == account && *c == from).map(|l| l.2.clone()).collect();
        w.labels.retain(|(a, c, _)| !(*a == account && *c == from));
        for label in &rows.mergee_labels {
            if !w.labels.iter().any(|(a, c, l)| *a == account && *c == to && l == label) {
                w.labels.push((account, to, label.clone()));
                rows.labels_added.push(label.clone());
            }
        }
        // the mergee's identities become the base's: its primaries of the kinds the base takes as primaries,
        // every other one as a secondary
        for (_, i) in w.identities.iter_mut().filter(|(a, i)| *a == account && i.contact_id == from) {
            rows.identity_ids.push(i.id);
            rows.identity_sources.push(i.source.as_str().to_owned());
            i.contact_id = to;
            i.primary = i.primary && primaries.contains(&i.kind);
            i.source = IdentitySource::Merge;
        }
        self.delete_contact_row(account, from)?;
        let moved = rows.counts();
        Ok(Absorbed { moved, rows, base_inboxes: self.contact_inboxes(account, to)? })
    }

    /// The merge record, with what the memory store keeps beside it.
    fn insert_merge_record(&mut self, record: &MergeRecord) -> StoredMerge {
        let created_at = Utc::now();
        // what PostgreSQL tells apart by `created_at`, the memory store tells apart by id: rows with a higher id
        // than this, and labels the base did not carry at this point, came after the merge
        let base_labels = self
            .work
            .labels
            .iter()
            .filter(|(a, c, _)| *a == record.account_id && *c == record.base_contact_id)
            .map(|l| l.2.clone())
            .collect();
        let watermark = self.work.next_id;
        self.work.merges.push(record.clone());
        self.work.merge_meta.push(MergeMeta { created_at, watermark, base_labels, ..MergeMeta::default() });
        StoredMerge { id: self.work.merges.len() as i64, created_at }
    }
}
