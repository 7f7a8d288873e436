//! [`ConversationStore`] on PostgreSQL: conversations, their display-id counter, messages and their senders
//! (use case: `application::conversations`).

use application::ports::{Conversation, ConversationStore, Message, MessageType, NewConversation, Sender, User};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::{AccountId, ContactId, ConversationId, UserId};

use super::PgSession;
use crate::errors::StoreResult;
use crate::models::{ConversationRow, MessageRow};
use crate::schema::{accounts, conversations, messages};

impl ConversationStore for PgSession {
    fn next_display_id(&mut self, account: AccountId) -> Result<i64, StoreError> {
        diesel::update(accounts::table.find(account.get()))
            .set(accounts::last_conversation_display_id.eq(accounts::last_conversation_display_id + 1))
            .returning(accounts::last_conversation_display_id)
            .get_result(self.conn())
            .optional()
            .store()?
            .ok_or(StoreError::MissingReference { entity: "account" })
    }

    fn insert_conversation(&mut self, account: AccountId, c: &NewConversation) -> Result<Conversation, StoreError> {
        let row: ConversationRow = diesel::insert_into(conversations::table)
            .values((
                conversations::account_id.eq(account.get()),
                conversations::display_id.eq(c.display_id),
                conversations::inbox_id.eq(c.inbox_id.get()),
                conversations::contact_id.eq(c.contact_id.get()),
                conversations::contact_inbox_id.eq(c.contact_inbox_id),
            ))
            .returning(ConversationRow::as_returning())
            .get_result(self.conn())
            .store()?;
        Ok(row.into())
    }

    fn find_conversation(&mut self, account: AccountId, display_id: i64) -> Result<Option<Conversation>, StoreError> {
        let row: Option<ConversationRow> = conversations::table
            .filter(conversations::account_id.eq(account.get()))
            .filter(conversations::display_id.eq(display_id))
            .select(ConversationRow::as_select())
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(Conversation::from))
    }

    fn conversations_of_contact(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Conversation>, StoreError> {
        let rows: Vec<ConversationRow> = conversations::table
            .filter(conversations::account_id.eq(account.get()))
            .filter(conversations::contact_id.eq(contact.get()))
            .order((conversations::last_activity_at.desc(), conversations::id.desc()))
            .select(ConversationRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(Conversation::from).collect())
    }

    fn touch_conversation(
        &mut self,
        account: AccountId,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        diesel::update(
            conversations::table
                .filter(conversations::account_id.eq(account.get()))
                .filter(conversations::id.eq(id.get())),
        )
        .set((conversations::last_activity_at.eq(at), conversations::updated_at.eq(at)))
        .execute(self.conn())
        .store()?;
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
        let (sender_contact, sender_user) = match sender {
            Sender::Contact(c) => (Some(c.get()), None),
            Sender::User(u) => (None, Some(u.get())),
            Sender::Nobody => (None, None),
        };
        let row: MessageRow = diesel::insert_into(messages::table)
            .values((
                messages::account_id.eq(account.get()),
                messages::conversation_id.eq(conversation.get()),
                messages::message_type.eq(message_type.as_str()),
                messages::content.eq(content),
                messages::sender_contact_id.eq(sender_contact),
                messages::sender_user_id.eq(sender_user),
            ))
            .returning(MessageRow::as_returning())
            .get_result(self.conn())
            .store()?;
        Ok(row.into())
    }

    fn messages(&mut self, account: AccountId, conversation: ConversationId) -> Result<Vec<Message>, StoreError> {
        let rows: Vec<MessageRow> = messages::table
            .filter(messages::account_id.eq(account.get()))
            .filter(messages::conversation_id.eq(conversation.get()))
            .order(messages::id.asc())
            .select(MessageRow::as_select())
            .load(self.conn())
            .store()?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    fn find_users(&mut self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|u| u.get()).collect();
        self.users_by_id(&ids)
    }
}
