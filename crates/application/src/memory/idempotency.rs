//! [`IdempotencyStore`] in memory: claimed keys and their stored responses.

use domain::AccountId;

use super::MemorySession;
use crate::ports::{Claim, IdempotencyRequest, IdempotencyStore, StoreError, StoredResponse};

impl IdempotencyStore for MemorySession {
    fn claim_idempotency_key(&mut self, account: AccountId, request: &IdempotencyRequest) -> Result<Claim, StoreError> {
        let found = self.work.idempotency.iter().find(|(a, k, _, _)| *a == account && *k == request.key);
        Ok(match found {
            None => {
                self.work.idempotency.push((account, request.key.clone(), request.fingerprint.clone(), None));
                Claim::Fresh
            }
            Some((_, _, fingerprint, _)) if *fingerprint != request.fingerprint => Claim::Reused,
            Some((_, _, _, response)) => {
                Claim::Replay(response.clone().unwrap_or(StoredResponse { status: 0, body: String::new() }))
            }
        })
    }

    fn save_idempotent_response(
        &mut self,
        account: AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.work.idempotency.iter_mut().find(|(a, k, _, _)| *a == account && k == key) {
            row.3 = Some(response.clone());
        }
        Ok(())
    }
}
