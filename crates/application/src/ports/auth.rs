//! The authentication port ([`AuthStore`]) and the vocabulary of who may do what: account statuses, member
//! roles and token owners (used by `crate::auth` and `crate::admin`).

use domain::{AccountId, UserId};

use super::error::StoreError;

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// A member's role in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Administrator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Administrator => "administrator",
        }
    }

    /// Parses `agent` or `administrator`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "administrator" => Some(Self::Administrator),
            _ => None,
        }
    }
}

/// Who owns an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwner {
    User(UserId),
    PlatformApp(i64),
}

/// Everything authentication needs about one request, found in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// The token's owner, `None` when no token has that digest.
    pub owner: Option<TokenOwner>,
    /// The account's status, `None` when it does not exist.
    pub account: Option<AccountStatus>,
    /// The owner's role in the account, `None` when the owner is not a member.
    pub role: Option<Role>,
}

/// Looks up tokens, accounts and memberships.
pub trait AuthStore {
    /// # Errors
    /// Storage failures only; unknown things are `None` fields of [`Credentials`].
    fn credentials(&mut self, token_digest: &[u8], account: Option<AccountId>) -> Result<Credentials, StoreError>;
}
