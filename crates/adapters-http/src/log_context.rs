//! The request a log line belongs to. Every request gets a [`RequestId`] (the client's `X-Request-Id` when it
//! is sane, else a fresh UUID); while the request's future is polled, and while its work runs on the blocking
//! pool ([`block`]), the id is this thread's [`current`] one, so the logger (in `server`) writes it on every
//! line the request causes — from the handler, the use case or the database adapter — without any of them
//! passing it along.
//!
//! actix runs many requests' futures interleaved on one worker thread, so the id is set around each poll
//! ([`Scoped`]), never for the whole request.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::error::BlockingError;
use actix_web::http::header::HeaderMap;
use actix_web::web;

/// The header a request id travels in, both ways.
pub const HEADER: &str = "x-request-id";
/// Longest accepted incoming id; a longer one is replaced.
pub const MAX_LEN: usize = 128;

/// A request's id: 1 to [`MAX_LEN`] characters of `A-Z a-z 0-9 - _ . : @ / + =`, so that it is safe in a
/// header, a text log line and a JSON string alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The client's id when it is sane, else a fresh UUID v4.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers.get(HEADER).and_then(|v| v.to_str().ok()).and_then(Self::parse).unwrap_or_else(Self::generate)
    }

    /// `value` as an id, when it follows the rule above.
    pub fn parse(value: &str) -> Option<Self> {
        let sane = !value.is_empty()
            && value.len() <= MAX_LEN
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:@/+=".contains(&b));
        sane.then(|| Self(Arc::from(value)))
    }

    /// A fresh random id (UUID v4).
    pub fn generate() -> Self {
        Self(Arc::from(uuid::Uuid::new_v4().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<RequestId>> = const { RefCell::new(None) };
}

/// The id of the request this thread is working for, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `id` this thread's current id until the guard is dropped, then puts back the previous one. Never hold
/// the guard across an `.await` (another request's future may run on this thread meanwhile): use [`Scoped`].
pub fn enter(id: Option<RequestId>) -> Restore {
    Restore(CURRENT.with(|c| c.replace(id)))
}

/// Puts back the previous id when dropped.
#[must_use]
pub struct Restore(Option<RequestId>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// A future that runs with a request id set (see the module's documentation).
pub struct Scoped<F> {
    id: RequestId,
    inner: Pin<Box<F>>,
}

impl<F: Future> Scoped<F> {
    pub fn new(id: RequestId, inner: F) -> Self {
        Self { id, inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _restore = enter(Some(self.id.clone()));
        self.inner.as_mut().poll(cx)
    }
}

/// `actix_web::web::block` that carries the current request id to the blocking thread.
///
/// # Errors
/// When the blocking pool is gone (the server is shutting down).
pub async fn block<F, R>(work: F) -> Result<R, BlockingError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let id = current();
    web::block(move || {
        let _restore = enter(id);
        work()
    })
    .await
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(HeaderName::from_static(HEADER), HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn a_sane_incoming_id_is_kept() {
        for id in ["abc-123", "4bf92f3577b34da6a3ce929d0e0e4736", "req_1.2:3@edge/x+y=", &"a".repeat(MAX_LEN)] {
            assert_eq!(RequestId::from_headers(&headers(id)).as_str(), id);
        }
    }

    #[test]
    fn an_insane_incoming_id_is_replaced_by_a_uuid() {
        let too_long = "a".repeat(MAX_LEN + 1);
        for id in ["", "has space", "quote\"d", "new\tline", "semi;colon", "é", too_long.as_str()] {
            let got = RequestId::from_headers(&headers(id));
            assert_ne!(got.as_str(), id);
            assert!(uuid::Uuid::parse_str(got.as_str()).is_ok(), "{got}");
        }
        let none = RequestId::from_headers(&HeaderMap::new());
        assert_eq!(uuid::Uuid::parse_str(none.as_str()).unwrap().get_version_num(), 4);
        assert_ne!(RequestId::generate(), RequestId::generate());
    }

    #[test]
    fn the_id_is_current_only_inside_its_scope_and_follows_blocking_work() {
        let id = RequestId::parse("outer").unwrap();
        assert_eq!(current(), None);
        let seen = actix_web::rt::System::new().block_on(Scoped::new(id.clone(), async {
            let here = current();
            let there = block(current).await.unwrap();
            (here, there, current())
        }));
        assert_eq!(seen, (Some(id.clone()), Some(id.clone()), Some(id)));
        assert_eq!(current(), None, "restored after the poll");
    }
}
