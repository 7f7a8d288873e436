//! Identities: list, add and delete a contact's secondary email addresses, phone numbers and identifiers, find
//! the contact that holds one (the call an integration makes before it creates a contact). (Contact writes name
//! the holder of a value they would take with `crate::contacts::check_holders`.)
//!
//! Uniqueness is the database's (one unique index per kind over primaries and secondaries alike). The checks
//! here only find out *who* holds a value, in the writing transaction, so that the refusal can name it; the
//! loser of a race that passed the check still meets the index and gets `taken`, without a holder.

use domain::{AccountId, ContactId, Identity, IdentityKind, Violations};

use crate::contacts::{ContactWithInboxes, ContactsError};
use crate::ports::{in_transaction, Database, Session};

/// The contact's identities, primaries first.
///
/// # Errors
/// `NotFound` (or `Merged`) when the contact is not in the account.
pub fn list_identities(
    db: &dyn Database,
    account: AccountId,
    contact: ContactId,
) -> Result<Vec<Identity>, ContactsError> {
    let mut s = db.connect()?;
    if s.find_contact(account, contact)?.is_none() {
        return Err(crate::contacts::missing_contact(s.as_mut(), account, contact));
    }
    Ok(s.identities(account, contact)?)
}

/// Adds a secondary identity to the contact, inside the caller's transaction (committed with an idempotency
/// key).
///
/// # Errors
/// `NotFound`/`Merged` for the contact; `Invalid` with `value` for a value the kind refuses, or with `value`
/// and code `taken` (naming the holder) when a contact of the account, this one included, holds it.
pub fn add_identity_in(
    tx: &mut dyn Session,
    account: AccountId,
    contact: ContactId,
    kind: IdentityKind,
    value: &str,
) -> Result<Identity, ContactsError> {
    let value = kind.normalize(value).map_err(|v| {
        let mut violations = Violations::default();
        violations.push_violation("value", v);
        ContactsError::Invalid(violations)
    })?;
    crate::contacts::lock_contact(tx, account, contact)?;
    if let Some((_, holder)) = tx.identity_holders(account, &[(kind, &value)])?.pop() {
        let mut v = Violations::default();
        v.push_taken("value", holder);
        return Err(ContactsError::Invalid(v));
    }
    tx.insert_identity(account, contact, kind, &value).map_err(|e| match ContactsError::from(e) {
        // the index names the kind; the request named the value
        ContactsError::Invalid(_) => {
            ContactsError::Invalid(Violations::one("value", "taken", "has already been taken by another contact"))
        }
        other => other,
    })
}

/// Deletes a secondary identity of the contact.
///
/// # Errors
/// `NotFound`/`Merged` for the contact, `NotFound` with `identity_id` for an identity the contact does not
/// have, `PrimaryIdentity` for one of its primaries (changed or cleared through the contact's own field).
pub fn delete_identity(
    db: &dyn Database,
    account: AccountId,
    contact: ContactId,
    identity: i64,
) -> Result<(), ContactsError> {
    in_transaction(db, |tx| {
        crate::contacts::lock_contact(tx, account, contact)?;
        match tx.delete_secondary_identity(account, contact, identity)? {
            None => Err(ContactsError::NotFound { field: "identity_id", entity: "identity" }),
            Some(found) if found.primary => Err(ContactsError::PrimaryIdentity { kind: found.kind }),
            Some(_) => Ok(()),
        }
    })
}

/// The contact that holds `value` as an identity of `kind`, primary or secondary, after normalization.
///
/// # Errors
/// `Invalid` for a value the kind refuses; `NotFound` (field: the kind) when no contact holds it.
pub fn lookup_contact(
    db: &dyn Database,
    account: AccountId,
    kind: IdentityKind,
    value: &str,
) -> Result<ContactWithInboxes, ContactsError> {
    let value = kind.normalize(value).map_err(|v| {
        let mut violations = Violations::default();
        violations.push_violation(kind.as_str(), v);
        ContactsError::Invalid(violations)
    })?;
    let not_found = || ContactsError::NotFound { field: kind.as_str(), entity: "contact" };
    let mut s = db.connect()?;
    let (_, holder) = s.identity_holders(account, &[(kind, &value)])?.pop().ok_or_else(not_found)?;
    // the holder may have been deleted since: then nobody holds the value any more
    let contact = s.find_contact(account, holder)?.ok_or_else(not_found)?;
    let contact_inboxes = s.contact_inboxes(account, holder)?;
    Ok(ContactWithInboxes { contact, contact_inboxes })
}

#[cfg(test)]
mod tests;
