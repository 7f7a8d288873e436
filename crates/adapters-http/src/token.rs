//! Where a request carries its access token. Both authentication and the rate limit (which runs before it)
//! read it, so it lives below both.

/// The token in `api_access_token` (or `api-access-token`), else in `Authorization: Bearer`.
pub fn token_from_headers(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    let direct = ["api_access_token", "api-access-token"]
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|v| !v.is_empty());
    let bearer = || {
        headers
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    direct.or_else(bearer).map(str::to_owned)
}
