//! Per-token rate limiting: a token bucket per access token (keyed by the token's digest, never the token),
//! refilled at a steady rate with a burst allowance. Over the limit a request gets 429 with `Retry-After`
//! before any work is done. Buckets live in the process: with several processes each enforces its own share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use application::auth::token_digest;

use crate::error::ApiError;

/// How fast each token may call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Sustained requests per second; 0 turns the limit off.
    pub per_second: f64,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { per_second: 100.0, burst: 200.0 }
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The buckets of every token seen recently.
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<Vec<u8>, Bucket>>,
}

/// Above this many buckets, full (idle) ones are dropped: they would allow a full burst anyway.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Self {
        Self { config, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s bucket; `Err(wait)` when it is empty.
    ///
    /// # Errors
    /// How long until a request would be allowed again.
    pub fn check(&self, key: &[u8], now: Instant) -> Result<(), Duration> {
        let RateLimitConfig { per_second, burst } = self.config;
        if per_second <= 0.0 {
            return Ok(());
        }
        let capacity = burst.max(1.0);
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.refilled).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(key.to_vec()).or_insert(Bucket { tokens: capacity, refilled: now });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// The token a request carries, from any header authentication reads.
fn request_token(req: &ServiceRequest) -> Option<String> {
    crate::auth::token_from_headers(req.headers())
}

/// Middleware (`actix_web::middleware::from_fn`): 429 for a token over its limit.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn limit_per_token<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
    if let (Some(limiter), Some(token)) = (limiter, request_token(&req)) {
        if let Err(wait) = limiter.check(&token_digest(&token), Instant::now()) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                "api_access_token",
                "rate_limited",
                &format!("this token is over its rate limit; retry in {seconds} s"),
            )
            .error_response();
            if let Ok(value) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 2.0, burst: 3.0 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(b"a", t0), Ok(()));
        }
        let wait = limiter.check(b"a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert_eq!(limiter.check(b"b", t0), Ok(()), "tokens have separate buckets");
        assert_eq!(limiter.check(b"a", t0 + Duration::from_millis(500)), Ok(()));
        assert!(limiter.check(b"a", t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 0.0, burst: 0.0 });
        let now = Instant::now();
        assert!((0..1000).all(|_| limiter.check(b"a", now).is_ok()));
    }
}
