//! The HTTP adapter: actix-web routes, request/response DTOs (serde + utoipa + validator), authentication,
//! the one error envelope, and the OpenAPI document with its Swagger UI.
//!
//! Handlers are thin: parse and validate the request, authenticate and run the use case on the blocking pool
//! in one hand-off (`auth::AccountMember::run`; diesel is blocking), map the outcome. Every error leaves through [`error::ApiError`].

pub mod auth;
pub mod dto;
pub mod error;
pub mod idempotency;
pub mod log_context;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod rate_limit;
pub mod route_table;
pub mod routes;
pub mod telemetry;
pub mod token;

use std::sync::Arc;

use actix_web::web;
use application::webhook_targets::TargetPolicy;
use application::Database;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<dyn Database>,
    /// Where webhooks may point (checked when one is registered).
    pub webhook_targets: Arc<TargetPolicy>,
    /// How many days after a merge it may be undone (`COALESCE_UNDO_WINDOW_DAYS`).
    pub undo_window_days: u32,
}

/// The default undo window, in days.
pub const DEFAULT_UNDO_WINDOW_DAYS: u32 = 30;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests per access token, and per address without a known token.
    pub rate: rate_limit::RateLimitConfig,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024, rate: rate_limit::RateLimitConfig::default() }
    }
}

/// Registers the whole API, the OpenAPI document and Swagger UI on an actix `App`. The rate limiter is shared
/// by every worker of the process; wrap the `App` with [`rate_limit::limit_per_token`] to enforce it.
pub fn configure(
    state: AppState,
    limits: HttpLimits,
    limiter: web::Data<rate_limit::RateLimiter>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state)).app_data(limiter).app_data(web::PayloadConfig::new(limits.max_body_bytes));
        routes::register(cfg);
        openapi::register(cfg);
        cfg.default_service(web::to(route_table::unmatched_route));
    }
}
