//! [`AuthStore`] on PostgreSQL: a request's token owner, account status and role in one round trip
//! (use case: `application::auth`).

use application::ports::{AccountStatus, AuthStore, Credentials, Role, TokenOwner};
use application::StoreError;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Nullable, Text};
use domain::{AccountId, UserId};

use super::PgSession;
use crate::errors::StoreResult;
use crate::prepared::Prepared;

#[derive(QueryableByName)]
struct CredentialsRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    user_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    platform_app_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    account_status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<String>,
}

/// The columns [`credentials`] is made of: the token's owner, the account's status and the owner's role in it.
/// With [`credentials_from!`], every statement that authenticates a request reads them the same way (the
/// authentication lookup, and GET contact's one statement).
macro_rules! credentials_columns {
    () => {
        "t.user_id, t.platform_app_id, a.status AS account_status, au.role"
    };
}
pub(super) use credentials_columns;

/// The joins behind [`credentials_columns!`] for the token digest and account the two expressions name: each
/// outer, so that the row they join to stays (all NULL for an unknown token).
macro_rules! credentials_joins {
    ($digest:literal, $account:literal) => {
        concat!(
            "LEFT JOIN access_tokens t ON t.token_digest = ",
            $digest,
            " LEFT JOIN accounts a ON a.id = ",
            $account,
            " LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id"
        )
    };
}
pub(super) use credentials_joins;

/// The rows behind [`credentials_columns!`], `$1` the token's digest and `$2` the account: one row always (all
/// NULL for an unknown token), so that a statement can join more to it.
macro_rules! credentials_from {
    () => {
        concat!("FROM (SELECT 1) AS one ", credentials_joins!("$1", "$2"))
    };
}

pub(super) fn account_status(s: &str) -> AccountStatus {
    if s == "active" {
        AccountStatus::Active
    } else {
        AccountStatus::Suspended
    }
}

impl AuthStore for PgSession {
    fn credentials(&mut self, token_digest: &[u8], account: Option<AccountId>) -> Result<Credentials, StoreError> {
        // One round trip: token owner, account status and membership together.
        let row: CredentialsRow = Prepared(
            diesel::sql_query(concat!("SELECT ", credentials_columns!(), " ", credentials_from!()))
                .bind::<Bytea, _>(token_digest)
                .bind::<Nullable<BigInt>, _>(account.map(AccountId::get)),
        )
        .get_result(self.conn())
        .store()?;
        Ok(credentials(row.user_id, row.platform_app_id, row.account_status.as_deref(), row.role.as_deref()))
    }
}

/// The credentials the authentication columns of a row make (see `credentials` above for the columns).
pub(super) fn credentials(
    user_id: Option<i64>,
    platform_app_id: Option<i64>,
    status: Option<&str>,
    role: Option<&str>,
) -> Credentials {
    let owner = match (user_id, platform_app_id) {
        (Some(u), _) => Some(TokenOwner::User(UserId::new(u))),
        (None, Some(p)) => Some(TokenOwner::PlatformApp(p)),
        (None, None) => None,
    };
    Credentials { owner, account: status.map(account_status), role: role.and_then(Role::parse) }
}
