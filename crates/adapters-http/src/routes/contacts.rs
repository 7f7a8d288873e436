//! `/api/v1/accounts/{account_id}/contacts`: list, search, create, show, update and delete contacts.

use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use application::contacts::{
    create_contact_in, delete_contact, list_contacts, search_contacts, show_contact_to, update_contact,
    ContactWithInboxes,
};
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::contacts::{
    contact_dto, ContactCreateRequest, ContactCreateResponse, ContactListResponse, ContactResponse, ContactSortParam,
    ContactUpdateRequest,
};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::{list_query, path_id};

/// List Contacts
///
/// The account's contacts, 15 per page, with their contact inboxes. Sorted by `sort` (default: most
/// recently active first).
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactList",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("page" = Option<u32>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
        ("sort" = Option<ContactSortParam>, Query, description = "The field to sort by; prefix `-` for descending"),
    ),
    responses(
        (status = 200, description = "Success", body = ContactListResponse),
        (status = 400, description = "Bad page or sort", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts")]
pub async fn contact_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = list_query(&req, false);
    let list = member
        .run(move |db, m| {
            let query = query?;
            Ok(list_contacts(db, m.account_id, query.sort, query.page)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ContactListResponse::from(&list)))
}

/// Search Contacts
///
/// Contacts whose name, email, phone number or identifier contains `q`, ignoring case; every character of
/// `q` stands for itself (`%` and `_` are no wildcards). Paged and sorted like the list. `meta.count` counts
/// the matches up to 10,000 and no further: a term that matches more says 10,000.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactSearch",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("q" = String, Query, pattern = r"\S", description = "Search using contact `name`, `identifier`, `email` or `phone number`; not blank"),
        ("page" = Option<u32>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
        ("sort" = Option<ContactSortParam>, Query, description = "The field to sort by; prefix `-` for descending"),
    ),
    responses(
        (status = 200, description = "Success", body = ContactListResponse),
        (status = 400, description = "Missing or blank q, bad page or sort", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/search")]
pub async fn contact_search(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = list_query(&req, true);
    let list = member
        .run(move |db, m| {
            let query = query?;
            let term = query.q.unwrap_or_default();
            Ok(search_contacts(db, m.account_id, &term, query.sort, query.page)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ContactListResponse::from(&list)))
}

/// Create Contact
///
/// Creates a contact. With `inbox_id` the contact is also made reachable in that inbox under `source_id`
/// (generated when absent), in the same transaction.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactCreate",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        IdempotencyKeyHeader,
    ),
    request_body(content = ContactCreateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = ContactCreateResponse),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Account or inbox not found", body = ErrorBody),
        (status = 422, description = "Email, phone number, identifier or source id already taken", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contacts")]
pub async fn contact_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let command = parse_body::<ContactCreateRequest>(&req, &body).map(|r| r.command());
    create_idempotently(
        member,
        &req,
        &body,
        command,
        |tx, m, command| create_contact_in(tx, m.account_id, command),
        |created| ContactCreateResponse::from(created),
    )
    .await
}

/// Show Contact
///
/// The contact with its contact inboxes.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactDetails",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    responses(
        (status = 200, description = "Success", body = ContactResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}")]
pub async fn contact_details(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let contact = match path_id(&req, "id").map(ContactId::new) {
        // the token and the contact in one round trip, shared with the reads of other requests
        Ok(id) => match member.read_contact(id).await? {
            Some(contact) => contact,
            // not in the account: merged away (a redirect) or never there, which takes one more read
            None => {
                member
                    .run_signed_in(move |db, token, account| {
                        Ok(show_contact_to(db, Some(token), account, id)?.map_err(ApiError::from))
                    })
                    .await?
            }
        },
        // a bad id is answered after authentication, as everywhere
        Err(e) => member.run(move |_, _| Err::<ContactWithInboxes, _>(e)).await?,
    };
    Ok(HttpResponse::Ok().json(ContactResponse { payload: contact_dto(&contact) }))
}

/// The update shared by PUT and PATCH (both are partial, as in the reference).
async fn update(member: AccountMember, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id").map(ContactId::new);
    let changes = parse_body::<ContactUpdateRequest>(&req, &body).map(|r| r.changes());
    let contact = member.run(move |db, m| Ok(update_contact(db, m.account_id, id?, changes?)?)).await?;
    Ok(HttpResponse::Ok().json(ContactResponse { payload: contact_dto(&contact) }))
}

/// Update Contact
///
/// Changes the fields sent and leaves the others alone; `null` clears email, phone number and identifier.
/// `additional_attributes` and `custom_attributes` are merged key by key into the stored objects.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactUpdate",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    request_body(content = ContactUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = ContactResponse),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 422, description = "Email, phone number or identifier already taken", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[put("/api/v1/accounts/{account_id}/contacts/{id}")]
pub async fn contact_update(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    update(member, req, body).await
}

/// Update Contact (PATCH)
///
/// The same partial update as `PUT`.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactPatch",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    request_body(content = ContactUpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = ContactResponse),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 422, description = "Email, phone number or identifier already taken", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[patch("/api/v1/accounts/{account_id}/contacts/{id}")]
pub async fn contact_patch(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    update(member, req, body).await
}

/// Delete Contact
///
/// Administrators only. Deletes the contact with its conversations, their messages, the messages it sent,
/// its contact inboxes, notes and labels, all in one transaction. Answers 200 with an empty body.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactDelete",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    responses(
        (status = 200, description = "Deleted; empty body"),
        (status = 401, description = "Unauthorized, or not an administrator (`administrator_required`)", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable; nothing was deleted", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[delete("/api/v1/accounts/{account_id}/contacts/{id}")]
pub async fn contact_delete(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, "id").map(ContactId::new);
    member.run(move |db, m| Ok(delete_contact(db, m, id?)?)).await?;
    Ok(HttpResponse::Ok().finish())
}
