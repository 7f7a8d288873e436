//! JSON snapshots of domain objects for the audit trail and outbox events (the domain itself has no serde).

use chrono::{DateTime, Utc};
use domain::{AccountId, Contact, ContactAttributes, ContactId};
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

/// A `contact.merged` event with the facts only the merge's write knows added to what the use case built: the
/// record's id (`merge_id`) and time (`merged_at`, RFC 3339) and what moved (`moved`, [`moved_snapshot`]). A store
/// that writes the event in the merge's own statement adds the same three members in SQL.
pub fn completed_merge_event(event: &Value, merge_id: i64, merged_at: DateTime<Utc>, moved: &MovedCounts) -> Value {
    let mut event = event.clone();
    if let Value::Object(members) = &mut event {
        members.insert("merge_id".to_owned(), json!(merge_id));
        members.insert("merged_at".to_owned(), json!(merged_at.to_rfc3339()));
        members.insert("moved".to_owned(), moved_snapshot(moved));
    }
    event
}

/// The contact a [`contact_snapshot`] describes (to re-create a merged-away contact); `None` when the snapshot
/// lacks a field or holds one of the wrong type.
pub fn contact_from_snapshot(snapshot: &Value) -> Option<Contact> {
    let text = |key: &str| -> Option<Option<String>> {
        match &snapshot[key] {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => None,
        }
    };
    let object = |key: &str| snapshot[key].as_object().cloned();
    let time = |key: &str| -> Option<Option<DateTime<Utc>>> {
        match &snapshot[key] {
            Value::Null => Some(None),
            Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| Some(t.with_timezone(&Utc))),
            _ => None,
        }
    };
    Some(Contact {
        id: ContactId::new(snapshot["id"].as_i64()?),
        account_id: AccountId::new(snapshot["account_id"].as_i64()?),
        attributes: ContactAttributes {
            name: snapshot["name"].as_str()?.to_owned(),
            email: text("email")?,
            phone_number: text("phone_number")?,
            identifier: text("identifier")?,
            additional_attributes: object("additional_attributes")?,
            custom_attributes: object("custom_attributes")?,
        },
        blocked: snapshot["blocked"].as_bool()?,
        thumbnail: snapshot["thumbnail"].as_str()?.to_owned(),
        last_activity_at: time("last_activity_at")?,
        created_at: time("created_at")??,
        updated_at: time("updated_at")??,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_snapshot_reads_back_as_the_contact() {
        let at = Utc.timestamp_opt(1_700_000_000, 123_456_000).single().unwrap();
        let mut custom = serde_json::Map::new();
        custom.insert("nested".into(), json!({"a": [1, {"b": null}]}));
        let contact = Contact {
            id: ContactId::new(7),
            account_id: AccountId::new(2),
            attributes: ContactAttributes {
                name: "Ada".into(),
                email: Some("ada@example.com".into()),
                phone_number: None,
                identifier: Some("ada-1".into()),
                additional_attributes: serde_json::Map::new(),
                custom_attributes: custom,
            },
            blocked: true,
            thumbnail: "t.png".into(),
            last_activity_at: Some(at),
            created_at: at,
            updated_at: at,
        };
        assert_eq!(contact_from_snapshot(&contact_snapshot(&contact)), Some(contact));
        assert_eq!(contact_from_snapshot(&json!({"id": 1})), None);
    }

    #[test]
    fn a_completed_merge_event_keeps_what_it_had_and_adds_the_record_and_the_moves() {
        let at = Utc.timestamp_opt(1_700_000_000, 120_000_000).single().unwrap();
        let moved = MovedCounts { conversations: 2, messages: 3, contact_inboxes: 1, notes: 0, labels: 4 };
        let event = completed_merge_event(&json!({"event": "contact_merged", "account_id": 9}), 41, at, &moved);
        assert_eq!(
            event,
            json!({
                "event": "contact_merged",
                "account_id": 9,
                "merge_id": 41,
                "merged_at": "2023-11-14T22:13:20.120+00:00",
                "moved": {"conversations": 2, "messages": 3, "contact_inboxes": 1, "notes": 0, "labels": 4},
            })
        );
    }
}
