//! [`WebhookStore`] and [`OutboxStore`] in memory: the outbox events, their fan-out into deliveries and the
//! deliveries' outcomes.

use chrono::Utc;
use domain::AccountId;

use super::MemorySession;
use crate::ports::{OutboxStore, StoreError};
use crate::webhooks::{DeliveryOutcome, DeliveryStats, DueDelivery, Webhook, WebhookStore};

impl WebhookStore for MemorySession {
    fn insert_webhook(
        &mut self,
        account: AccountId,
        url: &str,
        subscriptions: &[String],
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        if self.work.webhooks.iter().any(|w| w.account_id == account && w.url == url) {
            return Err(StoreError::Taken { field: "url" });
        }
        let webhook = Webhook {
            id: self.work.id(),
            account_id: account,
            url: url.into(),
            subscriptions: subscriptions.to_vec(),
            secret: secret.into(),
            stats: DeliveryStats::default(),
        };
        self.work.webhooks.push(webhook.clone());
        Ok(webhook)
    }

    fn list_webhooks(&mut self, account: AccountId) -> Result<Vec<Webhook>, StoreError> {
        Ok(self.work.webhooks.iter().filter(|w| w.account_id == account).cloned().collect())
    }

    fn delete_webhook(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        let before = self.work.webhooks.len();
        self.work.webhooks.retain(|w| !(w.account_id == account && w.id == id));
        Ok(self.work.webhooks.len() < before)
    }

    fn fan_out_events(&mut self, limit: u32) -> Result<u64, StoreError> {
        let start = self.work.events_processed;
        let end = (start + limit as usize).min(self.work.events.len());
        for index in start..end {
            let (account, event_type, payload) = self.work.events[index].clone();
            let name = event_type.replace('.', "_");
            let targets: Vec<Webhook> = self
                .work
                .webhooks
                .iter()
                .filter(|w| w.account_id == account && w.subscriptions.contains(&name))
                .cloned()
                .collect();
            for w in targets {
                let delivery = DueDelivery {
                    id: self.work.id(),
                    event_id: index as i64 + 1,
                    event_type: name.clone(),
                    account_id: account,
                    payload: payload.clone(),
                    attempts: 0,
                    url: w.url,
                    secret: w.secret,
                    created_at: Utc::now(),
                };
                self.work.deliveries.push((delivery, "pending"));
            }
        }
        self.work.events_processed = end;
        Ok((end - start) as u64)
    }

    fn claim_due_deliveries(&mut self, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        Ok(self.work.deliveries.iter().filter(|d| d.1 == "pending").take(limit as usize).map(|d| d.0.clone()).collect())
    }

    fn record_delivery(&mut self, id: i64, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        self.work.delivery_outcomes.push((id, outcome.clone()));
        if let Some(d) = self.work.deliveries.iter_mut().find(|d| d.0.id == id) {
            d.0.attempts += 1;
            d.1 = match outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Retry { .. } => "pending",
                DeliveryOutcome::Failed { .. } => "failed",
            };
        }
        Ok(())
    }
}

impl OutboxStore for MemorySession {
    fn enqueue_event(
        &mut self,
        account: AccountId,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.work.events.push((account, event_type.into(), payload.clone()));
        Ok(())
    }
}
