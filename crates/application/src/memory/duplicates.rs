//! [`DuplicateStore`] in memory: every other contact of the account is a candidate (PostgreSQL narrows them
//! with indexes first; the rules decide in both), names compared with the domain's twin of pg_trgm.

use domain::duplicates::{trigram_similarity, Profile};
use domain::{AccountId, ContactId, UserId};

use super::{count, MemorySession};
use crate::ports::{Candidate, Candidates, DuplicateStore, HeldContacts, ScoredPair, StoreError, StoredPair};

impl MemorySession {
    fn profile(&self, account: AccountId, id: ContactId) -> Option<Profile> {
        let c = self.work.contacts.iter().find(|c| c.account_id == account && c.id == id)?;
        let a = &c.attributes;
        Some(Profile {
            name: a.name.clone(),
            emails: a.email.iter().cloned().collect(),
            phones: a.phone_number.iter().cloned().collect(),
            identifiers: a.identifier.iter().cloned().collect(),
            source_ids: self
                .work
                .contact_inboxes
                .iter()
                .filter(|(acc, ci)| *acc == account && ci.contact_id == id)
                .map(|(_, ci)| ci.contact_inbox.source_id.clone())
                .collect(),
        })
    }

    fn dismissed(&self, account: AccountId, low: ContactId, high: ContactId) -> bool {
        self.work.dismissals.contains(&(account, low, high))
    }
}

impl DuplicateStore for MemorySession {
    /// One session at a time works on the state, so the account's refresh lock is implied.
    fn claim_duplicate_refreshes(&mut self, limit: u64) -> Result<Option<(AccountId, Vec<ContactId>)>, StoreError> {
        let Some(&(account, _)) = self.work.duplicate_refreshes.first() else { return Ok(None) };
        let mut ids: Vec<ContactId> = Vec::new();
        for (a, id) in &self.work.duplicate_refreshes {
            if *a == account && !ids.contains(id) && count(ids.len()) < limit {
                ids.push(*id);
            }
        }
        self.work.duplicate_refreshes.retain(|(a, id)| !(*a == account && ids.contains(id)));
        ids.sort();
        Ok(Some((account, ids)))
    }

    fn lock_duplicate_refreshes(&mut self, _account: AccountId) -> Result<(), StoreError> {
        Ok(())
    }

    fn hold_for_refresh(&mut self, account: AccountId, contacts: &[ContactId]) -> Result<HeldContacts, StoreError> {
        let held = contacts.iter().copied().filter(|id| self.work.has_contact(account, *id)).collect();
        Ok(HeldContacts { held, busy: Vec::new() })
    }

    fn queue_duplicate_refreshes(&mut self, account: AccountId, contacts: &[ContactId]) -> Result<(), StoreError> {
        for id in contacts {
            self.work.queue_refresh(account, *id);
        }
        Ok(())
    }

    fn duplicate_candidates(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Option<Candidates>, StoreError> {
        let Some(this) = self.profile(account, contact) else { return Ok(None) };
        let ids: Vec<ContactId> =
            self.work.contacts.iter().filter(|c| c.account_id == account && c.id != contact).map(|c| c.id).collect();
        let others = ids
            .into_iter()
            .filter_map(|id| {
                let profile = self.profile(account, id)?;
                let name_similarity = trigram_similarity(&this.name, &profile.name);
                Some(Candidate { id, profile, name_similarity })
            })
            .collect();
        Ok(Some(Candidates { this, others }))
    }

    fn replace_duplicates(
        &mut self,
        account: AccountId,
        contact: ContactId,
        pairs: &[ScoredPair],
        _new_contact: bool,
    ) -> Result<(), StoreError> {
        self.work.duplicate_pairs.retain(|(a, p)| !(*a == account && (p.low == contact || p.high == contact)));
        for pair in pairs {
            let (low, high) = if contact < pair.other { (contact, pair.other) } else { (pair.other, contact) };
            if self.dismissed(account, low, high) || !self.work.has_contact(account, pair.other) {
                continue;
            }
            let stored = StoredPair { low, high, confidence: pair.confidence, reasons: pair.reasons.clone() };
            self.work.duplicate_pairs.push((account, stored));
        }
        Ok(())
    }

    fn dismiss_duplicate(
        &mut self,
        account: AccountId,
        low: ContactId,
        high: ContactId,
        _by: Option<UserId>,
    ) -> Result<(), StoreError> {
        if !self.dismissed(account, low, high) {
            self.work.dismissals.push((account, low, high));
        }
        self.work.duplicate_pairs.retain(|(a, p)| !(*a == account && p.low == low && p.high == high));
        Ok(())
    }

    fn duplicates_of(
        &mut self,
        account: AccountId,
        contact: ContactId,
        limit: u64,
    ) -> Result<Vec<StoredPair>, StoreError> {
        let (_, mut pairs) = self.duplicate_pairs(account, 0.0, 0, u64::MAX)?;
        pairs.retain(|p| p.low == contact || p.high == contact);
        pairs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(pairs)
    }

    fn duplicate_pairs(
        &mut self,
        account: AccountId,
        min_confidence: f64,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<StoredPair>), StoreError> {
        let mut pairs: Vec<StoredPair> = self
            .work
            .duplicate_pairs
            .iter()
            .filter(|(a, p)| *a == account && p.confidence >= min_confidence)
            .map(|(_, p)| p.clone())
            .collect();
        pairs.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then((a.low, a.high).cmp(&(b.low, b.high))));
        let total = count(pairs.len());
        let page = pairs
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        Ok((total, page))
    }

    fn contact_ids_after(&mut self, account: AccountId, after: i64, limit: u64) -> Result<Vec<ContactId>, StoreError> {
        let mut ids: Vec<ContactId> =
            self.work.contacts.iter().filter(|c| c.account_id == account && c.id.get() > after).map(|c| c.id).collect();
        ids.sort();
        ids.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(ids)
    }

    fn count_contacts(&mut self, account: AccountId) -> Result<u64, StoreError> {
        Ok(count(self.work.contacts.iter().filter(|c| c.account_id == account).count()))
    }

    fn clear_duplicates(&mut self, account: AccountId) -> Result<u64, StoreError> {
        let before = self.work.duplicate_pairs.len();
        self.work.duplicate_pairs.retain(|(a, _)| *a != account);
        Ok(count(before - self.work.duplicate_pairs.len()))
    }
}
