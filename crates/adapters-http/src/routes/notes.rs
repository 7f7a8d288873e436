//! `/api/v1/accounts/{account_id}/contacts/{id}/notes`: notes about a contact.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use application::notes::{create_note_in, delete_note, list_notes, show_note, update_note};
use domain::{ContactId, NoteId};

use crate::auth::AccountMember;
use crate::dto::contacts::{NoteDto, NoteRequest};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::path_id;

fn ids(req: &HttpRequest) -> Result<(ContactId, NoteId), ApiError> {
    Ok((ContactId::new(path_id(req, "id")?), NoteId::new(path_id(req, "note_id")?)))
}

/// List Notes
///
/// The contact's notes, newest first, as a JSON array (as the reference answers).
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactNoteList",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    responses(
        (status = 200, description = "Success", body = Vec<NoteDto>),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}/notes")]
pub async fn note_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let contact = path_id(&req, "id").map(ContactId::new);
    let notes = member.run(move |db, m| Ok(list_notes(db, m.account_id, contact?)?)).await?;
    Ok(HttpResponse::Ok().json(notes.iter().map(NoteDto::from).collect::<Vec<_>>()))
}

/// Create Note
///
/// Writes a note about the contact, signed by the token's user.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactNoteCreate",
    params(
        IdempotencyKeyHeader,
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    request_body(content = NoteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = NoteDto),
        (status = 400, description = "Malformed body or missing content", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/contacts/{id}/notes")]
pub async fn note_create(member: AccountMember, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let input = path_id(&req, "id")
        .and_then(|contact| Ok((ContactId::new(contact), parse_body::<NoteRequest>(&req, &body)?.content())));
    create_idempotently(
        member,
        &req,
        &body,
        input,
        |tx, m, (contact, content)| create_note_in(tx, m, contact, &content),
        |note| NoteDto::from(note),
    )
    .await
}

/// Show Note
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactNoteDetails",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
        ("note_id" = i64, Path, minimum = 1, description = "ID of the note"),
    ),
    responses(
        (status = 200, description = "Success", body = NoteDto),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact or note not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}/notes/{note_id}")]
pub async fn note_details(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let ids = ids(&req);
    let note = member
        .run(move |db, m| {
            let (contact, id) = ids?;
            Ok(show_note(db, m.account_id, contact, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(NoteDto::from(&note)))
}

/// Update Note
///
/// Rewrites the note's content.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactNoteUpdate",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
        ("note_id" = i64, Path, minimum = 1, description = "ID of the note"),
    ),
    request_body(content = NoteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = NoteDto),
        (status = 400, description = "Malformed body or missing content", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact or note not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[patch("/api/v1/accounts/{account_id}/contacts/{id}/notes/{note_id}")]
pub async fn note_update(member: AccountMember, req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let input = ids(&req).and_then(|ids| Ok((ids, parse_body::<NoteRequest>(&req, &body)?.content())));
    let note = member
        .run(move |db, m| {
            let ((contact, id), content) = input?;
            Ok(update_note(db, m.account_id, contact, id, &content)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(NoteDto::from(&note)))
}

/// Delete Note
///
/// Answers 200 with an empty body.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactNoteDelete",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
        ("note_id" = i64, Path, minimum = 1, description = "ID of the note"),
    ),
    responses(
        (status = 200, description = "Deleted; empty body"),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact or note not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[delete("/api/v1/accounts/{account_id}/contacts/{id}/notes/{note_id}")]
pub async fn note_delete(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let ids = ids(&req);
    member
        .run(move |db, m| {
            let (contact, id) = ids?;
            Ok(delete_note(db, m.account_id, contact, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().finish())
}
