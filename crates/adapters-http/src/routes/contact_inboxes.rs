//! `POST /api/v1/accounts/{account_id}/contacts/{id}/contact_inboxes`: make a contact reachable in an inbox.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use application::contacts::add_contact_inbox_in;
use application::idempotency::execute;
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::contacts::{ContactInboxCreatedDto, ContactInboxRequest};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{encode, idempotency_request, respond};
use crate::params::path_id;
use crate::AppState;

/// Create Contact Inbox
///
/// Gives the contact an address (`source_id`, generated when absent) in an inbox; conversations can then be
/// started with that source id.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactInboxCreation",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: replays the first response for 24 hours"),
        ("account_id" = i64, Path, description = "The numeric ID of the account"),
        ("id" = i64, Path, description = "ID of the contact"),
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ContactId::new(path_id(&req, "id")?);
    let request: ContactInboxRequest = parse_body(&req, &body)?;
    let account = member.0.account_id;
    let (inbox, source_id) = (request.inbox_id(), request.source_id());
    let idempotency = idempotency_request(&req, &body)?;
    let executed = web::block(move || {
        execute(
            state.db.as_ref(),
            account,
            idempotency.as_ref(),
            |tx| add_contact_inbox_in(tx, account, id, inbox, source_id.as_deref()),
            |created| encode(StatusCode::OK, &ContactInboxCreatedDto::from(created)),
        )
    })
    .await??;
    Ok(respond(executed))
}
