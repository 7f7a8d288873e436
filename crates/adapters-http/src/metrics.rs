//! The HTTP adapter's metrics, through the `metrics` facade: what a request was (method, route pattern,
//! status, duration), and the business counters read off the use cases' results — merges, undos and the rows
//! they moved, requests refused by the rate limits. `application` and `domain` know nothing of metrics: the
//! handlers record what the use cases answered, after the transaction, so a counter only counts what committed.
//!
//! Nothing is recorded until the process installs a recorder (the `server` crate does, with the Prometheus
//! exporter); in-process tests run without one and every call here is then a no-op.
//!
//! Labels have bounded values only: `route` is the route's pattern (`/api/v1/accounts/{account_id}/contacts/{id}`)
//! or [`UNMATCHED_ROUTE`], never the raw path; `method` is one of the methods HTTP defines or `other`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use application::merge_contacts::{MergeContactsError, MergeOutcome};
use application::merge_many::{MergeManyError, MergeManyOutcome};
use application::ports::MovedCounts;
use application::undo::{UndoError, UndoOutcome};
use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

use crate::error::ApiError;

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
pub const MERGES: &str = "coalesce_merges_total";
pub const MERGE_ROWS_MOVED: &str = "coalesce_merge_rows_moved_total";
pub const MERGE_MANY: &str = "coalesce_merge_many_total";
pub const MERGE_MANY_MERGEES: &str = "coalesce_merge_many_mergees_total";
pub const UNDOS: &str = "coalesce_merge_undos_total";
pub const UNDO_ROWS_MOVED_BACK: &str = "coalesce_merge_undo_rows_moved_back_total";
pub const RATE_LIMITED: &str = "coalesce_rate_limited_requests_total";

/// The `route` label of a request no route matches (whatever its path: a path would let any client create
/// series without end).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Registers the help text of every metric above (call once, after the recorder is installed).
pub fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route pattern and status.");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response, by method and route pattern."
    );
    describe_counter!(
        MERGES,
        "Merge requests by outcome: merged, unchanged (the same contact twice), replayed (Idempotency-Key), \
         not_found, invalid, rejected (refused before merging: authentication, body, key), failed (database)."
    );
    describe_counter!(MERGE_ROWS_MOVED, "Rows moved from mergees to bases by committed merges, by table.");
    describe_counter!(
        MERGE_MANY,
        "Many-contact merge requests by outcome: merged, replayed, not_found, invalid, rejected, failed."
    );
    describe_counter!(MERGE_MANY_MERGEES, "Contacts merged into a base by committed many-contact merges.");
    describe_counter!(
        UNDOS,
        "Undo requests by outcome: undone, replayed, not_found, already_undone, undo_window_passed, \
         merge_superseded, conflict, not_undoable, rejected, failed."
    );
    describe_counter!(UNDO_ROWS_MOVED_BACK, "Rows moved back to re-created mergees by committed undos, by table.");
    describe_counter!(RATE_LIMITED, "Requests refused with 429, by the budget that ran out: token or address.");
}

/// The `method` label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Counts and times one answered request; `route` is the matched pattern, `None` when nothing matched.
pub fn record_request(method: &Method, route: Option<&str>, status: StatusCode, elapsed: Duration) {
    let method = method_label(method);
    let route = route.unwrap_or(UNMATCHED_ROUTE).to_owned();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.as_str().to_owned())
        .increment(1);
    histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// A request refused by the rate limiter; `budget` is `token` or `address`.
pub fn rate_limited(budget: &'static str) {
    counter!(RATE_LIMITED, "budget" => budget).increment(1);
}

/// What a use case answered, noted inside its transaction and read once the request is answered (the
/// transaction committed or not by then).
#[derive(Debug)]
pub struct Probe<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Probe<T> {
    pub fn note(&self, seen: T) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(seen);
        }
    }

    /// Notes what `result` says (read by `of`) and hands `result` back: a use case's run ends with it.
    pub fn noted<R>(&self, result: R, of: impl FnOnce(&R) -> T) -> R {
        self.note(of(&result));
        result
    }

    pub fn take(&self) -> Option<T> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// What the merge use case answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeSeen {
    Merged(MovedCounts),
    Unchanged,
    NotFound,
    Invalid,
    Failed,
}

impl MergeSeen {
    pub fn of(result: &Result<MergeOutcome, MergeContactsError>) -> Self {
        match result {
            Ok(outcome) if outcome.merge_id.is_some() => Self::Merged(outcome.moved),
            Ok(_) => Self::Unchanged,
            Err(MergeContactsError::NotFound { .. }) => Self::NotFound,
            Err(MergeContactsError::Invalid(_)) => Self::Invalid,
            // raised before the use case runs; listed for exhaustiveness
            Err(MergeContactsError::IdempotencyKeyReused) => Self::Invalid,
            Err(MergeContactsError::Unavailable | MergeContactsError::Internal(_)) => Self::Failed,
        }
    }
}

/// What the many-contact merge use case answered: the rows each mergee's merge moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManySeen {
    Merged(Vec<MovedCounts>),
    NotFound,
    Invalid,
    Failed,
}

impl ManySeen {
    pub fn of(result: &Result<MergeManyOutcome, MergeManyError>) -> Self {
        match result {
            Ok(outcome) => Self::Merged(outcome.merges.iter().map(|m| m.moved).collect()),
            Err(MergeManyError::NotFound { .. }) => Self::NotFound,
            Err(MergeManyError::Invalid(_) | MergeManyError::BadRequest(_) | MergeManyError::IdempotencyKeyReused) => {
                Self::Invalid
            }
            Err(MergeManyError::Unavailable | MergeManyError::Internal(_)) => Self::Failed,
        }
    }
}

/// Counts one many-contact merge request by its outcome, and the mergees and rows a committed one merged.
pub fn record_merge_many(result: &Result<HttpResponse, ApiError>, replayed: bool, seen: Option<ManySeen>) {
    let outcome = match (result.is_ok(), seen) {
        _ if replayed => "replayed",
        (true, Some(ManySeen::Merged(moved))) => {
            for m in &moved {
                count_rows(MERGE_ROWS_MOVED, m);
            }
            counter!(MERGE_MANY_MERGEES).increment(u64::try_from(moved.len()).unwrap_or(u64::MAX));
            "merged"
        }
        (false, Some(ManySeen::NotFound)) => "not_found",
        (false, Some(ManySeen::Invalid)) => "invalid",
        _ => unanswered(result),
    };
    counter!(MERGE_MANY, "outcome" => outcome).increment(1);
}

/// What the undo use case answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoSeen {
    Undone(MovedCounts),
    /// Refused (409) or not found (404): the outcome label.
    Refused(&'static str),
    Failed,
}

impl UndoSeen {
    pub fn of(result: &Result<UndoOutcome, UndoError>) -> Self {
        match result {
            Ok(outcome) => Self::Undone(outcome.counts.moved_back),
            Err(UndoError::NotFound) => Self::Refused("not_found"),
            Err(UndoError::AlreadyUndone) => Self::Refused("already_undone"),
            Err(UndoError::WindowPassed { .. }) => Self::Refused("undo_window_passed"),
            Err(UndoError::Superseded { .. }) => Self::Refused("merge_superseded"),
            Err(UndoError::Conflict { .. }) => Self::Refused("conflict"),
            Err(UndoError::NotUndoable) => Self::Refused("not_undoable"),
            Err(UndoError::IdempotencyKeyReused) => Self::Refused("rejected"),
            Err(UndoError::Unavailable | UndoError::Internal(_)) => Self::Failed,
        }
    }
}

/// The outcome of a request whose use case never answered (refused before it ran) or whose transaction did
/// not commit after it answered.
fn unanswered(result: &Result<HttpResponse, ApiError>) -> &'static str {
    match result {
        Err(e) if !e.status().is_server_error() => "rejected",
        _ => "failed",
    }
}

fn count_rows(name: &'static str, moved: &MovedCounts) {
    for (table, n) in [
        ("conversations", moved.conversations),
        ("messages", moved.messages),
        ("contact_inboxes", moved.contact_inboxes),
        ("notes", moved.notes),
        ("labels", moved.labels),
    ] {
        counter!(name, "table" => table).increment(n);
    }
}

/// The `outcome` of a merge request, and the rows it moved when it committed a merge; `replayed`: the response
/// is an idempotent replay of an earlier one.
fn merge_outcome(
    result: &Result<HttpResponse, ApiError>,
    replayed: bool,
    seen: Option<MergeSeen>,
) -> (&'static str, Option<MovedCounts>) {
    match (result.is_ok(), seen) {
        _ if replayed => ("replayed", None),
        (true, Some(MergeSeen::Merged(moved))) => ("merged", Some(moved)),
        (true, Some(MergeSeen::Unchanged)) => ("unchanged", None),
        (false, Some(MergeSeen::NotFound)) => ("not_found", None),
        (false, Some(MergeSeen::Invalid)) => ("invalid", None),
        _ => (unanswered(result), None),
    }
}

/// Counts one merge request by its outcome, and the rows a committed merge moved.
pub fn record_merge(result: &Result<HttpResponse, ApiError>, replayed: bool, seen: Option<MergeSeen>) {
    let (outcome, moved) = merge_outcome(result, replayed, seen);
    if let Some(moved) = moved {
        count_rows(MERGE_ROWS_MOVED, &moved);
    }
    counter!(MERGES, "outcome" => outcome).increment(1);
}

/// The `outcome` of an undo request, and the rows it moved back when it committed an undo.
fn undo_outcome(
    result: &Result<HttpResponse, ApiError>,
    replayed: bool,
    seen: Option<UndoSeen>,
) -> (&'static str, Option<MovedCounts>) {
    match (result.is_ok(), seen) {
        _ if replayed => ("replayed", None),
        (true, Some(UndoSeen::Undone(moved))) => ("undone", Some(moved)),
        (false, Some(UndoSeen::Refused(code))) => (code, None),
        _ => (unanswered(result), None),
    }
}

/// Counts one undo request by its outcome, and the rows a committed undo moved back.
pub fn record_undo(result: &Result<HttpResponse, ApiError>, replayed: bool, seen: Option<UndoSeen>) {
    let (outcome, moved) = undo_outcome(result, replayed, seen);
    if let Some(moved) = moved {
        count_rows(UNDO_ROWS_MOVED_BACK, &moved);
    }
    counter!(UNDOS, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_http_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }

    fn ok() -> Result<HttpResponse, ApiError> {
        Ok(HttpResponse::Ok().finish())
    }

    fn failed(status: StatusCode) -> Result<HttpResponse, ApiError> {
        Err(ApiError::new(status, "x", "request", "x", "x"))
    }

    #[test]
    fn merge_outcomes_follow_what_the_use_case_said_and_whether_it_committed() {
        let moved = MovedCounts { conversations: 2, labels: 1, ..MovedCounts::default() };
        let merged = Some(MergeSeen::Merged(moved));
        assert_eq!(merge_outcome(&ok(), false, merged), ("merged", Some(moved)));
        assert_eq!(merge_outcome(&ok(), false, Some(MergeSeen::Unchanged)), ("unchanged", None));
        assert_eq!(merge_outcome(&ok(), true, None), ("replayed", None), "a replay did nothing again");
        let not_found = failed(StatusCode::NOT_FOUND);
        assert_eq!(merge_outcome(&not_found, false, Some(MergeSeen::NotFound)), ("not_found", None));
        let invalid = failed(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(merge_outcome(&invalid, false, Some(MergeSeen::Invalid)), ("invalid", None));
        // refused before the use case ran: authentication, the body, the key
        assert_eq!(merge_outcome(&failed(StatusCode::UNAUTHORIZED), false, None), ("rejected", None));
        assert_eq!(merge_outcome(&invalid, false, None), ("rejected", None));
        let unavailable = failed(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(merge_outcome(&unavailable, false, Some(MergeSeen::Failed)), ("failed", None));
        assert_eq!(merge_outcome(&unavailable, false, None), ("failed", None), "authentication found no database");
        // the merge ran but its transaction did not commit: no rows were moved
        assert_eq!(merge_outcome(&unavailable, false, merged), ("failed", None));
    }

    #[test]
    fn undo_outcomes_name_the_refusal() {
        let moved = MovedCounts { notes: 3, ..MovedCounts::default() };
        assert_eq!(undo_outcome(&ok(), false, Some(UndoSeen::Undone(moved))), ("undone", Some(moved)));
        assert_eq!(undo_outcome(&ok(), true, None), ("replayed", None));
        let conflict = failed(StatusCode::CONFLICT);
        let refused = Some(UndoSeen::Refused("merge_superseded"));
        assert_eq!(undo_outcome(&conflict, false, refused), ("merge_superseded", None));
        assert_eq!(undo_outcome(&failed(StatusCode::BAD_REQUEST), false, None), ("rejected", None));
        let unavailable = failed(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(undo_outcome(&unavailable, false, Some(UndoSeen::Undone(moved))), ("failed", None));
        assert_eq!(UndoSeen::of(&Err(UndoError::WindowPassed { days: 30 })), UndoSeen::Refused("undo_window_passed"));
        assert_eq!(UndoSeen::of(&Err(UndoError::Unavailable)), UndoSeen::Failed);
    }

    #[test]
    fn a_probe_hands_over_what_was_noted_once() {
        let probe = Probe::default();
        probe.clone().note(MergeSeen::Unchanged);
        assert_eq!(probe.take(), Some(MergeSeen::Unchanged));
        assert_eq!(probe.take(), None);
        let failed: Result<u8, ()> = Err(());
        let of = |r: &Result<u8, ()>| if r.is_ok() { MergeSeen::Unchanged } else { MergeSeen::Failed };
        assert_eq!(probe.noted(failed, of), Err(()), "noted hands the result back");
        assert_eq!(probe.take(), Some(MergeSeen::Failed));
    }
}
