//! The idempotency port ([`IdempotencyStore`]) and what it stores: a key with the fingerprint of its request, the
//! response sent, and what a claim found (used by `crate::idempotency`, which also says how a request's
//! fingerprint is made and how long a key lives).

use domain::AccountId;

use super::error::StoreError;

/// The key a client sent and the fingerprint of its request (method, path and body; see
/// `crate::idempotency` for how it is made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRequest {
    pub key: String,
    pub fingerprint: Vec<u8>,
}

/// A response as sent, kept for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or expired): do the work.
    Fresh,
    /// The key was used for the same request: send this again.
    Replay(StoredResponse),
    /// The key was used for another request.
    Reused,
}

/// Storage of idempotency keys.
pub trait IdempotencyStore {
    /// Claims `request.key` for the account inside the current transaction: inserts it (or takes over an expired
    /// one), or reports what an earlier request with the same key left. Waits while another open transaction
    /// holds the same key.
    ///
    /// # Errors
    /// Storage failures.
    fn claim_idempotency_key(&mut self, account: AccountId, request: &IdempotencyRequest) -> Result<Claim, StoreError>;

    /// Stores the response of the claimed key.
    ///
    /// # Errors
    /// Storage failures.
    fn save_idempotent_response(
        &mut self,
        account: AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
}
