//! Conversations and messages: `/api/v1/accounts/{account_id}/conversations…` and a contact's conversations.
//! Conversations are addressed by their per-account number (`display_id`), as in the reference.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use application::conversations::{
    contact_conversations, create_conversation_in, create_message_in, list_messages, show_conversation,
};
use domain::ContactId;

use crate::auth::AccountMember;
use crate::dto::conversations::{
    ConversationCreateRequest, ConversationDto, ConversationListResponse, MessageCreateRequest, MessageDto,
    MessageListResponse,
};
use crate::dto::parse_body;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{create_idempotently, IdempotencyKeyHeader};
use crate::params::path_id;

/// Contact Conversations
///
/// The contact's conversations, most recently active first.
#[utoipa::path(
    tag = "Contacts",
    operation_id = "contactConversations",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("id" = i64, Path, minimum = 1, description = "ID of the contact"),
    ),
    responses(
        (status = 200, description = "Success", body = ConversationListResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Contact not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/contacts/{id}/conversations")]
pub async fn contact_conversation_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let contact = path_id(&req, "id").map(ContactId::new);
    let views = member.run(move |db, m| Ok(contact_conversations(db, m.account_id, contact?)?)).await?;
    Ok(HttpResponse::Ok().json(ConversationListResponse { payload: views.iter().map(ConversationDto::from).collect() }))
}

/// Create New Conversation
///
/// Starts a conversation in `inbox_id` with the contact that owns `source_id` there, or with `contact_id`
/// (whose address in the inbox is found or created). An optional first `message` is posted with it.
#[utoipa::path(
    tag = "Conversations",
    operation_id = "newConversation",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        IdempotencyKeyHeader,
    ),
    request_body(content = ConversationCreateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = ConversationDto),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Inbox, contact or source id not found", body = ErrorBody),
        (status = 422, description = "Neither contact_id nor source_id, or they disagree", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/conversations")]
pub async fn conversation_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let command = parse_body::<ConversationCreateRequest>(&req, &body).map(|r| r.command());
    create_idempotently(
        member,
        &req,
        &body,
        command,
        |tx, m, command| create_conversation_in(tx, m, command),
        |view| ConversationDto::from(view),
    )
    .await
}

/// Conversation Details
#[utoipa::path(
    tag = "Conversations",
    operation_id = "get-details-of-a-conversation",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("conversation_id" = i64, Path, minimum = 1, description = "The conversation's number in the account (`id` in its JSON)"),
    ),
    responses(
        (status = 200, description = "Success", body = ConversationDto),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Conversation not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/conversations/{conversation_id}")]
pub async fn conversation_details(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let display_id = path_id(&req, "conversation_id");
    let view = member.run(move |db, m| Ok(show_conversation(db, m.account_id, display_id?)?)).await?;
    Ok(HttpResponse::Ok().json(ConversationDto::from(&view)))
}

/// Create New Message
///
/// Posts a message. An `incoming` message is sent by the conversation's contact, an `outgoing` one (the
/// default) by the token's user. The conversation and its contact become active now.
#[utoipa::path(
    tag = "Messages",
    operation_id = "create-a-new-message-in-a-conversation",
    params(
        IdempotencyKeyHeader,
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("conversation_id" = i64, Path, minimum = 1, description = "The conversation's number in the account"),
    ),
    request_body(content = MessageCreateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = MessageDto),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Conversation not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[post("/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages")]
pub async fn message_create(
    member: AccountMember,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input = path_id(&req, "conversation_id")
        .and_then(|display_id| Ok((display_id, parse_body::<MessageCreateRequest>(&req, &body)?.message())));
    create_idempotently(
        member,
        &req,
        &body,
        input,
        |tx, m, (display_id, message)| create_message_in(tx, m, display_id, message),
        |view| MessageDto::from(view),
    )
    .await
}

/// Get Messages
///
/// The conversation's messages, oldest first.
#[utoipa::path(
    tag = "Messages",
    operation_id = "list-all-messages",
    params(
        ("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account"),
        ("conversation_id" = i64, Path, minimum = 1, description = "The conversation's number in the account"),
    ),
    responses(
        (status = 200, description = "Success", body = MessageListResponse),
        (status = 401, description = "Unauthorized", body = ErrorBody),
        (status = 404, description = "Conversation not found", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("userApiKey" = []))
)]
#[get("/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages")]
pub async fn message_list(member: AccountMember, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let display_id = path_id(&req, "conversation_id");
    let views = member.run(move |db, m| Ok(list_messages(db, m.account_id, display_id?)?)).await?;
    Ok(HttpResponse::Ok().json(MessageListResponse { payload: views.iter().map(MessageDto::from).collect() }))
}
