//! [`InboxStore`] in memory.

use domain::{AccountId, InboxId, InboxSummary};

use super::MemorySession;
use crate::ports::{InboxStore, StoreError};

impl InboxStore for MemorySession {
    fn insert_inbox(&mut self, account: AccountId, name: &str, channel_type: &str) -> Result<InboxSummary, StoreError> {
        let mut inbox = self.work.add_inbox(account, name);
        inbox.channel_type = channel_type.to_owned();
        if let Some((_, stored)) = self.work.inboxes.iter_mut().find(|(_, i)| i.id == inbox.id) {
            stored.channel_type = channel_type.to_owned();
        }
        Ok(inbox)
    }

    fn list_inboxes(&mut self, account: AccountId) -> Result<Vec<InboxSummary>, StoreError> {
        Ok(self.work.inboxes.iter().filter(|(a, _)| *a == account).map(|(_, i)| i.clone()).collect())
    }

    fn find_inbox(&mut self, account: AccountId, id: InboxId) -> Result<Option<InboxSummary>, StoreError> {
        Ok(self.work.inboxes.iter().find(|(a, i)| *a == account && i.id == id).map(|(_, i)| i.clone()))
    }
}
