//! `/api/v1/accounts/{account_id}/inboxes`: list, create and show inboxes.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::idempotency::execute;
use application::inboxes::{create_inbox_in, list_inboxes, show_inbox};
use domain::InboxId;

use crate::auth::AccountMember;
use crate::dto::inboxes::{InboxCreateRequest, InboxListResponse};
use crate::dto::{parse_body, InboxDto};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{encode, idempotency_request, respond};
use crate::params::path_id;
use crate::AppState;

/// List Inboxes
///
/// The account's inboxes, oldest first.
#[utoipa::path(
    tag = "Inboxes",
    operation_id = "listAllInboxes",
    params(("account_id" = i64, Path, description = "The numeric ID of the account")),
    responses(
        (status = 200, description = "Success", body = InboxListResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/inboxes")]
pub async fn inbox_list(member: AccountMember, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account = member.0.account_id;
    let inboxes = web::block(move || list_inboxes(state.db.as_ref(), account)).await??;
    Ok(HttpResponse::Ok().json(InboxListResponse { payload: inboxes.iter().map(InboxDto::from).collect() }))
}

/// Create an Inbox
///
/// Creates an API channel inbox (`{"name": "…", "channel": {"type": "api"}}`). Other channel types need
/// integrations this service does not have and are refused with 422.
#[utoipa::path(
    tag = "Inboxes",
    operation_id = "inboxCreation",
    params(
        ("account_id" = i64, Path, description = "The numeric ID of the account"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: replays the first response for 24 hours"),
    ),
    request_body(content = InboxCreateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = InboxDto),
        (status = 400, description = "Malformed body, missing name or channel", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 422, description = "Unsupported channel type", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/inboxes")]
pub async fn inbox_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request: InboxCreateRequest = parse_body(&req, &body)?;
    let account = member.0.account_id;
    let (name, channel_type) = (request.name(), request.channel_type());
    let idempotency = idempotency_request(&req, &body)?;
    let executed = web::block(move || {
        execute(
            state.db.as_ref(),
            account,
            idempotency.as_ref(),
            |tx| create_inbox_in(tx, account, &name, &channel_type),
            |inbox| encode(StatusCode::OK, &InboxDto::from(inbox)),
        )
    })
    .await??;
    Ok(respond(executed))
}

/// Get an Inbox
#[utoipa::path(
    tag = "Inboxes",
    operation_id = "GetInbox",
    params(
        ("account_id" = i64, Path, description = "The numeric ID of the account"),
        ("id" = i64, Path, description = "ID of the inbox"),
    ),
    responses(
        (status = 200, description = "Success", body = InboxDto),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Inbox not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/inboxes/{id}")]
pub async fn inbox_details(
    member: AccountMember,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = InboxId::new(path_id(&req, "id")?);
    let account = member.0.account_id;
    let inbox = web::block(move || show_inbox(state.db.as_ref(), account, id)).await??;
    Ok(HttpResponse::Ok().json(InboxDto::from(&inbox)))
}
