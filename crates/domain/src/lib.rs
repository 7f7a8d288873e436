//! The Coalesce domain: identifiers, contacts, the value objects that validate their fields, and the contact
//! merge rule. Pure code: no I/O, no framework. Everything a merge decides is decided here, so that a merge and
//! its preview can never disagree.

pub mod contact;
pub mod duplicates;
pub mod identity;
pub mod ids;
pub mod merge;
pub mod merge_many;
pub mod network;
pub mod validation;

pub use contact::{Contact, ContactAttributes, ContactInbox, InboxSummary};
pub use identity::{Identity, IdentityKind, IdentitySource};
pub use ids::{AccountId, ContactId, ConversationId, InboxId, NoteId, UserId};
pub use merge::{attribute_changes, merge_attributes, AttributeChange};
pub use merge_many::{merge_attributes_choosing, FieldChoices, ManyChoices, ObjectChoice, Pick, Side};
pub use validation::{FieldViolation, Violations};

/// A JSON object, the type of `additional_attributes` and `custom_attributes`.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
