//! Path and query parameters. Handlers read them here into `Result`s and look at those only after
//! authentication (inside `AccountMember::run`), so that an anonymous caller gets 401 whatever the rest of its
//! request looks like (actix's own extractors would answer a bad path or query before the token is looked at).

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use application::ports::ContactSort;
use domain::Violations;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::dto::contacts::ContactSortParam;
use crate::error::ApiError;

/// A numeric id from the path. Anything that is not a positive integer names nothing: 404, like an id that
/// does not exist.
///
/// # Errors
/// 404 `not_found` against the parameter's name.
pub fn path_id(req: &HttpRequest, name: &str) -> Result<i64, ApiError> {
    req.match_info()
        .get(name)
        .and_then(|raw| raw.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(name, "no such resource in the account"))
}

/// A query string, parsed inside the handler (after authentication).
///
/// # Errors
/// 400 `invalid_query`.
pub fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    actix_web::web::Query::<T>::from_query(req.query_string()).map(actix_web::web::Query::into_inner).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "The query string is invalid", "query", "invalid_query", &e.to_string())
    })
}

#[derive(Debug, Default, Deserialize)]
struct RawListQuery {
    page: Option<String>,
    sort: Option<String>,
    q: Option<String>,
}

/// The query of a contact list or search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// From 1.
    pub page: u64,
    pub sort: ContactSort,
    /// The search term (trimmed, non-blank), when one was required.
    pub q: Option<String>,
}

const SORT_VALUES: &str = "name, email, phone_number, last_activity_at, created_at, each optionally prefixed with -";

/// Reads `page`, `sort` and (when `search`) `q`.
///
/// # Errors
/// 400 with one error per bad parameter: a page that is not a positive integer, an unknown sort, a missing or
/// blank search term.
pub fn list_query(req: &HttpRequest, search: bool) -> Result<ListQuery, ApiError> {
    let raw: RawListQuery = parse_query(req)?;
    let mut v = Violations::default();
    // u32 pages keep the row offset far from overflow; nobody pages past four billion
    let page = match raw.page.as_deref().map(str::trim) {
        None | Some("") => 1,
        Some(p) => match p.parse::<u32>() {
            Ok(n) if n > 0 => u64::from(n),
            _ => {
                v.push("page", "invalid_value", "must be a positive integer");
                1
            }
        },
    };
    let sort = match raw.sort.as_deref().map(str::trim) {
        None | Some("") => ContactSort::default(),
        Some(s) => match serde_json::from_value::<ContactSortParam>(Value::String(s.to_owned())) {
            Ok(p) => p.into(),
            Err(_) => {
                v.push("sort", "invalid_value", format!("must be one of {SORT_VALUES}"));
                ContactSort::default()
            }
        },
    };
    let q = if search {
        match raw.q.as_deref().map(str::trim) {
            None => {
                v.push("q", "required", "is required");
                None
            }
            Some("") => {
                v.push("q", "blank", "can't be blank");
                None
            }
            // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database
            Some(q) if q.contains('\0') => {
                v.push("q", "invalid_value", "must not contain NUL (U+0000) characters");
                None
            }
            Some(q) => Some(q.to_owned()),
        }
    } else {
        None
    };
    v.into_result()
        .map_err(|v| ApiError::from_violations(StatusCode::BAD_REQUEST, "The query string is invalid", v))?;
    Ok(ListQuery { page, sort, q })
}
