//! Field rules for request bodies. Bodies keep each field as raw JSON until validation so that every bad field
//! gets its own error (`{"field":"email","code":"invalid_type"}`) instead of one opaque serde message, and so
//! that a field sent as `null` can be told apart from a field not sent at all (a partial update clears the
//! first and keeps the second). After validation the `text`/`object`/… readers below cannot fail.

use std::borrow::Cow;

use domain::validation::{validate_email, validate_phone_number, ValueViolation};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use validator::ValidationError;

/// `deserialize_with` for optional fields: absent stays `None` (with `#[serde(default)]`), `null` becomes
/// `Some(Value::Null)`.
///
/// # Errors
/// Never for well-formed JSON.
pub fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

pub(crate) fn error(code: &'static str, message: impl Into<Cow<'static, str>>) -> ValidationError {
    let mut e = ValidationError::new(code);
    e.message = Some(message.into());
    e
}

fn from_violation(v: ValueViolation) -> ValidationError {
    error(v.code, v.message)
}

pub(crate) fn required() -> ValidationError {
    error("required", "is required")
}

/// A string (or `null` for an optional field) of at most `max` characters.
pub(crate) fn string_up_to(value: &Value, max: usize) -> Result<Option<&str>, ValidationError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > max => {
            Err(error("too_long", format!("must be at most {max} characters")))
        }
        Value::String(s) => Ok(Some(s)),
        _ => Err(error("invalid_type", "must be a string")),
    }
}

/// Longest accepted name (contact, inbox, account, user), in characters.
pub const MAX_NAME_LEN: usize = 255;
/// Longest accepted identifier or source id, in characters.
pub const MAX_IDENTIFIER_LEN: usize = 255;

/// A contact name: a string of at most 255 characters, or `null` (no name).
pub fn name(value: &Value) -> Result<(), ValidationError> {
    string_up_to(value, MAX_NAME_LEN).map(|_| ())
}

/// A required, non-blank name of at most 255 characters.
pub fn required_name(value: &Value) -> Result<(), ValidationError> {
    match string_up_to(value, MAX_NAME_LEN)? {
        None => Err(required()),
        Some(s) if s.trim().is_empty() => Err(error("blank", "can't be blank")),
        Some(_) => Ok(()),
    }
}

/// An email address, or `null`/blank (no email).
pub fn email(value: &Value) -> Result<(), ValidationError> {
    match string_up_to(value, usize::MAX)? {
        Some(s) if !s.trim().is_empty() => validate_email(&s.trim().to_lowercase()).map_err(from_violation),
        _ => Ok(()),
    }
}

/// A required email address.
pub fn required_email(value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::Null => Err(required()),
        Value::String(s) if s.trim().is_empty() => Err(error("blank", "can't be blank")),
        _ => email(value),
    }
}

/// An E.164 phone number, or `null`/blank (no phone number).
pub fn phone_number(value: &Value) -> Result<(), ValidationError> {
    match string_up_to(value, usize::MAX)? {
        Some(s) if !s.trim().is_empty() => validate_phone_number(s.trim()).map_err(from_violation),
        _ => Ok(()),
    }
}

/// An identifier: a string of at most 255 characters, or `null`. Numbers are refused, not converted: the
/// reference's clients send strings and expect strings back.
pub fn identifier(value: &Value) -> Result<(), ValidationError> {
    string_up_to(value, MAX_IDENTIFIER_LEN).map(|_| ())
}

/// A source id: a non-blank string of at most 255 characters, or `null` (none given).
pub fn source_id(value: &Value) -> Result<(), ValidationError> {
    match string_up_to(value, MAX_IDENTIFIER_LEN)? {
        None => Ok(()),
        Some(s) if s.trim().is_empty() => Err(error("blank", "can't be blank")),
        Some(_) => Ok(()),
    }
}

/// A JSON object (`additional_attributes`, `custom_attributes`); `null` is refused, since a stored contact
/// always has an object there.
pub fn json_object(value: &Value) -> Result<(), ValidationError> {
    if value.is_object() {
        Ok(())
    } else {
        Err(error("invalid_type", "must be a JSON object"))
    }
}

/// `true` or `false`.
pub fn boolean(value: &Value) -> Result<(), ValidationError> {
    if value.is_boolean() {
        Ok(())
    } else {
        Err(error("invalid_type", "must be true or false"))
    }
}

/// A positive integer id (`12`, never `"12"` or `12.0`).
pub fn id(value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::Null => Err(required()),
        Value::Number(n) => match n.as_i64() {
            Some(v) if v > 0 => Ok(()),
            Some(_) => Err(error("invalid_value", "must be a positive integer")),
            None => Err(error("invalid_type", "must be an integer")),
        },
        _ => Err(error("invalid_type", "must be an integer")),
    }
}

/// An optional id: a positive integer, or `null` (none given).
pub fn optional_id(value: &Value) -> Result<(), ValidationError> {
    if value.is_null() {
        Ok(())
    } else {
        id(value)
    }
}

/// Longest accepted note or message, in characters (the reference's message limit).
pub const MAX_TEXT_LEN: usize = 150_000;

/// Required, non-blank text (a note's or message's content).
pub fn content(value: &Value) -> Result<(), ValidationError> {
    match string_up_to(value, MAX_TEXT_LEN)? {
        None => Err(required()),
        Some(s) if s.trim().is_empty() => Err(error("blank", "can't be blank")),
        Some(_) => Ok(()),
    }
}

/// `incoming` or `outgoing`.
pub fn message_type(value: &Value) -> Result<(), ValidationError> {
    match value.as_str() {
        Some("incoming" | "outgoing") => Ok(()),
        _ => Err(error("invalid_value", "must be \"incoming\" or \"outgoing\"")),
    }
}

/// `incoming`, `outgoing`, or `null` (the default, `outgoing`).
pub fn optional_message_type(value: &Value) -> Result<(), ValidationError> {
    if value.is_null() {
        Ok(())
    } else {
        message_type(value)
    }
}

/// `agent` or `administrator`.
pub fn role(value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::Null => Err(required()),
        Value::String(s) if s == "agent" || s == "administrator" => Ok(()),
        _ => Err(error("invalid_value", "must be \"agent\" or \"administrator\"")),
    }
}

/// A required array of strings (label names; their own rules are the use case's).
pub fn string_array(value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::Null => Err(required()),
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        _ => Err(error("invalid_type", "must be an array of strings")),
    }
}

/// An inbox's channel: an object whose `type` is a string.
pub fn channel(value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::Null => Err(required()),
        Value::Object(o) if o.get("type").is_some_and(Value::is_string) => Ok(()),
        _ => Err(error("invalid_type", "must be an object with a string \"type\", e.g. {\"type\": \"api\"}")),
    }
}

/// A first message: an object with non-blank string `content` and optionally a `message_type`; `null` for none.
pub fn first_message(value: &Value) -> Result<(), ValidationError> {
    let o = match value {
        Value::Null => return Ok(()),
        Value::Object(o) => o,
        _ => return Err(error("invalid_type", "must be an object with \"content\"")),
    };
    content(o.get("content").unwrap_or(&Value::Null)).map_err(|mut e| {
        // the violation is reported against `message`, so say which part of it is wrong
        e.message = Some(format!("content {}", e.message.unwrap_or_default()).into());
        e
    })?;
    match o.get("message_type") {
        None | Some(Value::Null) => Ok(()),
        Some(t) => {
            message_type(t).map_err(|_| error("invalid_value", "message_type must be \"incoming\" or \"outgoing\""))
        }
    }
}

// ---- readers, for validated values ----------------------------------------------------------------------

/// The string, or `None` for `null`.
pub fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// The object (empty for anything else, which validation has ruled out).
pub fn object(value: &Value) -> domain::JsonObject {
    value.as_object().cloned().unwrap_or_default()
}

/// The id (0 for anything else, which validation has ruled out).
pub fn id_value(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

/// The OpenAPI schema of an array of contact ids: positive 64-bit integers, each once, `min` to `max` of them.
/// (A `schema_with` function builds it: the field is raw JSON until validation, see the module's doc.)
pub fn ids_schema(
    min: usize,
    max: usize,
    description: &str,
    example: serde_json::Value,
) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    use utoipa::openapi::{KnownFormat, SchemaFormat};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1)),
        )
        .min_items(Some(min))
        .max_items(Some(max))
        .unique_items(true)
        .description(Some(description))
        .examples([example])
        .build()
}
