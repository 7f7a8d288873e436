//! Bodies of the contacts endpoints: create, update, list and search, labels, notes and contact inboxes.

use application::contacts::{ContactChanges, ContactList, ContactWithInboxes, CreatedContact};
use application::ports::{ContactSort, ContactSortKey, Note, StoredContactInbox};
use domain::InboxId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::fields::{self, present};
use super::{ContactDto, ContactInboxDto, InboxDto};

/// Reads a validated optional string field: absent → unchanged, `null` → cleared.
fn clearable(value: Option<&Value>) -> Option<Option<String>> {
    value.map(fields::text)
}

/// Body of `PUT`/`PATCH /contacts/{id}`: every field optional; a field not sent is left alone, `null` clears
/// email, phone number and identifier. The attribute objects are merged key by key into the stored ones.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "Alice Smith", "custom_attributes": {"plan": "enterprise"}}))]
pub struct ContactUpdateRequest {
    /// Name of the contact.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, example = "Alice")]
    #[validate(custom(function = "fields::name"))]
    pub name: Option<Value>,
    /// Email of the contact; stored lower-cased, unique in the account (as its own field or as another
    /// contact's secondary identity).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254, example = "alice@acme.inc")]
    #[validate(custom(function = "fields::email"))]
    pub email: Option<Value>,
    /// Phone number with its country code, in E.164 or a common written form (`+49 151 1234-5678`,
    /// `+49 (0)151 12345678`); stored in E.164 as libphonenumber formats it, unique in the account (as its own
    /// field or as another contact's secondary identity).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9 ().\-/]{1,40}$", example = "+4930123456")]
    #[validate(custom(function = "fields::phone_number"))]
    pub phone_number: Option<Value>,
    /// A unique identifier for the contact in an external system.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, example = "1234567890")]
    #[validate(custom(function = "fields::identifier"))]
    pub identifier: Option<Value>,
    /// Merged key by key into the stored object.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, example = json!({"type": "customer", "age": 30}))]
    #[validate(custom(function = "fields::json_object"))]
    pub additional_attributes: Option<Value>,
    /// Merged key by key into the stored object.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, example = json!({"plan": "pro"}))]
    #[validate(custom(function = "fields::json_object"))]
    pub custom_attributes: Option<Value>,
    /// Whether the contact is blocked.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>, example = false)]
    #[validate(custom(function = "fields::boolean"))]
    pub blocked: Option<Value>,
}

impl ContactUpdateRequest {
    /// The validated body as a change set.
    pub fn changes(&self) -> ContactChanges {
        ContactChanges {
            // a null name is no name, as the reference stores it: ""
            name: self.name.as_ref().map(|v| fields::text(v).unwrap_or_default()),
            email: clearable(self.email.as_ref()),
            phone_number: clearable(self.phone_number.as_ref()),
            identifier: clearable(self.identifier.as_ref()),
            additional_attributes: self.additional_attributes.as_ref().map(fields::object),
            custom_attributes: self.custom_attributes.as_ref().map(fields::object),
            blocked: self.blocked.as_ref().and_then(Value::as_bool),
        }
    }
}

/// Body of `POST /contacts`. With `inbox_id` the contact is also made reachable in that inbox, under
/// `source_id` or a generated one.
#[derive(Debug, Clone, Default, Deserialize, Validate, ToSchema)]
#[schema(example = json!({
    "inbox_id": 1, "name": "Alice", "email": "alice@acme.inc", "phone_number": "+4930123456",
    "identifier": "alice-1", "custom_attributes": {"plan": "pro"}
}))]
pub struct ContactCreateRequest {
    /// ID of the inbox in which the contact is reachable from the start.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, example = 1)]
    #[validate(custom(function = "fields::optional_id"))]
    pub inbox_id: Option<Value>,
    /// The contact's address in that inbox; a random UUID when absent. Ignored without `inbox_id`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"\S", example = "a1b2c3")]
    #[validate(custom(function = "fields::source_id"))]
    pub source_id: Option<Value>,
    /// Name of the contact.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, example = "Alice")]
    #[validate(custom(function = "fields::name"))]
    pub name: Option<Value>,
    /// Email of the contact; stored lower-cased, unique in the account (as its own field or as another
    /// contact's secondary identity).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254, example = "alice@acme.inc")]
    #[validate(custom(function = "fields::email"))]
    pub email: Option<Value>,
    /// Phone number with its country code, in E.164 or a common written form (`+49 151 1234-5678`,
    /// `+49 (0)151 12345678`); stored in E.164 as libphonenumber formats it, unique in the account (as its own
    /// field or as another contact's secondary identity).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9 ().\-/]{1,40}$", example = "+4930123456")]
    #[validate(custom(function = "fields::phone_number"))]
    pub phone_number: Option<Value>,
    /// A unique identifier for the contact in an external system.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, example = "1234567890")]
    #[validate(custom(function = "fields::identifier"))]
    pub identifier: Option<Value>,
    /// Free-form attributes, e.g. `{"type": "customer", "age": 30}`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, example = json!({"type": "customer", "age": 30}))]
    #[validate(custom(function = "fields::json_object"))]
    pub additional_attributes: Option<Value>,
    /// Custom attributes.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>, example = json!({"plan": "pro"}))]
    #[validate(custom(function = "fields::json_object"))]
    pub custom_attributes: Option<Value>,
    /// Whether the contact is blocked.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>, example = false)]
    #[validate(custom(function = "fields::boolean"))]
    pub blocked: Option<Value>,
}

impl ContactCreateRequest {
    /// The validated body as a create command.
    pub fn command(&self) -> application::contacts::CreateContact {
        let fields = ContactUpdateRequest {
            name: self.name.clone(),
            email: self.email.clone(),
            phone_number: self.phone_number.clone(),
            identifier: self.identifier.clone(),
            additional_attributes: self.additional_attributes.clone(),
            custom_attributes: self.custom_attributes.clone(),
            blocked: self.blocked.clone(),
        }
        .changes();
        application::contacts::CreateContact {
            fields,
            inbox_id: self.inbox_id.as_ref().and_then(Value::as_i64).map(InboxId::new),
            source_id: self.source_id.as_ref().and_then(fields::text),
        }
    }
}

/// `{"contact": …, "contact_inbox": …}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactCreatePayload {
    pub contact: ContactDto,
    /// The contact's address in `inbox_id`; `null` when no inbox was given.
    pub contact_inbox: Option<ContactInboxDto>,
}

/// Response of `POST /contacts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactCreateResponse {
    pub payload: ContactCreatePayload,
}

impl From<&CreatedContact> for ContactCreateResponse {
    fn from(c: &CreatedContact) -> Self {
        Self {
            payload: ContactCreatePayload {
                contact: contact_dto(&c.contact),
                contact_inbox: c.contact_inbox.as_ref().map(ContactInboxDto::from),
            },
        }
    }
}

/// The contact serializer applied to a contact with its channel addresses.
pub fn contact_dto(c: &ContactWithInboxes) -> ContactDto {
    ContactDto::new(&c.contact, &c.contact_inboxes)
}

/// Response of `GET`, `PUT` and `PATCH /contacts/{id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactResponse {
    pub payload: ContactDto,
}

/// Paging facts of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListMeta {
    /// How many contacts match, in all pages together (a search counts up to 10,000 and no further).
    pub count: u64,
    /// The page this answer holds (from 1).
    pub current_page: u64,
}

/// Response of `GET /contacts` and `GET /contacts/search`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactListResponse {
    pub meta: ListMeta,
    /// Up to 15 contacts.
    pub payload: Vec<ContactDto>,
}

impl From<&ContactList> for ContactListResponse {
    fn from(list: &ContactList) -> Self {
        Self {
            meta: ListMeta { count: list.total, current_page: list.page },
            payload: list.contacts.iter().map(contact_dto).collect(),
        }
    }
}

/// The `sort` query parameter: a field, with `-` in front for descending order. Contacts without a value
/// for the field come last either way; ties are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum ContactSortParam {
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDesc,
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "-email")]
    EmailDesc,
    #[serde(rename = "phone_number")]
    PhoneNumber,
    #[serde(rename = "-phone_number")]
    PhoneNumberDesc,
    #[serde(rename = "last_activity_at")]
    LastActivityAt,
    #[serde(rename = "-last_activity_at")]
    LastActivityAtDesc,
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
}

impl From<ContactSortParam> for ContactSort {
    fn from(p: ContactSortParam) -> Self {
        use ContactSortParam as P;
        let (key, descending) = match p {
            P::Name => (ContactSortKey::Name, false),
            P::NameDesc => (ContactSortKey::Name, true),
            P::Email => (ContactSortKey::Email, false),
            P::EmailDesc => (ContactSortKey::Email, true),
            P::PhoneNumber => (ContactSortKey::PhoneNumber, false),
            P::PhoneNumberDesc => (ContactSortKey::PhoneNumber, true),
            P::LastActivityAt => (ContactSortKey::LastActivityAt, false),
            P::LastActivityAtDesc => (ContactSortKey::LastActivityAt, true),
            P::CreatedAt => (ContactSortKey::CreatedAt, false),
            P::CreatedAtDesc => (ContactSortKey::CreatedAt, true),
        };
        Self { key, descending }
    }
}

/// Body of `POST /contacts/{id}/labels`: the contact's whole new set of labels.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct LabelsRequest {
    /// Labels; trimmed and lower-cased, duplicates dropped. `[]` removes every label.
    #[serde(default)]
    #[schema(schema_with = label_list, required = true)]
    #[validate(custom(function = "fields::string_array"))]
    pub labels: Value,
}

/// The labels' schema: each a non-blank string of at most 255 characters without commas or control characters
/// (the reference keeps labels as a comma-separated list).
fn label_list() -> utoipa::openapi::schema::Array {
    let label = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .max_length(Some(domain::validation::MAX_LABEL_LEN))
        .pattern(Some(r"^[^,\u0000-\u001f\u007f]*[^,\s][^,\u0000-\u001f\u007f]*$"));
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(label)
        .description(Some("Labels; trimmed and lower-cased, duplicates dropped. `[]` removes every label."))
        .examples([serde_json::json!(["support", "billing"])])
        .build()
}

impl LabelsRequest {
    pub fn labels(&self) -> Vec<String> {
        self.labels.as_array().map(|a| a.iter().filter_map(fields::text).collect()).unwrap_or_default()
    }
}

/// Response of the labels endpoints: the contact's labels, sorted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabelsResponse {
    #[schema(example = json!(["billing", "support"]))]
    pub payload: Vec<String>,
}

/// Body of `POST /contacts/{id}/notes` and `PATCH …/notes/{note_id}`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct NoteRequest {
    /// The note's text.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 150000, pattern = r"\S", example = "Prefers email over phone.")]
    #[validate(custom(function = "fields::content"))]
    pub content: Value,
}

impl NoteRequest {
    pub fn content(&self) -> String {
        fields::text(&self.content).unwrap_or_default()
    }
}

/// The user who wrote a note.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoteAuthorDto {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// A note about a contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoteDto {
    pub id: i64,
    pub content: String,
    pub contact_id: i64,
    /// The author; `null` when unknown.
    pub user: Option<NoteAuthorDto>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl From<&Note> for NoteDto {
    fn from(n: &Note) -> Self {
        Self {
            id: n.id.get(),
            content: n.content.clone(),
            contact_id: n.contact_id.get(),
            user: n.author.as_ref().map(|u| NoteAuthorDto {
                id: u.id.get(),
                name: u.name.clone(),
                email: u.email.clone(),
            }),
            created_at: n.created_at.timestamp(),
            updated_at: n.updated_at.timestamp(),
        }
    }
}

/// Body of `POST /contacts/{id}/contact_inboxes`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"inbox_id": 1}))]
pub struct ContactInboxRequest {
    /// The inbox in which the contact becomes reachable.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, example = 1)]
    #[validate(custom(function = "fields::id"))]
    pub inbox_id: Value,
    /// The contact's address in the inbox; a random UUID when absent. Unique in the inbox.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"\S", example = "a1b2c3")]
    #[validate(custom(function = "fields::source_id"))]
    pub source_id: Option<Value>,
}

impl ContactInboxRequest {
    pub fn inbox_id(&self) -> InboxId {
        InboxId::new(fields::id_value(&self.inbox_id))
    }

    pub fn source_id(&self) -> Option<String> {
        self.source_id.as_ref().and_then(fields::text)
    }
}

/// A stored channel address of a contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactInboxCreatedDto {
    pub id: i64,
    pub contact_id: i64,
    pub inbox: InboxDto,
    pub source_id: String,
}

impl From<&StoredContactInbox> for ContactInboxCreatedDto {
    fn from(ci: &StoredContactInbox) -> Self {
        Self {
            id: ci.id,
            contact_id: ci.contact_id.get(),
            inbox: InboxDto::from(&ci.contact_inbox.inbox),
            source_id: ci.contact_inbox.source_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use domain::{AccountId, Contact, ContactAttributes, ContactId};

    use super::*;

    fn contact(last_activity: Option<i64>) -> Contact {
        let at = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default();
        Contact {
            id: ContactId::new(7),
            account_id: AccountId::new(1),
            attributes: ContactAttributes { name: "Ann".into(), ..ContactAttributes::default() },
            blocked: false,
            thumbnail: String::new(),
            last_activity_at: last_activity.and_then(|s| Utc.timestamp_opt(s, 0).single()),
            created_at: at,
            updated_at: at,
        }
    }

    /// The keys of the serialized object in the order they are written.
    fn key_order(json: &str) -> Vec<String> {
        let keys = [
            "additional_attributes",
            "availability_status",
            "email",
            "\"id\"",
            "\"name\"",
            "phone_number",
            "blocked",
            "identifier",
            "thumbnail",
            "custom_attributes",
            "last_activity_at",
            "created_at",
            "contact_inboxes",
        ];
        let mut found: Vec<(usize, String)> =
            keys.iter().filter_map(|k| json.find(k).map(|i| (i, k.trim_matches('"').to_owned()))).collect();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    }

    #[test]
    fn contacts_are_written_in_the_reference_order() {
        let with_activity =
            serde_json::to_string(&ContactDto::new(&contact(Some(1_700_000_100)), &[])).unwrap_or_default();
        assert_eq!(
            key_order(&with_activity),
            [
                "additional_attributes",
                "availability_status",
                "email",
                "id",
                "name",
                "phone_number",
                "blocked",
                "identifier",
                "thumbnail",
                "custom_attributes",
                "last_activity_at",
                "created_at",
                "contact_inboxes"
            ]
        );
        let idle = serde_json::to_string(&ContactDto::new(&contact(None), &[])).unwrap_or_default();
        assert!(!idle.contains("last_activity_at"), "omitted while there was no activity: {idle}");
        let sender = serde_json::to_string(&ContactDto::sender(&contact(None))).unwrap_or_default();
        assert!(!sender.contains("contact_inboxes"), "senders carry no contact inboxes: {sender}");
    }

    #[test]
    fn sort_parameters_map_to_keys_and_directions() {
        for (raw, key, descending) in [
            ("name", ContactSortKey::Name, false),
            ("-email", ContactSortKey::Email, true),
            ("phone_number", ContactSortKey::PhoneNumber, false),
            ("-last_activity_at", ContactSortKey::LastActivityAt, true),
            ("created_at", ContactSortKey::CreatedAt, false),
        ] {
            let param: ContactSortParam =
                serde_json::from_value(Value::String(raw.into())).unwrap_or(ContactSortParam::Name);
            assert_eq!(ContactSort::from(param), ContactSort { key, descending }, "{raw}");
        }
        assert!(serde_json::from_value::<ContactSortParam>(Value::String("age".into())).is_err());
    }
}
