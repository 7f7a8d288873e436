//! The outermost middleware: gives every request its id (`X-Request-Id`, see `log_context`), runs the rest of
//! the app with that id current, and once the response is ready puts the id on it, counts and times the
//! request (`metrics`) and writes its access-log line.
//!
//! The access line carries the method, path (never the query string: search terms are personal data), route
//! pattern, status, duration, account id and peer address as structured fields; headers, and so tokens, are
//! never logged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::log_context::{self, RequestId, Scoped, HEADER};
use crate::metrics;

/// The log target of access lines (`RUST_LOG=access=warn` silences them).
pub const ACCESS_TARGET: &str = "access";

/// Requests this process is answering right now (every one passes this middleware).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How many requests this process is answering right now: background work (the duplicates worker) yields more
/// while there are any.
pub fn requests_in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Relaxed)
}

/// Counts a request in flight until it is dropped (answered, failed or cancelled).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware (`actix_web::middleware::from_fn`); wrap it last, so that it sees every response, the rate
/// limiter's 429s and the default service's 404s included.
///
/// # Errors
/// Whatever the wrapped service returns (actix turns it into a response; such a response carries no id).
pub async fn observe<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = Instant::now();
    let _in_flight = InFlight::enter();
    let id = RequestId::from_headers(req.headers());
    let method = req.method().clone();
    let path = req.path().to_owned();
    let peer = req.peer_addr().map(|a| a.ip().to_string());
    let mut response = match Scoped::new(id.clone(), next.call(req)).await {
        Ok(response) => response,
        Err(e) => {
            let _current = log_context::enter(Some(id));
            log::error!(target: ACCESS_TARGET, "{method} {path} failed in the service: {e}");
            return Err(e);
        }
    };
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(HeaderName::from_static(HEADER), value);
    }
    let status = response.status();
    // The pattern is found again from the path (actix's resource map), so a request answered before routing
    // (a 429) still gets its route; a path no route matches gets the fixed label.
    let route = response.request().match_pattern();
    metrics::record_request(&method, route.as_deref(), status, elapsed);
    let account_id = response.request().match_info().get("account_id").and_then(|a| a.parse::<i64>().ok());
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let route = route.as_deref().unwrap_or(metrics::UNMATCHED_ROUTE);
    let _current = log_context::enter(Some(id));
    log::info!(
        target: ACCESS_TARGET,
        method = method.as_str(),
        path = path.as_str(),
        route = route,
        status = status.as_u16(),
        duration_ms = (duration_ms * 1000.0).round() / 1000.0,
        account_id = account_id,
        peer = peer.as_deref();
        "request"
    );
    Ok(response)
}
