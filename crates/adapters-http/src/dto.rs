//! Request and response bodies: the wire format, typed as the reference sends it, with their OpenAPI schemas.
//! The contact serializer lives here once and serves every endpoint that returns a contact; the bodies of
//! each resource family live in the submodules.

pub mod contacts;
pub mod conversations;
pub mod fields;
pub mod identities;
pub mod inboxes;
pub mod merge_many;
pub mod platform;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use domain::{Contact, ContactInbox, InboxSummary, Violations};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::{Validate, ValidationError, ValidationErrors};

use crate::error::{invalid_body, malformed_json, unsupported_media_type, ApiError};

/// An inbox, as listed and as shown inside a contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxDto {
    pub id: i64,
    /// `""` when the inbox has no avatar.
    pub avatar_url: String,
    pub channel_id: i64,
    pub name: String,
    #[schema(example = "Channel::Api")]
    pub channel_type: String,
    /// The channel's provider; `null` for API inboxes.
    pub provider: Option<String>,
}

/// One channel address of a contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactInboxDto {
    pub source_id: String,
    pub inbox: InboxDto,
}

impl From<&InboxSummary> for InboxDto {
    fn from(inbox: &InboxSummary) -> Self {
        Self {
            id: inbox.id.get(),
            avatar_url: inbox.avatar_url.clone(),
            // API inboxes have no separate channel row; the inbox id stands in for it.
            channel_id: inbox.id.get(),
            name: inbox.name.clone(),
            channel_type: inbox.channel_type.clone(),
            provider: inbox.provider.clone(),
        }
    }
}

impl From<&ContactInbox> for ContactInboxDto {
    fn from(ci: &ContactInbox) -> Self {
        Self { source_id: ci.source_id.clone(), inbox: InboxDto::from(&ci.inbox) }
    }
}

/// A contact, with its fields in the reference's order and types: objects never null, `blocked` a boolean,
/// timestamps integer Unix seconds, `last_activity_at` omitted while the contact has had no activity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactDto {
    #[schema(value_type = Object, example = json!({}))]
    pub additional_attributes: Value,
    /// `online` or `offline`.
    #[schema(example = "offline")]
    pub availability_status: &'static str,
    pub email: Option<String>,
    pub id: i64,
    pub name: String,
    /// E.164, e.g. `+4930123456`.
    pub phone_number: Option<String>,
    pub blocked: bool,
    pub identifier: Option<String>,
    /// Avatar URL; `""` when there is none.
    pub thumbnail: String,
    #[schema(value_type = Object, example = json!({"attribute_key": "attribute_value", "signed_up_at": "dd/mm/yyyy"}))]
    pub custom_attributes: Value,
    /// Unix seconds; omitted when the contact has had no activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activity_at: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// The contact's channel addresses; sent by the `/contacts` endpoints and the merge, omitted where the
    /// contact appears as a conversation's or message's sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contact_inboxes: Option<Vec<ContactInboxDto>>,
}

impl ContactDto {
    /// A contact as a message's or conversation's sender: without its channel addresses.
    pub fn sender(contact: &Contact) -> Self {
        Self { contact_inboxes: None, ..Self::new(contact, &[]) }
    }

    pub fn new(contact: &Contact, inboxes: &[ContactInbox]) -> Self {
        let a = &contact.attributes;
        Self {
            additional_attributes: Value::Object(a.additional_attributes.clone()),
            availability_status: "offline",
            email: a.email.clone(),
            id: contact.id.get(),
            name: a.name.clone(),
            phone_number: a.phone_number.clone(),
            blocked: contact.blocked,
            identifier: a.identifier.clone(),
            thumbnail: contact.thumbnail.clone(),
            custom_attributes: Value::Object(a.custom_attributes.clone()),
            last_activity_at: contact.last_activity_at.map(|t| t.timestamp()),
            created_at: contact.created_at.timestamp(),
            contact_inboxes: Some(inboxes.iter().map(ContactInboxDto::from).collect()),
        }
    }
}

/// An id field kept as raw JSON until validation, so that every bad id gets its own field error
/// (`"12"`, `12.7`, `[12]`, `null` and a missing field are each reported, never coerced).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawId(pub Value);

impl RawId {
    /// The id; only meaningful after validation succeeded.
    pub fn value(&self) -> i64 {
        whole_number(&self.0).unwrap_or(0)
    }
}

/// A JSON number that is a whole number in i64's range: `12` or `12.0` (JSON Schema counts both as integers).
pub fn whole_number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        let f = v.as_f64()?;
        // 2^63 is the first f64 past i64::MAX
        #[allow(clippy::cast_possible_truncation)] // whole and within range, checked first
        (f.fract() == 0.0 && f.abs() < 9.223_372_036_854_775e18).then_some(f as i64)
    })
}

/// validator rule: a JSON integer greater than zero.
pub fn positive_integer(id: &RawId) -> Result<(), ValidationError> {
    let error = |code: &'static str, message: &'static str| {
        let mut e = ValidationError::new(code);
        e.message = Some(message.into());
        Err(e)
    };
    match &id.0 {
        Value::Null => error("required", "is required"),
        Value::Number(_) => match whole_number(&id.0) {
            Some(v) if v > 0 => Ok(()),
            Some(_) => error("invalid_value", "must be a positive integer"),
            None => error("invalid_type", "must be an integer"),
        },
        _ => error("invalid_type", "must be an integer"),
    }
}

/// Body of `POST …/actions/contact_merge`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct MergeContactsRequest {
    /// The contact that remains and receives the mergee's data.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, example = 1)]
    #[validate(custom(function = "positive_integer"))]
    pub base_contact_id: RawId,
    /// The contact that is merged into the base and then deleted.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, example = 2)]
    #[validate(custom(function = "positive_integer"))]
    pub mergee_contact_id: RawId,
    /// Optional: the winner of each attribute (`"base"` or `"mergee"`; for the two objects also `"merge"`).
    /// Omitted, the merge keeps the reference rule: the base's values win unless blank, the objects merge.
    #[serde(default)]
    #[schema(value_type = Option<merge_many::PairChoicesDto>)]
    pub attributes: Value,
    /// `attributes`, checked by [`parse_merge_body`].
    #[serde(skip)]
    pub choices: domain::FieldChoices,
}

/// Reads and checks a merge body: the ids, then the optional `attributes`.
///
/// # Errors
/// 400/413/415 as [`parse_body`], and 400 naming each bad member of `attributes`.
pub fn parse_merge_body(req: &HttpRequest, body: &[u8]) -> Result<MergeContactsRequest, ApiError> {
    let mut request = parse_body::<MergeContactsRequest>(req, body)?;
    request.choices = merge_many::pair_choices(&request.attributes)
        .map_err(|v| ApiError::from_violations(StatusCode::BAD_REQUEST, "The request is invalid", v))?;
    Ok(request)
}

impl MergeContactsRequest {
    /// The merge this (validated) request asks `member` to run.
    pub fn command(&self, member: &application::auth::Member) -> application::merge_contacts::MergeContacts {
        application::merge_contacts::MergeContacts {
            account_id: member.account_id,
            actor: member.user_id,
            base_contact_id: domain::ContactId::new(self.base_contact_id.value()),
            mergee_contact_id: domain::ContactId::new(self.mergee_contact_id.value()),
            choices: self.choices,
        }
    }
}

/// Response of `POST …/actions/contact_merge`: the base contact after the merge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeContactsResponse {
    /// The base contact's id.
    pub id: i64,
    /// The base contact, in a one-element array.
    pub payload: Vec<ContactDto>,
}

/// validator's errors as our violations, ordered by field so responses are stable.
pub fn violations(errors: &ValidationErrors) -> Violations {
    let mut fields: Vec<_> = errors.field_errors().into_iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut v = Violations::default();
    for (field, errs) in fields {
        for e in errs {
            let message = e.message.as_ref().map_or_else(|| "is invalid".to_owned(), ToString::to_string);
            v.push(&field, &e.code, message);
        }
    }
    v
}

/// Whether a JSON value holds a NUL character in any string or key (PostgreSQL stores neither in text nor in
/// jsonb, so such input is refused up front instead of failing deep in the database).
pub fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// The top-level field of a body object that holds a NUL character, if any (`body` when a key itself does).
fn field_with_nul(body: &Value) -> Option<String> {
    let Value::Object(map) = body else { return None };
    map.iter().find(|(k, v)| k.contains('\0') || contains_nul(v)).map(|(k, _)| {
        if k.contains('\0') {
            "body".to_owned()
        } else {
            k.clone()
        }
    })
}

/// Parses and validates a JSON body. Handlers apply the result's `?` after authentication (inside
/// `AccountMember::run`), so that an anonymous caller gets 401 whatever it sent.
///
/// # Errors
/// 415 for a non-JSON content type, 400 for malformed JSON, a body of the wrong shape, or invalid fields.
pub fn parse_body<T: DeserializeOwned + Validate>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let json = content_type.to_str().map(|c| c.to_ascii_lowercase()).is_ok_and(|c| {
            let essence = c.split(';').next().unwrap_or("").trim().to_owned();
            essence == "application/json" || essence.ends_with("+json")
        });
        if !json {
            return Err(unsupported_media_type());
        }
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| malformed_json(&e.to_string()))?;
    // Every body is a JSON object. serde would otherwise read an array positionally into the struct's fields
    // (`[12, 13]` as a merge of 12 and 13), which no client means.
    if !json.is_object() {
        return Err(invalid_body("the body must be a JSON object"));
    }
    if let Some(field) = field_with_nul(&json) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The request is invalid",
            &field,
            "invalid_value",
            "must not contain NUL (U+0000) characters",
        ));
    }
    let value: T = serde_json::from_value(json).map_err(|e| invalid_body(&e.to_string()))?;
    value
        .validate()
        .map_err(|e| ApiError::from_violations(StatusCode::BAD_REQUEST, "The request is invalid", violations(&e)))?;
    Ok(value)
}

/// Rows a merge moves (or would move) from the mergee to the base, per table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovesDto {
    pub conversations: u64,
    pub messages: u64,
    pub contact_inboxes: u64,
    pub notes: u64,
    pub labels: u64,
}

impl From<application::ports::MovedCounts> for MovesDto {
    fn from(m: application::ports::MovedCounts) -> Self {
        Self {
            conversations: m.conversations,
            messages: m.messages,
            contact_inboxes: m.contact_inboxes,
            notes: m.notes,
            labels: m.labels,
        }
    }
}

/// One attribute a merge changes on the base. The values are the attribute's own JSON: a string, a number, a
/// boolean, `null`, or an object (for `additional_attributes`/`custom_attributes`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChangeDto {
    /// The base's value before the merge.
    pub from: Value,
    /// The value after the merge.
    pub to: Value,
}

/// Response of `POST …/actions/contact_merge/preview`: the merge's outcome, without the merge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergePreviewResponse {
    /// The base contact as it would be after the merge.
    pub payload: ContactDto,
    /// Each attribute of the base the merge would change, `{"field": {"from": …, "to": …}}`.
    #[schema(value_type = std::collections::HashMap<String, FieldChangeDto>)]
    pub changes: serde_json::Map<String, Value>,
    /// How many rows would move from the mergee to the base.
    pub moves: MovesDto,
    /// The mergee's email addresses, phone numbers and identifiers the base would gain, as they would be on
    /// the base: `primary` where the base takes one over as its own field (it had none), otherwise secondary;
    /// all with source `merge`. Every one stays findable (lookup, search) and taken after the merge.
    pub identities_gained: Vec<identities::IdentityDto>,
}

impl MergePreviewResponse {
    pub fn new(p: &application::merge_preview::MergePreview) -> Self {
        let changes =
            p.changes.iter().map(|c| (c.field.to_owned(), serde_json::json!({"from": c.from, "to": c.to}))).collect();
        Self {
            payload: ContactDto::new(&p.contact, &p.contact_inboxes),
            changes,
            moves: p.moves.into(),
            identities_gained: p.identities_gained.iter().map(identities::IdentityDto::from).collect(),
        }
    }
}

/// A merge record: who merged what into what, when, and what moved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeRecordDto {
    pub id: i64,
    pub account_id: i64,
    /// The user who merged.
    pub actor_user_id: Option<i64>,
    pub base_contact_id: i64,
    pub mergee_contact_id: i64,
    /// Rows moved per table.
    pub moved: MovesDto,
    /// The mergee as it was just before the merge.
    #[schema(value_type = Object)]
    pub mergee: Value,
    /// Unix seconds.
    pub created_at: i64,
    /// When the merge was undone (Unix seconds); `null` while it stands.
    pub undone_at: Option<i64>,
    /// The user who undid it; `null` while it stands.
    pub undone_by: Option<i64>,
}

impl From<&application::ports::MergeEntry> for MergeRecordDto {
    fn from(e: &application::ports::MergeEntry) -> Self {
        Self {
            id: e.id,
            account_id: e.account_id.get(),
            actor_user_id: e.actor.map(domain::UserId::get),
            base_contact_id: e.base_contact_id.get(),
            mergee_contact_id: e.mergee_contact_id.get(),
            moved: e.moved.into(),
            mergee: e.mergee_snapshot.clone(),
            created_at: e.created_at.timestamp(),
            undone_at: e.undone_at.map(|t| t.timestamp()),
            undone_by: e.undone_by.map(domain::UserId::get),
        }
    }
}

/// A base attribute changed again after the merge: the undo kept its current value. Values are the attribute's
/// own JSON (a string, `null`, or an object for `additional_attributes`/`custom_attributes`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UndoConflictDto {
    #[schema(example = "phone_number")]
    pub field: String,
    /// The value the base holds now, which the undo kept.
    #[schema(example = "+4930999000")]
    pub kept: Value,
    /// What the merge had written.
    #[schema(example = "+4930123456")]
    pub merge_wrote: Value,
    /// The base's value before the merge, which the undo would have restored.
    #[schema(example = json!(null))]
    pub before_merge: Value,
}

/// Response of `POST …/contact_merges/{id}/undo` (and of its preview): both contacts after the undo, and what
/// it did (or would do).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UndoResponse {
    /// The base contact, its attributes restored.
    pub base: ContactDto,
    /// The mergee, re-created with its original id.
    pub mergee: ContactDto,
    /// Rows the merge had moved that went back to the mergee (labels: the mergee's labels given back).
    pub moved_back: MovesDto,
    /// Rows the merge had moved that no longer exist on the base (deleted since the merge).
    pub deleted_since: MovesDto,
    /// Rows the base gained after the merge; they stay on the base.
    pub kept_on_base: MovesDto,
    /// Base attributes changed again after the merge, kept as they are now.
    pub conflicts: Vec<UndoConflictDto>,
}

impl UndoResponse {
    pub fn new(o: &application::undo::UndoOutcome) -> Self {
        Self {
            base: ContactDto::new(&o.base, &o.base_inboxes),
            mergee: ContactDto::new(&o.mergee, &o.mergee_inboxes),
            moved_back: o.counts.moved_back.into(),
            deleted_since: o.counts.deleted_since.into(),
            kept_on_base: o.counts.kept_on_base.into(),
            conflicts: o
                .conflicts
                .iter()
                .map(|c| UndoConflictDto {
                    field: c.field.to_owned(),
                    kept: c.kept.clone(),
                    merge_wrote: c.merge_wrote.clone(),
                    before_merge: c.before_merge.clone(),
                })
                .collect(),
        }
    }
}

/// Listing metadata, as the reference sends it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetaDto {
    pub count: u64,
    pub current_page: u32,
}

/// A page of merge records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeRecordListResponse {
    pub meta: MetaDto,
    pub payload: Vec<MergeRecordDto>,
}

/// One merge record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeRecordResponse {
    pub payload: MergeRecordDto,
}

/// Query of `GET …/contact_merges`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MergeHistoryQuery {
    /// 1-based page number (15 records per page).
    pub page: Option<u32>,
    /// Only merges where this contact was the base or the mergee.
    pub contact_id: Option<i64>,
}
