//! `/api/v1/accounts/{account_id}/inboxes`: list, create and show inboxes.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::inboxes::{create_inbox_in, list_inboxes, show_inbox};
use domain::InboxId;

use crate::auth::AccountMember;
use crate::dto::inboxes::{InboxCreateRequest, InboxListResponse};
use crate::dto::{parse_body, InboxDto};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::path_id;

/// List Inboxes
///
/// The account's inboxes, oldest first.
#[utoipa::path(
    tag = "Inboxes",
    operation_id = "listAllInboxes",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account")),
    responses(
        (status = 200, description = "Success", body = InboxListResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/inboxes")]
pub async fn inbox_list(member: AccountMember) -> Result<HttpResponse, ApiError> {
    let inboxes = member.run(move |db, m| Ok(list_inboxes(db, m.account_id)?)).await?;
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
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        IdempotencyKeyHeader,
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
pub async fn inbox_create(member: AccountMember, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let input = parse_body::<InboxCreateRequest>(&req, &body).map(|r| (r.name(), r.channel_type()));
    create_idempotently(
        member,
        &req,
        &body,
        input,
        |tx, m, (name, channel_type)| create_inbox_in(tx, m.account_id, &name, &channel_type),
        |inbox| InboxDto::from(inbox),
    )
    .await
}

/// Get an Inbox
#[utoipa::path(
    tag = "Inboxes",
    operation_id = "GetInbox",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the inbox"),
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
pub async fn inbox_details(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id").map(InboxId::new);
    let inbox = member.run(move |db, m| Ok(show_inbox(db, m.account_id, id?)?)).await?;
    Ok(HttpResponse::Ok().json(InboxDto::from(&inbox)))
}
