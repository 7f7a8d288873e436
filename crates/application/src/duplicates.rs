//! Duplicate suggestions: which contacts of an account may be the same person, why, and how sure
//! (`domain::duplicates` holds the rules).
//!
//! Suggestions are derived data kept current **off the request path**: every change that can alter them
//! (creating or updating a contact's name, email, phone number or identifier, giving it a channel address,
//! merging, undoing a merge) queues the contact, from a database trigger in the change's own transaction, at
//! the cost of one small insert and no round trip. The duplicates worker of each `coalesce serve` process runs
//! [`refresh_queued`]: it takes one account's queued contacts under that account's refresh lock and recomputes
//! their suggestions ([`refresh::refresh_contacts`]). Suggestions therefore appear shortly after a change (the
//! worker's interval, 200 ms by default, plus the work queued before); a contact that is deleted or merged
//! away leaves its pairs at once, in its own transaction, through the foreign keys' cascade. Reading them is an
//! indexed read. Why not in the request's transaction: that cost about 3 ms of database work on a 6–7 ms
//! create, far over the budget of 15 % of create throughput.

use domain::{AccountId, Contact, ContactId, Violations};
use serde_json::Value;

use crate::auth::Member;
use crate::contacts::{with_inboxes, ContactWithInboxes, PAGE_SIZE};
use crate::ports::{in_transaction, Database, Session, StoreError, StoredPair};

pub use refresh::Refreshed;

pub mod refresh;

use refresh::refresh_contacts;

/// At most this many suggestions are answered for one contact.
pub const MAX_SUGGESTIONS: u64 = 20;
/// Contacts per transaction when an account is rebuilt.
pub const REBUILD_BATCH: u64 = 200;
/// Queued contacts the worker refreshes per transaction, by default: few enough that a merge or dismissal of a
/// contact in the batch waits for a short transaction at most.
pub const QUEUE_BATCH: u64 = 25;

/// Why a duplicates request did not happen. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DuplicatesError {
    /// `field` names no contact in the account.
    #[error("contact not found")]
    NotFound { field: &'static str },
    /// The contact was merged away into `into`.
    #[error("contact merged into {into}")]
    Merged { field: &'static str, into: ContactId },
    /// A parameter or body field breaks a rule (400).
    #[error("invalid input: {0}")]
    Invalid(Violations),
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for DuplicatesError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A field on which the two contacts of a suggestion differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub field: &'static str,
    pub this: Value,
    pub other: Value,
}

/// Another contact that may be the same person as the one asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub contact: ContactWithInboxes,
    pub confidence: f64,
    /// `[{"code","field","detail"}]`, strongest first.
    pub reasons: Value,
    /// `this` is the contact asked about, `other` the suggested one.
    pub differences: Vec<Difference>,
}

/// A suggested pair of the account, the lower id first.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSuggestion {
    pub contacts: [ContactWithInboxes; 2],
    pub confidence: f64,
    pub reasons: Value,
    /// `this` is the first contact, `other` the second.
    pub differences: Vec<Difference>,
}

/// One page of the account's suggested pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct PairList {
    /// Pairs over the minimum confidence in all pages together.
    pub total: u64,
    pub page: u64,
    pub pairs: Vec<PairSuggestion>,
}

/// The contact's suggestions, best first (at most [`MAX_SUGGESTIONS`]).
///
/// # Errors
/// `NotFound` / `Merged` for a contact not in the account.
pub fn contact_duplicates(
    db: &dyn Database,
    account: AccountId,
    id: ContactId,
) -> Result<Vec<Suggestion>, DuplicatesError> {
    let mut s = db.connect()?;
    let Some(this) = s.find_contact(account, id)? else {
        return Err(missing(s.as_mut(), account, id, "id"));
    };
    let pairs = s.duplicates_of(account, id, MAX_SUGGESTIONS)?;
    let others = load(s.as_mut(), account, pairs.iter().map(|p| p.other(id)).collect())?;
    Ok(pairs
        .into_iter()
        .filter_map(|pair| {
            let other = others.iter().find(|c| c.contact.id == pair.other(id))?.clone();
            let differences = differences(&this, &other.contact);
            Some(Suggestion { contact: other, confidence: pair.confidence, reasons: pair.reasons, differences })
        })
        .collect())
}

/// Page `page` (from 1) of the account's suggested pairs with at least `min_confidence`, best first, each pair
/// once.
///
/// # Errors
/// `Invalid` for page 0 or a confidence outside 0–1.
pub fn duplicate_pairs(
    db: &dyn Database,
    account: AccountId,
    page: u64,
    min_confidence: f64,
) -> Result<PairList, DuplicatesError> {
    let mut v = Violations::default();
    let offset = page.checked_sub(1).and_then(|p| p.checked_mul(PAGE_SIZE)).filter(|o| i64::try_from(*o).is_ok());
    if offset.is_none() {
        v.push("page", "invalid_value", "must be a positive integer");
    }
    if !(0.0..=1.0).contains(&min_confidence) {
        v.push("min_confidence", "invalid_value", "must be a number from 0 to 1");
    }
    v.into_result().map_err(DuplicatesError::Invalid)?;
    let mut s = db.connect()?;
    let (total, pairs) = s.duplicate_pairs(account, min_confidence, offset.unwrap_or(0), PAGE_SIZE)?;
    let ids = pairs.iter().flat_map(|p| [p.low, p.high]).collect();
    let contacts = load(s.as_mut(), account, ids)?;
    let find = |id: ContactId| contacts.iter().find(|c| c.contact.id == id).cloned();
    let pairs = pairs
        .into_iter()
        .filter_map(|StoredPair { low, high, confidence, reasons }| {
            let (low, high) = (find(low)?, find(high)?);
            let differences = differences(&low.contact, &high.contact);
            Some(PairSuggestion { contacts: [low, high], confidence, reasons, differences })
        })
        .collect();
    Ok(PairList { total, page, pairs })
}

/// "Keep separate": the two contacts are never suggested as a pair again. Returns the pair, lower id first.
///
/// # Errors
/// `Invalid` when both ids are the same contact; `NotFound` / `Merged` (field `contact_ids`) when either is not
/// in the account.
pub fn dismiss_duplicate(
    db: &dyn Database,
    member: Member,
    ids: [ContactId; 2],
) -> Result<[ContactId; 2], DuplicatesError> {
    let (low, high) = if ids[0] < ids[1] { (ids[0], ids[1]) } else { (ids[1], ids[0]) };
    if low == high {
        return Err(DuplicatesError::Invalid(Violations::one(
            "contact_ids",
            "invalid_value",
            "must name two different contacts",
        )));
    }
    let account = member.account_id;
    in_transaction(db, |tx| {
        // Locked like any change of the two contacts: a refresh of either (which holds it) finishes first, so the
        // pair it may have just written is deleted here, and none can be written back after the dismissal.
        let found = tx.lock_contacts(account, &[low, high])?;
        for id in [low, high] {
            if !found.iter().any(|c| c.id == id) {
                return Err(missing(tx, account, id, "contact_ids"));
            }
        }
        tx.dismiss_duplicate(account, low, high, Some(member.user_id))?;
        Ok([low, high])
    })
}

/// How far a rebuild got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebuildOutcome {
    pub contacts: u64,
    pub pairs_before: u64,
}

/// Recomputes every suggestion of the account, [`REBUILD_BATCH`] contacts per transaction; `progress` hears
/// (contacts done, contacts in all) after each batch. Dismissals stay.
///
/// # Errors
/// Storage failures; the batches committed so far stay (a rerun starts over).
pub fn rebuild_duplicates(
    db: &dyn Database,
    account: AccountId,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RebuildOutcome, DuplicatesError> {
    let (total, pairs_before) = {
        let mut tx = db.begin()?;
        tx.lock_duplicate_refreshes(account)?;
        let total = tx.count_contacts(account)?;
        let cleared = tx.clear_duplicates(account)?;
        tx.commit().map_err(StoreError::from)?;
        (total, cleared)
    };
    let mut done = 0;
    let mut after = 0;
    loop {
        let mut tx = db.begin()?;
        // the worker's refreshes of this account wait for this batch (and this batch for theirs)
        tx.lock_duplicate_refreshes(account)?;
        let ids = tx.contact_ids_after(account, after, REBUILD_BATCH)?;
        let Some(last) = ids.last() else { break };
        after = last.get();
        refresh_contacts(tx.as_mut(), account, &ids)?;
        tx.commit().map_err(StoreError::from)?;
        done += u64::try_from(ids.len()).unwrap_or(0);
        progress(done, total.max(done));
    }
    Ok(RebuildOutcome { contacts: done, pairs_before })
}

/// What one round of the duplicates worker did: the account it refreshed (`None` when the queue was empty, or
/// every account with queued contacts was being refreshed by another worker).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueRound {
    pub account: Option<AccountId>,
    pub done: Refreshed,
}

/// One round of the duplicates worker: in one transaction, takes up to `batch` queued contacts of one account
/// that no other worker is refreshing and recomputes their suggestions. Several processes may run it at once:
/// they take different accounts. A failure rolls the round back, the contacts stay queued.
///
/// # Errors
/// Storage failures.
pub fn refresh_queued(db: &dyn Database, batch: u64) -> Result<QueueRound, DuplicatesError> {
    let mut tx = db.begin()?;
    let Some((account, contacts)) = tx.claim_duplicate_refreshes(batch.max(1))? else {
        return Ok(QueueRound::default());
    };
    let done = refresh_contacts(tx.as_mut(), account, &contacts)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(QueueRound { account: Some(account), done })
}

/// The contacts with their channel addresses, in no particular order.
fn load(s: &mut dyn Session, account: AccountId, ids: Vec<ContactId>) -> Result<Vec<ContactWithInboxes>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let contacts = s.find_contacts(account, &ids)?;
    with_inboxes(s, account, contacts)
}

/// The error for an id that names no contact.
fn missing(s: &mut dyn Session, account: AccountId, id: ContactId, field: &'static str) -> DuplicatesError {
    match s.merged_into(account, id) {
        Ok(Some(into)) => DuplicatesError::Merged { field, into },
        Ok(None) => DuplicatesError::NotFound { field },
        Err(e) => e.into(),
    }
}

/// The fields a merge would have to choose between: name, email, phone number and identifier where they differ.
fn differences(this: &Contact, other: &Contact) -> Vec<Difference> {
    let text = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()));
    let (a, b) = (&this.attributes, &other.attributes);
    [
        ("name", Value::String(a.name.clone()), Value::String(b.name.clone())),
        ("email", text(&a.email), text(&b.email)),
        ("phone_number", text(&a.phone_number), text(&b.phone_number)),
        ("identifier", text(&a.identifier), text(&b.identifier)),
    ]
    .into_iter()
    .filter(|(_, x, y)| x != y)
    .map(|(field, this, other)| Difference { field, this, other })
    .collect()
}

#[cfg(test)]
mod tests;
