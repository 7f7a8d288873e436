//! Row types: how diesel reads and writes the tables, and their conversion into domain types.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::{AccountId, Contact, ContactAttributes, ContactId, ContactInbox, InboxId, InboxSummary, JsonObject};
use serde_json::Value;

use crate::schema::{contacts, inboxes};

/// A `contacts` row.
#[derive(Debug, Queryable, Selectable)]
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
