//! `/api/v1/accounts/{account_id}/contacts/{id}/labels`: a contact's labels.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::contacts::{contact_labels, set_contact_labels};
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::contacts::{LabelsRequest, LabelsResponse};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::params::path_id;

/// List Labels of a Contact
///
/// The contact's labels, sorted.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "list-all-labels-of-a-contact",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
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
pub async fn contact_labels_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id").map(ContactId::new);
    let labels = member.run(move |db, m| Ok(contact_labels(db, m.account_id, id?)?)).await?;
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
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
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
) -> Result<HttpResponse, ApiError> {
    let input =
        path_id(&req, "id").and_then(|id| Ok((ContactId::new(id), parse_body::<LabelsRequest>(&req, &body)?.labels())));
    let stored = member
        .run(move |db, m| {
            let (id, labels) = input?;
            Ok(set_contact_labels(db, m.account_id, id, &labels)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(LabelsResponse { payload: stored }))
}
