//! `POST /api/v1/accounts/{account_id}/actions/contact_merge`.

use actix_web::{post, web, HttpRequest, HttpResponse};
use application::merge_contacts::merge_in;

use crate::auth::AccountMember;
use crate::dto::{parse_merge_body, ContactDto, MergeContactsRequest, MergeContactsResponse};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::metrics::{self, MergeSeen};
use crate::routes::counted::counted;

/// Merge Contacts
///
/// Merge two contacts into a single contact. The base contact remains and receives all data from the mergee
/// contact. After the merge, the mergee contact is deleted.
///
/// All conversations, labels, and custom attributes from the mergee contact will be moved to the base contact.
/// Unlike the reference, a merge can be undone (`POST …/contact_merges/{id}/undo`, within
/// `COALESCE_UNDO_WINDOW_DAYS`): the merge records exactly what it moved and wrote.
///
/// Send an `Idempotency-Key` header to make retries safe: the same key with the same body within 24 hours
/// replays the first response without merging again (`Idempotent-Replayed: true`); the same key with another
/// body is refused with 422 `idempotency_key_reused`.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMerge",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        IdempotencyKeyHeader
    ),
    request_body(content = MergeContactsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = MergeContactsResponse),
        (status = 400, description = "Bad Request Error", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found; a merged-away id answers code `merged` with `merged_into`", body = ErrorBody),
        (status = 422, description = "The merged contact would be invalid, or the Idempotency-Key was used for another request; nothing was changed", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was changed", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/actions/contact_merge")]
pub async fn contact_merge(
    member: Result<AccountMember, ApiError>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    counted(member, metrics::record_merge, |member, seen| async move {
        let request = parse_merge_body(&req, &body);
        create_idempotently(
            member,
            &req,
            &body,
            request,
            move |tx, m, request| seen.noted(merge_in(tx, request.command(&m)), MergeSeen::of),
            |outcome| MergeContactsResponse {
                id: outcome.contact.id.get(),
                payload: vec![ContactDto::new(&outcome.contact, &outcome.contact_inboxes)],
            },
        )
        .await
    })
    .await
}
