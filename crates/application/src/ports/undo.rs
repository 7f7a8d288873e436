//! The undo port ([`UndoStore`]): locking a merge record, re-creating the mergee with its own id, and moving
//! back, set-based, what the merge's ledger says it moved (used by `crate::undo`).

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactId, UserId};

use super::error::StoreError;
use super::merges::{MergeEntry, MovedCounts};

/// A merge record as the undo needs it: the history's facts and, when the merge recorded one, its ledger's
/// base snapshot and written values (the moved ids stay in the store, which moves them back itself).
#[derive(Debug, Clone, PartialEq)]
pub struct UndoableMerge {
    pub entry: MergeEntry,
    /// `None` for a merge recorded before the ledger existed.
    pub ledger: Option<LedgerFacts>,
}

/// The parts of a merge's ledger the use case reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerFacts {
    pub base_snapshot: serde_json::Value,
    /// `{"field": {"before": …, "after": …}}` for each attribute the merge changed on the base.
    pub written: serde_json::Value,
}

/// What moving a merge's rows back did, per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UndoCounts {
    /// Ledger rows the base still owned, now the mergee's again (labels: the mergee's label set, given back).
    pub moved_back: MovedCounts,
    /// Ledger rows that no longer exist (deleted since the merge), or that moved on to another contact.
    pub deleted_since: MovedCounts,
    /// Rows the base gained after the merge (created later, and labels it was given later); they stay.
    pub kept_on_base: MovedCounts,
}

/// The storage side of undoing a merge.
pub trait UndoStore {
    /// Locks the merge record (`FOR UPDATE`, so that two undos of it serialize) and returns it; `None` when the
    /// account has no such record.
    ///
    /// # Errors
    /// Storage failures.
    fn lock_merge(&mut self, account: AccountId, id: i64) -> Result<Option<UndoableMerge>, StoreError>;

    /// The newest merge, not undone, that took `contact` as its mergee; `None` when there is none.
    ///
    /// # Errors
    /// Storage failures.
    fn merge_that_took(&mut self, account: AccountId, contact: ContactId) -> Result<Option<i64>, StoreError>;

    /// Inserts a contact with its own id and every stored column (re-creating a merged-away contact).
    ///
    /// # Errors
    /// `Taken { field }` when its email, identifier or phone number belongs to another contact.
    ///
    /// In the same statement it gives the contact back the identities merge `merge_id` moved from it that
    /// `base` still holds as secondaries, each with the source it had, and the base's secondaries that are the
    /// contact's own email, phone number or identifier (left there by a merge recorded before merges moved
    /// identities); its own email, phone number and identifier are its primaries again.
    fn restore_contact(&mut self, contact: &Contact, merge_id: i64, base: ContactId) -> Result<Contact, StoreError>;

    /// Moves back to `mergee` the rows merge `merge_id` moved from it that `base` still owns, gives the mergee
    /// back its whole label set and takes from the base the labels the merge added; with a number of statements
    /// that does not grow with the rows. Rows the base gained after `merged_at` stay and are counted.
    ///
    /// # Errors
    /// Storage failures.
    fn move_back(
        &mut self,
        account: AccountId,
        merge_id: i64,
        base: ContactId,
        mergee: ContactId,
        merged_at: DateTime<Utc>,
    ) -> Result<UndoCounts, StoreError>;

    /// Marks the merge record undone by `actor`, with what the undo did; returns when.
    ///
    /// # Errors
    /// Storage failures.
    fn mark_undone(
        &mut self,
        account: AccountId,
        merge_id: i64,
        actor: UserId,
        counts: &serde_json::Value,
    ) -> Result<DateTime<Utc>, StoreError>;
}
