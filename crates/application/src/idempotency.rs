//! Idempotent retries: a request with an `Idempotency-Key` does its work once; a retry with the same key and the
//! same request within 24 hours gets the first response back (status and body, byte for byte) without the work
//! being done again; the same key with another request is refused.
//!
//! The key is claimed and its response stored **in the transaction of the work it guards**, so the work and
//! its record commit together or not at all. A concurrent request with the same key waits on the key's row
//! until the first transaction ends, then replays its response (or, if the first failed and rolled back, does
//! the work itself).

use domain::AccountId;

use crate::ports::{in_transaction, Database, Session, StoreError};
pub use crate::ports::{Claim, IdempotencyRequest, IdempotencyStore, StoredResponse};

/// How long a key is remembered.
pub const KEY_LIFETIME_HOURS: i64 = 24;
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

// How a request's fingerprint is made is this use case's rule, so it stays here; the type is part of the port.
impl IdempotencyRequest {
    /// The key with the fingerprint of the request it came with: SHA-256 over method, path and body.
    pub fn new(key: &str, method: &str, path: &str, body: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in [method.as_bytes(), b"\n", path.as_bytes(), b"\n", body] {
            hasher.update(part);
        }
        Self { key: key.to_owned(), fingerprint: hasher.finalize().to_vec() }
    }
}

/// The same key was sent with a different request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyReused;

/// The response of an executed request, and whether it is a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub response: StoredResponse,
    pub replayed: bool,
}

/// Runs `work` in one transaction, guarded by the idempotency key when there is one, and answers with the
/// response `encode` makes of its result (or the stored response of an earlier run). Like every transaction
/// of [`in_transaction`], it runs once more from the start (key included) when its connection was lost
/// before the commit.
///
/// # Errors
/// `work`'s errors (nothing is committed then, the key included), `KeyReused`, storage failures.
pub fn execute<T, E>(
    db: &dyn Database,
    account: AccountId,
    request: Option<&IdempotencyRequest>,
    mut work: impl FnMut(&mut dyn Session) -> Result<T, E>,
    mut encode: impl FnMut(&T) -> StoredResponse,
) -> Result<Executed, E>
where
    E: From<StoreError> + From<KeyReused>,
{
    in_transaction(db, |tx| {
        if let Some(request) = request {
            match tx.claim_idempotency_key(account, request)? {
                Claim::Fresh => {}
                Claim::Replay(response) => return Ok(Executed { response, replayed: true }),
                Claim::Reused => return Err(KeyReused.into()),
            }
        }
        let result = work(tx)?;
        let response = encode(&result);
        if let Some(request) = request {
            tx.save_idempotent_response(account, &request.key, &response)?;
        }
        Ok(Executed { response, replayed: false })
    })
}
