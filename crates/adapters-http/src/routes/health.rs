//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::log_context::block;
use crate::AppState;

/// Probe answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(tag = "Health", operation_id = "health", responses((status = 200, body = HealthStatus)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(
    tag = "Health",
    operation_id = "ready",
    responses((status = 200, body = HealthStatus), (status = 503, body = crate::error::ErrorBody))
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    if block(move || db.ping()).await? {
        Ok(HttpResponse::Ok().json(HealthStatus { status: "ready" }))
    } else {
        Err(ApiError::unavailable())
    }
}
