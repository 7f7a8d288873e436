//! `POST /api/v1/accounts/{account_id}/actions/contact_merge`.

use actix_web::{post, web, HttpRequest, HttpResponse};
use application::merge_contacts::{merge_contacts, MergeContacts};
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::{parse_body, ContactDto, MergeContactsRequest, MergeContactsResponse};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// Merge Contacts
///
/// Merge two contacts into a single contact. The base contact remains and receives all data from the mergee
/// contact. After the merge, the mergee contact is permanently deleted.
///
/// This action is irreversible. All conversations, labels, and custom attributes from the mergee contact will be
/// moved to the base contact.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactMerge",
    params(("account_id" = i64, Path, description = "The numeric ID of the account")),
    request_body(content = MergeContactsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = MergeContactsResponse),
        (status = 400, description = "Bad Request Error", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 422, description = "The merged contact would be invalid; nothing was changed", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was changed", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/actions/contact_merge")]
pub async fn contact_merge(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request: MergeContactsRequest = parse_body(&req, &body)?;
    let command = MergeContacts {
        account_id: member.0.account_id,
        actor: member.0.user_id,
        base_contact_id: ContactId::new(request.base_contact_id.value()),
        mergee_contact_id: ContactId::new(request.mergee_contact_id.value()),
    };
    let outcome = web::block(move || merge_contacts(state.db.as_ref(), command)).await??;
    Ok(HttpResponse::Ok().json(MergeContactsResponse {
        id: outcome.contact.id.get(),
        payload: vec![ContactDto::new(&outcome.contact, &outcome.contact_inboxes)],
    }))
}
