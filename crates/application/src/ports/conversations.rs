//! The conversations port ([`ConversationStore`]): conversations, their numbers and their messages (used by
//! `crate::conversations`).

use chrono::{DateTime, Utc};
use domain::{AccountId, ContactId, ConversationId, InboxId, UserId};

use super::admin::User;
use super::error::StoreError;

/// A conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub account_id: AccountId,
    /// The number clients know the conversation by, unique within the account.
    pub display_id: i64,
    pub inbox_id: InboxId,
    pub contact_id: ContactId,
    pub contact_inbox_id: Option<i64>,
    /// `open`, `resolved`, `pending` or `snoozed`.
    pub status: String,
    pub last_activity_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A conversation to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    pub display_id: i64,
    pub inbox_id: InboxId,
    pub contact_id: ContactId,
    pub contact_inbox_id: Option<i64>,
}

/// The kind of a message, as stored (`incoming`, `outgoing`, `activity`, `template`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Incoming,
    Outgoing,
    Activity,
    Template,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
            Self::Activity => "activity",
            Self::Template => "template",
        }
    }

    /// The reference's integer code (0 incoming, 1 outgoing, 2 activity, 3 template).
    pub fn code(self) -> u8 {
        match self {
            Self::Incoming => 0,
            Self::Outgoing => 1,
            Self::Activity => 2,
            Self::Template => 3,
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            "activity" => Some(Self::Activity),
            "template" => Some(Self::Template),
            _ => None,
        }
    }
}

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Contact(ContactId),
    User(UserId),
    /// Activity messages are sent by nobody.
    Nobody,
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: i64,
    pub account_id: AccountId,
    pub conversation_id: ConversationId,
    pub message_type: MessageType,
    pub content: String,
    pub sender: Sender,
    pub created_at: DateTime<Utc>,
}

/// Conversations and their messages.
pub trait ConversationStore {
    /// Hands out the account's next conversation number. The counter row stays locked until the transaction
    /// ends, so numbers are never handed out twice and never skipped by a committed conversation.
    ///
    /// # Errors
    /// `MissingReference` when the account does not exist.
    fn next_display_id(&mut self, account: AccountId) -> Result<i64, StoreError>;

    /// # Errors
    /// `MissingReference` when the inbox, contact or contact inbox is not in the account.
    fn insert_conversation(
        &mut self,
        account: AccountId,
        conversation: &NewConversation,
    ) -> Result<Conversation, StoreError>;

    /// The conversation with this display id, `None` when it is not in the account.
    ///
    /// # Errors
    /// Storage failures.
    fn find_conversation(&mut self, account: AccountId, display_id: i64) -> Result<Option<Conversation>, StoreError>;

    /// The contact's conversations, most recently active first.
    ///
    /// # Errors
    /// Storage failures.
    fn conversations_of_contact(
        &mut self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Conversation>, StoreError>;

    /// Sets the conversation's `last_activity_at`.
    ///
    /// # Errors
    /// Storage failures.
    fn touch_conversation(
        &mut self,
        account: AccountId,
        id: ConversationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// `MissingReference` when the conversation or the sending contact no longer exists.
    fn insert_message(
        &mut self,
        account: AccountId,
        conversation: ConversationId,
        message_type: MessageType,
        content: &str,
        sender: Sender,
    ) -> Result<Message, StoreError>;

    /// The conversation's messages, oldest first.
    ///
    /// # Errors
    /// Storage failures.
    fn messages(&mut self, account: AccountId, conversation: ConversationId) -> Result<Vec<Message>, StoreError>;

    /// The users among `ids` (message senders, note authors).
    ///
    /// # Errors
    /// Storage failures.
    fn find_users(&mut self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
}
