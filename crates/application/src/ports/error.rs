//! [`StoreError`]: what can go wrong in storage, shared by every port. A leaf module, so that every port family
//! can use it without importing `ports` itself.

/// What can go wrong in storage, in terms a use case can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write; `field` is the input field it guards (`email`, `identifier`, …).
    #[error("{field} is already taken")]
    Taken { field: &'static str },
    /// A referenced row does not exist (foreign key), e.g. a contact deleted by a concurrent merge.
    #[error("a referenced {entity} does not exist")]
    MissingReference { entity: &'static str },
    /// The database cannot be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the text is for the log only, never for clients.
    #[error("storage failure: {0}")]
    Other(String),
}

/// Why a commit failed: whether the transaction is known not to have committed decides whether its work may run
/// again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The connection was lost around the commit, and the database says the transaction did not commit: nothing
    /// of it is stored, so running the work again is safe.
    #[error("the transaction did not commit: {0}")]
    NotCommitted(StoreError),
    /// Anything else, including a commit whose outcome is unknown (it may have committed).
    #[error(transparent)]
    Failed(StoreError),
}

impl From<CommitError> for StoreError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::NotCommitted(e) | CommitError::Failed(e) => e,
        }
    }
}
