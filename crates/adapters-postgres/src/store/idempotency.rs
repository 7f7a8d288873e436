//! [`IdempotencyStore`] on PostgreSQL: claiming an `Idempotency-Key` inside the transaction of the work it
//! guards, and storing the response for replays (use case: `application::idempotency`).

use application::idempotency::KEY_LIFETIME_HOURS;
use application::ports::{Claim, IdempotencyRequest, IdempotencyStore, StoredResponse};
use application::StoreError;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Text};
use domain::AccountId;

use super::PgSession;
use crate::errors::StoreResult;

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Bytea)]
    request_fingerprint: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    response_status: i16,
    #[diesel(sql_type = Text)]
    response_body: String,
}

impl IdempotencyStore for PgSession {
    fn claim_idempotency_key(&mut self, account: AccountId, request: &IdempotencyRequest) -> Result<Claim, StoreError> {
        // Insert the key, or take over one older than its lifetime. While another open transaction holds the
        // same key, PostgreSQL makes this statement wait for it to end.
        let claimed = diesel::sql_query(format!(
            "INSERT INTO idempotency_keys (account_id, idempotency_key, request_fingerprint, response_status, response_body) \
             VALUES ($1, $2, $3, 0, '') \
             ON CONFLICT (account_id, idempotency_key) DO UPDATE \
               SET request_fingerprint = EXCLUDED.request_fingerprint, response_status = 0, response_body = '', \
                   created_at = now() \
               WHERE idempotency_keys.created_at < now() - interval '{KEY_LIFETIME_HOURS} hours'"
        ))
        .bind::<BigInt, _>(account.get())
        .bind::<Text, _>(&request.key)
        .bind::<Bytea, _>(&request.fingerprint)
        .execute(self.conn())
        .store()?;
        if claimed == 1 {
            return Ok(Claim::Fresh);
        }
        let row: KeyRow = diesel::sql_query(
            "SELECT request_fingerprint, response_status, response_body FROM idempotency_keys \
             WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Text, _>(&request.key)
        .get_result(self.conn())
        .store()?;
        Ok(if row.request_fingerprint == request.fingerprint {
            Claim::Replay(StoredResponse {
                status: u16::try_from(row.response_status).unwrap_or(500),
                body: row.response_body,
            })
        } else {
            Claim::Reused
        })
    }

    fn save_idempotent_response(
        &mut self,
        account: AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        diesel::sql_query(
            "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
             WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Text, _>(key)
        .bind::<diesel::sql_types::SmallInt, _>(i16::try_from(response.status).unwrap_or(500))
        .bind::<Text, _>(&response.body)
        .execute(self.conn())
        .store()?;
        Ok(())
    }
}
