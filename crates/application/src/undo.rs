//! Undo a merge: the merge's mirror, from the ledger the merge recorded (`crate::merge_contacts`).
//!
//! The whole undo runs in one transaction:
//! 1. read the merge record; lock the base contact, then the record itself, and read it again (two undos of one
//!    merge, or an undo and a merge of the same base, serialize; a merge locks contacts only, in ascending id
//!    order, and the undo locks one contact before one record, so the two cannot deadlock);
//! 2. refuse, with nothing changed: already undone, older than the undo window, the base merged away since
//!    (`Superseded`: undo that later merge first), the mergee's email, phone number or identifier now held by
//!    another contact, or a merge recorded before the ledger existed;
//! 3. restore each base attribute the merge changed to its value before the merge, unless it was changed again
//!    since (then the current value stays and is reported as a conflict). The base is written before the
//!    mergee is re-created, so that an email, phone number or identifier the base inherited is free again;
//! 4. re-create the mergee with its original id and every stored column of its snapshot, and give it back the
//!    identities the merge made secondary on the base (its primaries are its own fields again);
//! 5. move back, set-based, the ledger's rows the base still owns; give the mergee its labels back and take
//!    from the base those the merge added. Rows the base gained after the merge stay, and are counted;
//! 6. dismiss the pair (an undone merge says they are two people); both contacts' other suggestions are
//!    recomputed by the duplicates worker (the database's triggers queued them);
//! 7. mark the record undone and enqueue the `contact.unmerged` outbox event with the same facts.
//!
//! [`preview_undo`] runs the very same steps and rolls them back, so that it answers exactly what the undo
//! would, at this moment.

use chrono::{DateTime, Duration, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactInbox, UserId};
use serde_json::{json, Value};

use crate::idempotency::KeyReused;
use crate::ports::{in_rolled_back_transaction, in_transaction, Database, Session, StoreError, UndoCounts};
use crate::snapshot::{contact_from_snapshot, contact_snapshot, moved_snapshot};

/// Which merge to undo, who asks, and for how long after a merge an undo is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndoMerge {
    pub account_id: AccountId,
    pub actor: UserId,
    pub merge_id: i64,
    /// The undo window (`COALESCE_UNDO_WINDOW_DAYS`).
    pub window: Duration,
}

/// A base attribute changed again after the merge: the undo kept its current value.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoConflict {
    pub field: &'static str,
    pub kept: Value,
    pub merge_wrote: Value,
    pub before_merge: Value,
}

/// Both contacts after the undo, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoOutcome {
    pub merge_id: i64,
    pub base: Contact,
    pub base_inboxes: Vec<ContactInbox>,
    pub mergee: Contact,
    pub mergee_inboxes: Vec<ContactInbox>,
    pub counts: UndoCounts,
    pub conflicts: Vec<UndoConflict>,
}

/// Why a merge was not undone. In every case nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    /// No such merge record in the account.
    #[error("merge record not found")]
    NotFound,
    #[error("the merge was already undone")]
    AlreadyUndone,
    #[error("the merge is older than the undo window of {days} days")]
    WindowPassed { days: i64 },
    /// The base was merged into another contact by merge `by`, which must be undone first.
    #[error("the base contact {base} was merged away by merge {by}")]
    Superseded { base: i64, by: i64 },
    /// `field` stands in the way: the base contact is gone (`base_contact_id`), or another contact now holds
    /// the mergee's `email`, `phone_number` or `identifier`.
    #[error("conflict on {field}")]
    Conflict { field: &'static str },
    /// The merge was recorded before merges kept the ledger an undo needs.
    #[error("the merge was recorded before merges could be undone")]
    NotUndoable,
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<KeyReused> for UndoError {
    fn from(_: KeyReused) -> Self {
        Self::IdempotencyKeyReused
    }
}

impl From<StoreError> for UndoError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => Self::Conflict { field },
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Undoes the merge in its own transaction.
///
/// # Errors
/// See [`UndoError`]; whatever the error, the database is left as it was.
pub fn undo_merge(db: &dyn Database, cmd: UndoMerge) -> Result<UndoOutcome, UndoError> {
    in_transaction(db, |tx| undo_in(tx, cmd))
}

/// What undoing the merge would do right now: the undo itself, rolled back.
///
/// # Errors
/// Exactly the errors the undo would answer with at this moment.
pub fn preview_undo(db: &dyn Database, cmd: UndoMerge) -> Result<UndoOutcome, UndoError> {
    in_rolled_back_transaction(db, |tx| undo_in(tx, cmd))
}

/// Undoes the merge inside the caller's transaction (which commits it, e.g. together with an idempotency key).
///
/// # Errors
/// See [`UndoError`]; the caller must then drop the transaction, which rolls everything back.
pub fn undo_in(tx: &mut dyn Session, cmd: UndoMerge) -> Result<UndoOutcome, UndoError> {
    let account = cmd.account_id;
    let first = tx.find_merge(account, cmd.merge_id)?.ok_or(UndoError::NotFound)?;
    if first.undone_at.is_some() {
        return Err(UndoError::AlreadyUndone);
    }
    let base_id = first.base_contact_id;
    let Some(base) = tx.lock_contacts(account, &[base_id])?.pop() else {
        return Err(match tx.merge_that_took(account, base_id)? {
            Some(by) => UndoError::Superseded { base: base_id.get(), by },
            None => UndoError::Conflict { field: "base_contact_id" },
        });
    };
    let record = tx.lock_merge(account, cmd.merge_id)?.ok_or(UndoError::NotFound)?;
    let entry = &record.entry;
    if entry.undone_at.is_some() {
        return Err(UndoError::AlreadyUndone);
    }
    if entry.created_at.checked_add_signed(cmd.window).is_none_or(|end| end < Utc::now()) {
        return Err(UndoError::WindowPassed { days: cmd.window.num_days() });
    }
    let ledger = record.ledger.as_ref().ok_or(UndoError::NotUndoable)?;
    let mergee = contact_from_snapshot(&entry.mergee_snapshot)
        .filter(|m| m.id == entry.mergee_contact_id && m.account_id == account)
        .ok_or(UndoError::NotUndoable)?;

    let (restored, conflicts) = restore_attributes(&base, &ledger.written).ok_or(UndoError::NotUndoable)?;
    if let Some(field) = tx.taken_fields(account, &mergee.attributes, &[base.id, mergee.id])?.first() {
        return Err(UndoError::Conflict { field });
    }

    let base =
        if restored == base.attributes { base } else { tx.update_contact_attributes(account, base.id, &restored)? };
    let mergee = tx.restore_contact(&mergee, entry.id, base.id)?;
    let counts = tx.move_back(account, entry.id, base.id, mergee.id, entry.created_at)?;
    // Someone undid this merge: the two are different people, never to be suggested as a pair again.
    let (low, high) = if base.id < mergee.id { (base.id, mergee.id) } else { (mergee.id, base.id) };
    tx.dismiss_duplicate(account, low, high, Some(cmd.actor))?;
    let outcome = UndoOutcome {
        merge_id: entry.id,
        base_inboxes: tx.contact_inboxes(account, base.id)?,
        mergee_inboxes: tx.contact_inboxes(account, mergee.id)?,
        base,
        mergee,
        counts,
        conflicts,
    };
    record_undo(tx, &cmd, &outcome, entry.created_at)?;
    Ok(outcome)
}

/// The base's attributes with each value the merge wrote put back, except those changed again since (kept, and
/// returned as conflicts). `None` when `written` is not what the merge records.
fn restore_attributes(base: &Contact, written: &Value) -> Option<(ContactAttributes, Vec<UndoConflict>)> {
    let mut restored = base.attributes.clone();
    let mut conflicts = Vec::new();
    for (field, change) in written.as_object()? {
        let field = FIELDS.iter().copied().find(|f| f == field)?;
        let (before, after) = (&change["before"], &change["after"]);
        let current = attribute(&base.attributes, field);
        if current == *after {
            set_attribute(&mut restored, field, before)?;
        } else {
            conflicts.push(UndoConflict {
                field,
                kept: current,
                merge_wrote: after.clone(),
                before_merge: before.clone(),
            });
        }
    }
    Some((restored, conflicts))
}

/// The six attributes a merge writes, in the contact's field order.
const FIELDS: [&str; 6] = ["name", "email", "phone_number", "identifier", "additional_attributes", "custom_attributes"];

/// An attribute as JSON, as the merge's `written` holds it (`domain::attribute_changes`' encoding).
fn attribute(a: &ContactAttributes, field: &str) -> Value {
    let text = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()));
    match field {
        "name" => Value::String(a.name.clone()),
        "email" => text(&a.email),
        "phone_number" => text(&a.phone_number),
        "identifier" => text(&a.identifier),
        "additional_attributes" => Value::Object(a.additional_attributes.clone()),
        "custom_attributes" => Value::Object(a.custom_attributes.clone()),
        _ => Value::Null,
    }
}

/// Sets an attribute from its JSON; `None` when the JSON does not fit the attribute.
fn set_attribute(a: &mut ContactAttributes, field: &str, value: &Value) -> Option<()> {
    let text = |v: &Value| match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    };
    match field {
        "name" => a.name = value.as_str()?.to_owned(),
        "email" => a.email = text(value)?,
        "phone_number" => a.phone_number = text(value)?,
        "identifier" => a.identifier = text(value)?,
        "additional_attributes" => a.additional_attributes = value.as_object()?.clone(),
        "custom_attributes" => a.custom_attributes = value.as_object()?.clone(),
        _ => return None,
    }
    Some(())
}

/// What the undo did, as the record and the event hold it.
fn facts(outcome: &UndoOutcome) -> Value {
    let conflicts: Vec<Value> = outcome
        .conflicts
        .iter()
        .map(
            |c| json!({"field": c.field, "kept": c.kept, "merge_wrote": c.merge_wrote, "before_merge": c.before_merge}),
        )
        .collect();
    json!({
        "moved_back": moved_snapshot(&outcome.counts.moved_back),
        "deleted_since": moved_snapshot(&outcome.counts.deleted_since),
        "kept_on_base": moved_snapshot(&outcome.counts.kept_on_base),
        "conflicts": conflicts,
    })
}

/// Marks the record undone and writes the outbox event, with the same facts.
fn record_undo(
    tx: &mut dyn Session,
    cmd: &UndoMerge,
    outcome: &UndoOutcome,
    merged_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let facts = facts(outcome);
    let undone_at = tx.mark_undone(cmd.account_id, outcome.merge_id, cmd.actor, &facts)?;
    let mut event = json!({
        "event": "contact_unmerged",
        "merge_id": outcome.merge_id,
        "account_id": cmd.account_id.get(),
        "actor_user_id": cmd.actor.get(),
        "base_contact_id": outcome.base.id.get(),
        "mergee_contact_id": outcome.mergee.id.get(),
        "base": contact_snapshot(&outcome.base),
        "mergee": contact_snapshot(&outcome.mergee),
        "merged_at": merged_at.to_rfc3339(),
        "unmerged_at": undone_at.to_rfc3339(),
    });
    if let (Some(event), Value::Object(facts)) = (event.as_object_mut(), facts) {
        event.extend(facts);
    }
    tx.enqueue_event(cmd.account_id, "contact.unmerged", &event)?;
    Ok(())
}

#[cfg(test)]
mod tests;
