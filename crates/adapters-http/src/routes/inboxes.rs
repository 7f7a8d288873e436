//! `/api/v1/accounts/{account_id}/inboxes`: list, create and show inboxes.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::inboxes::{create_inbox_in, list_inboxes, show_inbox};
use domain::InboxId;

use crate::auth::AccountMember;
use crate::dto::inboxes::{InboxCreateRequest, InboxListResponse};
use crate::dto::{parse_body, InboxDto};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::create_idempotently;
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
    create_idempotently(
        state,
        &req,
        &body,
        account,
        move |tx| create_inbox_in(tx, account, &name, &channel_type),
        |inbox| InboxDto::from(inbox),
    )
    .await
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
