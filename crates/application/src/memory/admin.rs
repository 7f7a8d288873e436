//! [`AdminStore`] in memory: accounts, users, memberships, platform apps and tokens, refusing duplicates and
//! dangling references as PostgreSQL's constraints do.

use domain::{AccountId, UserId};

use super::MemorySession;
use crate::ports::{Account, AccountStatus, AdminStore, PlatformGrant, Role, StoreError, TokenOwner, User};

impl AdminStore for MemorySession {
    fn insert_account(&mut self, name: &str) -> Result<Account, StoreError> {
        let account = Account { id: AccountId::new(self.work.id()), name: name.into(), status: AccountStatus::Active };
        self.work.accounts.push(account.clone());
        Ok(account)
    }

    fn set_account_status(&mut self, id: AccountId, status: AccountStatus) -> Result<bool, StoreError> {
        let found = self.work.accounts.iter_mut().find(|a| a.id == id);
        Ok(found.map(|a| a.status = status).is_some())
    }

    fn insert_user(&mut self, name: &str, email: &str) -> Result<User, StoreError> {
        if self.work.users.iter().any(|u| u.email.eq_ignore_ascii_case(email)) {
            return Err(StoreError::Taken { field: "email" });
        }
        let user = User { id: UserId::new(self.work.id()), name: name.into(), email: email.into() };
        self.work.users.push(user.clone());
        Ok(user)
    }

    fn insert_membership(&mut self, account: AccountId, user: UserId, role: Role) -> Result<(), StoreError> {
        if !self.work.accounts.iter().any(|a| a.id == account) {
            return Err(StoreError::MissingReference { entity: "account" });
        }
        if !self.work.users.iter().any(|u| u.id == user) {
            return Err(StoreError::MissingReference { entity: "user" });
        }
        if self.work.memberships.iter().any(|(a, u, _)| *a == account && *u == user) {
            return Err(StoreError::Taken { field: "user_id" });
        }
        self.work.memberships.push((account, user, role));
        Ok(())
    }

    fn insert_platform_app(&mut self, name: &str) -> Result<i64, StoreError> {
        let id = self.work.id();
        self.work.platform_apps.push((id, name.into()));
        Ok(id)
    }

    fn insert_access_token(&mut self, owner: TokenOwner, digest: &[u8]) -> Result<(), StoreError> {
        self.work.tokens.push((digest.to_vec(), owner));
        Ok(())
    }

    fn grant_platform_app(&mut self, app: i64, grant: PlatformGrant) -> Result<(), StoreError> {
        self.work.platform_grants.push((app, grant));
        Ok(())
    }

    fn platform_app_grants(&mut self, app: i64, account: AccountId, user: UserId) -> Result<(bool, bool), StoreError> {
        let granted = |g: PlatformGrant| self.work.platform_grants.contains(&(app, g));
        Ok((granted(PlatformGrant::Account(account)), granted(PlatformGrant::User(user))))
    }

    fn has_accounts(&mut self) -> Result<bool, StoreError> {
        Ok(!self.work.accounts.is_empty())
    }

    fn insert_api_inbox(&mut self, account: AccountId, name: &str) -> Result<i64, StoreError> {
        Ok(self.work.add_inbox(account, name).id.get())
    }
}
