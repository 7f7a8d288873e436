//! Bodies of field choice on the merge (`attributes`) and of `POST …/actions/contact_merge_many` (and its
//! preview). The choices stay raw JSON until checked, so that each bad member gets its own error
//! (`attributes.email`, `mergee_contact_ids[2]`), as every body field does.

use application::merge_many::{MergeMany, MergeManyOutcome, MergeManyPreview, MergedMergee};
use domain::merge_many::{validate_many, MAX_MERGEES};
use domain::{ContactId, FieldChoices, ManyChoices, ObjectChoice, Pick, Side, Violations};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use actix_web::http::StatusCode;
use actix_web::HttpRequest;

use super::{parse_body, positive_integer, ContactDto, MovesDto, RawId};
use crate::error::ApiError;

/// The attributes a caller may choose a winner for, in the contact's field order.
const SCALARS: [&str; 4] = ["name", "email", "phone_number", "identifier"];
const OBJECTS: [&str; 2] = ["additional_attributes", "custom_attributes"];

/// Which contact of a merge wins an attribute.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SideDto {
    Base,
    Mergee,
}

/// Which contact of a merge wins a JSON object attribute, or `merge`: both, merged recursively with the base
/// winning on shared keys (the reference rule).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectSideDto {
    Base,
    Mergee,
    Merge,
}

/// Optional `attributes` of a merge: the winner of each attribute. An attribute not named follows the
/// reference rule (the base's value unless blank, the objects merged). A named side wins even with a blank
/// value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "mergee", "name": "base", "custom_attributes": "merge"}))]
pub struct PairChoicesDto {
    pub name: Option<SideDto>,
    pub email: Option<SideDto>,
    pub phone_number: Option<SideDto>,
    pub identifier: Option<SideDto>,
    pub additional_attributes: Option<ObjectSideDto>,
    pub custom_attributes: Option<ObjectSideDto>,
}

/// The caller's choices of a pair merge, checked: absent or `null` is the reference rule.
///
/// # Errors
/// One violation per bad member (`attributes.email`, …).
pub fn pair_choices(value: &Value) -> Result<FieldChoices, Violations> {
    let mut choices = FieldChoices::default();
    let mut v = Violations::default();
    for (field, choice) in members(value, &mut v) {
        let name = format!("attributes.{field}");
        if choice.is_null() && (SCALARS.contains(&field.as_str()) || OBJECTS.contains(&field.as_str())) {
            // `null`: no choice, the reference rule
            continue;
        }
        match (field.as_str(), choice.as_str()) {
            (f, Some(s @ ("base" | "mergee"))) if SCALARS.contains(&f) => {
                let side = if s == "base" { Side::Base } else { Side::Mergee };
                match f {
                    "name" => choices.name = Some(side),
                    "email" => choices.email = Some(side),
                    "phone_number" => choices.phone_number = Some(side),
                    _ => choices.identifier = Some(side),
                }
            }
            (f, Some(s @ ("base" | "mergee" | "merge"))) if OBJECTS.contains(&f) => {
                let object = match s {
                    "base" => ObjectChoice::Base,
                    "mergee" => ObjectChoice::Mergee,
                    _ => ObjectChoice::Merge,
                };
                if f == "additional_attributes" {
                    choices.additional_attributes = object;
                } else {
                    choices.custom_attributes = object;
                }
            }
            (f, _) if SCALARS.contains(&f) => v.push(&name, "invalid_value", "must be \"base\" or \"mergee\""),
            (f, _) if OBJECTS.contains(&f) => {
                v.push(&name, "invalid_value", "must be \"base\", \"mergee\" or \"merge\"");
            }
            _ => v.push(&name, "invalid_value", "is not an attribute a merge can choose"),
        }
    }
    v.into_result().map(|()| choices)
}

/// The members of an `attributes` object (none when absent or `null`), recording a violation when it is not
/// an object.
fn members(value: &Value, v: &mut Violations) -> Vec<(String, Value)> {
    match value {
        Value::Null => Vec::new(),
        Value::Object(map) => map.iter().map(|(k, x)| (k.clone(), x.clone())).collect(),
        _ => {
            v.push("attributes", "invalid_type", "must be an object");
            Vec::new()
        }
    }
}

/// The schema of a winner of a many-contact merge: the id of one of its contacts, or `"merge"`.
fn pick_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
                .minimum(Some(1)),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["merge"])))
        .description(Some(
            "The id of the contact (the base or a mergee) whose value wins, or \"merge\" (the reference rule).",
        ))
        .build();
    Schema::OneOf(one_of)
}

/// The schema of the mergee list: 1 to 9 distinct contact ids.
fn mergee_ids_schema() -> utoipa::openapi::schema::Array {
    super::fields::ids_schema(
        1,
        MAX_MERGEES,
        "The contacts merged into the base, in this order (1 to 9, each once, not the base); each is deleted.",
        serde_json::json!([12, 13]),
    )
}

/// Optional `attributes` of a many-contact merge: for each attribute, the id of the contact (the base or a
/// mergee) whose value wins, or `"merge"`. An attribute not named follows the reference rule over the chain:
/// the base's value, else the first mergee's that has one, in the order given; objects merged.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": 12, "name": 13, "custom_attributes": "merge"}))]
pub struct ManyChoicesDto {
    #[schema(schema_with = pick_schema)]
    pub name: Option<Value>,
    #[schema(schema_with = pick_schema)]
    pub email: Option<Value>,
    #[schema(schema_with = pick_schema)]
    pub phone_number: Option<Value>,
    #[schema(schema_with = pick_schema)]
    pub identifier: Option<Value>,
    #[schema(schema_with = pick_schema)]
    pub additional_attributes: Option<Value>,
    #[schema(schema_with = pick_schema)]
    pub custom_attributes: Option<Value>,
}

/// Body of `POST …/actions/contact_merge_many` and of its preview.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"base_contact_id": 11, "mergee_contact_ids": [12, 13], "attributes": {"email": 12}}))]
pub struct MergeManyRequest {
    /// The contact that remains and receives every mergee's data.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, example = 11)]
    #[validate(custom(function = "positive_integer"))]
    pub base_contact_id: RawId,
    #[serde(default)]
    #[schema(schema_with = mergee_ids_schema, required = true)]
    pub mergee_contact_ids: Value,
    /// The winner of each attribute; omitted attributes follow the reference rule.
    #[serde(default)]
    #[schema(value_type = Option<ManyChoicesDto>)]
    pub attributes: Value,
}

/// A many-contact merge request whose members are all checked; the caller is added by [`ManyInput::command`].
#[derive(Debug, Clone)]
pub struct ManyInput {
    base: ContactId,
    mergees: Vec<ContactId>,
    choices: ManyChoices,
}

impl ManyInput {
    /// The merge this request asks `member` to run.
    pub fn command(self, member: &application::auth::Member) -> MergeMany {
        MergeMany {
            account_id: member.account_id,
            actor: member.user_id,
            base_contact_id: self.base,
            mergee_contact_ids: self.mergees,
            choices: self.choices,
        }
    }
}

/// Reads and checks a many-contact merge body: the base id, then the mergee list and the winners.
///
/// # Errors
/// 400/413/415 as [`parse_body`], and 400 naming each bad member.
pub fn parse_many_body(req: &HttpRequest, body: &[u8]) -> Result<ManyInput, ApiError> {
    let request = parse_body::<MergeManyRequest>(req, body)?;
    request.checked().map_err(|v| ApiError::from_violations(StatusCode::BAD_REQUEST, "The request is invalid", v))
}

impl MergeManyRequest {
    /// The fields validation cannot see, checked: the mergee list and the winners.
    fn checked(&self) -> Result<ManyInput, Violations> {
        let mut v = Violations::default();
        let mergees = self.mergees(&mut v);
        let choices = self.choices(&mut v);
        v.into_result()?;
        let base = ContactId::new(self.base_contact_id.value());
        validate_many(base, &mergees, &choices)?;
        Ok(ManyInput { base, mergees, choices })
    }

    fn mergees(&self, v: &mut Violations) -> Vec<ContactId> {
        let field = "mergee_contact_ids";
        match &self.mergee_contact_ids {
            Value::Null => {
                v.push(field, "required", "is required");
                Vec::new()
            }
            Value::Array(items) if items.len() > MAX_MERGEES => {
                v.push(field, "too_long", format!("must name at most {MAX_MERGEES} contacts"));
                Vec::new()
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match super::whole_number(item) {
                    Some(id) if id > 0 => Some(ContactId::new(id)),
                    _ => {
                        v.push(&format!("{field}[{i}]"), "invalid_value", "must be a positive integer");
                        None
                    }
                })
                .collect(),
            _ => {
                v.push(field, "invalid_type", "must be an array of contact ids");
                Vec::new()
            }
        }
    }

    fn choices(&self, v: &mut Violations) -> ManyChoices {
        let mut choices = ManyChoices::default();
        for (field, choice) in members(&self.attributes, v) {
            if choice.is_null() {
                // `null`: no choice, the reference rule (an unknown field is refused below all the same)
                if !SCALARS.contains(&field.as_str()) && !OBJECTS.contains(&field.as_str()) {
                    v.push(&format!("attributes.{field}"), "invalid_value", "is not an attribute a merge can choose");
                }
                continue;
            }
            let pick = match &choice {
                Value::String(s) if s == "merge" => Some(Pick::Merge),
                Value::Number(_) => {
                    super::whole_number(&choice).filter(|id| *id > 0).map(|id| Pick::Contact(ContactId::new(id)))
                }
                _ => None,
            };
            let name = format!("attributes.{field}");
            let Some(pick) = pick else {
                v.push(&name, "invalid_value", "must be the id of a contact merged, or \"merge\"");
                continue;
            };
            match field.as_str() {
                "name" => choices.name = Some(pick),
                "email" => choices.email = Some(pick),
                "phone_number" => choices.phone_number = Some(pick),
                "identifier" => choices.identifier = Some(pick),
                "additional_attributes" => choices.additional_attributes = Some(pick),
                "custom_attributes" => choices.custom_attributes = Some(pick),
                _ => v.push(&name, "invalid_value", "is not an attribute a merge can choose"),
            }
        }
        choices
    }
}

/// One mergee's merge record within a many-contact merge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergedMergeeDto {
    /// The merge record's id: undo this mergee's merge with `POST …/contact_merges/{id}/undo`.
    #[schema(example = 41)]
    pub id: i64,
    #[schema(example = 12)]
    pub mergee_contact_id: i64,
    /// The rows moved from this mergee to the base.
    pub moved: MovesDto,
}

impl From<&MergedMergee> for MergedMergeeDto {
    fn from(m: &MergedMergee) -> Self {
        Self { id: m.merge_id, mergee_contact_id: m.mergee_contact_id.get(), moved: m.moved.into() }
    }
}

/// Response of `POST …/actions/contact_merge_many`: the base after the merge, and one merge record per mergee.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeManyResponse {
    /// The base contact's id.
    pub id: i64,
    /// The base contact, in a one-element array (as the merge answers).
    pub payload: Vec<ContactDto>,
    /// Each mergee's merge, in the order merged.
    pub merges: Vec<MergedMergeeDto>,
}

impl MergeManyResponse {
    pub fn new(out: &MergeManyOutcome) -> Self {
        Self {
            id: out.contact.id.get(),
            payload: vec![ContactDto::new(&out.contact, &out.contact_inboxes)],
            merges: out.merges.iter().map(Into::into).collect(),
        }
    }
}

/// What one mergee's merge would move.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeeMovesDto {
    #[schema(example = 12)]
    pub mergee_contact_id: i64,
    pub moves: MovesDto,
}

/// Response of `POST …/actions/contact_merge_many/preview`: the merge's outcome, without the merge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergeManyPreviewResponse {
    /// The base contact as it would be after the merge.
    pub payload: ContactDto,
    /// Each attribute of the base the merge would change, `{"field": {"from": …, "to": …}}`.
    #[schema(value_type = std::collections::HashMap<String, super::FieldChangeDto>)]
    pub changes: serde_json::Map<String, Value>,
    /// What each mergee's merge would move, in the order merged.
    pub merges: Vec<MergeeMovesDto>,
}

impl MergeManyPreviewResponse {
    pub fn new(p: &MergeManyPreview) -> Self {
        let changes =
            p.changes.iter().map(|c| (c.field.to_owned(), serde_json::json!({"from": c.from, "to": c.to}))).collect();
        Self {
            payload: ContactDto::new(&p.outcome.contact, &p.outcome.contact_inboxes),
            changes,
            merges: p
                .outcome
                .merges
                .iter()
                .map(|m| MergeeMovesDto { mergee_contact_id: m.mergee_contact_id.get(), moves: m.moved.into() })
                .collect(),
        }
    }
}
