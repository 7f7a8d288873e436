//! `POST /api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes`: make a contact reachable in an inbox.

use actix_web::{post, web, HttpRequest, HttpResponse};
use application::contacts::add_contact_inbox_in;
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::contacts::{ContactInboxCreatedDto, ContactInboxRequest};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::path_id;

/// Create Contact Inbox
///
/// Gives the contact an address (`source_id`, generated when absent) in an inbox; conversations can then be
/// started with that source id.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactInboxCreation",
    params(
        IdempotencyKeyHeader,
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    request_body(content = ContactInboxRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = ContactInboxCreatedDto),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact or inbox not found", body = ErrorBody),
        (status = 422, description = "The source id is already taken in the inbox", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes")]
pub async fn contact_inbox_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input = path_id(&req, "id").and_then(|id| {
        let request = parse_body::<ContactInboxRequest>(&req, &body)?;
        Ok((ContactId::new(id), request.inbox_id(), request.source_id()))
    });
    create_idempotently(
        member,
        &req,
        &body,
        input,
        |tx, m, (id, inbox, source_id)| add_contact_inbox_in(tx, m.account_id, id, inbox, source_id.as_deref()),
        |created| ContactInboxCreatedDto::from(created),
    )
    .await
}
