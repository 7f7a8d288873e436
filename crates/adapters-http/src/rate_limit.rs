//! Rate limiting, answered before any work is done (429 with `Retry-After`, in the error envelope):
//!
//! - **per access token**: a GCRA budget per token (keyed by the token's digest, never the token), refilled at
//!   a steady rate with a burst allowance;
//! - **per client address** for requests that carry no token, or a token not (yet) seen to authenticate: a
//!   client sending a fresh random token with every request would otherwise get a fresh full budget each time,
//!   so token guessing and floods of anonymous requests would go unchecked. The address is the TCP peer's
//!   (`X-Forwarded-For` is not trusted: any client can write it); IPv6 peers are grouped by /64, the block one
//!   host usually holds.
//!
//! A token becomes "known" when authentication finds it (whatever the rest of the check says: a member of
//! another account is still a real token) and stops being known when authentication says it is invalid
//! (revoked). Authentication reports that through [`TokenVerdict`], which this middleware puts in the request's
//! extensions. So a valid token's very first request also draws on its address's budget: behind an address
//! that floods, a token never used since the process started waits like everyone there, one already used does
//! not. The health probes (`/health`, `/ready`) carry no token and are not limited per address. The limiters are `governor`'s keyed GCRA limiters (sharded maps, no global lock); all state
//! lives in the process, so with several processes each enforces its own share.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use application::auth::token_digest;
use dashmap::DashSet;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

use crate::error::ApiError;

/// How fast clients may call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// Sustained requests per second per access token; 0 turns the per-token limit off.
    pub per_second: f64,
    /// Requests per token allowed in a burst above the sustained rate.
    pub burst: f64,
    /// Requests per minute per client address that carry no token or one not known to be valid (also the
    /// burst); 0 turns the per-address limit off.
    pub unauthenticated_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { per_second: 100.0, burst: 200.0, unauthenticated_per_minute: 60 }
    }
}

/// A SHA-256 token digest.
type Digest = [u8; 32];

type Keyed<K, C> = governor::RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    Token(Duration),
    Address(Duration),
}

/// What authentication found out about the request's token; set by the `auth` extractors, read here after the
/// response.
#[derive(Debug, Clone, Default)]
pub struct TokenVerdict(Arc<AtomicU8>);

/// (The initial 0: authentication did not run, e.g. on a route without it; nothing is learnt.)
const FOUND: u8 = 1;
const NOT_FOUND: u8 = 2;

impl TokenVerdict {
    /// The token exists (it belongs to a user or a platform app).
    pub fn found(&self) {
        self.0.store(FOUND, Ordering::Relaxed);
    }

    /// No such token.
    pub fn not_found(&self) {
        self.0.store(NOT_FOUND, Ordering::Relaxed);
    }
}

/// The budgets of every token and address seen recently.
pub struct RateLimiter<C: Clock + Clone = DefaultClock> {
    per_token: Option<Keyed<Digest, C>>,
    per_address: Option<Keyed<IpAddr, C>>,
    known_tokens: DashSet<Digest>,
    clock: C,
    checks: AtomicU64,
}

/// Every this many checks, budgets that are full again are dropped (a fresh budget is the same thing).
const PRUNE_EVERY: u64 = 4096;
/// More known tokens than this are forgotten at once (they are learnt again on their next request).
const MAX_KNOWN_TOKENS: usize = 100_000;

impl RateLimiter<DefaultClock> {
    pub fn new(config: RateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    pub fn with_clock(config: RateLimitConfig, clock: C) -> Self {
        let per_token = (config.per_second > 0.0)
            .then(|| Quota::with_period(token_period(config.per_second)))
            .flatten()
            .map(|quota| quota.allow_burst(nonzero(config.burst)));
        let per_address = NonZeroU32::new(config.unauthenticated_per_minute).map(Quota::per_minute);
        Self {
            per_token: per_token.map(|q| governor::RateLimiter::new(q, DashMapStateStore::default(), clock.clone())),
            per_address: per_address
                .map(|q| governor::RateLimiter::new(q, DashMapStateStore::default(), clock.clone())),
            known_tokens: DashSet::new(),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from the budgets that apply: a known token's own; for an unknown token or none, the
    /// peer address's first (so that random tokens cannot fill the token map), then the token's.
    ///
    /// # Errors
    /// The budget that is exhausted, and how long until a request would be allowed again.
    pub fn admit(&self, token: Option<&Digest>, peer: Option<IpAddr>) -> Result<(), Exhausted> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        let known = token.is_some_and(|t| self.known_tokens.contains(t));
        if !known {
            if let (Some(limiter), Some(peer)) = (&self.per_address, peer) {
                limiter
                    .check_key(&address_key(peer))
                    .map_err(|not_until| Exhausted::Address(not_until.wait_time_from(self.clock.now())))?;
            }
        }
        if let (Some(limiter), Some(token)) = (&self.per_token, token) {
            limiter
                .check_key(token)
                .map_err(|not_until| Exhausted::Token(not_until.wait_time_from(self.clock.now())))?;
        }
        Ok(())
    }

    /// Records what authentication said about a token.
    fn learn(&self, token: Digest, verdict: &TokenVerdict) {
        match verdict.0.load(Ordering::Relaxed) {
            // Most requests carry a token already known: only a new one takes a write lock (and counts).
            FOUND if !self.known_tokens.contains(&token) => {
                if self.known_tokens.len() >= MAX_KNOWN_TOKENS {
                    self.known_tokens.clear();
                }
                self.known_tokens.insert(token);
            }
            NOT_FOUND => {
                self.known_tokens.remove(&token);
            }
            // Already known, or authentication did not run (a route without it): nothing to learn.
            _ => {}
        }
    }

    fn prune(&self) {
        if let Some(l) = &self.per_token {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_address {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The interval at which a token's budget gains one request, kept between 1 ns and a day.
fn token_period(per_second: f64) -> Duration {
    let day = Duration::from_secs(86_400);
    Duration::try_from_secs_f64(1.0 / per_second).map_or(day, |p| p.clamp(Duration::from_nanos(1), day))
}

fn nonzero(burst: f64) -> NonZeroU32 {
    // Saturating float-to-int cast: a burst above u32::MAX is as good as unlimited.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = burst.max(1.0).round() as u32;
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// The budget an address draws on: IPv4 as is (also when written IPv4-mapped), IPv6 by its /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// The digest of the token a request carries, from any header authentication reads.
fn request_token(req: &ServiceRequest) -> Option<Digest> {
    let token = crate::token::token_from_headers(req.headers())?;
    Digest::try_from(token_digest(&token).as_slice()).ok()
}

/// Middleware (`actix_web::middleware::from_fn`): 429 for a token over its budget, and for requests without
/// a known token from an address over its budget.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn limit_per_token<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(limiter) = req.app_data::<web::Data<RateLimiter>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let token = request_token(&req);
    let probe = matches!(req.path(), "/health" | "/ready");
    let peer = req.peer_addr().map(|a| a.ip()).filter(|_| !probe);
    if let Err(exhausted) = limiter.admit(token.as_ref(), peer) {
        let response = too_many_requests(exhausted);
        return Ok(req.into_response(response).map_into_right_body());
    }
    let verdict = TokenVerdict::default();
    if token.is_some() {
        req.extensions_mut().insert(verdict.clone());
    }
    let response = next.call(req).await?;
    if let Some(token) = token {
        limiter.learn(token, &verdict);
    }
    Ok(response.map_into_left_body())
}

fn too_many_requests(exhausted: Exhausted) -> actix_web::HttpResponse {
    let (wait, whose, budget) = match exhausted {
        Exhausted::Token(wait) => (wait, "this token is over its rate limit", "token"),
        Exhausted::Address(wait) => (wait, "too many requests without a valid token from this address", "address"),
    };
    crate::metrics::rate_limited(budget);
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "api_access_token",
        "rate_limited",
        &format!("{whose}; retry in {seconds} s"),
    )
    .error_response();
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter(per_second: f64, burst: f64, per_minute: u32) -> (RateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let config = RateLimitConfig { per_second, burst, unauthenticated_per_minute: per_minute };
        (RateLimiter::with_clock(config, clock.clone()), clock)
    }

    fn known(limiter: &RateLimiter<FakeRelativeClock>, token: Digest) {
        let verdict = TokenVerdict::default();
        verdict.found();
        limiter.learn(token, &verdict);
    }

    #[test]
    fn a_token_bursts_then_refills_at_the_rate() {
        let (limiter, clock) = limiter(2.0, 3.0, 0);
        let (a, b) = ([1; 32], [2; 32]);
        for _ in 0..3 {
            assert_eq!(limiter.admit(Some(&a), None), Ok(()));
        }
        let Err(Exhausted::Token(wait)) = limiter.admit(Some(&a), None) else { panic!("not limited") };
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert_eq!(limiter.admit(Some(&b), None), Ok(()), "tokens have separate budgets");
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiter.admit(Some(&a), None), Ok(()));
        assert!(limiter.admit(Some(&a), None).is_err());
    }

    #[test]
    fn unknown_tokens_and_no_token_share_the_address_budget() {
        let (limiter, clock) = limiter(100.0, 200.0, 3);
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        let there: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(limiter.admit(Some(&[1; 32]), Some(here)), Ok(()));
        assert_eq!(limiter.admit(Some(&[2; 32]), Some(here)), Ok(()));
        assert_eq!(limiter.admit(None, Some(here)), Ok(()));
        let Err(Exhausted::Address(wait)) = limiter.admit(Some(&[3; 32]), Some(here)) else { panic!("not limited") };
        assert_eq!(wait, Duration::from_secs(20), "3 a minute: one more every 20 s");
        assert_eq!(limiter.admit(None, Some(there)), Ok(()), "another address has its own budget");

        let valid = [9; 32];
        known(&limiter, valid);
        assert_eq!(limiter.admit(Some(&valid), Some(here)), Ok(()), "a known token is not held by its address");

        let revoked = TokenVerdict::default();
        revoked.not_found();
        limiter.learn(valid, &revoked);
        assert!(limiter.admit(Some(&valid), Some(here)).is_err(), "a revoked token is unknown again");
        clock.advance(Duration::from_secs(20));
        assert_eq!(limiter.admit(None, Some(here)), Ok(()));
    }

    #[test]
    fn ipv6_addresses_share_a_budget_per_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_eq!(address_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn zero_means_no_limit() {
        let (limiter, _) = limiter(0.0, 0.0, 0);
        let peer = Some("192.0.2.1".parse().unwrap());
        assert!((0..1000).all(|_| limiter.admit(Some(&[1; 32]), peer).is_ok() && limiter.admit(None, peer).is_ok()));
    }
}
