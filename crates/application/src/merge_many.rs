//! Merge several contacts into one at once, with the caller naming each field's winner.
//!
//! One transaction:
//! 1. check the request (1 to 9 mergees, none twice, the base not among them, each named winner one of the
//!    contacts merged);
//! 2. lock the base and every mergee in one statement, in ascending id order (as every merge locks), so
//!    overlapping merges wait for each other instead of deadlocking; answer 404 naming each contact missing;
//! 3. merge each mergee into the base in the order given, each a whole pair merge
//!    ([`crate::merge_contacts::merge_locked`]) with its own record, ledger and `contact.merged` event, so
//!    history, old-id resolution and undo work per mergee; the choices of each step are
//!    [`ManyChoices::for_step`]'s, so the chain ends with each named contact's values;
//! 4. commit. A refusal at any step drops the transaction: nothing of any step stays.
//!
//! The statements grow with the number of mergees (each pair merge is a fixed number of statements), never
//! with the rows they move. [`preview_merge_many`] runs the same steps and rolls them back.

use domain::merge_many::validate_many;
use domain::{
    attribute_changes, AccountId, AttributeChange, Contact, ContactId, ContactInbox, ManyChoices, UserId, Violations,
};

use crate::idempotency::KeyReused;
use crate::merge_contacts::{merge_locked, MergeContacts, MergeContactsError};
use crate::ports::{in_rolled_back_transaction, in_transaction, Database, MovedCounts, Session, StoreError};

/// What to merge into what, with which winners, and who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeMany {
    pub account_id: AccountId,
    pub actor: UserId,
    pub base_contact_id: ContactId,
    /// Merged in this order.
    pub mergee_contact_ids: Vec<ContactId>,
    pub choices: ManyChoices,
}

/// One mergee's merge within a many-contact merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedMergee {
    pub mergee_contact_id: ContactId,
    /// The merge record's id (undo it with `POST …/contact_merges/{id}/undo`).
    pub merge_id: i64,
    pub moved: MovedCounts,
}

/// The base after every mergee was merged into it.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeManyOutcome {
    pub contact: Contact,
    pub contact_inboxes: Vec<ContactInbox>,
    pub merges: Vec<MergedMergee>,
}

/// What a many-contact merge would do.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeManyPreview {
    pub outcome: MergeManyOutcome,
    /// Each base attribute the merge would change, from the base as it is to the base after the last mergee.
    pub changes: Vec<AttributeChange>,
}

/// A contact of the request that is not in the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingContact {
    /// The request field naming it: `base_contact_id` or `mergee_contact_ids[i]`.
    pub field: String,
    pub id: ContactId,
    /// Where it lives now, when it was merged away.
    pub merged_into: Option<ContactId>,
}

/// Why a many-contact merge did not happen. In every case nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeManyError {
    /// The request breaks a rule of its own (count, duplicates, the base among the mergees, a winner that is
    /// not merged).
    #[error("the request is invalid: {0}")]
    BadRequest(Violations),
    #[error("contact not found")]
    NotFound { missing: Vec<MissingContact> },
    /// The merged base breaks a contact rule (format or uniqueness).
    #[error("the merged contact is invalid: {0}")]
    Invalid(Violations),
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<KeyReused> for MergeManyError {
    fn from(_: KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for MergeManyError {
    fn from(e: StoreError) -> Self {
        MergeContactsError::from(e).into()
    }
}

impl From<MergeContactsError> for MergeManyError {
    fn from(e: MergeContactsError) -> Self {
        match e {
            MergeContactsError::Invalid(v) => Self::Invalid(v),
            MergeContactsError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            MergeContactsError::Unavailable => Self::Unavailable,
            MergeContactsError::Internal(cause) => Self::Internal(cause),
            // every contact is locked before the first step, so a step cannot miss one
            MergeContactsError::NotFound { .. } => Self::Internal("a locked contact went missing".into()),
        }
    }
}

/// Runs the merge in its own transaction.
///
/// # Errors
/// See [`MergeManyError`]; whatever the error, the database is left as it was.
pub fn merge_many(db: &dyn Database, cmd: &MergeMany) -> Result<MergeManyOutcome, MergeManyError> {
    in_transaction(db, |tx| merge_many_in(tx, cmd))
}

/// Runs the merge inside the caller's transaction (which commits it, e.g. together with an idempotency key).
///
/// # Errors
/// See [`MergeManyError`]; the caller must then drop the transaction, which rolls everything back.
pub fn merge_many_in(tx: &mut dyn Session, cmd: &MergeMany) -> Result<MergeManyOutcome, MergeManyError> {
    run(tx, cmd).map(|(_, outcome)| outcome)
}

/// Previews the merge: the same steps, rolled back.
///
/// # Errors
/// Exactly the errors the merge would answer with at this moment.
pub fn preview_merge_many(db: &dyn Database, cmd: &MergeMany) -> Result<MergeManyPreview, MergeManyError> {
    in_rolled_back_transaction(db, |tx| {
        let (before, outcome) = run(tx, cmd)?;
        let changes = attribute_changes(&before.attributes, &outcome.contact.attributes);
        Ok(MergeManyPreview { outcome, changes })
    })
}

/// The merge; answers the base as it was before it too.
fn run(tx: &mut dyn Session, cmd: &MergeMany) -> Result<(Contact, MergeManyOutcome), MergeManyError> {
    let account = cmd.account_id;
    validate_many(cmd.base_contact_id, &cmd.mergee_contact_ids, &cmd.choices).map_err(MergeManyError::BadRequest)?;
    let mut ids = Vec::with_capacity(cmd.mergee_contact_ids.len() + 1);
    ids.push(cmd.base_contact_id);
    ids.extend_from_slice(&cmd.mergee_contact_ids);
    let locked = tx.lock_contacts(account, &ids)?;
    let (base, mergees) = pick(tx, cmd, &locked)?;

    let mut current = base.clone();
    let mut merges = Vec::with_capacity(mergees.len());
    // the last absorb reads the base's channel addresses after every move (there is at least one mergee)
    let mut contact_inboxes = Vec::new();
    for mergee in &mergees {
        let pair = MergeContacts {
            account_id: account,
            actor: cmd.actor,
            base_contact_id: base.id,
            mergee_contact_id: mergee.id,
            choices: cmd.choices.for_step(mergee.id),
        };
        let merged = merge_locked(tx, &pair, &current, mergee)?;
        merges.push(MergedMergee { mergee_contact_id: mergee.id, merge_id: merged.merge_id, moved: merged.moved });
        current = merged.contact;
        contact_inboxes = merged.contact_inboxes;
    }
    Ok((base, MergeManyOutcome { contact: current, contact_inboxes, merges }))
}

/// The base and the mergees (in the request's order) among the contacts found, or every one missing.
fn pick(tx: &mut dyn Session, cmd: &MergeMany, found: &[Contact]) -> Result<(Contact, Vec<Contact>), MergeManyError> {
    let find = |id: ContactId| found.iter().find(|c| c.id == id).cloned();
    let named = std::iter::once(("base_contact_id".to_owned(), cmd.base_contact_id))
        .chain(cmd.mergee_contact_ids.iter().enumerate().map(|(i, id)| (format!("mergee_contact_ids[{i}]"), *id)));
    let mut missing = Vec::new();
    for (field, id) in named {
        if find(id).is_none() {
            missing.push(MissingContact { field, id, merged_into: tx.merged_into(cmd.account_id, id)? });
        }
    }
    match find(cmd.base_contact_id) {
        Some(base) if missing.is_empty() => {
            Ok((base, cmd.mergee_contact_ids.iter().filter_map(|id| find(*id)).collect()))
        }
        _ => Err(MergeManyError::NotFound { missing }),
    }
}

#[cfg(test)]
mod tests;
