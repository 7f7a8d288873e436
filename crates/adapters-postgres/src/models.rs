//! Row types: how diesel reads and writes the tables, and their conversion into domain types.

use application::ports::{Conversation, Message, MessageType, NewContact, Note, Sender, User};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::{
    AccountId, Contact, ContactAttributes, ContactId, ContactInbox, ConversationId, InboxId, InboxSummary, JsonObject,
    NoteId, UserId,
};
use serde_json::Value;

use crate::schema::{contacts, conversations, inboxes, messages, notes, users};

/// A `contacts` row (also read by name from hand-written SQL).
#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
pub struct ContactRow {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub identifier: Option<String>,
    pub blocked: bool,
    pub thumbnail: String,
    pub additional_attributes: Value,
    pub custom_attributes: Value,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The jsonb columns are CHECKed to be objects; anything else reads as an empty object.
fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Self {
            id: ContactId::new(r.id),
            account_id: AccountId::new(r.account_id),
            attributes: ContactAttributes {
                name: r.name,
                email: r.email,
                phone_number: r.phone_number,
                identifier: r.identifier,
                additional_attributes: object(r.additional_attributes),
                custom_attributes: object(r.custom_attributes),
            },
            blocked: r.blocked,
            thumbnail: r.thumbnail,
            last_activity_at: r.last_activity_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The six mergeable attributes as an update changeset.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct ContactAttributesChangeset<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    pub identifier: Option<&'a str>,
    pub additional_attributes: Value,
    pub custom_attributes: Value,
    pub updated_at: DateTime<Utc>,
}

impl<'a> ContactAttributesChangeset<'a> {
    pub fn new(a: &'a ContactAttributes) -> Self {
        Self {
            name: &a.name,
            email: a.email.as_deref(),
            phone_number: a.phone_number.as_deref(),
            identifier: a.identifier.as_deref(),
            additional_attributes: Value::Object(a.additional_attributes.clone()),
            custom_attributes: Value::Object(a.custom_attributes.clone()),
            updated_at: Utc::now(),
        }
    }
}

/// An `inboxes` row, as shown inside a contact.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = inboxes, check_for_backend(diesel::pg::Pg))]
pub struct InboxRow {
    pub id: i64,
    pub name: String,
    pub channel_type: String,
    pub avatar_url: String,
    pub provider: Option<String>,
}

impl From<InboxRow> for InboxSummary {
    fn from(r: InboxRow) -> Self {
        Self {
            id: InboxId::new(r.id),
            name: r.name,
            channel_type: r.channel_type,
            avatar_url: r.avatar_url,
            provider: r.provider,
        }
    }
}

/// A contact inbox joined with its inbox.
pub fn contact_inbox(source_id: String, inbox: InboxRow) -> ContactInbox {
    ContactInbox { source_id, inbox: inbox.into() }
}

/// A contact to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = contacts)]
pub struct NewContactRow<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    pub identifier: Option<&'a str>,
    pub blocked: bool,
    pub additional_attributes: Value,
    pub custom_attributes: Value,
}

impl<'a> NewContactRow<'a> {
    pub fn new(account: AccountId, c: &'a NewContact) -> Self {
        let a = &c.attributes;
        Self {
            account_id: account.get(),
            name: &a.name,
            email: a.email.as_deref(),
            phone_number: a.phone_number.as_deref(),
            identifier: a.identifier.as_deref(),
            blocked: c.blocked,
            additional_attributes: Value::Object(a.additional_attributes.clone()),
            custom_attributes: Value::Object(a.custom_attributes.clone()),
        }
    }
}

/// A `conversations` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = conversations, check_for_backend(diesel::pg::Pg))]
pub struct ConversationRow {
    pub id: i64,
    pub account_id: i64,
    pub display_id: i64,
    pub inbox_id: i64,
    pub contact_id: i64,
    pub contact_inbox_id: Option<i64>,
    pub status: String,
    pub last_activity_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ConversationRow> for Conversation {
    fn from(r: ConversationRow) -> Self {
        Self {
            id: ConversationId::new(r.id),
            account_id: AccountId::new(r.account_id),
            display_id: r.display_id,
            inbox_id: InboxId::new(r.inbox_id),
            contact_id: ContactId::new(r.contact_id),
            contact_inbox_id: r.contact_inbox_id,
            status: r.status,
            last_activity_at: r.last_activity_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A `messages` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct MessageRow {
    pub id: i64,
    pub account_id: i64,
    pub conversation_id: i64,
    pub message_type: String,
    pub content: String,
    pub sender_contact_id: Option<i64>,
    pub sender_user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        let sender = match (r.sender_contact_id, r.sender_user_id) {
            (Some(c), _) => Sender::Contact(ContactId::new(c)),
            (None, Some(u)) => Sender::User(UserId::new(u)),
            (None, None) => Sender::Nobody,
        };
        Self {
            id: r.id,
            account_id: AccountId::new(r.account_id),
            conversation_id: ConversationId::new(r.conversation_id),
            // the column is CHECKed to hold one of the four names
            message_type: MessageType::parse(&r.message_type).unwrap_or(MessageType::Activity),
            content: r.content,
            sender,
            created_at: r.created_at,
        }
    }
}

/// A `users` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self { id: UserId::new(r.id), name: r.name, email: r.email }
    }
}

/// A `notes` row.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = notes, check_for_backend(diesel::pg::Pg))]
pub struct NoteRow {
    pub id: i64,
    pub account_id: i64,
    pub contact_id: i64,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NoteRow {
    pub fn into_note(self, author: Option<User>) -> Note {
        Note {
            id: NoteId::new(self.id),
            account_id: AccountId::new(self.account_id),
            contact_id: ContactId::new(self.contact_id),
            author,
            content: self.content,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
