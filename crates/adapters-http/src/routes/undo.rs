//! Undo a merge: `POST …/contact_merges/{id}/undo` and `POST …/contact_merges/{id}/undo/preview`.

use actix_web::{post, web, HttpRequest, HttpResponse};
use application::auth::Member;
use application::undo::{preview_undo, undo_in, UndoMerge};
use application::Session;

use crate::auth::AccountMember;
use crate::dto::UndoResponse;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::metrics::{self, UndoSeen};
use crate::params::path_id;
use crate::routes::counted::counted;
use crate::AppState;

/// The undo this request asks for, once the caller is known.
fn command(state: &AppState, member: &Member, merge_id: i64) -> UndoMerge {
    UndoMerge {
        account_id: member.account_id,
        actor: member.user_id,
        merge_id,
        window: chrono::Duration::days(i64::from(state.undo_window_days)),
    }
}

/// Undo a merge
///
/// Reverses a merge, exactly, in one transaction: the mergee comes back with its original id (and answers 200
/// again everywhere), its attributes and its labels; the rows the merge moved that the base still owns go back
/// to it; the base gets back each attribute the merge changed, unless that attribute was changed again since
/// (then it keeps its current value, listed under `conflicts`); the labels the merge added are taken from the
/// base. Rows the base gained after the merge stay on it (`kept_on_base`). The merge record shows `undone_at`
/// and `undone_by`, and a `contact_unmerged` webhook event is sent.
///
/// Refusals (409, nothing changed): `already_undone`; `undo_window_passed` (older than
/// `COALESCE_UNDO_WINDOW_DAYS`, 30 by default); `merge_superseded` when the base was merged into another
/// contact since (`superseded_by` names that merge: undo it first); `conflict` when the base was deleted
/// (`base_contact_id`) or another contact now holds the mergee's `email`, `phone_number` or `identifier`;
/// `not_undoable` for a merge recorded before merges could be undone.
///
/// Send an `Idempotency-Key` header to make retries safe, as for the merge.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergeUndo",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "The merge record's id"),
        IdempotencyKeyHeader
    ),
    responses(
        (status = 200, description = "The merge was undone", body = UndoResponse),
        (status = 400, description = "The Idempotency-Key header is invalid", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "No such merge record in the account", body = ErrorBody),
        (status = 409, description = "The merge cannot be undone (`already_undone`, `undo_window_passed`, `merge_superseded` with `superseded_by`, `conflict`, `not_undoable`); nothing was changed", body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for another request; nothing was changed", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was changed", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contact_merges/{id}/undo")]
pub async fn contact_merge_undo(
    member: Result<AccountMember, ApiError>,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    counted(member, metrics::record_undo, |member, seen| async move {
        let id = path_id(&req, "id");
        let work =
            move |tx: &mut dyn Session, m: Member, id| seen.noted(undo_in(tx, command(&state, &m, id)), UndoSeen::of);
        // The undo takes no body: the key's fingerprint is the method and the path.
        create_idempotently(member, &req, &[], id, work, UndoResponse::new).await
    })
    .await
}

/// Preview an undo
///
/// What undoing the merge would do right now, with the same checks and the same answer as the undo, and
/// nothing written.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergeUndoPreview",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "The merge record's id")
    ),
    responses(
        (status = 200, description = "What the undo would do", body = UndoResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "No such merge record in the account", body = ErrorBody),
        (status = 409, description = "The undo would be refused (same codes as the undo)", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contact_merges/{id}/undo/preview")]
pub async fn contact_merge_undo_preview(
    member: AccountMember,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id");
    let outcome = member.run(move |db, m| Ok(preview_undo(db, command(&state, &m, id?))?)).await?;
    Ok(HttpResponse::Ok().json(UndoResponse::new(&outcome)))
}
