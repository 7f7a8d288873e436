//! The contact entity and the subset of its fields that a merge combines.

use chrono::{DateTime, Utc};

use crate::ids::{AccountId, ContactId, InboxId};
use crate::validation::{normalize_phone_number, validate_email, validate_phone_number, ValueViolation, Violations};
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
    /// is lower-cased, surrounding whitespace is trimmed from all four strings, a phone number is brought to
    /// E.164 ([`normalize_phone_number`]; one that cannot be is left for [`Self::validate`] to refuse).
    #[must_use]
    pub fn normalized(mut self) -> Self {
        self.name = self.name.trim().to_owned();
        self.email = non_blank(self.email).map(|e| e.to_lowercase());
        self.phone_number = non_blank(self.phone_number).map(|p| normalize_phone_number(&p).unwrap_or(p));
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
        for (field, object) in
            [("additional_attributes", &self.additional_attributes), ("custom_attributes", &self.custom_attributes)]
        {
            if let Err(v) = validate_json_object(object) {
                violations.push_violation(field, v);
            }
        }
        violations.into_result()
    }
}

/// Largest accepted `additional_attributes` or `custom_attributes`, serialized, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;
/// Deepest accepted nesting of objects and arrays inside an attributes object (the object itself is level 1).
pub const MAX_ATTRIBUTES_DEPTH: usize = 8;

/// Attribute objects are bounded in size and depth, so that no client can store (or make a merge produce)
/// documents that are expensive to read back for everyone.
///
/// # Errors
/// `too_large` or `too_deep`.
pub fn validate_json_object(object: &JsonObject) -> Result<(), ValueViolation> {
    fn depth(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let levels = 1 + object.values().map(depth).max().unwrap_or(0);
    if levels > MAX_ATTRIBUTES_DEPTH {
        return Err(ValueViolation {
            code: "too_deep",
            message: format!("must not nest objects or arrays more than {MAX_ATTRIBUTES_DEPTH} levels deep"),
        });
    }
    let size = serde_json::to_vec(object).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_ATTRIBUTES_BYTES {
        return Err(ValueViolation {
            code: "too_large",
            message: format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON"),
        });
    }
    Ok(())
}

/// Longest accepted contact name, in characters.
pub const MAX_NAME_LEN: usize = 255;
/// Longest accepted identifier, in characters.
pub const MAX_IDENTIFIER_LEN: usize = 255;

fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(v: serde_json::Value) -> JsonObject {
        match v {
            serde_json::Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn attribute_objects_are_bounded() {
        assert_eq!(validate_json_object(&object(json!({"a": {"b": [1, {"c": 2}]}}))), Ok(()));
        let mut deep = json!(1);
        for _ in 0..=MAX_ATTRIBUTES_DEPTH {
            deep = json!({ "k": deep });
        }
        assert_eq!(validate_json_object(&object(deep.clone())).map_err(|v| v.code), Err("too_deep"));
        if let serde_json::Value::Object(inner) = &deep["k"] {
            assert_eq!(validate_json_object(inner), Ok(()), "exactly the limit is fine");
        }
        let big = object(json!({"blob": "x".repeat(MAX_ATTRIBUTES_BYTES)}));
        assert_eq!(validate_json_object(&big).map_err(|v| v.code), Err("too_large"));
        let attributes = ContactAttributes { custom_attributes: big, ..ContactAttributes::default() };
        let v = attributes.validate().unwrap_err();
        assert_eq!(v.as_slice()[0].field, "custom_attributes");
    }

    /// An object nesting `levels` levels in all (itself included), the innermost ones built by `wrap`.
    fn nested(levels: usize, wrap: fn(serde_json::Value) -> serde_json::Value) -> JsonObject {
        let mut value = json!("leaf");
        for _ in 1..levels {
            value = wrap(value);
        }
        object(json!({ "k": value }))
    }

    #[test]
    fn depth_counts_arrays_and_objects_alike_up_to_the_limit() {
        for (kind, wrap) in [
            ("objects", (|v| json!({ "k": v })) as fn(serde_json::Value) -> serde_json::Value),
            ("arrays", |v| json!([v])),
        ] {
            assert_eq!(validate_json_object(&nested(MAX_ATTRIBUTES_DEPTH, wrap)), Ok(()), "{kind} at the limit");
            let err = validate_json_object(&nested(MAX_ATTRIBUTES_DEPTH + 1, wrap)).unwrap_err();
            assert_eq!(err.code, "too_deep", "{kind} one level over");
            assert_eq!(err.message, "must not nest objects or arrays more than 8 levels deep");
        }
        // objects and arrays alternating: eight levels, then nine
        let mixed = object(json!({"a": [{"b": [{"c": [{"d": ["leaf"]}]}]}]}));
        assert_eq!(validate_json_object(&mixed), Ok(()));
        let mixed = object(json!({"a": [{"b": [{"c": [{"d": [{"e": 1}]}]}]}]}));
        assert_eq!(validate_json_object(&mixed).map_err(|v| v.code), Err("too_deep"));
        // the deepest branch counts, wherever it is; empty containers and scalars add nothing below them
        let mut wide = nested(MAX_ATTRIBUTES_DEPTH + 1, |v| json!([v]));
        wide.insert("a".into(), json!([]));
        wide.insert("b".into(), json!({}));
        wide.insert("c".into(), json!(1));
        assert_eq!(validate_json_object(&wide).map_err(|v| v.code), Err("too_deep"));
        assert_eq!(validate_json_object(&object(json!({"a": [], "b": {}, "c": [1, 2]}))), Ok(()));
        assert_eq!(validate_json_object(&JsonObject::new()), Ok(()));
    }

    #[test]
    fn size_limit_is_inclusive_and_counts_serialized_bytes() {
        // {"blob":"…"} is 11 bytes of JSON around the string
        let sized = |bytes: usize| object(json!({ "blob": "x".repeat(bytes - 11) }));
        assert_eq!(serde_json::to_vec(&sized(MAX_ATTRIBUTES_BYTES)).map(|b| b.len()).ok(), Some(65_536));
        assert_eq!(validate_json_object(&sized(MAX_ATTRIBUTES_BYTES)), Ok(()));
        let err = validate_json_object(&sized(MAX_ATTRIBUTES_BYTES + 1)).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), ("too_large", "must be at most 65536 bytes as JSON"));
    }

    #[test]
    fn name_and_identifier_limits_are_inclusive_and_count_characters() {
        let at_limit = ContactAttributes {
            name: "ñ".repeat(MAX_NAME_LEN),
            identifier: Some("ñ".repeat(MAX_IDENTIFIER_LEN)),
            ..ContactAttributes::default()
        };
        assert_eq!(at_limit.validate(), Ok(()));
        for over in [1, 50] {
            let too_long = ContactAttributes {
                name: "n".repeat(MAX_NAME_LEN + over),
                identifier: Some("i".repeat(MAX_IDENTIFIER_LEN + over)),
                ..ContactAttributes::default()
            };
            let v = too_long.validate().unwrap_err();
            let found: Vec<(&str, &str, &str)> =
                v.as_slice().iter().map(|v| (v.field.as_str(), v.code.as_str(), v.message.as_str())).collect();
            assert_eq!(
                found,
                [
                    ("name", "too_long", "must be at most 255 characters"),
                    ("identifier", "too_long", "must be at most 255 characters")
                ],
                "{over} over the limit"
            );
        }
        let short = ContactAttributes { identifier: Some("i".into()), ..ContactAttributes::default() };
        assert_eq!(short.validate(), Ok(()));
    }

    #[test]
    fn every_broken_rule_is_reported_against_its_field() {
        let deep = nested(MAX_ATTRIBUTES_DEPTH + 1, |v| json!({ "k": v }));
        let broken = ContactAttributes {
            name: "Ok".into(),
            email: Some("not-an-email".into()),
            phone_number: Some("0301234".into()),
            identifier: None,
            additional_attributes: deep.clone(),
            custom_attributes: deep,
        };
        let v = broken.validate().unwrap_err();
        let found: Vec<(&str, &str)> = v.as_slice().iter().map(|v| (v.field.as_str(), v.code.as_str())).collect();
        assert_eq!(
            found,
            [
                ("email", "invalid_format"),
                ("phone_number", "invalid_format"),
                ("additional_attributes", "too_deep"),
                ("custom_attributes", "too_deep")
            ]
        );
    }

    #[test]
    fn normalization_trims_lowercases_the_email_and_drops_blanks() {
        let raw = ContactAttributes {
            name: "  Ada ".into(),
            email: Some(" Ada@Example.ORG ".into()),
            phone_number: Some("   ".into()),
            identifier: Some(" id-1 ".into()),
            ..ContactAttributes::default()
        };
        let n = raw.normalized();
        assert_eq!(n.name, "Ada");
        assert_eq!(n.email.as_deref(), Some("ada@example.org"));
        assert_eq!(n.phone_number, None);
        assert_eq!(n.identifier.as_deref(), Some("id-1"));
    }
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
