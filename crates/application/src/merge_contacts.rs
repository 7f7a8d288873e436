//! Merge Contacts: the base contact absorbs the mergee, which is then deleted.
//!
//! The whole merge runs in one transaction:
//! 1. lock both contacts, lower id first, before anything is read for the decision;
//! 2. merge the six attributes with the domain rule and validate the result (nothing moved yet);
//! 3. move the mergee's conversations, sent messages, contact inboxes, notes, labels and identities to the base,
//!    set-based (the number of statements does not grow with the rows);
//! 4. delete the mergee, then update the base, so the mergee's unique email or identifier can move over;
//! 5. write the audit record, with the ledger that makes the merge undoable (`crate::undo`): the ids the move
//!    returned, the base as it was and the values written on it; and the `contact.merged` outbox event.
//!    Steps 3 to 5 are one call of the store ([`crate::ports::MergeStore::write_merge`]): everything they write
//!    is decided by step 2, so PostgreSQL does them in one statement, one round trip;
//!    the mergee's duplicate suggestions leave with its row (cascade); the base is queued for the duplicates
//!    worker by the database's triggers when its compared values or channel addresses change;
//! 6. commit. Any error before the commit drops the session, which rolls every step back.
//!
//! [`merge_in`] is the same merge inside a caller's transaction (used to commit it with an idempotency key).

use domain::{
    attribute_changes, merge_attributes_choosing, AccountId, Contact, ContactAttributes, ContactId, ContactInbox,
    FieldChoices, IdentityKind, UserId, Violations,
};
use serde_json::json;

use crate::idempotency::KeyReused;
use crate::ports::{in_transaction, Database, MergeWrite, MovedCounts, Session, StoreError};
use crate::snapshot::contact_snapshot;

/// What to merge, and who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeContacts {
    pub account_id: AccountId,
    pub actor: UserId,
    pub base_contact_id: ContactId,
    pub mergee_contact_id: ContactId,
    /// Which side wins each attribute; the default is the reference rule.
    pub choices: FieldChoices,
}

/// The base contact after the merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    pub contact: Contact,
    pub contact_inboxes: Vec<ContactInbox>,
    /// The audit record's id; `None` for a self-merge, which changes nothing.
    pub merge_id: Option<i64>,
    pub moved: MovedCounts,
}

/// Why a merge did not happen. In every case nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeContactsError {
    /// One or both contacts are not in the account: each request field (`base_contact_id`,
    /// `mergee_contact_id`) that points nowhere, with the contact it was merged into when it was merged away.
    #[error("contact not found")]
    NotFound { fields: Vec<(&'static str, Option<ContactId>)> },
    /// The merged base breaks a contact rule (format or uniqueness).
    #[error("the merged contact is invalid: {0}")]
    Invalid(Violations),
    /// The `Idempotency-Key` was used before for another request.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<KeyReused> for MergeContactsError {
    fn from(_: KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for MergeContactsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => {
                Self::Invalid(Violations::one(field, "taken", "has already been taken by another contact"))
            }
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Runs the merge in its own transaction.
///
/// # Errors
/// See [`MergeContactsError`]; whatever the error, the database is left as it was.
pub fn merge_contacts(db: &dyn Database, cmd: MergeContacts) -> Result<MergeOutcome, MergeContactsError> {
    in_transaction(db, |tx| merge_in(tx, cmd))
}

/// Runs the merge inside the caller's transaction (which commits it, e.g. together with an idempotency key).
///
/// # Errors
/// See [`MergeContactsError`]; the caller must then drop the transaction, which rolls everything back.
pub fn merge_in(tx: &mut dyn Session, cmd: MergeContacts) -> Result<MergeOutcome, MergeContactsError> {
    let account = cmd.account_id;
    let locked = tx.lock_contacts(account, &[cmd.base_contact_id, cmd.mergee_contact_id])?;
    let (base, mergee) = pick_pair(tx, &cmd, &locked)?;

    // Merging a contact into itself must never delete it (the reference once did): answer with it unchanged.
    if base.id == mergee.id {
        let contact_inboxes = tx.contact_inboxes(account, base.id)?;
        return Ok(MergeOutcome { contact: base, contact_inboxes, merge_id: None, moved: MovedCounts::default() });
    }

    let merged = merge_locked(tx, &cmd, &base, &mergee)?;
    Ok(MergeOutcome {
        contact: merged.contact,
        contact_inboxes: merged.contact_inboxes,
        merge_id: Some(merged.merge_id),
        moved: merged.moved,
    })
}

/// One pair merged: the base after it, its channel addresses, the merge record's id and what moved.
pub(crate) struct Merged {
    pub(crate) contact: Contact,
    pub(crate) contact_inboxes: Vec<ContactInbox>,
    pub(crate) merge_id: i64,
    pub(crate) moved: MovedCounts,
}

/// Merges `mergee` into `base`, both locked by the caller and distinct: steps 2 to 5 above.
pub(crate) fn merge_locked(
    tx: &mut dyn Session,
    cmd: &MergeContacts,
    base: &Contact,
    mergee: &Contact,
) -> Result<Merged, MergeContactsError> {
    let merged = plan_merge(base, mergee, &cmd.choices).map_err(MergeContactsError::Invalid)?;
    let primaries = IdentityKind::taken_by_merge(&base.attributes, &merged);
    let mergee_snapshot = contact_snapshot(mergee);
    let event = json!({
        "event": "contact_merged",
        "account_id": cmd.account_id.get(),
        "actor_user_id": cmd.actor.get(),
        "base_contact_id": cmd.base_contact_id.get(),
        "mergee_contact_id": cmd.mergee_contact_id.get(),
        "mergee": mergee_snapshot,
    });
    // steps 3 to 5 in one call: what the merge writes is decided here, so the store can write it all at once
    let done = tx.write_merge(&MergeWrite {
        account_id: cmd.account_id,
        actor: Some(cmd.actor),
        base_contact_id: base.id,
        mergee_contact_id: mergee.id,
        attributes: &merged,
        primaries: &primaries,
        mergee_snapshot,
        base_snapshot: contact_snapshot(base),
        written: written(&base.attributes, &merged),
        event_type: "contact.merged",
        event,
    })?;
    Ok(Merged {
        contact: done.contact,
        contact_inboxes: done.absorbed.base_inboxes,
        merge_id: done.stored.id,
        moved: done.absorbed.moved,
    })
}

/// The base's attributes after the merge, validated: the one rule both the merge and its preview apply.
///
/// # Errors
/// The rules the merged attributes break (format and length; uniqueness is the store's).
pub fn plan_merge(
    base: &Contact,
    mergee: &Contact,
    choices: &FieldChoices,
) -> Result<domain::ContactAttributes, Violations> {
    let merged = merge_attributes_choosing(&base.attributes, &mergee.attributes, choices);
    merged.validate()?;
    Ok(merged)
}

/// Picks the base and the mergee among the contacts found, or says which are missing and, for a contact that
/// was merged away, where it lives now.
pub(crate) fn pick_pair(
    session: &mut dyn Session,
    cmd: &MergeContacts,
    found: &[Contact],
) -> Result<(Contact, Contact), MergeContactsError> {
    let find = |id: ContactId| found.iter().find(|c| c.id == id).cloned();
    match (find(cmd.base_contact_id), find(cmd.mergee_contact_id)) {
        (Some(base), Some(mergee)) => Ok((base, mergee)),
        (base, mergee) => {
            let mut fields = Vec::new();
            for (field, id, present) in [
                ("base_contact_id", cmd.base_contact_id, base.is_some()),
                ("mergee_contact_id", cmd.mergee_contact_id, mergee.is_some()),
            ] {
                if !present {
                    fields.push((field, session.merged_into(cmd.account_id, id)?));
                }
            }
            Err(MergeContactsError::NotFound { fields })
        }
    }
}

/// The attributes the merge changes on the base: `{"field": {"before": …, "after": …}}`.
fn written(before: &ContactAttributes, after: &ContactAttributes) -> serde_json::Value {
    attribute_changes(before, after)
        .into_iter()
        .map(|c| (c.field.to_owned(), json!({"before": c.from, "after": c.to})))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests;
