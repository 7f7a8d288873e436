//! The frame of the handlers whose requests a business counter counts by outcome (merge, many-contact merge,
//! undo): the use case notes what it answered in a [`Probe`], inside its transaction, and the request is
//! counted once it is answered, from that note and from the answer (committed or not, replayed or not).

use std::future::Future;

use actix_web::HttpResponse;

use crate::auth::AccountMember;
use crate::error::ApiError;
use crate::idempotency::is_replay;
use crate::metrics::Probe;

/// Counts one request: its answer, whether that is an idempotent replay, and what the use case noted (`None`
/// when it never ran).
pub type Record<T> = fn(&Result<HttpResponse, ApiError>, bool, Option<T>);

/// Runs `handle` with the member and a fresh probe, then counts the request with `record`. The member comes as
/// a `Result` so that a request refused by authentication is counted too.
pub async fn counted<T, Fut>(
    member: Result<AccountMember, ApiError>,
    record: Record<T>,
    handle: impl FnOnce(AccountMember, Probe<T>) -> Fut,
) -> Result<HttpResponse, ApiError>
where
    Fut: Future<Output = Result<HttpResponse, ApiError>>,
{
    let probe = Probe::default();
    let result = match member {
        Ok(member) => handle(member, probe.clone()).await,
        Err(e) => Err(e),
    };
    record(&result, is_replay(&result), probe.take());
    result
}
