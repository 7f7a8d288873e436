//! Authentication extractors. A handler that takes [`AccountMember`] does its work through
//! [`AccountMember::run`], which only runs it for a member of the account in the path; one that takes
//! [`PlatformApp`] only runs for a platform app's token.
//!
//! The token is read from `api_access_token` (also spelled `api-access-token`) or `Authorization: Bearer`.
//! It is never logged.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use application::auth::{authenticate_member, authenticate_platform_app, AuthError, Member};
use application::contacts::{read_contact_for, ContactWithInboxes};
use application::Database;
use domain::{AccountId, ContactId};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::log_context::block;
use crate::rate_limit::TokenVerdict;
use crate::token::token_from_headers;
use crate::AppState;

/// The token sent with the request, if any.
fn token(req: &HttpRequest) -> Option<String> {
    token_from_headers(req.headers())
}

/// Tells the rate limiter whether the token exists: any answer past the token check means it does.
fn report<T>(verdict: Option<&TokenVerdict>, outcome: &Result<T, AuthError>) {
    let Some(verdict) = verdict else { return };
    match outcome {
        Ok(_)
        | Err(
            AuthError::PlatformTokenNotAllowed
            | AuthError::UserTokenNotAllowed
            | AuthError::AccountNotFound
            | AuthError::AccountSuspended
            | AuthError::NotAccountMember,
        ) => verdict.found(),
        Err(AuthError::InvalidToken) => verdict.not_found(),
        Err(AuthError::MissingToken | AuthError::Unavailable | AuthError::Internal(_)) => {}
    }
}

fn verdict(req: &HttpRequest) -> Option<TokenVerdict> {
    req.extensions().get::<TokenVerdict>().cloned()
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| ApiError::internal("AppState is not registered"))
}

/// The caller, for the account named by the `{account_id}` path segment.
///
/// Extracting it does no I/O beyond refusing a request without a token: the credentials are checked by
/// [`AccountMember::run`], in the same trip to the blocking pool as the handler's work (one thread hand-off per
/// request instead of two). The check still comes first: its failures (401, 404 for the account) are answered
/// before any of the handler's own, so handlers pass their parsed input into `run` as a `Result` and apply `?`
/// inside.
pub struct AccountMember {
    state: web::Data<AppState>,
    token: String,
    account: AccountId,
    verdict: Option<TokenVerdict>,
}

impl AccountMember {
    /// Authenticates the caller as a member of the account, then runs `work` with the database and the member;
    /// both on the blocking pool, in one hand-off.
    ///
    /// # Errors
    /// The authentication's errors, then `work`'s.
    pub async fn run<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Database, Member) -> Result<T, ApiError> + Send + 'static,
    {
        block(move || {
            let db = self.state.db.as_ref();
            let outcome = authenticate_member(db, Some(&self.token), self.account);
            report(self.verdict.as_ref(), &outcome);
            work(db, outcome?)
        })
        .await?
    }
}

impl AccountMember {
    /// Runs `work` on the blocking pool with the request's token and account, for use cases that check the
    /// token in their own first statement (one round trip for authentication and the read): `work` answers the
    /// authentication's outcome outside and its own inside.
    pub async fn run_signed_in<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Database, &str, AccountId) -> Result<Result<T, ApiError>, AuthError> + Send + 'static,
    {
        web::block(move || {
            let outcome = work(self.state.db.as_ref(), &self.token, self.account);
            report(self.verdict.as_ref(), &outcome);
            outcome?
        })
        .await?
    }
}

impl AccountMember {
    /// Reads the contact `id` for a member of the account without a thread of the blocking pool: the store
    /// reads it with the token's credentials (one statement, shared with the other requests' reads that arrive
    /// with it: `application::Database::read_contact`) and its answer wakes this request. `None` when the
    /// contact is not in the account.
    ///
    /// # Errors
    /// The authentication's errors, `Unavailable` when the database is.
    pub async fn read_contact(&self, id: ContactId) -> Result<Option<ContactWithInboxes>, ApiError> {
        let (answer, answered) = oneshot::channel();
        read_contact_for(self.state.db.as_ref(), Some(&self.token), self.account, id, move |outcome| {
            // the request may be gone (its client went away); nobody is left to tell
            let _ = answer.send(outcome);
        });
        let outcome = answered.await.map_err(|_| ApiError::internal("the contact read ended without an answer"))?;
        report(self.verdict.as_ref(), &outcome);
        Ok(outcome?)
    }
}

impl FromRequest for AccountMember {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = state(req)?;
            // The token is checked before the account, as the reference does: an anonymous caller learns
            // nothing about which accounts exist.
            let token = token(req).ok_or(AuthError::MissingToken)?;
            // Ids start at 1, so an id that does not parse becomes 0 and is simply an account that does not
            // exist, found after the token checks like any other.
            let account = req.match_info().get("account_id").and_then(|a| a.parse::<i64>().ok()).filter(|a| *a > 0);
            Ok(Self { state, token, account: AccountId::new(account.unwrap_or(0)), verdict: verdict(req) })
        })())
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
        let verdict = verdict(req);
        Box::pin(async move {
            let state = state?;
            let token = token.ok_or(AuthError::MissingToken)?;
            let id = block(move || {
                let outcome = authenticate_platform_app(state.db.as_ref(), Some(&token));
                report(verdict.as_ref(), &outcome);
                outcome
            })
            .await??;
            Ok(Self(id))
        })
    }
}
