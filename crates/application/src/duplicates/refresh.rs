//! Recomputing contacts' duplicate suggestions inside the caller's transaction, which holds the account's
//! refresh lock: what the duplicates worker ([`crate::duplicates::refresh_queued`]) and the rebuild of an
//! account run. A leaf of `crate::duplicates`.

use domain::duplicates::{assess_among, Reason};
use domain::{AccountId, ContactId};
use serde_json::{json, Value};

use crate::ports::{ScoredPair, Session, StoreError};

/// What a refresh of a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Contacts whose suggestions were recomputed.
    pub refreshed: u64,
    /// Contacts another transaction held exclusively (being merged, deleted or dismissed): queued again rather
    /// than waited for.
    pub requeued: u64,
}

/// Recomputes the suggestions of `contacts` (ascending) in the caller's transaction, which must hold the
/// account's refresh lock: refreshes of one account never run side by side, so a pair is always written by the
/// last refresh that read both contacts' current values, and a contact changed after a refresh read it is
/// queued again by that change. Contacts that are gone are skipped; contacts held by another transaction are
/// queued again.
///
/// # Errors
/// Storage failures.
pub fn refresh_contacts(
    tx: &mut dyn Session,
    account: AccountId,
    contacts: &[ContactId],
) -> Result<Refreshed, StoreError> {
    let found = tx.hold_for_refresh(account, contacts)?;
    if !found.busy.is_empty() {
        tx.queue_duplicate_refreshes(account, &found.busy)?;
    }
    for id in &found.held {
        refresh_duplicates(tx, account, *id, false)?;
    }
    Ok(Refreshed {
        refreshed: u64::try_from(found.held.len()).unwrap_or(0),
        requeued: u64::try_from(found.busy.len()).unwrap_or(0),
    })
}

/// Recomputes the suggestions of one contact inside the caller's transaction: finds its candidates, scores
/// each with the domain's rules and stores those worth suggesting. `new_contact`: it has no suggestions yet.
///
/// # Errors
/// Storage failures.
fn refresh_duplicates(
    tx: &mut dyn Session,
    account: AccountId,
    contact: ContactId,
    new_contact: bool,
) -> Result<(), StoreError> {
    let Some(candidates) = tx.duplicate_candidates(account, contact)? else {
        return Ok(());
    };
    // how many candidates carry the very same name: a common name weighs less (the store returns up to 10
    // namesakes, enough to tell)
    let namesakes = candidates.others.iter().filter(|c| c.name_similarity >= 0.999).count();
    let pairs: Vec<ScoredPair> = candidates
        .others
        .iter()
        .filter_map(|c| {
            let found = assess_among(&candidates.this, &c.profile, c.name_similarity, namesakes)?;
            Some(ScoredPair { other: c.id, confidence: found.confidence, reasons: reasons_json(&found.reasons) })
        })
        .collect();
    if new_contact && pairs.is_empty() {
        return Ok(());
    }
    tx.replace_duplicates(account, contact, &pairs, new_contact)
}

/// Reasons as the API and the store hold them.
fn reasons_json(reasons: &[Reason]) -> Value {
    reasons.iter().map(|r| json!({"code": r.code.as_str(), "field": r.code.field(), "detail": r.detail})).collect()
}
