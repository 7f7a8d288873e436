//! The one error type of the HTTP API and its envelope `{"description", "errors":[{"field","message","code"}]}`.
//!
//! Every failure leaves through [`ApiError`], including actix's own (malformed JSON, wrong content type, bad
//! path or query, body too large, unknown route, wrong method): the extractor configs and the default service
//! below route them here. A 500 never shows its cause; the cause goes to the log.

use std::fmt;

use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError};
use application::admin::AdminError;
use application::auth::AuthError;
use application::contacts::ContactsError;
use application::conversations::ConversationsError;
use application::inboxes::InboxesError;
use application::merge_contacts::MergeContactsError;
use application::merge_many::MergeManyError;
use application::notes::NotesError;
use application::undo::UndoError;
use domain::{ContactId, Violations};
use serde::Serialize;
use utoipa::ToSchema;

/// The `Retry-After` of a 503, in seconds: about the time a failover of the database takes.
pub const RETRY_UNAVAILABLE_AFTER_SECS: u32 = 2;

/// One problem with the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The input the problem is about: a body field, a path or query parameter, a header, or `request`.
    #[schema(example = "base_contact_id")]
    pub field: String,
    /// What is wrong, for people.
    #[schema(example = "must be a positive integer")]
    pub message: String,
    /// A stable snake_case machine code.
    #[schema(example = "invalid_value")]
    pub code: String,
    /// With code `taken`: the contact that holds the email, phone number or identifier (as its own field or as
    /// a secondary identity). Absent when the holder is not known (a concurrent write took the value first).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 42)]
    pub contact_id: Option<i64>,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A sentence describing the failure.
    #[schema(example = "The request is invalid")]
    pub description: String,
    /// The individual problems; may be empty.
    pub errors: Vec<FieldError>,
    /// With code `merged`: the id of the contact a merged-away contact now lives in (chains followed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<i64>,
    /// With code `merge_superseded`: the later merge that took this merge's base; undo that one first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<i64>,
}

/// An error response: a status and the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error with one field problem.
    pub fn new(status: StatusCode, description: &str, field: &str, code: &str, message: &str) -> Self {
        Self {
            status,
            body: ErrorBody {
                description: description.to_owned(),
                errors: vec![FieldError {
                    field: field.to_owned(),
                    message: message.to_owned(),
                    code: code.to_owned(),
                    contact_id: None,
                }],
                merged_into: None,
                superseded_by: None,
            },
        }
    }

    /// 400 (or another status) with one problem per violated rule.
    pub fn from_violations(status: StatusCode, description: &str, violations: Violations) -> Self {
        let errors = violations
            .into_vec()
            .into_iter()
            .map(|v| FieldError {
                field: v.field,
                message: v.message,
                code: v.code,
                contact_id: v.holder.map(ContactId::get),
            })
            .collect();
        Self {
            status,
            body: ErrorBody { description: description.to_owned(), errors, merged_into: None, superseded_by: None },
        }
    }

    pub fn not_found(field: &str, message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Resource could not be found", field, "not_found", message)
    }

    /// A 503: the database is unreachable or the pool had no connection in time (logged when answered).
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable; retry shortly",
            "request",
            "service_unavailable",
            "the database is unavailable",
        )
    }

    /// A 500 whose cause is logged, never sent.
    pub fn internal(cause: &str) -> Self {
        log::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "request",
            "internal_error",
            "something went wrong on our side; it has been logged",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.body.description)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // with the request's id, like every line the request writes
            log::warn!("the database is unavailable: answering 503");
            // The database is out of reach, e.g. for the seconds a failover takes: the client may try again.
            response.insert_header((header::RETRY_AFTER, RETRY_UNAVAILABLE_AFTER_SECS.to_string()));
        }
        response.json(&self.body)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let unauthorized = |code: &str, message: &str| {
            Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "api_access_token", code, message)
        };
        match e {
            AuthError::MissingToken => {
                unauthorized("missing_token", "You need to sign in or sign up before continuing.")
            }
            AuthError::InvalidToken => unauthorized("invalid_token", "Invalid Access Token"),
            AuthError::PlatformTokenNotAllowed => {
                unauthorized("platform_token_not_allowed", "Access to this endpoint is not authorized for bots")
            }
            AuthError::UserTokenNotAllowed => {
                unauthorized("user_token_not_allowed", "This endpoint needs a platform app token")
            }
            AuthError::AccountNotFound => Self::not_found("account_id", "Account could not be found"),
            AuthError::AccountSuspended => Self::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "account_id",
                "account_suspended",
                "Account is suspended",
            ),
            AuthError::NotAccountMember => Self::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "account_id",
                "not_account_member",
                "You are not authorized to access this account",
            ),
            AuthError::Unavailable => Self::unavailable(),
            AuthError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<MergeContactsError> for ApiError {
    fn from(e: MergeContactsError) -> Self {
        match e {
            MergeContactsError::NotFound { fields } => {
                let errors = fields.iter().map(|(field, merged)| contact_not_found(field, *merged)).collect();
                contacts_gone(errors, fields.iter().find_map(|(_, merged)| *merged))
            }
            MergeContactsError::Invalid(v) => Self::from_violations(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The merged contact would be invalid; nothing was changed",
                v,
            ),
            MergeContactsError::IdempotencyKeyReused => idempotency_key_reused(),
            MergeContactsError::Unavailable => Self::unavailable(),
            MergeContactsError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<MergeManyError> for ApiError {
    fn from(e: MergeManyError) -> Self {
        match e {
            MergeManyError::BadRequest(v) => {
                Self::from_violations(StatusCode::BAD_REQUEST, "The request is invalid", v)
            }
            MergeManyError::NotFound { missing } => {
                let errors = missing
                    .iter()
                    .map(|m| {
                        let mut error = contact_not_found(&m.field, m.merged_into);
                        error.message = format!("contact {}: {}", m.id, error.message);
                        error
                    })
                    .collect();
                contacts_gone(errors, missing.iter().find_map(|m| m.merged_into))
            }
            MergeManyError::Invalid(v) => Self::from_violations(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The merged contact would be invalid; nothing was changed",
                v,
            ),
            MergeManyError::IdempotencyKeyReused => idempotency_key_reused(),
            MergeManyError::Unavailable => Self::unavailable(),
            MergeManyError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<UndoError> for ApiError {
    fn from(e: UndoError) -> Self {
        let conflict = |field: &str, code: &str, message: &str| {
            Self::new(StatusCode::CONFLICT, "The merge cannot be undone; nothing was changed", field, code, message)
        };
        match e {
            UndoError::NotFound => Self::not_found("id", "no merge record with this id in the account"),
            UndoError::AlreadyUndone => conflict("id", "already_undone", "this merge was already undone"),
            UndoError::WindowPassed { days } => conflict(
                "id",
                "undo_window_passed",
                &format!("a merge can be undone for {days} days; this one is older"),
            ),
            UndoError::Superseded { base, by } => merge_superseded(base, by),
            UndoError::Conflict { field: "base_contact_id" } => {
                conflict("base_contact_id", "conflict", "the base contact was deleted since the merge")
            }
            UndoError::Conflict { field } => {
                conflict(field, "conflict", "another contact now holds the mergee's value; change it first")
            }
            UndoError::NotUndoable => {
                conflict("id", "not_undoable", "this merge was recorded before merges could be undone")
            }
            UndoError::IdempotencyKeyReused => idempotency_key_reused(),
            UndoError::Unavailable => Self::unavailable(),
            UndoError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// 409 `merge_superseded`: the merge's base was merged into another contact by merge `by`, to undo first.
pub fn merge_superseded(base: i64, by: i64) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::CONFLICT,
        "The merge cannot be undone; nothing was changed",
        "id",
        "merge_superseded",
        &format!("contact {base} was merged away by merge {by}; undo merge {by} first"),
    );
    error.body.superseded_by = Some(by);
    error
}

/// 422 for an `Idempotency-Key` sent before with another request.
pub fn idempotency_key_reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "The Idempotency-Key was already used for another request",
        "Idempotency-Key",
        "idempotency_key_reused",
        "use a new key for a new request",
    )
}

/// The error for a contact id that points nowhere: `merged` (with where it went) or `not_found`.
pub fn contact_not_found(field: &str, merged_into: Option<ContactId>) -> FieldError {
    match merged_into {
        Some(into) => FieldError {
            field: field.to_owned(),
            message: format!("this contact was merged into contact {into}"),
            code: "merged".to_owned(),
            contact_id: None,
        },
        None => FieldError {
            field: field.to_owned(),
            message: "no contact with this id in the account".to_owned(),
            code: "not_found".to_owned(),
            contact_id: None,
        },
    }
}

/// A 404 naming each contact of a merge that is not in the account; `merged_into` where one was merged away.
fn contacts_gone(errors: Vec<FieldError>, merged_into: Option<ContactId>) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        body: ErrorBody {
            description: "Resource could not be found".to_owned(),
            errors,
            merged_into: merged_into.map(ContactId::get),
            superseded_by: None,
        },
    }
}

/// A 404 for one contact, naming where it went when it was merged away.
pub fn contact_gone(field: &str, merged_into: Option<ContactId>) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        body: ErrorBody {
            description: "Resource could not be found".to_owned(),
            errors: vec![contact_not_found(field, merged_into)],
            merged_into: merged_into.map(ContactId::get),
            superseded_by: None,
        },
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(v) => {
                Self::from_violations(StatusCode::UNPROCESSABLE_ENTITY, "The request is invalid", v)
            }
            AdminError::NotFound(what) => Self::not_found(&format!("{what}_id"), &format!("{what} could not be found")),
            AdminError::NotPermitted(what) => Self::new(
                StatusCode::UNAUTHORIZED,
                "Non permissible resource",
                &format!("{what}_id"),
                "non_permissible_resource",
                &format!("this platform app did not create this {what}"),
            ),
            AdminError::Unavailable => Self::unavailable(),
            AdminError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// 404 for an input that names no `entity` in the account. Another account's id lands here too: it is never
/// told apart from an id that does not exist.
fn entity_not_found(field: &str, entity: &str) -> ApiError {
    ApiError::not_found(field, &format!("no {} with this id in the account", entity.replace('_', " ")))
}

/// 422: the input is well-formed but breaks a rule (format, length, uniqueness); nothing was changed.
fn unprocessable(violations: Violations) -> ApiError {
    ApiError::from_violations(
        StatusCode::UNPROCESSABLE_ENTITY,
        "The request could not be processed; nothing was changed",
        violations,
    )
}

impl From<ContactsError> for ApiError {
    fn from(e: ContactsError) -> Self {
        match e {
            ContactsError::NotFound { field: field @ ("email" | "phone_number" | "identifier"), .. } => {
                Self::not_found(field, &format!("no contact of the account holds this {}", field.replace('_', " ")))
            }
            ContactsError::NotFound { field, entity } => entity_not_found(field, entity),
            ContactsError::Merged { into } => contact_gone("id", Some(into)),
            ContactsError::IdempotencyKeyReused => idempotency_key_reused(),
            ContactsError::Invalid(v) => unprocessable(v),
            ContactsError::PrimaryIdentity { kind } => Self::new(
                StatusCode::CONFLICT,
                "The identity cannot be deleted; nothing was changed",
                "identity_id",
                "primary_identity",
                &format!("this is the contact's {kind}; change or clear it through the contact's {kind} field"),
            ),
            ContactsError::AdministratorRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "api_access_token",
                "administrator_required",
                "Only administrators of this account may do this",
            ),
            ContactsError::Unavailable => Self::unavailable(),
            ContactsError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<NotesError> for ApiError {
    fn from(e: NotesError) -> Self {
        match e {
            NotesError::NotFound { field, entity } => entity_not_found(field, entity),
            NotesError::Invalid(v) => unprocessable(v),
            NotesError::IdempotencyKeyReused => idempotency_key_reused(),
            NotesError::Unavailable => Self::unavailable(),
            NotesError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<InboxesError> for ApiError {
    fn from(e: InboxesError) -> Self {
        match e {
            InboxesError::NotFound => entity_not_found("id", "inbox"),
            InboxesError::Invalid(v) => unprocessable(v),
            InboxesError::IdempotencyKeyReused => idempotency_key_reused(),
            InboxesError::Unavailable => Self::unavailable(),
            InboxesError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<ConversationsError> for ApiError {
    fn from(e: ConversationsError) -> Self {
        match e {
            ConversationsError::NotFound { field, entity } => entity_not_found(field, entity),
            ConversationsError::Invalid(v) => unprocessable(v),
            ConversationsError::IdempotencyKeyReused => idempotency_key_reused(),
            ConversationsError::Unavailable => Self::unavailable(),
            ConversationsError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// The blocking pool refused the work: the server is shutting down.
impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        Self::unavailable()
    }
}

/// 415 for a body that is not JSON.
pub fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The request body must be JSON",
        "content-type",
        "unsupported_media_type",
        "send the header Content-Type: application/json",
    )
}

/// 400 for a body that does not parse as JSON; `detail` says where.
pub fn malformed_json(detail: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "The request body is not valid JSON", "body", "malformed_json", detail)
}

/// 400 for a JSON body of the wrong shape.
pub fn invalid_body(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "The request body does not have the expected shape",
        "body",
        "invalid_body",
        detail,
    )
}

/// 413 for a body over the configured limit.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "The request body is too large",
        "body",
        "payload_too_large",
        "the body exceeds the size limit",
    )
}

/// Middleware that puts any error response not already in the envelope (actix's own plain-text errors, such as
/// an oversized body read by the `Bytes` extractor) into it, so that no error ever leaves in another shape.
pub fn envelope_errors<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
            StatusCode::NOT_FOUND => {
                ApiError::new(status, "Route not found", "path", "route_not_found", "no route matches this path")
            }
            s if s.is_server_error() => ApiError::internal(&format!("unhandled {s} response")),
            s => ApiError::new(
                s,
                s.canonical_reason().unwrap_or("Request failed"),
                "request",
                "bad_request",
                "the request could not be processed",
            ),
        };
        let (req, _) = res.into_parts();
        let response = ServiceResponse::new(req, error.error_response()).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(response))
    })
}
