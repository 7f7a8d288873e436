//! The contact entity and the subset of its fields that a merge combines.

use chrono::{DateTime, Utc};

use crate::ids::{AccountId, ContactId, InboxId};
use crate::validation::{validate_email, validate_phone_number, Violations};
use crate::JsonObject;

/// A contact as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub account_id: AccountId,
    pub attributes: ContactAttributes,
    pub blocked: bool,
    pub thumbnail: String,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The six attributes a merge combines (the reference merges exactly these and nothing else).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactAttributes {
    pub name: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub identifier: Option<String>,
    pub additional_attributes: JsonObject,
    pub custom_attributes: JsonObject,
}

impl ContactAttributes {
    /// Brings the attributes to their stored form: blank email, phone and identifier become `None`, the email
    /// is lower-cased, surrounding whitespace is trimmed from all four strings.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        self.name = self.name.trim().to_owned();
        self.email = non_blank(self.email).map(|e| e.to_lowercase());
        self.phone_number = non_blank(self.phone_number);
        self.identifier = non_blank(self.identifier);
        self
    }

    /// Checks the rules every stored contact obeys: email format, E.164 phone number, lengths.
    /// Uniqueness is the store's business (it owns the unique indexes).
    ///
    /// # Errors
    /// Every broken rule, one violation per field.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        if self.name.chars().count() > MAX_NAME_LEN {
            violations.push("name", "too_long", format!("must be at most {MAX_NAME_LEN} characters"));
        }
        if let Some(email) = &self.email {
            if let Err(v) = validate_email(email) {
                violations.push_violation("email", v);
            }
        }
        if let Some(phone) = &self.phone_number {
            if let Err(v) = validate_phone_number(phone) {
                violations.push_violation("phone_number", v);
            }
        }
        if let Some(identifier) = &self.identifier {
            if identifier.chars().count() > MAX_IDENTIFIER_LEN {
                violations.push("identifier", "too_long", format!("must be at most {MAX_IDENTIFIER_LEN} characters"));
            }
        }
        violations.into_result()
    }
}

/// Longest accepted contact name, in characters.
pub const MAX_NAME_LEN: usize = 255;
/// Longest accepted identifier, in characters.
pub const MAX_IDENTIFIER_LEN: usize = 255;

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An inbox as shown inside a contact's `contact_inboxes`.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxSummary {
    pub id: InboxId,
    pub name: String,
    pub channel_type: String,
    pub avatar_url: String,
    pub provider: Option<String>,
}

/// One channel address of a contact: where it can be reached in an inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactInbox {
    pub source_id: String,
    pub inbox: InboxSummary,
}
