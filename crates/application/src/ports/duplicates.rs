//! The duplicates port ([`DuplicateStore`]): the candidates of a contact with what the rules compare, and the
//! stored suggestions and dismissals (used by `crate::duplicates`).

use domain::duplicates::Profile;
use domain::{AccountId, ContactId, UserId};

use super::error::StoreError;

/// A contact and the contacts that may be the same person, found through indexes (bounded: a few dozen).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    pub this: Profile,
    pub others: Vec<Candidate>,
}

/// One contact that may be a duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: ContactId,
    pub profile: Profile,
    /// Trigram similarity of its name with the contact's (0–1).
    pub name_similarity: f64,
}

/// A suggestion of the contact being refreshed: the other contact, the confidence and the reasons
/// (`[{"code","field","detail"}]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPair {
    pub other: ContactId,
    pub confidence: f64,
    pub reasons: serde_json::Value,
}

/// A stored suggestion, the lower id first.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPair {
    pub low: ContactId,
    pub high: ContactId,
    pub confidence: f64,
    pub reasons: serde_json::Value,
}

impl StoredPair {
    /// The contact of the pair that is not `id`.
    #[must_use]
    pub fn other(&self, id: ContactId) -> ContactId {
        if self.low == id {
            self.high
        } else {
            self.low
        }
    }
}

/// The contacts of a batch as a refresher found them ([`DuplicateStore::hold_for_refresh`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldContacts {
    /// Held until the end of the transaction: none can be deleted, merged away or dismissed meanwhile.
    pub held: Vec<ContactId>,
    /// Held exclusively by another transaction at this moment (a merge, a deletion, a dismissal): not waited for.
    pub busy: Vec<ContactId>,
}

/// Reads candidates and keeps suggestions.
pub trait DuplicateStore {
    /// Takes, in this transaction, the refresh lock of one account that has queued contacts and that no other
    /// transaction is refreshing (never waiting for one), and removes from the queue up to `limit` of its
    /// contacts (every queued row of each). `None` when there is nothing to take. The queue is filled by the
    /// database itself, in the transaction of every change the suggestions depend on.
    ///
    /// # Errors
    /// Storage failures.
    fn claim_duplicate_refreshes(&mut self, limit: u64) -> Result<Option<(AccountId, Vec<ContactId>)>, StoreError>;

    /// Takes the account's refresh lock in this transaction, waiting for a refresher that holds it: while it is
    /// held, nobody else refreshes a contact of the account.
    ///
    /// # Errors
    /// Storage failures.
    fn lock_duplicate_refreshes(&mut self, account: AccountId) -> Result<(), StoreError>;

    /// Holds the contacts against deletion and exclusive changes until the end of the transaction (a shared
    /// lock that ordinary updates do not conflict with), never waiting; contacts that are gone are in neither
    /// list.
    ///
    /// # Errors
    /// Storage failures.
    fn hold_for_refresh(&mut self, account: AccountId, contacts: &[ContactId]) -> Result<HeldContacts, StoreError>;

    /// Queues the contacts for a refresh again.
    ///
    /// # Errors
    /// Storage failures.
    fn queue_duplicate_refreshes(&mut self, account: AccountId, contacts: &[ContactId]) -> Result<(), StoreError>;

    /// The contact's profile and its candidates (never itself), or `None` when the contact is not in the
    /// account. Every read of a contact's identities (emails, phone numbers, identifiers, channel addresses)
    /// goes through one place in the store, so that secondary identities plug in there.
    ///
    /// Called by a refresh only (inside the account's refresh lock): a store may keep search keys that only
    /// refreshes write, and bring this contact's up to date here, so that the contacts refreshed after it find
    /// it. A pair is then found by whichever of its contacts is refreshed later.
    ///
    /// # Errors
    /// Storage failures.
    fn duplicate_candidates(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Option<Candidates>, StoreError>;

    /// Replaces the contact's suggestions with `pairs`, leaving out dismissed pairs and contacts that are gone
    /// or held exclusively by another transaction at this moment (never waiting for one: a merge or deletion
    /// removes that pair anyway, and a changed contact is queued and refreshed itself). `new_contact` says the contact has no suggestions yet (nothing to delete).
    ///
    /// # Errors
    /// Storage failures.
    fn replace_duplicates(
        &mut self,
        account: AccountId,
        contact: ContactId,
        pairs: &[ScoredPair],
        new_contact: bool,
    ) -> Result<(), StoreError>;

    /// Records that the two contacts (`low < high`) are different people and removes their suggestion.
    /// Dismissing a dismissed pair changes nothing.
    ///
    /// # Errors
    /// Storage failures.
    fn dismiss_duplicate(
        &mut self,
        account: AccountId,
        low: ContactId,
        high: ContactId,
        by: Option<UserId>,
    ) -> Result<(), StoreError>;

    /// The contact's suggestions, best first, at most `limit`.
    ///
    /// # Errors
    /// Storage failures.
    fn duplicates_of(
        &mut self,
        account: AccountId,
        contact: ContactId,
        limit: u64,
    ) -> Result<Vec<StoredPair>, StoreError>;

    /// One page of the account's suggestions with at least `min_confidence`, best first, and how many there
    /// are in all.
    ///
    /// # Errors
    /// Storage failures.
    fn duplicate_pairs(
        &mut self,
        account: AccountId,
        min_confidence: f64,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<StoredPair>), StoreError>;

    /// Up to `limit` of the account's contact ids above `after`, ascending (to walk an account in batches).
    ///
    /// # Errors
    /// Storage failures.
    fn contact_ids_after(&mut self, account: AccountId, after: i64, limit: u64) -> Result<Vec<ContactId>, StoreError>;

    /// How many contacts the account has.
    ///
    /// # Errors
    /// Storage failures.
    fn count_contacts(&mut self, account: AccountId) -> Result<u64, StoreError>;

    /// Deletes every suggestion of the account (dismissals stay); returns how many.
    ///
    /// # Errors
    /// Storage failures.
    fn clear_duplicates(&mut self, account: AccountId) -> Result<u64, StoreError>;
}
