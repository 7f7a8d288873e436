//! Bodies of the identities endpoints: a contact's identities, adding a secondary one, and the lookup query.

use domain::{Identity, IdentityKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::fields;

/// An email address, phone number or identifier by which a contact is known.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "kind": "email", "value": "ada@old-employer.example", "primary": false,
                          "source": "merge", "created_at": 1_764_700_000}))]
pub struct IdentityDto {
    pub id: i64,
    /// `email`, `phone_number` or `identifier`.
    #[schema(example = "email")]
    pub kind: &'static str,
    /// The stored form: a lower-cased email, an E.164 phone number, an identifier as given (trimmed).
    pub value: String,
    /// Whether it is the contact's own `email`, `phone_number` or `identifier` field (changed through the
    /// contact); secondary ones are added and deleted here.
    pub primary: bool,
    /// `api` (given through the API) or `merge` (taken over from a contact merged into this one).
    #[schema(example = "merge")]
    pub source: &'static str,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&Identity> for IdentityDto {
    fn from(i: &Identity) -> Self {
        Self {
            id: i.id,
            kind: i.kind.as_str(),
            value: i.value.clone(),
            primary: i.primary,
            source: i.source.as_str(),
            created_at: i.created_at.timestamp(),
        }
    }
}

/// Response of `GET /contacts/{id}/identities`: primaries first, then secondaries, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdentityListResponse {
    pub payload: Vec<IdentityDto>,
}

/// Body of `POST /contacts/{id}/identities`: a secondary identity to add.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"kind": "phone_number", "value": "+49 151 1234-5678"}))]
pub struct IdentityRequest {
    /// `email`, `phone_number` or `identifier`.
    #[serde(default)]
    #[schema(value_type = IdentityKindParam, required = true)]
    #[validate(custom(function = "kind"))]
    pub kind: Value,
    /// The value; normalized before it is stored (emails lower-cased, phone numbers to E.164, which needs the
    /// country code).
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255, pattern = r"\S",
             example = "+49 151 1234-5678")]
    #[validate(custom(function = "value"))]
    pub value: Value,
}

/// The body of `POST /contacts/{id}/identities` as the document states it: one shape per kind, so that the
/// value's rule (an email address, a phone number with its country code, an identifier) is in the schema. The
/// handler reads the body as [`IdentityRequest`], which applies the same rules.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum IdentityRequestSchema {
    Email(EmailIdentityRequest),
    PhoneNumber(PhoneIdentityRequest),
    Identifier(IdentifierIdentityRequest),
}

/// A secondary email address; compared and stored in lower case.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"kind": "email", "value": "jo.doe@old-job.example"}))]
pub struct EmailIdentityRequest {
    #[schema(pattern = "^email$", example = "email")]
    pub kind: String,
    #[schema(format = Email, max_length = 254, example = "jo.doe@old-job.example")]
    pub value: String,
}

/// A secondary phone number with its country code, in E.164 or a common written form; stored in E.164.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"kind": "phone_number", "value": "+49 151 1234-5678"}))]
pub struct PhoneIdentityRequest {
    #[schema(pattern = "^phone_number$", example = "phone_number")]
    pub kind: String,
    #[schema(pattern = r"^\+[1-9][0-9 ().\-/]{1,40}$", example = "+49 151 1234-5678")]
    pub value: String,
}

/// A secondary identifier in an external system.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"kind": "identifier", "value": "crm-4711"}))]
pub struct IdentifierIdentityRequest {
    #[schema(pattern = "^identifier$", example = "identifier")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 255, pattern = r"\S", example = "crm-4711")]
    pub value: String,
}

/// The kinds of identity (for the document; bodies keep the raw value until validation).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKindParam {
    Email,
    PhoneNumber,
    Identifier,
}

fn kind(value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::Null => Err(fields::required()),
        Value::String(s) if IdentityKind::parse(s).is_some() => Ok(()),
        Value::String(_) => Err(fields::error("invalid_value", "must be email, phone_number or identifier")),
        _ => Err(fields::error("invalid_type", "must be a string")),
    }
}

fn value(value: &Value) -> Result<(), ValidationError> {
    match fields::string_up_to(value, 255)? {
        None => Err(fields::required()),
        Some(s) if s.trim().is_empty() => Err(fields::error("blank", "can't be blank")),
        Some(_) => Ok(()),
    }
}

impl IdentityRequest {
    /// The validated body.
    pub fn identity(&self) -> (IdentityKind, String) {
        let kind = self.kind.as_str().and_then(IdentityKind::parse).unwrap_or(IdentityKind::Identifier);
        (kind, fields::text(&self.value).unwrap_or_default())
    }
}
