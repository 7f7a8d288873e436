//! The identities port ([`IdentityStore`]): a contact's email addresses, phone numbers and identifiers, primary
//! and secondary, and who holds a given one (used by `crate::identities`, and by `crate::contacts` to name the
//! holder of a taken value). The primaries follow the contact's own fields in the store itself; merges move
//! identities through [`super::MergeStore::write_merge`].

use domain::{AccountId, ContactId, Identity, IdentityKind};

use super::error::StoreError;

/// Reads and writes identities.
pub trait IdentityStore {
    /// The contact's identities: primaries first (email, phone number, identifier), then secondaries, oldest
    /// first.
    ///
    /// # Errors
    /// Storage failures.
    fn identities(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Identity>, StoreError>;

    /// Adds a secondary identity (`value` already normalized) to the contact, with source `api`.
    ///
    /// # Errors
    /// MUST return `Taken { field: kind }` when any contact of the account, this one included, holds the value.
    fn insert_identity(
        &mut self,
        account: AccountId,
        contact: ContactId,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Identity, StoreError>;

    /// Deletes the contact's identity `id` when it is a secondary one; returns the identity as it was (a
    /// primary one is returned and left alone), `None` when the contact has no identity `id`.
    ///
    /// # Errors
    /// Storage failures.
    fn delete_secondary_identity(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: i64,
    ) -> Result<Option<Identity>, StoreError>;

    /// For each `(kind, value)` (values already normalized), the contact of the account that holds it as an
    /// identity, primary or secondary; values nobody holds are left out. One round trip whatever the number.
    ///
    /// # Errors
    /// Storage failures.
    fn identity_holders(
        &mut self,
        account: AccountId,
        wanted: &[(IdentityKind, &str)],
    ) -> Result<Vec<(IdentityKind, ContactId)>, StoreError>;
}
