//! The composition root: configuration, the wiring of adapters to use cases, and the HTTP server. The
//! `coalesce` binary (`main.rs`) is a thin command-line front end over this library, which the black-box tests
//! also use to start the real server in-process.

pub mod background;
pub mod cli;
pub mod counts_worker;
pub mod duplicates_worker;
pub mod logging;
pub mod metrics;
pub mod resolver;
pub mod webhook_worker;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use adapters_http::rate_limit::{limit_per_token, RateLimiter};
use adapters_http::{AppState, HttpLimits};
use adapters_postgres::PgDatabase;
use application::webhook_targets::TargetPolicy;

/// Settings of one `coalesce serve` process.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub limits: HttpLimits,
    /// Worker threads; 0 means one per core. Each worker gets its share of the pool's connections as blocking
    /// threads (where the database work runs).
    pub workers: usize,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// Where webhooks may point (public addresses only unless private ones are allowed).
    pub webhook_targets: Arc<TargetPolicy>,
    /// How many days after a merge it may be undone.
    pub undo_window_days: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            limits: HttpLimits::default(),
            workers: 0,
            shutdown_timeout: Duration::from_secs(10),
            webhook_targets: webhook_targets(false),
            undo_window_days: adapters_http::DEFAULT_UNDO_WINDOW_DAYS,
        }
    }
}

/// The address rule for webhooks, with the system's resolver; `allow_private` lifts it (development, tests).
pub fn webhook_targets(allow_private: bool) -> Arc<TargetPolicy> {
    Arc::new(TargetPolicy::new(Arc::new(resolver::SystemResolver::default()), allow_private))
}

/// Builds the HTTP server on an already bound listener. It stops gracefully on SIGTERM and SIGINT: in-flight
/// requests finish (up to the shutdown timeout), new connections are refused.
///
/// # Errors
/// When the listener cannot be used.
pub fn http_server(listener: TcpListener, db: PgDatabase, settings: &ServerSettings) -> std::io::Result<Server> {
    let max_connections = db.max_connections();
    let state = AppState {
        db: Arc::new(db),
        webhook_targets: Arc::clone(&settings.webhook_targets),
        undo_window_days: settings.undo_window_days,
    };
    let limits = settings.limits;
    let limiter = web::Data::new(RateLimiter::new(limits.rate));
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(limit_per_token))
            .wrap(adapters_http::error::envelope_errors())
            // outermost: every response gets the request id, is counted and logged (never its headers or token)
            .wrap(from_fn(adapters_http::telemetry::observe))
            .configure(adapters_http::configure(state.clone(), limits, limiter.clone()))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .listen(listener)?;
    let workers = if settings.workers > 0 {
        settings.workers
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    };
    // Every blocking call is database work that holds one pooled connection, so threads beyond the pool's size
    // could only wait for a connection; and fewer threads stay warm: with tokio's default (hundreds, a new one
    // whenever none is idle at that instant) GET contact ran about 8% slower and cost 10% more CPU per request.
    let blocking_threads = usize::try_from(max_connections).unwrap_or(1).div_ceil(workers).max(1);
    server = server.workers(workers).worker_max_blocking_threads(blocking_threads);
    Ok(server.run())
}
