//! [`AuthStore`] in memory: token owner, account status and role for the use-case tests.

use domain::AccountId;

use super::MemorySession;
use crate::ports::{AuthStore, Credentials, StoreError, TokenOwner};

impl AuthStore for MemorySession {
    fn credentials(&mut self, digest: &[u8], account: Option<AccountId>) -> Result<Credentials, StoreError> {
        let owner = self.work.tokens.iter().find(|(d, _)| d == digest).map(|(_, o)| *o);
        let account_row = account.and_then(|a| self.work.accounts.iter().find(|x| x.id == a));
        let role = match (owner, account) {
            (Some(TokenOwner::User(u)), Some(a)) => {
                self.work.memberships.iter().find(|(ma, mu, _)| *ma == a && *mu == u).map(|m| m.2)
            }
            _ => None,
        };
        Ok(Credentials { owner, account: account_row.map(|a| a.status), role })
    }
}
