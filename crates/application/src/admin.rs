//! Provisioning use cases behind `coalesce admin …` (and, later, the platform API): accounts, users with their
//! first token, platform apps, suspension, and the demo data `make run` creates on an empty database.

use domain::validation::validate_email;
use domain::{AccountId, UserId, Violations};

use crate::auth::{generate_token, token_digest};
use crate::ports::{in_transaction, Account, AccountStatus, Database, PlatformGrant, Role, StoreError, TokenOwner};

/// Why provisioning failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("invalid input: {0}")]
    Invalid(Violations),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A platform app asked about an account or user it did not create (the field says which).
    #[error("{0} is not the platform app's to provision")]
    NotPermitted(&'static str),
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Taken { field } => Self::Invalid(Violations::one(field, "taken", "has already been taken")),
            StoreError::MissingReference { entity } => Self::NotFound(entity),
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Other(m) => Self::Internal(m),
        }
    }
}

/// Longest accepted account, user, app or inbox name.
pub const MAX_NAME_LEN: usize = 255;

fn check_name(violations: &mut Violations, field: &str, name: &str) {
    if name.trim().is_empty() {
        violations.push(field, "blank", "can't be blank");
    } else if name.chars().count() > MAX_NAME_LEN {
        violations.push(field, "too_long", format!("must be at most {MAX_NAME_LEN} characters"));
    }
}

/// Creates an active account.
///
/// # Errors
/// `Invalid` for a blank or too long name.
pub fn create_account(db: &dyn Database, name: &str) -> Result<Account, AdminError> {
    create_account_by(db, None, name)
}

/// Creates an account for a platform app, which may then provision it.
///
/// # Errors
/// As [`create_account`].
pub fn platform_create_account(db: &dyn Database, app: i64, name: &str) -> Result<Account, AdminError> {
    create_account_by(db, Some(app), name)
}

fn create_account_by(db: &dyn Database, app: Option<i64>, name: &str) -> Result<Account, AdminError> {
    let mut v = Violations::default();
    check_name(&mut v, "name", name);
    v.into_result().map_err(AdminError::Invalid)?;
    in_transaction(db, |tx| {
        let account = tx.insert_account(name.trim())?;
        if let Some(app) = app {
            tx.grant_platform_app(app, PlatformGrant::Account(account.id))?;
        }
        Ok(account)
    })
}

/// A user with the only copy of its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedUser {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub access_token: String,
}

/// Creates a user, optionally makes it a member of an account, and gives it an access token; all or nothing.
///
/// # Errors
/// `Invalid` for a bad name or email or a taken email, `NotFound("account")` for an unknown account.
pub fn create_user(
    db: &dyn Database,
    name: &str,
    email: &str,
    membership: Option<(AccountId, Role)>,
) -> Result<CreatedUser, AdminError> {
    create_user_by(db, None, name, email, membership)
}

/// Creates a user for a platform app, which may then make it a member of its accounts.
///
/// # Errors
/// As [`create_user`].
pub fn platform_create_user(db: &dyn Database, app: i64, name: &str, email: &str) -> Result<CreatedUser, AdminError> {
    create_user_by(db, Some(app), name, email, None)
}

fn create_user_by(
    db: &dyn Database,
    app: Option<i64>,
    name: &str,
    email: &str,
    membership: Option<(AccountId, Role)>,
) -> Result<CreatedUser, AdminError> {
    let mut v = Violations::default();
    check_name(&mut v, "name", name);
    let email = email.trim().to_lowercase();
    if let Err(e) = validate_email(&email) {
        v.push_violation("email", e);
    }
    v.into_result().map_err(AdminError::Invalid)?;
    in_transaction(db, |tx| {
        let user = tx.insert_user(name.trim(), &email)?;
        if let Some(app) = app {
            tx.grant_platform_app(app, PlatformGrant::User(user.id))?;
        }
        if let Some((account, role)) = membership {
            tx.insert_membership(account, user.id, role)?;
        }
        let token = generate_token();
        tx.insert_access_token(TokenOwner::User(user.id), &token_digest(&token))?;
        Ok(CreatedUser { id: user.id, name: user.name, email: user.email, access_token: token })
    })
}

/// Makes an existing user a member of an account.
///
/// # Errors
/// `NotFound` for an unknown account or user, `Invalid` (`user_id` taken) when already a member.
pub fn add_member(db: &dyn Database, account: AccountId, user: UserId, role: Role) -> Result<(), AdminError> {
    add_member_by(db, None, account, user, role)
}

/// Makes a user a member of an account for a platform app, which must have created both.
///
/// # Errors
/// `NotPermitted("account")` or `NotPermitted("user")` for an account or user the app did not create (one that
/// does not exist included: an app learns nothing about others' ids), then as [`add_member`].
pub fn platform_add_member(
    db: &dyn Database,
    app: i64,
    account: AccountId,
    user: UserId,
    role: Role,
) -> Result<(), AdminError> {
    add_member_by(db, Some(app), account, user, role)
}

fn add_member_by(
    db: &dyn Database,
    app: Option<i64>,
    account: AccountId,
    user: UserId,
    role: Role,
) -> Result<(), AdminError> {
    in_transaction(db, |tx| {
        if let Some(app) = app {
            match tx.platform_app_grants(app, account, user)? {
                (false, _) => return Err(AdminError::NotPermitted("account")),
                (true, false) => return Err(AdminError::NotPermitted("user")),
                (true, true) => {}
            }
        }
        tx.insert_membership(account, user, role)?;
        Ok(())
    })
}

/// Creates a platform app and its token; returns `(id, token)`.
///
/// # Errors
/// `Invalid` for a bad name.
pub fn create_platform_app(db: &dyn Database, name: &str) -> Result<(i64, String), AdminError> {
    let mut v = Violations::default();
    check_name(&mut v, "name", name);
    v.into_result().map_err(AdminError::Invalid)?;
    in_transaction(db, |tx| {
        let id = tx.insert_platform_app(name.trim())?;
        let token = generate_token();
        tx.insert_access_token(TokenOwner::PlatformApp(id), &token_digest(&token))?;
        Ok((id, token))
    })
}

/// Suspends (or re-activates) an account.
///
/// # Errors
/// `NotFound("account")` when there is no such account.
pub fn set_account_status(db: &dyn Database, id: AccountId, status: AccountStatus) -> Result<(), AdminError> {
    in_transaction(db, |tx| {
        if !tx.set_account_status(id, status)? {
            return Err(AdminError::NotFound("account"));
        }
        Ok(())
    })
}

/// What `make run` creates on an empty database so that a newcomer can call the API at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSetup {
    pub account_id: AccountId,
    pub user: CreatedUser,
    pub inbox_id: i64,
}

/// Creates a demo account, an administrator and an API inbox — only when the database has no account yet.
///
/// # Errors
/// Storage failures.
pub fn bootstrap_demo(db: &dyn Database) -> Result<Option<DemoSetup>, AdminError> {
    in_transaction(db, |tx| {
        if tx.has_accounts()? {
            return Ok(None);
        }
        let account = tx.insert_account("Demo")?;
        let user = tx.insert_user("Demo Administrator", "admin@demo.coalesce.invalid")?;
        tx.insert_membership(account.id, user.id, Role::Administrator)?;
        let token = generate_token();
        tx.insert_access_token(TokenOwner::User(user.id), &token_digest(&token))?;
        let inbox_id = tx.insert_api_inbox(account.id, "Demo API inbox")?;
        Ok(Some(DemoSetup {
            account_id: account.id,
            user: CreatedUser { id: user.id, name: user.name, email: user.email, access_token: token },
            inbox_id,
        }))
    })
}

#[cfg(test)]
mod tests;
