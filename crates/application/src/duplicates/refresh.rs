//! Recomputing one contact's duplicate suggestions inside the caller's transaction: what every use case that
//! changes a contact calls (`crate::contacts`, `crate::merge_contacts`, `crate::undo`), and the rebuild of an
//! account. A leaf of `crate::duplicates`, so that the contacts use cases and the duplicates reads (which show
//! contacts) do not import each other.

use domain::duplicates::{assess_among, Reason};
use domain::{AccountId, ContactId};
use serde_json::{json, Value};

use crate::ports::{ScoredPair, Session, StoreError};

/// Recomputes the suggestions of one contact inside the caller's transaction: finds its candidates, scores
/// each with the domain's rules and stores those worth suggesting. `new_contact`: it was just created.
///
/// # Errors
/// Storage failures.
pub fn refresh_duplicates(
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
