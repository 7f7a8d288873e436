//! [`LabelStore`] in memory: a contact's set of labels.

use domain::{AccountId, ContactId};

use super::MemorySession;
use crate::ports::{LabelStore, StoreError};

impl LabelStore for MemorySession {
    fn labels(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<String>, StoreError> {
        let mut found: Vec<String> = self
            .work
            .labels
            .iter()
            .filter(|(a, c, _)| *a == account && *c == contact)
            .map(|(_, _, l)| l.clone())
            .collect();
        found.sort();
        Ok(found)
    }

    fn replace_labels(&mut self, account: AccountId, contact: ContactId, labels: &[String]) -> Result<(), StoreError> {
        if !self.work.has_contact(account, contact) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        self.work.labels.retain(|(a, c, l)| !(*a == account && *c == contact && !labels.contains(l)));
        for label in labels {
            if !self.work.labels.iter().any(|(a, c, l)| *a == account && *c == contact && l == label) {
                self.work.labels.push((account, contact, label.clone()));
            }
        }
        Ok(())
    }
}
