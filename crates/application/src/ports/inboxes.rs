//! The inboxes port ([`InboxStore`]) (used by `crate::inboxes`).

use domain::{AccountId, InboxId, InboxSummary};

use super::error::StoreError;

/// Inboxes.
pub trait InboxStore {
    /// # Errors
    /// Storage failures.
    fn insert_inbox(&mut self, account: AccountId, name: &str, channel_type: &str) -> Result<InboxSummary, StoreError>;

    /// The account's inboxes, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn list_inboxes(&mut self, account: AccountId) -> Result<Vec<InboxSummary>, StoreError>;

    /// The inbox, `None` when it is not in the account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_inbox(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxSummary>, StoreError>;
}
