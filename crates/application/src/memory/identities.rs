//! [`IdentityStore`] in memory. Every identity is a row, primaries included; `State::sync_identities` does
//! what PostgreSQL's identities trigger does when a contact's fields change: a value leaving a field stays as a
//! secondary, a value entering one is promoted (the contact's own secondary row) or inserted.

use chrono::Utc;
use domain::{AccountId, ContactAttributes, ContactId, Identity, IdentityKind, IdentitySource};

use super::{MemorySession, State};
use crate::ports::{IdentityStore, StoreError};

fn same(kind: IdentityKind, a: &str, b: &str) -> bool {
    if kind == IdentityKind::Email {
        a.to_lowercase() == b.to_lowercase()
    } else {
        a == b
    }
}

impl State {
    /// Every identity of the account, primaries and secondaries.
    fn all_identities(&self, account: AccountId) -> Vec<Identity> {
        self.identities.iter().filter(|(a, _)| *a == account).map(|(_, i)| i.clone()).collect()
    }

    /// The contact other than `writer` that holds `value` as an identity of `kind`.
    pub(super) fn identity_holder(
        &self,
        account: AccountId,
        kind: IdentityKind,
        value: &str,
        writer: Option<ContactId>,
    ) -> Option<ContactId> {
        self.all_identities(account)
            .into_iter()
            .find(|i| i.kind == kind && same(kind, &i.value, value) && Some(i.contact_id) != writer)
            .map(|i| i.contact_id)
    }

    /// What the identities trigger does when a contact's fields go from `old` to `new`.
    pub(super) fn sync_identities(
        &mut self,
        account: AccountId,
        contact: ContactId,
        old: Option<&ContactAttributes>,
        new: &ContactAttributes,
    ) {
        for kind in IdentityKind::ALL {
            let before = old.and_then(|o| kind.of(o)).map(str::to_owned);
            let after = kind.of(new).map(str::to_owned);
            if before == after {
                continue;
            }
            if before.is_some() {
                for (_, i) in self
                    .identities
                    .iter_mut()
                    .filter(|(a, i)| *a == account && i.contact_id == contact && i.kind == kind && i.primary)
                {
                    i.primary = false;
                }
            }
            let Some(value) = after else { continue };
            let own = self.identities.iter_mut().find(|(a, i)| {
                *a == account && i.contact_id == contact && i.kind == kind && same(kind, &i.value, &value)
            });
            match own {
                Some((_, i)) => i.primary = true,
                None => {
                    let id = self.id();
                    let row = Identity {
                        id,
                        contact_id: contact,
                        kind,
                        value,
                        primary: true,
                        source: IdentitySource::Api,
                        created_at: Utc::now(),
                    };
                    self.identities.push((account, row));
                }
            }
        }
    }
}

impl IdentityStore for MemorySession {
    fn identities(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Identity>, StoreError> {
        let mut found: Vec<Identity> =
            self.work.all_identities(account).into_iter().filter(|i| i.contact_id == contact).collect();
        found.sort_by_key(|i| (!i.primary, if i.primary { Some(i.kind) } else { None }, i.created_at, i.id));
        Ok(found)
    }

    fn insert_identity(
        &mut self,
        account: AccountId,
        contact: ContactId,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Identity, StoreError> {
        if !self.work.has_contact(account, contact) {
            return Err(StoreError::MissingReference { entity: "contact" });
        }
        if self.work.identity_holder(account, kind, value, None).is_some() {
            return Err(StoreError::Taken { field: kind.as_str() });
        }
        let identity = Identity {
            id: self.work.id(),
            contact_id: contact,
            kind,
            value: value.to_owned(),
            primary: false,
            source: IdentitySource::Api,
            created_at: Utc::now(),
        };
        self.work.identities.push((account, identity.clone()));
        Ok(identity)
    }

    fn delete_secondary_identity(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: i64,
    ) -> Result<Option<Identity>, StoreError> {
        let found = self.identities(account, contact)?.into_iter().find(|i| i.id == id);
        if found.as_ref().is_some_and(|i| !i.primary) {
            self.work.identities.retain(|(a, i)| !(*a == account && i.id == id));
        }
        Ok(found)
    }

    fn identity_holders(
        &mut self,
        account: AccountId,
        wanted: &[(IdentityKind, &str)],
    ) -> Result<Vec<(IdentityKind, ContactId)>, StoreError> {
        Ok(wanted
            .iter()
            .filter_map(|(kind, value)| self.work.identity_holder(account, *kind, value, None).map(|h| (*kind, h)))
            .collect())
    }
}
