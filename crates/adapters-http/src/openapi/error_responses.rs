//! Error responses in the document. Every operation lists the statuses the framework around it can answer
//! (429 for a caller over its rate limit; 413 and 415 for a body too large or not JSON; every 503 with its
//! `Retry-After` header), and every error response
//! of every operation shows a body of **its** status
//! (401 an authentication error, 404 `not_found` naming the operation's own field, and `merged` where the
//! operation can answer it, 422 `taken`, …), so that a reader of Swagger UI sees what that status really carries
//! instead of one generic envelope repeated under every status. The bodies are built with the same constructors
//! the handlers use ([`ApiError`]), so an example cannot drift from what the service sends.

use actix_web::http::StatusCode;
use utoipa::openapi::example::Example;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Components, Content, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::Modify;

use crate::error::{contact_gone, idempotency_key_reused, ApiError, ErrorBody};
use application::contacts::ContactsError;
use application::undo::UndoError;
use domain::{ContactId, IdentityKind, Violations};

/// Operations that answer 404 code `merged` (with `merged_into`) for a merged-away contact id.
const ANSWER_MERGED: &[&str] = &[
    "contactMerge",
    "contactMergePreview",
    "contactMergeMany",
    "contactMergeManyPreview",
    "contactDetails",
    "contactUpdate",
    "contactPatch",
    "contactDelete",
    "contactIdentityList",
    "contactIdentityCreate",
];

/// What an operation's examples are built from.
struct OperationFacts {
    id: String,
    /// The last path parameter (`id`, `contact_id`, `account_id`…), the field a 404 names.
    last_path_param: Option<String>,
    /// The request body's fields, required ones first.
    body_fields: Vec<String>,
    /// The first query parameter, the field a 400 of a bodyless operation names.
    first_query_param: Option<String>,
    idempotent: bool,
}

/// The modifier: adds the framework's statuses to every operation and named examples to every error response
/// whose body is the envelope.
pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.clone().unwrap_or_default();
        for (path, item) in &mut openapi.paths.paths {
            let operations =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten();
            for operation in operations {
                add_framework_statuses(operation);
                let facts = facts(path, operation, &components);
                for (status, response) in &mut operation.responses.responses {
                    let RefOr::T(response) = response else { continue };
                    let Some(content) = response.content.get_mut("application/json") else { continue };
                    if !is_error_body(content) {
                        continue;
                    }
                    let Ok(status) = status.parse::<u16>() else { continue };
                    content.example = None;
                    content.examples = examples(status, &facts)
                        .into_iter()
                        .map(|(name, summary, body)| (name.to_owned(), RefOr::T(example(summary, &body))))
                        .collect();
                }
            }
        }
    }
}

/// 429 on every operation (the rate limit runs before routing), 413 and 415 on every operation with a body.
fn add_framework_statuses(operation: &mut Operation) {
    let mut statuses = vec![("429", "Too many requests: over the rate limit; `Retry-After` says when to retry")];
    if operation.request_body.is_some() {
        statuses.push(("413", "The body is larger than the server accepts"));
        statuses.push(("415", "The body is not JSON (send `Content-Type: application/json`)"));
    }
    for (status, description) in statuses {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
                    .build(),
            )
        });
    }
    // Every 503 says when to try again (the database is failing over, or briefly out of connections).
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("503") {
        let header = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
            .description(Some("Seconds to wait before retrying"))
            .build();
        response.headers.insert("Retry-After".to_owned(), header);
    }
}

fn is_error_body(content: &Content) -> bool {
    matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/ErrorBody"))
}

fn example(summary: &str, body: &ErrorBody) -> Example {
    let mut example = Example::new();
    example.summary = summary.to_owned();
    example.value = serde_json::to_value(body).ok();
    example
}

fn facts(path: &str, operation: &Operation, components: &Components) -> OperationFacts {
    let params = operation.parameters.as_deref().unwrap_or_default();
    let last_path_param =
        params.iter().filter(|p| p.parameter_in == ParameterIn::Path).map(|p| p.name.clone()).next_back().or_else(
            || path.rsplit('{').next().filter(|_| path.contains('{')).map(|s| s.trim_end_matches('}').to_owned()),
        );
    let first_query_param = params.iter().find(|p| p.parameter_in == ParameterIn::Query).map(|p| p.name.clone());
    let idempotent = params.iter().any(|p| p.parameter_in == ParameterIn::Header && p.name == "Idempotency-Key");
    let body_fields = operation
        .request_body
        .as_ref()
        .and_then(|b| b.content.get("application/json"))
        .and_then(|c| c.schema.as_ref())
        .and_then(|schema| match schema {
            RefOr::Ref(r) => components.schemas.get(r.ref_location.rsplit('/').next().unwrap_or_default()),
            RefOr::T(_) => Some(schema),
        })
        .map(|schema| match schema {
            // a request with rules across fields is its object and those rules (`allOf`), the object first
            RefOr::T(Schema::AllOf(all)) => match all.items.first() {
                Some(RefOr::T(Schema::Object(object))) => object_fields(object),
                _ => Vec::new(),
            },
            RefOr::T(Schema::Object(object)) => object_fields(object),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    OperationFacts {
        id: operation.operation_id.clone().unwrap_or_default(),
        last_path_param,
        body_fields,
        first_query_param,
        idempotent,
    }
}

/// An object's fields, required ones first.
fn object_fields(object: &utoipa::openapi::schema::Object) -> Vec<String> {
    let mut fields = object.required.clone();
    fields.extend(object.properties.keys().filter(|k| !object.required.contains(k)).cloned());
    fields
}

/// The named examples of one error status of one operation: (name, summary, body).
fn examples(status: u16, op: &OperationFacts) -> Vec<(&'static str, &'static str, ErrorBody)> {
    let body = |e: ApiError| e.body().clone();
    let merge = op.id.starts_with("contactMerge") && op.body_fields.iter().any(|f| f == "mergee_contact_id");
    match status {
        400 if op.body_fields.is_empty() && op.first_query_param.is_none() && op.idempotent => vec![(
            "invalid_value",
            "An invalid Idempotency-Key header",
            body(ApiError::new(
                bad(400),
                "The Idempotency-Key header is invalid",
                "Idempotency-Key",
                "invalid_value",
                "must be 1 to 255 visible ASCII characters",
            )),
        )],
        400 => {
            let (field, code, message) = match (op.body_fields.first(), &op.first_query_param) {
                (Some(field), _) => (field.clone(), "required", "is required"),
                (None, Some(query)) => (query.clone(), "invalid_query", "must be a positive integer"),
                (None, None) => ("body".to_owned(), "malformed_json", "expected value at line 1 column 1"),
            };
            vec![(
                code,
                "An invalid request",
                body(ApiError::new(bad(400), "The request is invalid", &field, code, message)),
            )]
        }
        401 => {
            vec![(
                "invalid_token",
                "An unknown or revoked token",
                body(ApiError::new(
                    bad(401),
                    "Unauthorized",
                    "api_access_token",
                    "invalid_token",
                    "Invalid Access Token",
                )),
            )]
        }
        404 => {
            let field = if merge {
                "mergee_contact_id".to_owned()
            } else if op.body_fields.iter().any(|f| f == "mergee_contact_ids") {
                "mergee_contact_ids[0]".to_owned()
            } else {
                op.last_path_param.clone().unwrap_or_else(|| "path".to_owned())
            };
            let mut out = vec![(
                "not_found",
                "No such resource in the account",
                body(ApiError::new(
                    bad(404),
                    "Resource could not be found",
                    &field,
                    "not_found",
                    "no such resource in the account",
                )),
            )];
            if ANSWER_MERGED.contains(&op.id.as_str()) {
                out.push((
                    "merged",
                    "The contact was merged away; `merged_into` names where it lives now",
                    body(contact_gone(&field, Some(ContactId::new(42)))),
                ));
            }
            out
        }
        413 => vec![("payload_too_large", "The body exceeds the size limit", body(crate::error::payload_too_large()))],
        415 => vec![("unsupported_media_type", "The body is not JSON", body(crate::error::unsupported_media_type()))],
        429 => vec![(
            "rate_limited",
            "Over the rate limit",
            body(ApiError::new(
                bad(429),
                "Too many requests",
                "api_access_token",
                "rate_limited",
                "this token is over its rate limit; retry in 1 s",
            )),
        )],
        409 if op.id.starts_with("contactMergeUndo") => vec![
            ("already_undone", "The merge was already undone", body(UndoError::AlreadyUndone.into())),
            (
                "undo_window_passed",
                "The merge is older than the undo window",
                body(UndoError::WindowPassed { days: 30 }.into()),
            ),
            (
                "merge_superseded",
                "The base was merged away since; `superseded_by` names the merge to undo first",
                body(UndoError::Superseded { base: 12, by: 17 }.into()),
            ),
            (
                "conflict",
                "Another contact now holds the mergee's email",
                body(UndoError::Conflict { field: "email" }.into()),
            ),
            (
                "not_undoable",
                "The merge was recorded before merges could be undone",
                body(UndoError::NotUndoable.into()),
            ),
        ],
        409 if op.id == "contactIdentityDelete" => vec![(
            "primary_identity",
            "The identity is the contact's own email, phone number or identifier",
            body(ContactsError::PrimaryIdentity { kind: IdentityKind::Email }.into()),
        )],
        409 => vec![(
            "conflict",
            "The request conflicts with the resource's state",
            body(ApiError::new(bad(409), "Conflict", "request", "conflict", "the resource changed; nothing was done")),
        )],
        422 => {
            let mut out = Vec::new();
            let taken_field = if op.id == "contactIdentityCreate" { "value" } else { "email" };
            if !merge && (op.body_fields.iter().any(|f| f == "email") || taken_field == "value") {
                let mut holder = Violations::default();
                holder.push_taken(taken_field, ContactId::new(42));
                out.push((
                    "taken",
                    "Another contact already holds the value; `contact_id` names it",
                    body(ContactsError::Invalid(holder).into()),
                ));
            } else if merge {
                let description = "The merged contact would be invalid; nothing was changed";
                out.push((
                    "taken",
                    "Another contact already holds the value",
                    body(ApiError::new(bad(422), description, "email", "taken", "has already been taken")),
                ));
            } else if let Some(field) = op.body_fields.first() {
                out.push((
                    "invalid_format",
                    "A field breaks a rule",
                    body(ApiError::new(
                        bad(422),
                        "The request could not be processed; nothing was changed",
                        field,
                        "invalid_format",
                        "is invalid",
                    )),
                ));
            }
            if op.idempotent {
                out.push((
                    "idempotency_key_reused",
                    "The Idempotency-Key was sent before with another request",
                    body(idempotency_key_reused()),
                ));
            }
            out
        }
        503 => vec![("service_unavailable", "The database is unavailable", body(ApiError::unavailable()))],
        _ => Vec::new(),
    }
}

fn bad(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, body_fields: &[&str]) -> OperationFacts {
        OperationFacts {
            id: id.to_owned(),
            last_path_param: Some("id".to_owned()),
            body_fields: body_fields.iter().map(|f| (*f).to_owned()).collect(),
            first_query_param: None,
            idempotent: true,
        }
    }

    fn codes(examples: &[(&str, &str, ErrorBody)]) -> Vec<String> {
        examples.iter().map(|(_, _, b)| b.errors[0].code.clone()).collect()
    }

    #[test]
    fn each_status_shows_its_own_code() {
        let merge = op("contactMerge", &["base_contact_id", "mergee_contact_id"]);
        assert_eq!(codes(&examples(401, &merge)), ["invalid_token"]);
        assert_eq!(codes(&examples(404, &merge)), ["not_found", "merged"]);
        assert_eq!(codes(&examples(422, &merge)), ["taken", "idempotency_key_reused"]);
        assert_eq!(codes(&examples(503, &merge)), ["service_unavailable"]);
        assert_eq!(codes(&examples(400, &merge)), ["required"]);
    }

    #[test]
    fn a_merged_example_names_where_the_contact_went() {
        let merged = examples(404, &op("contactDetails", &[]));
        let (_, _, body) = &merged[1];
        assert_eq!(body.errors[0].code, "merged");
        assert_eq!(body.merged_into, Some(42));
        assert_eq!(body.errors[0].field, "id");
    }

    #[test]
    fn only_operations_that_answer_merged_show_it() {
        assert_eq!(codes(&examples(404, &op("contactNoteList", &[]))), ["not_found"]);
    }
}
