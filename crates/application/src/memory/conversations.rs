//! [`ConversationStore`] in memory: conversations, their per-account numbers and messages.

use chrono::{DateTime, Utc};
use domain::{AccountId, ContactId, ConversationId, UserId};

use super::MemorySession;
use crate::ports::{Conversation, ConversationStore, Message, MessageType, NewConversation, Sender, StoreError, User};

impl ConversationStore for MemorySession {
    fn next_display_id(&mut self, account: AccountId) -> Result<i64, StoreError> {
        if !self.work.accounts.iter().any(|a| a.id == account) {
            return Err(StoreError::MissingReference { entity: "account" });
        }
        let counter = self.work.display_ids.entry(account).or_insert(0);
        *counter += 1;
        Ok(*counter)
    }

    fn insert_conversation(&mut self, account: AccountId, c: &NewConversation) -> Result<Conversation, StoreError> {
        if !self.work.has_contact(account, c.contact_id) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        if !self.work.has_inbox(account, c.inbox_id) {
            return Err(StoreError::MissingReference { entity: "inbox" });
        }
        let now = Utc::now();
        let conversation = Conversation {
            id: ConversationId::new(self.work.id()),
            account_id: account,
            display_id: c.display_id,
            inbox_id: c.inbox_id,
            contact_id: c.contact_id,
            contact_inbox_id: c.contact_inbox_id,
            status: "open".into(),
            last_activity_at: now,
            created_at: now,
            updated_at: now,
        };
        self.work.conversations.push(conversation.clone());
        Ok(conversation)
    }

    fn find_conversation(&mut self, account: AccountId, display_id: i64) -> Result<Option<Conversation>, StoreError> {
        Ok(self.work.conversations.iter().find(|c| c.account_id == account && c.display_id == display_id).cloned())
    }

    fn conversations_of_contact(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Conversation>, StoreError> {
        let mut found: Vec<Conversation> = self
            .work
            .conversations
            .iter()
            .filter(|c| c.account_id == account && c.contact_id == contact)
            .cloned()
            .collect();
        found.sort_by(|a, b| b.last_activity_at.cmp(&a.last_activity_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    fn touch_conversation(
        &mut self,
        account: AccountId,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for c in self.work.conversations.iter_mut().filter(|c| c.account_id == account && c.id == id) {
            c.last_activity_at = at;
        }
        Ok(())
    }

    fn insert_message(
        &mut self,
        account: AccountId,
        conversation: ConversationId,
        message_type: MessageType,
        content: &str,
        sender: Sender,
    ) -> Result<Message, StoreError> {
        if !self.work.conversations.iter().any(|c| c.account_id == account && c.id == conversation) {
            return Err(StoreError::MissingReference { entity: "conversation" });
        }
        if let Sender::Contact(c) = sender {
            if !self.work.has_contact(account, c) {
                return Err(StoreError::MissingReference { entity: "contact" });
            }
        }
        let message = Message {
            id: self.work.id(),
            account_id: account,
            conversation_id: conversation,
            message_type,
            content: content.to_owned(),
            sender,
            created_at: Utc::now(),
        };
        self.work.messages.push(message.clone());
        Ok(message)
    }

    fn messages(&mut self, account: AccountId, conversation: ConversationId) -> Result<Vec<Message>, StoreError> {
        Ok(self
            .work
            .messages
            .iter()
            .filter(|m| m.account_id == account && m.conversation_id == conversation)
            .cloned()
            .collect())
    }

    fn find_users(&mut self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        Ok(self.work.users.iter().filter(|u| ids.contains(&u.id)).cloned().collect())
    }
}
