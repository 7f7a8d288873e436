//! The webhook ports: the outbox ([`OutboxStore`]) of events for the outside world, which the webhook worker of
//! `crate::webhooks` fans out into deliveries, and the store of webhooks and deliveries ([`WebhookStore`]) with
//! its types (re-exported from `crate::webhooks`, where the use cases live).

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::AccountId;

use super::error::StoreError;

/// Events for the outside world, written in the transaction of the change they describe.
pub trait OutboxStore {
    /// # Errors
    /// Storage failures.
    fn enqueue_event(
        &mut self,
        account: AccountId,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError>;
}

/// A webhook with its delivery status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub account_id: AccountId,
    pub url: String,
    pub subscriptions: Vec<String>,
    /// The key deliveries are signed with.
    pub secret: String,
    pub stats: DeliveryStats,
}

/// How a webhook's deliveries went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub delivered: u64,
    pub pending: u64,
    /// Deliveries given up after the last attempt.
    pub failed: u64,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<DateTime<Utc>>,
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub account_id: AccountId,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub url: String,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        status: u16,
    },
    /// Try again at `next_attempt_in` from now.
    Retry {
        error: String,
        status: Option<u16>,
        next_attempt_in: Duration,
    },
    /// The last attempt failed: give up.
    Failed {
        error: String,
        status: Option<u16>,
    },
}

/// Storage of webhooks and deliveries.
pub trait WebhookStore {
    /// # Errors
    /// `Taken { field: "url" }` when the account already has a webhook for that URL.
    fn insert_webhook(
        &mut self,
        account: AccountId,
        url: &str,
        subscriptions: &[String],
        secret: &str,
    ) -> Result<Webhook, StoreError>;
    /// The account's webhooks with their delivery stats, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn list_webhooks(&mut self, account: AccountId) -> Result<Vec<Webhook>, StoreError>;
    /// Deletes the webhook and its deliveries; `Ok(false)` when the account has no such webhook.
    ///
    /// # Errors
    /// Storage failures.
    fn delete_webhook(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError>;
    /// Turns up to `limit` unprocessed outbox events into deliveries (one per subscribed webhook) and marks
    /// them processed, skipping events another worker holds. Returns how many events it processed.
    ///
    /// # Errors
    /// Storage failures.
    fn fan_out_events(&mut self, limit: u32) -> Result<u64, StoreError>;
    /// Claims up to `limit` pending deliveries that are due, skipping those another worker holds; the claim
    /// lasts until the transaction ends.
    ///
    /// # Errors
    /// Storage failures.
    fn claim_due_deliveries(&mut self, limit: u32) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records an attempt's outcome.
    ///
    /// # Errors
    /// Storage failures.
    fn record_delivery(&mut self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError>;
}
