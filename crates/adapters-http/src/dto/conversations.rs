//! Bodies of the conversations and messages endpoints. A conversation's `id` on the wire is its per-account
//! display id, as in the reference; messages are typed with the reference's integer codes.

use application::conversations::{ConversationView, CreateConversation, MessageSender, MessageView, NewMessage};
use application::ports::{MessageType, User};
use domain::{ContactId, InboxId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::fields::{self, present};
use super::ContactDto;

/// `incoming` → incoming, anything else (validated: `outgoing`, or absent) → outgoing, the reference's default.
fn message_type(value: Option<&Value>) -> MessageType {
    match value.and_then(Value::as_str) {
        Some("incoming") => MessageType::Incoming,
        _ => MessageType::Outgoing,
    }
}

/// Body of `POST /conversations`. The contact is the one that owns `source_id` in the inbox, else
/// `contact_id` (whose address in the inbox is found or created).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"inbox_id": 1, "contact_id": 1, "message": {"content": "Hello, how can I help you?"}}))]
pub struct ConversationCreateRequest {
    /// The inbox in which the conversation happens.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, example = 1)]
    #[validate(custom(function = "fields::id"))]
    pub inbox_id: Value,
    /// The contact; needed unless `source_id` is given (then it must be that address's contact).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, example = 1)]
    #[validate(custom(function = "fields::optional_id"))]
    pub contact_id: Option<Value>,
    /// A contact's address in the inbox (see `POST /contacts/{id}/contact_inboxes`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"\S", example = "a1b2c3")]
    #[validate(custom(function = "fields::source_id"))]
    pub source_id: Option<Value>,
    /// A first message, posted with the conversation.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<FirstMessageRequest>)]
    #[validate(custom(function = "fields::first_message"))]
    pub message: Option<Value>,
}

impl ConversationCreateRequest {
    /// The validated body as a command.
    pub fn command(&self) -> CreateConversation {
        CreateConversation {
            inbox_id: InboxId::new(fields::id_value(&self.inbox_id)),
            contact_id: self.contact_id.as_ref().and_then(Value::as_i64).map(ContactId::new),
            source_id: self.source_id.as_ref().and_then(fields::text),
            message: self.message.as_ref().filter(|m| m.is_object()).map(|m| NewMessage {
                content: m.get("content").and_then(fields::text).unwrap_or_default(),
                message_type: message_type(m.get("message_type")),
            }),
        }
    }
}

/// The first message of a new conversation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FirstMessageRequest {
    /// The message's text.
    #[schema(min_length = 1, max_length = 150000, pattern = r"\S", example = "Hello, how can I help you?")]
    pub content: String,
    /// `outgoing` (default: sent by you) or `incoming` (sent by the contact).
    #[schema(value_type = Option<String>, pattern = "^(incoming|outgoing)$", example = "outgoing")]
    pub message_type: Option<String>,
}

/// Body of `POST /conversations/{conversation_id}/messages`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct MessageCreateRequest {
    /// The message's text.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 150000, pattern = r"\S", example = "Hello!")]
    #[validate(custom(function = "fields::content"))]
    pub content: Value,
    /// `outgoing` (default: sent by you, the token's user) or `incoming` (sent by the conversation's contact).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^(incoming|outgoing)$", example = "outgoing")]
    #[validate(custom(function = "fields::optional_message_type"))]
    pub message_type: Option<Value>,
}

impl MessageCreateRequest {
    pub fn message(&self) -> NewMessage {
        NewMessage {
            content: fields::text(&self.content).unwrap_or_default(),
            message_type: message_type(self.message_type.as_ref()),
        }
    }
}

/// What a conversation's JSON says about its surroundings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationMetaDto {
    /// The conversation's contact.
    pub sender: ContactDto,
    /// The inbox's channel type.
    #[schema(example = "Channel::Api")]
    pub channel: String,
}

/// A conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationDto {
    /// The conversation's number in the account (the reference's `display_id`); use it in URLs.
    pub id: i64,
    pub account_id: i64,
    pub inbox_id: i64,
    pub contact_id: i64,
    /// `open`, `resolved`, `pending` or `snoozed`.
    #[schema(example = "open")]
    pub status: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds.
    pub last_activity_at: i64,
    /// Unix seconds of the last activity, as the reference also names it.
    pub timestamp: i64,
    pub meta: ConversationMetaDto,
}

impl From<&ConversationView> for ConversationDto {
    fn from(v: &ConversationView) -> Self {
        let c = &v.conversation;
        Self {
            id: c.display_id,
            account_id: c.account_id.get(),
            inbox_id: c.inbox_id.get(),
            contact_id: c.contact_id.get(),
            status: c.status.clone(),
            created_at: c.created_at.timestamp(),
            updated_at: c.updated_at.timestamp(),
            last_activity_at: c.last_activity_at.timestamp(),
            timestamp: c.last_activity_at.timestamp(),
            meta: ConversationMetaDto { sender: ContactDto::sender(&v.contact), channel: v.inbox.channel_type.clone() },
        }
    }
}

/// Response of `GET /contacts/{id}/conversations`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationListResponse {
    pub payload: Vec<ConversationDto>,
}

/// A user as a message's sender.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserSenderDto {
    pub id: i64,
    pub name: String,
    pub available_name: String,
    pub email: String,
    /// Always `user`.
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub sender_type: &'static str,
}

impl From<&User> for UserSenderDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.get(),
            name: u.name.clone(),
            available_name: u.name.clone(),
            email: u.email.clone(),
            sender_type: "user",
        }
    }
}

/// A message's sender: a contact or a user (see the message's `sender_type`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum MessageSenderDto {
    Contact(Box<ContactDto>),
    User(UserSenderDto),
}

/// A message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageDto {
    pub id: i64,
    pub content: String,
    pub account_id: i64,
    pub inbox_id: i64,
    /// The conversation's number in the account.
    pub conversation_id: i64,
    /// 0 incoming, 1 outgoing, 2 activity, 3 template (the reference's codes).
    #[schema(example = 1)]
    pub message_type: u8,
    #[schema(example = "text")]
    pub content_type: &'static str,
    pub private: bool,
    #[schema(example = "sent")]
    pub status: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// `contact` or `user`; `null` for activity messages.
    pub sender_type: Option<&'static str>,
    pub sender_id: Option<i64>,
    /// The sender; `null` for activity messages.
    pub sender: Option<MessageSenderDto>,
}

impl From<&MessageView> for MessageDto {
    fn from(v: &MessageView) -> Self {
        let m = &v.message;
        let (sender_type, sender_id, sender) = match &v.sender {
            MessageSender::Contact(c) => {
                (Some("contact"), Some(c.id.get()), Some(MessageSenderDto::Contact(Box::new(ContactDto::sender(c)))))
            }
            MessageSender::User(u) => (Some("user"), Some(u.id.get()), Some(MessageSenderDto::User(u.into()))),
            MessageSender::Nobody => (None, None, None),
        };
        Self {
            id: m.id,
            content: m.content.clone(),
            account_id: m.account_id.get(),
            inbox_id: v.inbox_id.get(),
            conversation_id: v.display_id,
            message_type: m.message_type.code(),
            content_type: "text",
            private: false,
            status: "sent",
            created_at: m.created_at.timestamp(),
            sender_type,
            sender_id,
            sender,
        }
    }
}

/// Response of `GET /conversations/{conversation_id}/messages`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageListResponse {
    /// Oldest first.
    pub payload: Vec<MessageDto>,
}
