//! `GET`/`POST /api/v1/accounts/{account_id}/webhooks` and `DELETE …/webhooks/{webhook_id}`: subscriptions to
//! signed event deliveries (administrators only).

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use application::webhooks::{create_webhook_in, delete_webhook, list_webhooks, Webhook, WebhookError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::AccountMember;
use crate::dto::parse_body;
use crate::error::{idempotency_key_reused, ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::path_id;

/// Body of `POST …/webhooks`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed (http or https).
    #[validate(length(min = 1, max = 2048))]
    #[schema(example = "https://crm.example.com/coalesce", max_length = 2048)]
    pub url: String,
    /// Events to deliver: `contact_created`, `contact_updated`, `contact_deleted`, `contact_merged`,
    /// `contact_unmerged`.
    #[validate(length(min = 1, max = 5))]
    #[schema(example = json!(["contact_merged"]), min_items = 1)]
    pub subscriptions: Vec<String>,
}

/// How a webhook's deliveries went.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookStatusDto {
    pub delivered: u64,
    /// Waiting for their first attempt or a retry.
    pub pending: u64,
    /// Given up after the last attempt.
    pub failed: u64,
    /// The most recent delivery error.
    pub last_error: Option<String>,
    /// Unix seconds.
    pub last_delivered_at: Option<i64>,
}

/// A webhook. Deliveries are POSTed with `X-Coalesce-Signature: sha256=<hex HMAC-SHA256 of the body keyed with
/// secret>`, `X-Coalesce-Event` and `X-Coalesce-Event-Id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub account_id: i64,
    pub url: String,
    pub subscriptions: Vec<String>,
    /// The key deliveries are signed with.
    pub secret: String,
    pub status: WebhookStatusDto,
}

impl From<&Webhook> for WebhookDto {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id,
            account_id: w.account_id.get(),
            url: w.url.clone(),
            subscriptions: w.subscriptions.clone(),
            secret: w.secret.clone(),
            status: WebhookStatusDto {
                delivered: w.stats.delivered,
                pending: w.stats.pending,
                failed: w.stats.failed,
                last_error: w.stats.last_error.clone(),
                last_delivered_at: w.stats.last_delivered_at.map(|t| t.timestamp()),
            },
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(v) => {
                Self::from_violations(StatusCode::UNPROCESSABLE_ENTITY, "The webhook is invalid", v)
            }
            WebhookError::AdministratorRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "api_access_token",
                "administrator_required",
                "only administrators of the account can do this",
            ),
            WebhookError::NotFound => Self::not_found("webhook_id", "no webhook with this id in the account"),
            WebhookError::IdempotencyKeyReused => idempotency_key_reused(),
            WebhookError::Unavailable => Self::unavailable(),
            WebhookError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// List all webhooks
///
/// The account's webhooks with the status of their deliveries. Administrators only.
#[utoipa::path(
    tag = "Webhooks",
    operation_id = "list-all-webhooks",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account")),
    responses(
        (status = 200, description = "Success", body = Vec<WebhookDto>),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/webhooks")]
pub async fn webhook_list(member: AccountMember) -> Result<HttpResponse, ApiError> {
    let webhooks = member.run(move |db, m| Ok(list_webhooks(db, &m)?)).await?;
    Ok(HttpResponse::Ok().json(webhooks.iter().map(WebhookDto::from).collect::<Vec<_>>()))
}

/// Add a webhook
///
/// Subscribes a URL to contact events. Each delivery is signed with the webhook's secret; failed deliveries are
/// retried with exponential backoff and given up after a bounded number of attempts (see its `status`).
/// Administrators only. Accepts `Idempotency-Key`.
#[utoipa::path(
    tag = "Webhooks",
    operation_id = "create-a-webhook",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        IdempotencyKeyHeader
    ),
    request_body(content = CreateWebhookRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = WebhookDto),
        (status = 400, description = "Bad Request Error", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 422, description = "Invalid URL or events, URL already subscribed, or Idempotency-Key reused", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/webhooks")]
pub async fn webhook_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request = parse_body::<CreateWebhookRequest>(&req, &body);
    create_idempotently(
        member,
        &req,
        &body,
        request,
        |tx, m, request| create_webhook_in(tx, &m, &request.url, &request.subscriptions),
        |webhook| WebhookDto::from(webhook),
    )
    .await
}

/// Delete a webhook
///
/// Deletes the webhook and its pending deliveries. Administrators only.
#[utoipa::path(
    tag = "Webhooks",
    operation_id = "delete-a-webhook",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("webhook_id" = i64, Path, minimum = 1, description = "The webhook's id")
    ),
    responses(
        (status = 200, description = "Success"),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "No such webhook in the account", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[delete("/api/v1/accounts/{account_id}/webhooks/{webhook_id}")]
pub async fn webhook_delete(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "webhook_id");
    member.run(move |db, m| Ok(delete_webhook(db, &m, id?)?)).await?;
    Ok(HttpResponse::Ok().finish())
}
