//! Duplicate suggestions: `GET …/contacts/{id}/duplicates`, `GET …/contact_duplicates` and
//! `POST …/contact_duplicates/dismiss` ("keep separate"), with their bodies.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::duplicates::{
    contact_duplicates, dismiss_duplicate, duplicate_pairs, Difference, DuplicatesError, PairList, Suggestion,
};
use domain::{ContactId, Violations};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use crate::auth::AccountMember;
use crate::dto::contacts::{contact_dto, ListMeta};
use crate::dto::{parse_body, ContactDto};
use crate::error::{contact_gone, ApiError, ErrorBody};
use crate::params::{parse_query, path_id};

impl From<DuplicatesError> for ApiError {
    fn from(e: DuplicatesError) -> Self {
        match e {
            DuplicatesError::NotFound { field } => contact_gone(field, None),
            DuplicatesError::Merged { field, into } => contact_gone(field, Some(into)),
            DuplicatesError::Invalid(v) => Self::from_violations(StatusCode::BAD_REQUEST, "The request is invalid", v),
            DuplicatesError::Unavailable => Self::unavailable(),
            DuplicatesError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// Why two contacts may be one person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonDto {
    /// Stable: `similar_name`, `same_email_local_part`, `name_matches_email`, `source_id_matches_phone`,
    /// `source_id_matches_email`, `same_company_domain`.
    #[schema(example = "same_email_local_part")]
    pub code: String,
    /// The contact field the reason is about.
    #[schema(example = "email")]
    pub field: String,
    /// What matched, for people.
    #[schema(example = "jo.doe@acme.example and jo.doe@gmail.com")]
    pub detail: String,
}

/// A field on which the two contacts differ (what a merge would choose between).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DifferenceDto {
    /// This contact's value (the one asked about, or the pair's first).
    #[schema(value_type = Option<String>, example = "jo.doe@acme.example")]
    pub this: Value,
    /// The other contact's value.
    #[schema(value_type = Option<String>, example = "jo.doe@gmail.com")]
    pub other: Value,
}

fn reasons(v: &Value) -> Vec<ReasonDto> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn differences(d: &[Difference]) -> BTreeMap<String, DifferenceDto> {
    d.iter().map(|d| (d.field.to_owned(), DifferenceDto { this: d.this.clone(), other: d.other.clone() })).collect()
}

/// A contact that may be the same person as the one asked about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateDto {
    pub contact: ContactDto,
    /// How sure, from 0 to 1 (two decimals); see the README for how it is computed.
    #[schema(example = 0.96, minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// Strongest first.
    pub reasons: Vec<ReasonDto>,
    /// Name, email, phone number and identifier where they differ: `{"field": {"this", "other"}}`.
    pub differences: BTreeMap<String, DifferenceDto>,
}

impl From<&Suggestion> for DuplicateDto {
    fn from(s: &Suggestion) -> Self {
        Self {
            contact: contact_dto(&s.contact),
            confidence: s.confidence,
            reasons: reasons(&s.reasons),
            differences: differences(&s.differences),
        }
    }
}

/// Response of `GET …/contacts/{id}/duplicates`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactDuplicatesResponse {
    /// Best first, at most 20.
    pub payload: Vec<DuplicateDto>,
}

/// A suggested pair of the account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicatePairDto {
    /// The two contacts, the lower id first.
    #[schema(min_items = 2, max_items = 2)]
    pub contacts: Vec<ContactDto>,
    #[schema(example = 0.96, minimum = 0, maximum = 1)]
    pub confidence: f64,
    pub reasons: Vec<ReasonDto>,
    /// `this` is the first contact, `other` the second.
    pub differences: BTreeMap<String, DifferenceDto>,
}

/// Response of `GET …/contact_duplicates`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicatePairListResponse {
    pub meta: ListMeta,
    /// Up to 15 pairs, best first.
    pub payload: Vec<DuplicatePairDto>,
}

impl From<&PairList> for DuplicatePairListResponse {
    fn from(list: &PairList) -> Self {
        Self {
            meta: ListMeta { count: list.total, current_page: list.page },
            payload: list
                .pairs
                .iter()
                .map(|p| DuplicatePairDto {
                    contacts: p.contacts.iter().map(contact_dto).collect(),
                    confidence: p.confidence,
                    reasons: reasons(&p.reasons),
                    differences: differences(&p.differences),
                })
                .collect(),
        }
    }
}

/// Body of `POST …/contact_duplicates/dismiss`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct DismissRequest {
    /// The two contacts to keep separate, in any order.
    #[serde(default)]
    #[schema(schema_with = contact_pair, required = true)]
    #[validate(custom(function = "two_contact_ids"))]
    pub contact_ids: Value,
}

fn contact_pair() -> utoipa::openapi::schema::Array {
    crate::dto::fields::ids_schema(2, 2, "The two contacts to keep separate, in any order.", json!([3, 4]))
}

/// validator rule: two different positive integers.
fn two_contact_ids(ids: &Value) -> Result<(), ValidationError> {
    let error = |code: &'static str, message: &'static str| {
        let mut e = ValidationError::new(code);
        e.message = Some(message.into());
        Err(e)
    };
    let Some(items) = ids.as_array() else {
        return if ids.is_null() {
            error("required", "is required")
        } else {
            error("invalid_type", "must be an array")
        };
    };
    let ids: Vec<i64> = items.iter().filter_map(|v| v.as_i64().filter(|i| *i > 0)).collect();
    match (items.len(), ids.as_slice()) {
        (2, [a, b]) if a == b => error("invalid_value", "must name two different contacts"),
        (2, [_, _]) => Ok(()),
        (2, _) => error("invalid_value", "must hold positive integers"),
        _ => error("invalid_value", "must hold exactly two contact ids"),
    }
}

impl DismissRequest {
    fn ids(&self) -> [ContactId; 2] {
        let id = |i: usize| ContactId::new(self.contact_ids.get(i).and_then(Value::as_i64).unwrap_or(0));
        [id(0), id(1)]
    }
}

/// Response of `POST …/contact_duplicates/dismiss`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DismissResponse {
    /// The pair, the lower id first; it is never suggested again.
    #[schema(example = json!([3, 4]))]
    pub contact_ids: [i64; 2],
}

/// Query of `GET …/contact_duplicates`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicateListQuery {
    /// The page, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    page: Option<String>,
    /// Only pairs at least this sure, from 0 to 1 (default 0: every suggestion).
    #[param(value_type = Option<f64>, minimum = 0, maximum = 1)]
    min_confidence: Option<String>,
}

impl DuplicateListQuery {
    /// The page and the minimum confidence.
    fn read(&self) -> Result<(u64, f64), ApiError> {
        let mut v = Violations::default();
        let page = match self.page.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(p) => p.parse::<u32>().ok().filter(|n| *n > 0).map_or_else(
                || {
                    v.push("page", "invalid_value", "must be a positive integer");
                    1
                },
                u64::from,
            ),
        };
        let min = match self.min_confidence.as_deref().map(str::trim) {
            None | Some("") => 0.0,
            Some(m) => m.parse::<f64>().ok().filter(|m| (0.0..=1.0).contains(m)).unwrap_or_else(|| {
                v.push("min_confidence", "invalid_value", "must be a number from 0 to 1");
                0.0
            }),
        };
        v.into_result()
            .map_err(|v| ApiError::from_violations(StatusCode::BAD_REQUEST, "The query string is invalid", v))?;
        Ok((page, min))
    }
}

/// Duplicates of a contact
///
/// The contacts that may be the same person, best first (at most 20), each with how sure (`confidence`), why
/// (`reasons`, stable codes) and where the two differ. Suggestions are recomputed in the background shortly
/// after a contact changes (not in the change's request), so this is an indexed read; a merged or deleted
/// contact leaves them at once; dismissed pairs never appear.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactDuplicates",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact")
    ),
    responses(
        (status = 200, description = "The contact's suggestions", body = ContactDuplicatesResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found, or merged away (code `merged`, `merged_into`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}/duplicates")]
pub async fn contact_duplicate_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id");
    let found = member.run(move |db, m| Ok(contact_duplicates(db, m.account_id, ContactId::new(id?))?)).await?;
    Ok(HttpResponse::Ok().json(ContactDuplicatesResponse { payload: found.iter().map(DuplicateDto::from).collect() }))
}

/// Suggested duplicates
///
/// The account's suggested pairs, best first, each pair once, 15 per page; `min_confidence` keeps the surer ones.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactDuplicatePairs",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"), DuplicateListQuery),
    responses(
        (status = 200, description = "A page of suggested pairs", body = DuplicatePairListResponse),
        (status = 400, description = "Bad page or min_confidence", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contact_duplicates")]
pub async fn contact_duplicate_pairs(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = parse_query::<DuplicateListQuery>(&req).and_then(|q| q.read());
    let list = member
        .run(move |db, m| {
            let (page, min) = query?;
            Ok(duplicate_pairs(db, m.account_id, page, min)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(DuplicatePairListResponse::from(&list)))
}

/// Keep separate
///
/// The two contacts are different people: their pair is removed and never suggested again (undoing a merge
/// does this for the merge's two contacts). Dismissing a dismissed pair changes nothing.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactDuplicateDismiss",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account")),
    request_body(content = DismissRequest, content_type = "application/json", example = json!({"contact_ids": [3, 4]})),
    responses(
        (status = 200, description = "The pair is dismissed", body = DismissResponse),
        (status = 400, description = "Bad body: not two different positive ids", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "A contact not found, or merged away (code `merged`, `merged_into`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contact_duplicates/dismiss")]
pub async fn contact_duplicate_dismiss(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request = parse_body::<DismissRequest>(&req, &body);
    let pair = member.run(move |db, m| Ok(dismiss_duplicate(db, m, request?.ids())?)).await?;
    Ok(HttpResponse::Ok().json(DismissResponse { contact_ids: [pair[0].get(), pair[1].get()] }))
}
