//! JSON snapshots of domain objects for the audit trail and outbox events (the domain itself has no serde).

use domain::Contact;
use serde_json::{json, Value};

use crate::ports::MovedCounts;

/// A contact as a JSON object with every stored field; timestamps are RFC 3339.
pub fn contact_snapshot(contact: &Contact) -> Value {
    let a = &contact.attributes;
    json!({
        "id": contact.id.get(),
        "account_id": contact.account_id.get(),
        "name": a.name,
        "email": a.email,
        "phone_number": a.phone_number,
        "identifier": a.identifier,
        "blocked": contact.blocked,
        "thumbnail": contact.thumbnail,
        "additional_attributes": a.additional_attributes,
        "custom_attributes": a.custom_attributes,
        "last_activity_at": contact.last_activity_at.map(|t| t.to_rfc3339()),
        "created_at": contact.created_at.to_rfc3339(),
        "updated_at": contact.updated_at.to_rfc3339(),
    })
}

/// Moved counts as a JSON object keyed by table.
pub fn moved_snapshot(moved: &MovedCounts) -> Value {
    json!({
        "conversations": moved.conversations,
        "messages": moved.messages,
        "contact_inboxes": moved.contact_inboxes,
        "notes": moved.notes,
        "labels": moved.labels,
    })
}
