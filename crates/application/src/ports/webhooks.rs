//! The outbox port ([`OutboxStore`]): events for the outside world, which the webhook worker of
//! `crate::webhooks` fans out into deliveries. The webhook store itself ([`crate::webhooks::WebhookStore`]) is
//! defined next to its types in `crate::webhooks` and re-exported from [`crate::ports`].

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
