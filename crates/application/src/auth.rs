//! Authentication: access tokens (generated here, stored only as a SHA-256 digest) and the checks that turn a
//! token plus an account id into an account member, in the reference's order: token, then account, then
//! membership.

use domain::{AccountId, UserId};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::ports::{on_connection, AccountStatus, Credentials, Database, Role, StoreError, TokenOwner};

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
    let digest = token_digest(token);
    let credentials = on_connection(db, |s| s.credentials(&digest, Some(account)))?;
    member_from(&credentials, account)
}

/// The digest a sent token is looked up by (for use cases that authenticate in their own first statement).
///
/// # Errors
/// `MissingToken` when the token is absent or blank.
pub fn sent_token_digest(token: Option<&str>) -> Result<Vec<u8>, AuthError> {
    present(token).map(token_digest).ok_or(AuthError::MissingToken)
}

/// The member `credentials` (found for one request's token and `account`) make, or the first check that fails,
/// in the order token → account → membership.
///
/// # Errors
/// The first check that fails.
pub fn member_from(credentials: &Credentials, account: AccountId) -> Result<Member, AuthError> {
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
    let digest = token_digest(token);
    let credentials = on_connection(db, |s| s.credentials(&digest, None))?;
    match credentials.owner {
        None => Err(AuthError::InvalidToken),
        Some(TokenOwner::User(_)) => Err(AuthError::UserTokenNotAllowed),
        Some(TokenOwner::PlatformApp(id)) => Ok(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::{create_account, create_platform_app, create_user, set_account_status};
    use crate::memory::MemoryDb;

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

    /// An account with a member, a user of no account and a platform app, each with its token.
    struct Tokens {
        db: MemoryDb,
        account: AccountId,
        member: (UserId, String),
        outsider: String,
        app: (i64, String),
    }

    fn tokens() -> Tokens {
        let db = MemoryDb::default();
        let account = create_account(&db, "Acme").unwrap().id;
        let member = create_user(&db, "Ada", "ada@example.com", Some((account, Role::Agent))).unwrap();
        let outsider = create_user(&db, "Out", "out@example.com", None).unwrap();
        let app = create_platform_app(&db, "Provisioner").unwrap();
        Tokens { db, account, member: (member.id, member.access_token), outsider: outsider.access_token, app }
    }

    #[test]
    fn a_member_is_let_in_with_its_role() {
        let t = tokens();
        // surrounding whitespace is not part of the token
        let padded = format!("  {}\t", t.member.1);
        assert_eq!(
            authenticate_member(&t.db, Some(&padded), t.account),
            Ok(Member { user_id: t.member.0, account_id: t.account, role: Role::Agent })
        );
    }

    #[test]
    fn member_checks_fail_in_the_order_token_account_membership() {
        let t = tokens();
        let nowhere = AccountId::new(999);
        let cases: [(Option<&str>, AccountId, AuthError); 8] = [
            (None, t.account, AuthError::MissingToken),
            (Some("  "), nowhere, AuthError::MissingToken),
            (Some("not-a-token"), t.account, AuthError::InvalidToken),
            (Some("not-a-token"), nowhere, AuthError::InvalidToken),
            (Some(&t.app.1), t.account, AuthError::PlatformTokenNotAllowed),
            (Some(&t.member.1), nowhere, AuthError::AccountNotFound),
            (Some(&t.outsider), nowhere, AuthError::AccountNotFound),
            (Some(&t.outsider), t.account, AuthError::NotAccountMember),
        ];
        for (token, account, expected) in cases {
            assert_eq!(authenticate_member(&t.db, token, account), Err(expected.clone()), "{token:?} {account}");
        }
        set_account_status(&t.db, t.account, AccountStatus::Suspended).unwrap();
        assert_eq!(authenticate_member(&t.db, Some(&t.member.1), t.account), Err(AuthError::AccountSuspended));
        assert_eq!(authenticate_member(&t.db, Some(&t.outsider), t.account), Err(AuthError::AccountSuspended));
    }

    #[test]
    fn only_platform_app_tokens_reach_the_platform_api() {
        let t = tokens();
        assert_eq!(authenticate_platform_app(&t.db, Some(&t.app.1)), Ok(t.app.0));
        assert_eq!(authenticate_platform_app(&t.db, Some(&format!(" {} ", t.app.1))), Ok(t.app.0));
        assert_eq!(authenticate_platform_app(&t.db, Some(&t.member.1)), Err(AuthError::UserTokenNotAllowed));
        assert_eq!(authenticate_platform_app(&t.db, Some("not-a-token")), Err(AuthError::InvalidToken));
        assert_eq!(authenticate_platform_app(&t.db, Some("")), Err(AuthError::MissingToken));
        assert_eq!(authenticate_platform_app(&t.db, None), Err(AuthError::MissingToken));
    }

    #[test]
    fn storage_errors_are_unavailable_or_internal() {
        assert_eq!(AuthError::from(StoreError::Unavailable("timeout".into())), AuthError::Unavailable);
        assert_eq!(
            AuthError::from(StoreError::Other("boom".into())),
            AuthError::Internal("storage failure: boom".into())
        );
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(
            hex::encode(token_digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(generate_token().chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn blank_tokens_are_absent() {
        assert_eq!(present(Some("  ")), None);
        assert_eq!(present(Some("")), None);
        assert_eq!(present(None), None);
        assert_eq!(present(Some(" t ")), Some("t"));
    }
}
