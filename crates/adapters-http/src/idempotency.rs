//! The `Idempotency-Key` header: reading it, and answering with the response the application stored or replays.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use application::auth::Member;
use application::idempotency::{execute, Executed, IdempotencyRequest, KeyReused, StoredResponse, MAX_KEY_LEN};
use application::{Session, StoreError};
use serde::Serialize;

use crate::auth::AccountMember;

/// The `Idempotency-Key` request header, as documented once for every operation that accepts it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyHeader {
    /// Makes retries safe: the same key with the same request within 24 hours replays the first response
    /// (`Idempotent-Replayed: true`); 1 to 255 visible ASCII characters.
    #[param(rename = "Idempotency-Key", min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
}
use crate::error::ApiError;

/// The header clients send.
pub const HEADER: &str = "Idempotency-Key";
/// The header that marks a replayed response.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// The key and the request's fingerprint, when the client sent a key.
///
/// # Errors
/// 400 for an empty, too long or non-ASCII key.
pub fn idempotency_request(req: &HttpRequest, body: &[u8]) -> Result<Option<IdempotencyRequest>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The Idempotency-Key header is invalid",
            HEADER,
            "invalid_value",
            &format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    let path = req.uri().path_and_query().map_or_else(|| req.path().to_owned(), ToString::to_string);
    Ok(Some(IdempotencyRequest::new(key, req.method().as_str(), &path, body)))
}

/// A JSON response, serialized once so that a replay can send the very same bytes.
pub fn encode<T: Serialize>(status: StatusCode, value: &T) -> StoredResponse {
    let body = serde_json::to_string(value).unwrap_or_else(|e| {
        log::error!("response serialization failed: {e}");
        String::from("{}")
    });
    StoredResponse { status: status.as_u16(), body }
}

/// Runs a creating use case the idempotent way: authenticates the caller, reads the request's
/// `Idempotency-Key`, runs `work` on the parsed `input` in one transaction together with the key (all on the
/// blocking pool, in one hand-off; once more, with a copy of `input`, when the connection was lost before the
/// commit), and answers with `to_body`'s JSON (status 200) or the stored response of
/// an earlier run.
///
/// # Errors
/// In this order: authentication, the `input`'s error, a bad key, then whatever the use case's error maps to.
pub async fn create_idempotently<C, T, E, B>(
    member: AccountMember,
    req: &HttpRequest,
    body: &[u8],
    input: Result<C, ApiError>,
    work: impl Fn(&mut dyn Session, Member, C) -> Result<T, E> + Send + 'static,
    to_body: impl Fn(&T) -> B + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    C: Clone + Send + 'static,
    T: 'static,
    E: From<StoreError> + From<KeyReused> + Send + 'static,
    ApiError: From<E>,
    B: Serialize,
{
    let idempotency = idempotency_request(req, body);
    let executed = member
        .run(move |db, member| {
            let input = input?;
            let idempotency = idempotency?;
            Ok(execute(
                db,
                member.account_id,
                idempotency.as_ref(),
                |tx| work(tx, member, input.clone()),
                |value| encode(StatusCode::OK, &to_body(value)),
            )?)
        })
        .await?;
    Ok(respond(executed))
}

/// Whether a handler's answer is the replay of an earlier response.
pub fn is_replay(result: &Result<HttpResponse, ApiError>) -> bool {
    result.as_ref().is_ok_and(|r| r.headers().contains_key(REPLAYED_HEADER))
}

/// Sends an executed request's response; a replay says so in `Idempotent-Replayed: true`.
pub fn respond(executed: Executed) -> HttpResponse {
    let status = StatusCode::from_u16(executed.response.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, "application/json"));
    if executed.replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    response.body(executed.response.body)
}
