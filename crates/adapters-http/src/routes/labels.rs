//! `/api/v1/accounts/{account_id}/contacts/{id}/labels`: a contact's labels.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::contacts::{contact_labels, set_contact_labels};
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::contacts::{LabelsRequest, LabelsResponse};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::params::path_id;
use crate::AppState;

/// List Labels of a Contact
///
/// The contact's labels, sorted.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "list-all-labels-of-a-contact",
    params(
        ("account_id" = i64, Path, description = "The numeric ID of the account"),
        ("id" = i64, Path, description = "ID of the contact"),
    ),
    responses(
        (status = 200, description = "Success", body = LabelsResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}/labels")]
pub async fn contact_labels_list(
    member: AccountMember,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ContactId::new(path_id(&req, "id")?);
    let account = member.0.account_id;
    let labels = web::block(move || contact_labels(state.db.as_ref(), account, id)).await??;
    Ok(HttpResponse::Ok().json(LabelsResponse { payload: labels }))
}

/// Set Labels of a Contact
///
/// Replaces the contact's labels with `labels` (trimmed and lower-cased; duplicates dropped; `[]` removes
/// them all) and answers with the new set, sorted.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contact-add-labels",
    params(
        ("account_id" = i64, Path, description = "The numeric ID of the account"),
        ("id" = i64, Path, description = "ID of the contact"),
    ),
    request_body(content = LabelsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = LabelsResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 422, description = "A blank, too long or malformed label", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contacts/{id}/labels")]
pub async fn contact_labels_set(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = ContactId::new(path_id(&req, "id")?);
    let request: LabelsRequest = parse_body(&req, &body)?;
    let account = member.0.account_id;
    let labels = request.labels();
    let stored = web::block(move || set_contact_labels(state.db.as_ref(), account, id, &labels)).await??;
    Ok(HttpResponse::Ok().json(LabelsResponse { payload: stored }))
}
