//! The platform API (`/platform/api/v1/…`): provisioning accounts, users and memberships with a platform
//! app's token, over the same use cases as `coalesce admin`.

use actix_web::{post, web, HttpRequest, HttpResponse};
use application::admin::{platform_add_member, platform_create_account, platform_create_user};
use domain::AccountId;

use crate::auth::PlatformApp;
use crate::dto::parse_body;
use crate::dto::platform::{
    AccountUserDto, AccountUserRequest, PlatformAccountDto, PlatformAccountRequest, PlatformUserDto,
    PlatformUserRequest,
};
use crate::error::{ApiError, ErrorBody};
use crate::log_context::block;
use crate::params::path_id;
use crate::AppState;

/// Create an Account
#[utoipa::path(
    tag = "Platform",
    operation_id = "create-an-account",
    request_body(content = PlatformAccountRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = PlatformAccountDto),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized: no platform app token", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("platformAppApiKey" = []))
)]
#[post("/platform/api/v1/accounts")]
pub async fn platform_account_create(
    app: PlatformApp,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request: PlatformAccountRequest = parse_body(&req, &body)?;
    let name = request.name();
    let account = block(move || platform_create_account(state.db.as_ref(), app.0, &name)).await??;
    Ok(HttpResponse::Ok().json(PlatformAccountDto::from(&account)))
}

/// Create a User
///
/// Creates a user and its access token, which this answer shows once (only its digest is stored). Make the
/// user a member of an account with `POST /platform/api/v1/accounts/{account_id}/account_users`.
#[utoipa::path(
    tag = "Platform",
    operation_id = "create-a-user",
    request_body(content = PlatformUserRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = PlatformUserDto),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized: no platform app token", body = ErrorBody),
        (status = 422, description = "Email already taken", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("platformAppApiKey" = []))
)]
#[post("/platform/api/v1/users")]
pub async fn platform_user_create(
    app: PlatformApp,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request: PlatformUserRequest = parse_body(&req, &body)?;
    let (name, email) = (request.name(), request.email());
    let user = block(move || platform_create_user(state.db.as_ref(), app.0, &name, &email)).await??;
    Ok(HttpResponse::Ok().json(PlatformUserDto::from(&user)))
}

/// Create an Account User
///
/// Makes a user a member of the account, as `administrator` or `agent`. A platform app provisions only what it
/// created: the account and the user must both have been created with its token (`non_permissible_resource`
/// otherwise, also for ids that do not exist).
#[utoipa::path(
    tag = "Platform",
    operation_id = "create-an-account-user",
    params(("account_id" = i64, Path, minimum = 1, description = "The numeric ID of the account")),
    request_body(content = AccountUserRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Success", body = AccountUserDto),
        (status = 400, description = "Malformed body or invalid field", body = ErrorBody),
        (status = 401, description = "Unauthorized: no platform app token, or an account or user this app did not create (`non_permissible_resource`)", body = ErrorBody),
        (status = 404, description = "The account id in the path is not a number", body = ErrorBody),
        (status = 422, description = "The user is already a member", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("platformAppApiKey" = []))
)]
#[post("/platform/api/v1/accounts/{account_id}/account_users")]
pub async fn platform_account_user_create(
    app: PlatformApp,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = AccountId::new(path_id(&req, "account_id")?);
    let request: AccountUserRequest = parse_body(&req, &body)?;
    let (user, role) = (request.user_id(), request.role());
    block(move || platform_add_member(state.db.as_ref(), app.0, account, user, role)).await??;
    Ok(HttpResponse::Ok().json(AccountUserDto { account_id: account.get(), user_id: user.get(), role: role.as_str() }))
}
