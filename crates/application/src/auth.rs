//! Authentication: access tokens (generated here, stored only as a SHA-256 digest) and the checks that turn a
//! token plus an account id into an account member, in the reference's order: token, then account, then
//! membership.

use domain::{AccountId, UserId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::ports::{AccountStatus, Database, Role, StoreError, TokenOwner};

/// An authenticated member of an account, the actor of every account-scoped use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub role: Role,
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no access token was sent")]
    MissingToken,
    #[error("the access token is not valid")]
    InvalidToken,
    #[error("platform app tokens cannot use this endpoint")]
    PlatformTokenNotAllowed,
    #[error("this endpoint needs a platform app token")]
    UserTokenNotAllowed,
    #[error("account not found")]
    AccountNotFound,
    #[error("the account is suspended")]
    AccountSuspended,
    #[error("the user is not a member of this account")]
    NotAccountMember,
    #[error("database unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A new random access token: 32 random bytes, hex-encoded. Shown once; only [`token_digest`] is stored.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 digest under which a token is stored and looked up.
pub fn token_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A token as sent: blank counts as absent.
fn present(token: Option<&str>) -> Option<&str> {
    token.map(str::trim).filter(|t| !t.is_empty())
}

/// Lets a user in to one account.
///
/// # Errors
/// The first check that fails, in the order token → account → membership.
pub fn authenticate_member(db: &dyn Database, token: Option<&str>, account: AccountId) -> Result<Member, AuthError> {
    let token = present(token).ok_or(AuthError::MissingToken)?;
    // Every token, well-formed or not, takes the same path: digest, then one lookup.
    let credentials = db.connect()?.credentials(&token_digest(token), Some(account))?;
    let user_id = match credentials.owner {
        None => return Err(AuthError::InvalidToken),
        Some(TokenOwner::PlatformApp(_)) => return Err(AuthError::PlatformTokenNotAllowed),
        Some(TokenOwner::User(user)) => user,
    };
    match credentials.account {
        None => return Err(AuthError::AccountNotFound),
        Some(AccountStatus::Suspended) => return Err(AuthError::AccountSuspended),
        Some(AccountStatus::Active) => {}
    }
    let role = credentials.role.ok_or(AuthError::NotAccountMember)?;
    Ok(Member { user_id, account_id: account, role })
}

/// Lets a platform app in (the provisioning API).
///
/// # Errors
/// `MissingToken`, `InvalidToken`, or `UserTokenNotAllowed` for a user's token.
pub fn authenticate_platform_app(db: &dyn Database, token: Option<&str>) -> Result<i64, AuthError> {
    let token = present(token).ok_or(AuthError::MissingToken)?;
    let credentials = db.connect()?.credentials(&token_digest(token), None)?;
    match credentials.owner {
        None => Err(AuthError::InvalidToken),
        Some(TokenOwner::User(_)) => Err(AuthError::UserTokenNotAllowed),
        Some(TokenOwner::PlatformApp(id)) => Ok(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_ne!(token_digest(&a), token_digest(&b));
        assert_eq!(token_digest(&a).len(), 32);
    }

    #[test]
    fn blank_tokens_are_absent() {
        assert_eq!(present(Some("  ")), None);
        assert_eq!(present(Some("")), None);
        assert_eq!(present(None), None);
        assert_eq!(present(Some(" t ")), Some("t"));
    }
}
