//! `/api/v1/accounts/{account_id}/contacts/{id}/identities`: a contact's email addresses, phone numbers and
//! identifiers, primary and secondary; and `/contacts/lookup`, the contact that holds one.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use application::identities::{add_identity_in, delete_identity, list_identities, lookup_contact};
use domain::{ContactId, IdentityKind, Violations};
use serde::Deserialize;

use crate::auth::AccountMember;
use crate::dto::contacts::{contact_dto, ContactResponse};
use crate::dto::identities::{IdentityDto, IdentityListResponse, IdentityRequest, IdentityRequestSchema};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::{parse_query, path_id};

/// 400 for a value its kind refuses (a phone number without its country code, a malformed email).
fn normalized(kind: IdentityKind, value: &str, field: &str) -> Result<String, ApiError> {
    kind.normalize(value).map_err(|v| {
        let mut violations = Violations::default();
        violations.push_violation(field, v);
        ApiError::from_violations(StatusCode::BAD_REQUEST, "The request has invalid fields", violations)
    })
}

/// List Identities
///
/// The contact's email addresses, phone numbers and identifiers: its primaries (its own `email`,
/// `phone_number` and `identifier` fields) first, then its secondary ones, oldest first.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactIdentityList",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    responses(
        (status = 200, description = "Success", body = IdentityListResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}/identities")]
pub async fn identity_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let contact = path_id(&req, "id").map(ContactId::new);
    let identities = member.run(move |db, m| Ok(list_identities(db, m.account_id, contact?)?)).await?;
    Ok(HttpResponse::Ok().json(IdentityListResponse { payload: identities.iter().map(IdentityDto::from).collect() }))
}

/// Add Identity
///
/// Adds a secondary email address, phone number or identifier to the contact. Every identity, primary or
/// secondary, belongs to one contact of the account at most: a value any contact holds is 422 `taken`, with
/// the holder's id in the error's `contact_id`.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactIdentityCreate",
    params(
        IdempotencyKeyHeader,
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    request_body(content = IdentityRequestSchema, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = IdentityDto),
        (status = 400, description = "Malformed body, unknown kind, or a value its kind refuses", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 422, description = "A contact of the account already holds the value", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contacts/{id}/identities")]
pub async fn identity_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input = path_id(&req, "id").and_then(|contact| {
        let (kind, value) = parse_body::<IdentityRequest>(&req, &body)?.identity();
        Ok((ContactId::new(contact), kind, normalized(kind, &value, "value")?))
    });
    create_idempotently(
        member,
        &req,
        &body,
        input,
        |tx, m, (contact, kind, value)| add_identity_in(tx, m.account_id, contact, kind, &value),
        |identity| IdentityDto::from(identity),
    )
    .await
}

/// Delete Identity
///
/// Deletes a secondary identity of the contact; answers 200 with an empty body. A primary one (the contact's
/// own `email`, `phone_number` or `identifier`) is changed or cleared through the contact instead: 409
/// `primary_identity`.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactIdentityDelete",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
        ("identity_id" = i64, Path, minimum = 1, description = "ID of the identity"),
    ),
    responses(
        (status = 200, description = "Deleted; empty body"),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact or identity not found", body = ErrorBody),
        (status = 409, description = "The identity is one of the contact's primaries (`primary_identity`)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[delete("/api/v1/accounts/{account_id}/contacts/{id}/identities/{identity_id}")]
pub async fn identity_delete(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let ids = path_id(&req, "id").and_then(|c| Ok((ContactId::new(c), path_id(&req, "identity_id")?)));
    member
        .run(move |db, m| {
            let (contact, identity) = ids?;
            Ok(delete_identity(db, m.account_id, contact, identity)?)
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}

#[derive(Debug, Default, Deserialize)]
struct LookupQuery {
    email: Option<String>,
    phone_number: Option<String>,
    identifier: Option<String>,
}

/// The one identity a lookup asks for.
fn lookup_query(req: &HttpRequest) -> Result<(IdentityKind, String), ApiError> {
    let q: LookupQuery = parse_query(req)?;
    let given: Vec<(IdentityKind, String)> = [
        (IdentityKind::Email, q.email),
        (IdentityKind::PhoneNumber, q.phone_number),
        (IdentityKind::Identifier, q.identifier),
    ]
    .into_iter()
    .filter_map(|(kind, value)| value.map(|v| (kind, v)))
    .collect();
    let [(kind, value)] = <[_; 1]>::try_from(given).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "The query string is invalid",
            "query",
            "invalid_query",
            "give exactly one of email, phone_number and identifier",
        )
    })?;
    if value.contains('\0') {
        // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database
        let mut v = Violations::default();
        v.push(kind.as_str(), "invalid_value", "must not contain NUL (U+0000) characters");
        return Err(ApiError::from_violations(StatusCode::BAD_REQUEST, "The query string is invalid", v));
    }
    let value = normalized(kind, &value, kind.as_str())?;
    Ok((kind, value))
}

/// Look Up Contact
///
/// The contact that holds the email address, phone number or identifier, as its own field or as a secondary
/// identity, after normalization (`ADA@example.com` finds `ada@example.com`, `+49 151 1234-5678` finds
/// `+4915112345678`). Give exactly one of the three. The call an integration makes before it creates a
/// contact: 404 means nobody has it yet.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactLookup",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("email" = Option<String>, Query, format = Email, max_length = 254, description = "An email address (compared in lower case); give exactly one of the three"),
        ("phone_number" = Option<String>, Query, pattern = r"^\+[1-9][0-9 ().\-/]{1,40}$", description = "A phone number with its country code, in E.164 or a common written form"),
        ("identifier" = Option<String>, Query, min_length = 1, max_length = 255, pattern = r"\S", description = "An identifier in an external system"),
    ),
    responses(
        (status = 200, description = "The contact holding the identity", body = ContactResponse),
        (status = 400, description = "Not exactly one of the three, or a value its kind refuses", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "No contact of the account holds it", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/lookup")]
pub async fn contact_lookup(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = lookup_query(&req);
    let contact = member
        .run(move |db, m| {
            let (kind, value) = query?;
            Ok(lookup_contact(db, m.account_id, kind, &value)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ContactResponse { payload: contact_dto(&contact) }))
}
