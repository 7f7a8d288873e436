//! Merge preview and merge history: `POST …/actions/contact_merge/preview`, `GET …/contact_merges` and
//! `GET …/contact_merges/{id}`.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::merge_history::{get_merge, list_merges, MergeHistoryError};
use application::merge_preview::preview_merge;
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::{
    parse_merge_body, MergeContactsRequest, MergeHistoryQuery, MergePreviewResponse, MergeRecordDto,
    MergeRecordListResponse, MergeRecordResponse, MetaDto,
};
use crate::error::{ApiError, ErrorBody};
use crate::params::{parse_query, path_id};

impl From<MergeHistoryError> for ApiError {
    fn from(e: MergeHistoryError) -> Self {
        match e {
            MergeHistoryError::NotFound => Self::not_found("id", "no merge record with this id in the account"),
            MergeHistoryError::Unavailable => Self::unavailable(),
            MergeHistoryError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// Preview a merge
///
/// Same body and checks as Merge Contacts, but nothing is written: answers with the base contact as it would be
/// after the merge, each attribute that would change (`{"field": {"from", "to"}}`), and how many
/// conversations, messages, contact inboxes, notes and labels would move. It applies the very rule the merge
/// applies, and answers 404/422 exactly where the merge would.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergePreview",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account")),
    request_body(content = MergeContactsRequest, content_type = "application/json", example = json!({"base_contact_id": 3, "mergee_contact_id": 4})),
    responses(
        (status = 200, description = "What the merge would do", body = MergePreviewResponse),
        (status = 400, description = "Bad Request Error", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found, or merged away (code `merged`, `merged_into`)", body = ErrorBody),
        (status = 422, description = "The merge would be refused", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/actions/contact_merge/preview")]
pub async fn contact_merge_preview(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request = parse_merge_body(&req, &body);
    let preview = member.run(move |db, m| Ok(preview_merge(db, request?.command(&m))?)).await?;
    Ok(HttpResponse::Ok().json(MergePreviewResponse::new(&preview)))
}

/// List merges
///
/// The account's merge records, newest first, 15 per page; `contact_id` keeps those where that contact was the
/// base or the mergee.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergeList",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"), MergeHistoryQuery),
    responses(
        (status = 200, description = "A page of merge records", body = MergeRecordListResponse),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contact_merges")]
pub async fn contact_merge_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = parse_query::<MergeHistoryQuery>(&req);
    let (entries, count, page) = member
        .run(move |db, m| {
            let query = query?;
            let page = query.page.unwrap_or(1).max(1);
            let (entries, count) = list_merges(db, m.account_id, query.contact_id.map(ContactId::new), page)?;
            Ok((entries, count, page))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MergeRecordListResponse {
        meta: MetaDto { count, current_page: page },
        payload: entries.iter().map(MergeRecordDto::from).collect(),
    }))
}

/// Show a merge
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMergeDetails",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "The merge record's id")
    ),
    responses(
        (status = 200, description = "The merge record", body = MergeRecordResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "No such merge record in the account", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contact_merges/{id}")]
pub async fn contact_merge_details(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id");
    let entry = member.run(move |db, m| Ok(get_merge(db, m.account_id, id?)?)).await?;
    Ok(HttpResponse::Ok().json(MergeRecordResponse { payload: MergeRecordDto::from(&entry) }))
}
