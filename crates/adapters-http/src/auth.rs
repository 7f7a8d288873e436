//! Authentication extractors. A handler that takes [`AccountMember`] only runs for a member of the account
//! in its path; one that takes [`PlatformApp`] only for a platform app's token.
//!
//! The token is read from `api_access_token` (also spelled `api-access-token`) or `Authorization: Bearer`.
//! It is never logged.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use application::auth::{authenticate_member, authenticate_platform_app, AuthError, Member};
use domain::AccountId;

use crate::error::ApiError;
use crate::AppState;

/// The token sent with the request, if any.
fn token(req: &HttpRequest) -> Option<String> {
    let headers = req.headers();
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

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| ApiError::internal("AppState is not registered"))
}

/// A member of the account named by the `{account_id}` path segment.
#[derive(Debug, Clone, Copy)]
pub struct AccountMember(pub Member);

impl FromRequest for AccountMember {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = token(req);
        let account = req.match_info().get("account_id").map(str::to_owned);
        let state = state(req);
        Box::pin(async move {
            let state = state?;
            // The token is checked before the account, as the reference does: an anonymous caller learns
            // nothing about which accounts exist.
            let token = token.ok_or(AuthError::MissingToken)?;
            // Ids start at 1, so an id that does not parse becomes 0 and is simply an account that does not
            // exist, found after the token checks like any other.
            let account = AccountId::new(account.and_then(|a| a.parse::<i64>().ok()).filter(|a| *a > 0).unwrap_or(0));
            let member = web::block(move || authenticate_member(state.db.as_ref(), Some(&token), account)).await??;
            Ok(Self(member))
        })
    }
}

/// A platform app (the provisioning API).
#[derive(Debug, Clone, Copy)]
pub struct PlatformApp(pub i64);

impl FromRequest for PlatformApp {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = token(req);
        let state = state(req);
        Box::pin(async move {
            let state = state?;
            let token = token.ok_or(AuthError::MissingToken)?;
            let id = web::block(move || authenticate_platform_app(state.db.as_ref(), Some(&token))).await??;
            Ok(Self(id))
        })
    }
}
