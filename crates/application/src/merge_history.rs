//! Merge history: who merged what into what, when, and what moved.

use domain::{AccountId, ContactId};

use crate::ports::{on_connection, Database, MergeEntry, Page, StoreError};

/// Why the history could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeHistoryError {
    #[error("merge record not found")]
    NotFound,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for MergeHistoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Merge records per page.
pub const PAGE_SIZE: u32 = 15;

/// One page of merge records, newest first, with the total.
///
/// # Errors
/// Storage failures.
pub fn list_merges(
    db: &dyn Database,
    account: AccountId,
    contact: Option<ContactId>,
    page: u32,
) -> Result<(Vec<MergeEntry>, u64), MergeHistoryError> {
    let page = Page { number: page.max(1), size: PAGE_SIZE };
    Ok(on_connection(db, |s| s.list_merges(account, contact, page))?)
}

/// One merge record.
///
/// # Errors
/// `NotFound` when the account has no such record.
pub fn get_merge(db: &dyn Database, account: AccountId, id: i64) -> Result<MergeEntry, MergeHistoryError> {
    on_connection(db, |s| s.find_merge(account, id))?.ok_or(MergeHistoryError::NotFound)
}

#[cfg(test)]
mod tests;
