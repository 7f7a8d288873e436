//! The merge port ([`MergeStore`]): the set-based moves of a merge, its preview counts and its audit trail (used
//! by `crate::merge_contacts`, `crate::merge_preview` and `crate::merge_history`; `crate::undo` reverses them).

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, IdentityKind, UserId};

use super::error::StoreError;

/// How many rows of each kind a merge moved from the mergee to the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MovedCounts {
    pub conversations: u64,
    pub messages: u64,
    pub contact_inboxes: u64,
    pub notes: u64,
    pub labels: u64,
}

/// Exactly which rows a merge moved, as [`MergeStore::write_merge`] returns them: the ledger an undo reverses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MovedRows {
    pub conversation_ids: Vec<i64>,
    /// The messages the mergee sent (messages of moved conversations move with their conversation).
    pub message_ids: Vec<i64>,
    pub contact_inbox_ids: Vec<i64>,
    pub note_ids: Vec<i64>,
    /// The labels the merge gave the base: those of the mergee the base did not carry yet.
    pub labels_added: Vec<String>,
    /// Every label the mergee carried.
    pub mergee_labels: Vec<String>,
    /// The identities the merge moved to the base, and the source each had before (a store that moves them
    /// row by row, as the in-memory one does).
    pub identity_ids: Vec<i64>,
    pub identity_sources: Vec<String>,
    /// The holders of identities the merge gave the base (a store that keeps identities in holders, as the
    /// PostgreSQL one does: it re-points the mergee's holders instead of moving their rows).
    pub identity_holder_ids: Vec<i64>,
}

impl MovedRows {
    /// How many rows of each kind these are (labels: every label the mergee carried).
    #[must_use]
    pub fn counts(&self) -> MovedCounts {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        MovedCounts {
            conversations: count(self.conversation_ids.len()),
            messages: count(self.message_ids.len()),
            contact_inboxes: count(self.contact_inbox_ids.len()),
            notes: count(self.note_ids.len()),
            labels: count(self.mergee_labels.len()),
        }
    }
}

/// What a merge moved ([`MergeStore::write_merge`]): the counts, the rows it moved, and the base's channel addresses
/// after it (the merge's answer lists them, so the statement that moves them reads them too).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Absorbed {
    pub moved: MovedCounts,
    pub rows: MovedRows,
    /// Every contact inbox of the base after the move, oldest first.
    pub base_inboxes: Vec<ContactInbox>,
}

/// What a merge records so that it can be undone.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeLedger {
    pub rows: MovedRows,
    /// The base as it was just before the merge (the shape of the mergee's snapshot).
    pub base_snapshot: serde_json::Value,
    /// Each attribute the merge changed on the base: `{"field": {"before": …, "after": …}}`.
    pub written: serde_json::Value,
}

/// The audit record of one merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeRecord {
    pub account_id: AccountId,
    pub actor: Option<UserId>,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    /// The mergee as it was just before the merge.
    pub mergee_snapshot: serde_json::Value,
    pub moved: MovedCounts,
    /// `None` only for records made before the ledger existed (they cannot be undone).
    pub ledger: Option<MergeLedger>,
}

/// Everything one merge writes, decided before it is written (`crate::merge_contacts`, steps 3 to 5).
#[derive(Debug, Clone, PartialEq)]
pub struct MergeWrite<'a> {
    pub account_id: AccountId,
    pub actor: Option<UserId>,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    /// The base's attributes after the merge, validated.
    pub attributes: &'a ContactAttributes,
    /// The kinds whose mergee primary becomes the base's primary.
    pub primaries: &'a [IdentityKind],
    /// The mergee as it was just before the merge.
    pub mergee_snapshot: serde_json::Value,
    /// The base as it was just before the merge.
    pub base_snapshot: serde_json::Value,
    /// Each attribute the merge changes on the base: `{"field": {"before": …, "after": …}}`.
    pub written: serde_json::Value,
    /// The outbox event's type and payload, without the facts only the write knows: the store adds them as
    /// [`crate::snapshot::completed_merge_event`] does (the record's id and time, and what moved).
    pub event_type: &'static str,
    pub event: serde_json::Value,
}

/// What [`MergeStore::write_merge`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeWritten {
    /// The base after the merge, as stored.
    pub contact: Contact,
    pub absorbed: Absorbed,
    pub stored: StoredMerge,
}

/// A stored merge record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMerge {
    pub id: i64,
    pub created_at: DateTime<Utc>,
}

/// The set-based moves of a merge and its audit trail.
pub trait MergeStore {
    /// Writes one merge whole, in as few statements as the store can: absorbs the mergee into the base (every
    /// conversation, contact-sent message, contact inbox, note and label of the mergee moves to the base with a
    /// number of statements that does not grow with the rows; labels are a union, a label both carry kept once;
    /// the mergee's identities become the base's, its primaries of the kinds in `primaries` as the base's
    /// primaries (the base has none of them: [`domain::IdentityKind::taken_by_merge`]), every other one as a
    /// secondary), deletes the mergee's row, writes the merged attributes on the base, the audit record with its
    /// ledger, and the outbox event. Answers the base as stored, what moved (counts and exactly which rows: the
    /// undo's ledger), the base's contact inboxes after the move, and the record.
    ///
    /// # Errors
    /// Storage failures, including a row of the mergee left behind (a foreign key) and a merged value another
    /// contact holds ([`StoreError::Taken`]).
    fn write_merge(&mut self, merge: &MergeWrite<'_>) -> Result<MergeWritten, StoreError>;

    /// How many rows [`MergeStore::write_merge`] would move from `contact` right now (for previews).
    ///
    /// # Errors
    /// Storage failures.
    fn count_children(&mut self, account: AccountId, contact: ContactId) -> Result<MovedCounts, StoreError>;

    /// The unique fields (`email`, `identifier`, `phone_number`) of `attributes` that a contact other than
    /// those in `exclude` already holds.
    ///
    /// # Errors
    /// Storage failures.
    fn taken_fields(
        &mut self,
        account: AccountId,
        attributes: &ContactAttributes,
        exclude: &[ContactId],
    ) -> Result<Vec<&'static str>, StoreError>;

    /// Where a merged-away contact lives now: follows the merge records that were not undone from `id` (A into
    /// B, B into C → C) and returns the last base if it still exists; `None` when `id` was never merged away
    /// (or every merge that took it was undone).
    ///
    /// # Errors
    /// Storage failures.
    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError>;

    /// One page of the account's merge records, newest first, optionally only those where `contact` was the
    /// base or the mergee; with the total count.
    ///
    /// # Errors
    /// Storage failures.
    fn list_merges(
        &mut self,
        account: AccountId,
        contact: Option<ContactId>,
        page: Page,
    ) -> Result<(Vec<MergeEntry>, u64), StoreError>;

    /// One merge record of the account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_merge(&mut self, account: AccountId, id: i64) -> Result<Option<MergeEntry>, StoreError>;
}

/// A stored merge record, as the history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeEntry {
    pub id: i64,
    pub account_id: AccountId,
    pub actor: Option<UserId>,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    pub mergee_snapshot: serde_json::Value,
    pub moved: MovedCounts,
    pub created_at: DateTime<Utc>,
    /// When the merge was undone, and by whom.
    pub undone_at: Option<DateTime<Utc>>,
    pub undone_by: Option<UserId>,
}

/// A page of a listing: 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    /// Rows to skip.
    pub fn offset(self) -> u64 {
        u64::from(self.number.saturating_sub(1)) * u64::from(self.size)
    }
}
