//! Merge several contacts at once: `POST …/actions/contact_merge_many` and `POST …/actions/contact_merge_many/preview`.

use actix_web::{post, web, HttpRequest, HttpResponse};
use application::merge_many::{merge_many_in, preview_merge_many};

use crate::auth::AccountMember;
use crate::dto::merge_many::{parse_many_body, MergeManyPreviewResponse, MergeManyRequest, MergeManyResponse};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::metrics::{self, ManySeen};
use crate::routes::counted::counted;

/// Merge several contacts
///
/// Merges 1 to 9 contacts into the base in one transaction, all or nothing. Every contact is locked first (in
/// id order, as every merge locks); then each mergee is merged into the base in the order given, exactly as
/// Merge Contacts merges a pair, and recorded as its own merge: the history lists one record per mergee, each
/// old id answers `merged` with `merged_into`, each merge can be undone on its own, and one `contact_merged`
/// webhook event is sent per mergee.
///
/// `attributes` names, for each of `name`, `email`, `phone_number`, `identifier`, `additional_attributes` and
/// `custom_attributes`, the contact whose value wins (the base's id or a mergee's), or `"merge"`; an attribute
/// not named follows the reference rule over the chain (the base's value, else the first mergee's that has one;
/// objects merged). A named contact's value wins even when blank.
///
/// Send an `Idempotency-Key` header to make retries safe, as for the merge.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergeMany",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        IdempotencyKeyHeader
    ),
    request_body(content = MergeManyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success: the base after the merge, and each mergee's merge record", body = MergeManyResponse),
        (status = 400, description = "Bad Request Error: a bad id (`mergee_contact_ids[i]`), a mergee named twice, the base among the mergees, more than 9 mergees, or a winner that is not merged (`attributes.email`)", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "One error per contact not found (`base_contact_id`, `mergee_contact_ids[i]`); a merged-away id answers code `merged` with `merged_into`", body = ErrorBody),
        (status = 422, description = "The merged contact would be invalid, or the Idempotency-Key was used for another request; nothing was changed", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was changed", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/actions/contact_merge_many")]
pub async fn contact_merge_many(
    member: Result<AccountMember, ApiError>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    counted(member, metrics::record_merge_many, |member, seen| async move {
        let input = parse_many_body(&req, &body);
        create_idempotently(
            member,
            &req,
            &body,
            input,
            move |tx, m, input| seen.noted(merge_many_in(tx, &input.command(&m)), ManySeen::of),
            MergeManyResponse::new,
        )
        .await
    })
    .await
}

/// Preview a merge of several contacts
///
/// Same body, checks and answers as Merge several contacts, and nothing written: the base as it would be after
/// the merge, each attribute that would change (`{"field": {"from", "to"}}`, from the base as it is now to the
/// base after the last mergee), and what each mergee's merge would move.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergeManyPreview",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account")),
    request_body(content = MergeManyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "What the merge would do", body = MergeManyPreviewResponse),
        (status = 400, description = "Bad Request Error (as the merge)", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "One error per contact not found; a merged-away id answers code `merged` with `merged_into`", body = ErrorBody),
        (status = 422, description = "The merge would be refused", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/actions/contact_merge_many/preview")]
pub async fn contact_merge_many_preview(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input = parse_many_body(&req, &body);
    let preview = member.run(move |db, m| Ok(preview_merge_many(db, &input?.command(&m))?)).await?;
    Ok(HttpResponse::Ok().json(MergeManyPreviewResponse::new(&preview)))
}
