//! Bodies of the platform API (provisioning with a platform app's token).

use application::admin::CreatedUser;
use application::ports::{Account, Role};
use domain::UserId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::fields;

/// Body of `POST /platform/api/v1/accounts`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct PlatformAccountRequest {
    /// Name of the account.
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 255, pattern = r"\S", example = "Acme Inc")]
    #[validate(custom(function = "fields::required_name"))]
    pub name: Value,
}

impl PlatformAccountRequest {
    pub fn name(&self) -> String {
        fields::text(&self.name).unwrap_or_default()
    }
}

/// An account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlatformAccountDto {
    pub id: i64,
    pub name: String,
    /// `active` or `suspended`.
    #[schema(example = "active")]
    pub status: &'static str,
}

impl From<&Account> for PlatformAccountDto {
    fn from(a: &Account) -> Self {
        Self { id: a.id.get(), name: a.name.clone(), status: a.status.as_str() }
    }
}

/// Body of `POST /platform/api/v1/users`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct PlatformUserRequest {
    /// Name of the user.
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 255, pattern = r"\S", example = "Daniel")]
    #[validate(custom(function = "fields::required_name"))]
    pub name: Value,
    /// Email of the user; unique (case-insensitive).
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Email, max_length = 254, example = "daniel@acme.inc")]
    #[validate(custom(function = "fields::required_email"))]
    pub email: Value,
}

impl PlatformUserRequest {
    pub fn name(&self) -> String {
        fields::text(&self.name).unwrap_or_default()
    }

    pub fn email(&self) -> String {
        fields::text(&self.email).unwrap_or_default()
    }
}

/// A user, with the only copy of its access token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlatformUserDto {
    pub id: i64,
    pub name: String,
    pub available_name: String,
    pub email: String,
    pub confirmed: bool,
    /// The user's API token (`api_access_token`). Shown only here: only its digest is stored.
    pub access_token: String,
}

impl From<&CreatedUser> for PlatformUserDto {
    fn from(u: &CreatedUser) -> Self {
        Self {
            id: u.id.get(),
            name: u.name.clone(),
            available_name: u.name.clone(),
            email: u.email.clone(),
            confirmed: true,
            access_token: u.access_token.clone(),
        }
    }
}

/// Body of `POST /platform/api/v1/accounts/{account_id}/account_users`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct AccountUserRequest {
    /// The user to make a member.
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1, example = 1)]
    #[validate(custom(function = "fields::id"))]
    pub user_id: Value,
    /// `administrator` or `agent`.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = "^(agent|administrator)$", example = "administrator")]
    #[validate(custom(function = "fields::role"))]
    pub role: Value,
}

impl AccountUserRequest {
    pub fn user_id(&self) -> UserId {
        UserId::new(fields::id_value(&self.user_id))
    }

    pub fn role(&self) -> Role {
        self.role.as_str().and_then(Role::parse).unwrap_or(Role::Agent)
    }
}

/// A membership.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountUserDto {
    pub account_id: i64,
    pub user_id: i64,
    #[schema(example = "administrator")]
    pub role: &'static str,
}
