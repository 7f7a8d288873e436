//! [`AdminStore`] on PostgreSQL: provisioning of accounts, users, memberships, platform apps, their grants and
//! access tokens (use case: `application::admin`).

use application::ports::{Account, AccountStatus, AdminStore, PlatformGrant, Role, TokenOwner, User};
use application::StoreError;
use chrono::Utc;
use diesel::prelude::*;
use domain::{AccountId, UserId};

use super::auth::account_status;
use super::PgSession;
use crate::errors::StoreResult;
use crate::schema::{
    access_tokens, account_users, accounts, inboxes, platform_app_accounts, platform_app_users, platform_apps, users,
};

impl AdminStore for PgSession {
    fn insert_account(&mut self, name: &str) -> Result<Account, StoreError> {
        let (id, status): (i64, String) = diesel::insert_into(accounts::table)
            .values(accounts::name.eq(name))
            .returning((accounts::id, accounts::status))
            .get_result(self.conn())
            .store()?;
        Ok(Account { id: AccountId::new(id), name: name.to_owned(), status: account_status(&status) })
    }

    fn set_account_status(&mut self, id: AccountId, status: AccountStatus) -> Result<bool, StoreError> {
        let n = diesel::update(accounts::table.find(id.get()))
            .set((accounts::status.eq(status.as_str()), accounts::updated_at.eq(Utc::now())))
            .execute(self.conn())
            .store()?;
        Ok(n == 1)
    }

    fn insert_user(&mut self, name: &str, email: &str) -> Result<User, StoreError> {
        let id: i64 = diesel::insert_into(users::table)
            .values((users::name.eq(name), users::email.eq(email)))
            .returning(users::id)
            .get_result(self.conn())
            .store()?;
        Ok(User { id: UserId::new(id), name: name.to_owned(), email: email.to_owned() })
    }

    fn insert_membership(&mut self, account: AccountId, user: UserId, role: Role) -> Result<(), StoreError> {
        diesel::insert_into(account_users::table)
            .values((
                account_users::account_id.eq(account.get()),
                account_users::user_id.eq(user.get()),
                account_users::role.eq(role.as_str()),
            ))
            .execute(self.conn())
            .store()?;
        Ok(())
    }

    fn insert_platform_app(&mut self, name: &str) -> Result<i64, StoreError> {
        diesel::insert_into(platform_apps::table)
            .values(platform_apps::name.eq(name))
            .returning(platform_apps::id)
            .get_result(self.conn())
            .store()
    }

    fn insert_access_token(&mut self, owner: TokenOwner, token_digest: &[u8]) -> Result<(), StoreError> {
        let (user_id, platform_app_id) = match owner {
            TokenOwner::User(u) => (Some(u.get()), None),
            TokenOwner::PlatformApp(p) => (None, Some(p)),
        };
        diesel::insert_into(access_tokens::table)
            .values((
                access_tokens::token_digest.eq(token_digest),
                access_tokens::user_id.eq(user_id),
                access_tokens::platform_app_id.eq(platform_app_id),
            ))
            .execute(self.conn())
            .store()?;
        Ok(())
    }

    fn grant_platform_app(&mut self, app: i64, grant: PlatformGrant) -> Result<(), StoreError> {
        match grant {
            PlatformGrant::Account(account) => diesel::insert_into(platform_app_accounts::table)
                .values((
                    platform_app_accounts::platform_app_id.eq(app),
                    platform_app_accounts::account_id.eq(account.get()),
                ))
                .execute(self.conn()),
            PlatformGrant::User(user) => diesel::insert_into(platform_app_users::table)
                .values((platform_app_users::platform_app_id.eq(app), platform_app_users::user_id.eq(user.get())))
                .execute(self.conn()),
        }
        .store()?;
        Ok(())
    }

    fn platform_app_grants(&mut self, app: i64, account: AccountId, user: UserId) -> Result<(bool, bool), StoreError> {
        let account_granted = platform_app_accounts::table
            .filter(platform_app_accounts::platform_app_id.eq(app))
            .filter(platform_app_accounts::account_id.eq(account.get()))
            .select(platform_app_accounts::account_id);
        let user_granted = platform_app_users::table
            .filter(platform_app_users::platform_app_id.eq(app))
            .filter(platform_app_users::user_id.eq(user.get()))
            .select(platform_app_users::user_id);
        diesel::select((diesel::dsl::exists(account_granted), diesel::dsl::exists(user_granted)))
            .get_result(self.conn())
            .store()
    }

    fn has_accounts(&mut self) -> Result<bool, StoreError> {
        diesel::select(diesel::dsl::exists(accounts::table.select(accounts::id))).get_result(self.conn()).store()
    }

    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError> {
        diesel::insert_into(inboxes::table)
            .values((inboxes::account_id.eq(account.get()), inboxes::name.eq(name)))
            .returning(inboxes::id)
            .get_result(self.conn())
            .store()
    }
}
