//! The provisioning port ([`AdminStore`]): accounts, users, memberships, platform apps, their grants and
//! access tokens (used by `crate::admin`).

use domain::{AccountId, UserId};

use super::auth::{AccountStatus, Role, TokenOwner};
use super::error::StoreError;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub status: AccountStatus,
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

/// What a platform app created, and so may provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformGrant {
    Account(AccountId),
    User(UserId),
}

/// Provisioning: accounts, users, memberships, platform apps and their tokens.
pub trait AdminStore {
    /// # Errors
    /// Storage failures.
    fn insert_account(&mut self, name: &str) -> Result<Account, StoreError>;
    /// Sets the status; `Ok(false)` when there is no such account.
    ///
    /// # Errors
    /// Storage failures.
    fn set_account_status(&mut self, id: AccountId, status: AccountStatus) -> Result<bool, StoreError>;
    /// # Errors
    /// `Taken { field: "email" }` when a user already has that email (case-insensitive).
    fn insert_user(&mut self, name: &str, email: &str) -> Result<User, StoreError>;
    /// # Errors
    /// `MissingReference` when the account or the user does not exist; `Taken { field: "user_id" }` when the
    /// user is already a member.
    fn insert_membership(&mut self, account: AccountId, user: UserId, role: Role) -> Result<(), StoreError>;
    /// # Errors
    /// Storage failures.
    fn insert_platform_app(&mut self, name: &str) -> Result<i64, StoreError>;
    /// # Errors
    /// Storage failures.
    fn insert_access_token(&mut self, owner: TokenOwner, token_digest: &[u8]) -> Result<(), StoreError>;
    /// Records that a platform app created the account or the user, which it may then provision.
    ///
    /// # Errors
    /// Storage failures.
    fn grant_platform_app(&mut self, app: i64, grant: PlatformGrant) -> Result<(), StoreError>;
    /// Whether the platform app created the account, and whether it created the user.
    ///
    /// # Errors
    /// Storage failures.
    fn platform_app_grants(&mut self, app: i64, account: AccountId, user: UserId) -> Result<(bool, bool), StoreError>;
    /// Whether the database holds no account at all (a fresh install).
    ///
    /// # Errors
    /// Storage failures.
    fn has_accounts(&mut self) -> Result<bool, StoreError>;
    /// # Errors
    /// Storage failures.
    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError>;
}
