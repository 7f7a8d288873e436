//! [`WebhookStore`] and [`OutboxStore`] on PostgreSQL: the outbox events are written to in the transaction of
//! their change, their fan-out into webhook deliveries, and the deliveries' claims and outcomes (use case:
//! `application::webhooks`).

use application::ports::OutboxStore;
use application::webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};
use domain::AccountId;

use super::{Count, PgSession};
use crate::errors::StoreResult;
use crate::schema::{outbox_events, webhook_deliveries, webhooks};

#[derive(QueryableByName)]
struct WebhookRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    account_id: i64,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Array<Text>)]
    subscriptions: Vec<String>,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_delivered_at: Option<DateTime<Utc>>,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Self {
            id: r.id,
            account_id: AccountId::new(r.account_id),
            url: r.url,
            subscriptions: r.subscriptions,
            secret: r.secret,
            stats: DeliveryStats {
                delivered: unsigned(r.delivered),
                pending: unsigned(r.pending),
                failed: unsigned(r.failed),
                last_error: r.last_error,
                last_delivered_at: r.last_delivered_at,
            },
        }
    }
}

const WEBHOOK_SELECT: &str = "SELECT w.id, w.account_id, w.url, w.subscriptions, w.secret, \
       coalesce(s.delivered, 0) AS delivered, coalesce(s.pending, 0) AS pending, coalesce(s.failed, 0) AS failed, \
       (SELECT d.last_error FROM webhook_deliveries d WHERE d.account_id = w.account_id AND d.webhook_id = w.id \
          AND d.last_error IS NOT NULL ORDER BY d.id DESC LIMIT 1) AS last_error, \
       s.last_delivered_at \
     FROM webhooks w LEFT JOIN LATERAL ( \
       SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, \
              count(*) FILTER (WHERE status = 'pending') AS pending, \
              count(*) FILTER (WHERE status = 'failed') AS failed, \
              max(delivered_at) AS last_delivered_at \
       FROM webhook_deliveries d WHERE d.account_id = w.account_id AND d.webhook_id = w.id) s ON true";

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = BigInt)]
    account_id: i64,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl WebhookStore for PgSession {
    fn insert_webhook(
        &mut self,
        account: AccountId,
        url: &str,
        subscriptions: &[String],
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        let id: i64 = diesel::insert_into(webhooks::table)
            .values((
                webhooks::account_id.eq(account.get()),
                webhooks::url.eq(url),
                webhooks::subscriptions.eq(subscriptions),
                webhooks::secret.eq(secret),
            ))
            .returning(webhooks::id)
            .get_result(self.conn())
            .store()?;
        Ok(Webhook {
            id,
            account_id: account,
            url: url.to_owned(),
            subscriptions: subscriptions.to_vec(),
            secret: secret.to_owned(),
            stats: DeliveryStats::default(),
        })
    }

    fn list_webhooks(&mut self, account: AccountId) -> Result<Vec<Webhook>, StoreError> {
        let rows: Vec<WebhookRow> =
            diesel::sql_query(format!("{WEBHOOK_SELECT} WHERE w.account_id = $1 ORDER BY w.id"))
                .bind::<BigInt, _>(account.get())
                .load(self.conn())
                .store()?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    fn delete_webhook(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::account_id.eq(account.get()))
                .filter(webhook_deliveries::webhook_id.eq(id)),
        )
        .execute(self.conn())
        .store()?;
        let n =
            diesel::delete(webhooks::table.filter(webhooks::account_id.eq(account.get())).filter(webhooks::id.eq(id)))
                .execute(self.conn())
                .store()?;
        Ok(n == 1)
    }

    fn fan_out_events(&mut self, limit: u32) -> Result<u64, StoreError> {
        // One statement: claim a batch of unprocessed events (skipping those another worker holds), create a
        // delivery per subscribed webhook, mark the batch processed.
        let n: Count = diesel::sql_query(
            "WITH batch AS ( \
                 SELECT id, account_id, replace(event_type, '.', '_') AS event, payload, created_at FROM outbox_events \
                 WHERE processed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED), \
             fanned AS ( \
                 INSERT INTO webhook_deliveries (account_id, webhook_id, event_id, event_type, payload, created_at) \
                 SELECT b.account_id, w.id, b.id, b.event, b.payload, b.created_at FROM batch b \
                 JOIN webhooks w ON w.account_id = b.account_id AND b.event = ANY (w.subscriptions) \
                 ON CONFLICT ON CONSTRAINT webhook_deliveries_once_key DO NOTHING RETURNING 1), \
             done AS ( \
                 UPDATE outbox_events SET processed_at = now() WHERE id IN (SELECT id FROM batch) RETURNING 1) \
             SELECT count(*) AS n FROM done",
        )
        .bind::<BigInt, _>(i64::from(limit))
        .get_result(self.conn())
        .store()?;
        Ok(u64::try_from(n.n).unwrap_or(0))
    }

    fn claim_due_deliveries(&mut self, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        let rows: Vec<DueRow> = diesel::sql_query(
            "SELECT d.id, d.event_id, d.event_type, d.account_id, d.payload, d.attempts, w.url, w.secret, d.created_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.account_id = d.account_id AND w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
             ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
        )
        .bind::<BigInt, _>(i64::from(limit))
        .load(self.conn())
        .store()?;
        Ok(rows
            .into_iter()
            .map(|r| DueDelivery {
                id: r.id,
                event_id: r.event_id,
                event_type: r.event_type,
                account_id: AccountId::new(r.account_id),
                payload: r.payload,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                url: r.url,
                secret: r.secret,
                created_at: r.created_at,
            })
            .collect())
    }

    fn record_delivery(&mut self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        let (status, code, error, retry_in_ms) = match outcome {
            DeliveryOutcome::Delivered { status } => ("delivered", Some(*status), None, 0),
            DeliveryOutcome::Retry { error, status, next_attempt_in } => (
                "pending",
                *status,
                Some(error.as_str()),
                i64::try_from(next_attempt_in.as_millis()).unwrap_or(i64::MAX),
            ),
            DeliveryOutcome::Failed { error, status } => ("failed", *status, Some(error.as_str()), 0),
        };
        diesel::sql_query(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_response_status = $3, \
               last_error = $4, \
               delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, \
               next_attempt_at = now() + make_interval(secs => $5::double precision / 1000) \
             WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(status)
        .bind::<Nullable<Integer>, _>(code.map(i32::from))
        .bind::<Nullable<Text>, _>(error)
        .bind::<BigInt, _>(retry_in_ms)
        .execute(self.conn())
        .store()?;
        Ok(())
    }
}

impl OutboxStore for PgSession {
    fn enqueue_event(
        &mut self,
        account: AccountId,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        diesel::insert_into(outbox_events::table)
            .values((
                outbox_events::account_id.eq(account.get()),
                outbox_events::event_type.eq(event_type),
                outbox_events::payload.eq(payload),
            ))
            .execute(self.conn())
            .store()?;
        Ok(())
    }
}
