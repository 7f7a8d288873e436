//! The labels port ([`LabelStore`]): a contact's set of labels (used by `crate::contacts`).

use domain::{AccountId, ContactId};

use super::error::StoreError;

/// Labels of contacts.
pub trait LabelStore {
    /// The contact's labels, sorted.
    ///
    /// # Errors
    /// Storage failures.
    fn labels(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<String>, StoreError>;

    /// Makes `labels` (normalized, without duplicates) the contact's whole set: labels not in it are removed,
    /// missing ones added, those already there left alone; set-based, whatever the number of labels.
    ///
    /// # Errors
    /// `MissingReference` when the contact no longer exists.
    fn replace_labels(&mut self, account: AccountId, contact: ContactId, labels: &[String]) -> Result<(), StoreError>;
}
