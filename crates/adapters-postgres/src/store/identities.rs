//! [`IdentityStore`] on PostgreSQL: a contact's identities and who holds a value (use case:
//! `application::identities`; `application::contacts` names holders through it). The primaries are kept in
//! step with the contacts' columns by the trigger of the identities migration, not here.

use application::ports::IdentityStore;
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use domain::{AccountId, ContactId, Identity, IdentityKind, IdentitySource};

use super::PgSession;
use crate::errors::StoreResult;
use crate::prepared::Prepared;
use crate::schema::contact_identities;

impl IdentityStore for PgSession {
    fn identities(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Identity>, StoreError> {
        let rows: Vec<IdentityRow> = contact_identities::table
            .filter(contact_identities::account_id.eq(account.get()))
            .filter(contact_identities::contact_id.eq(contact.get()))
            .select(IdentityRow::as_select())
            .load(self.conn())
            .store()?;
        let mut identities = rows.into_iter().map(Identity::try_from).collect::<Result<Vec<_>, _>>()?;
        // primaries first, in the contact's field order, then secondaries oldest first
        identities.sort_by_key(|i| (!i.primary, if i.primary { Some(i.kind) } else { None }, i.created_at, i.id));
        Ok(identities)
    }

    fn insert_identity(
        &mut self,
        account: AccountId,
        contact: ContactId,
        kind: IdentityKind,
        value: &str,
    ) -> Result<Identity, StoreError> {
        let row: IdentityRow = diesel::insert_into(contact_identities::table)
            .values((
                contact_identities::account_id.eq(account.get()),
                contact_identities::contact_id.eq(contact.get()),
                contact_identities::kind.eq(kind.as_str()),
                contact_identities::value.eq(value),
            ))
            .returning(IdentityRow::as_returning())
            .get_result(self.conn())
            .store()?;
        row.try_into()
    }

    fn delete_secondary_identity(
        &mut self,
        account: AccountId,
        contact: ContactId,
        id: i64,
    ) -> Result<Option<Identity>, StoreError> {
        // one statement: the identity as it was, deleted only when it is a secondary one
        let row: Option<IdentityRow> = Prepared(
            diesel::sql_query(
                "WITH found AS ( \
                     SELECT * FROM contact_identities WHERE account_id = $1 AND contact_id = $2 AND id = $3), \
                 deleted AS ( \
                     DELETE FROM contact_identities t USING found WHERE t.id = found.id AND NOT found.is_primary) \
                 SELECT id, contact_id, kind, value, is_primary, source, created_at FROM found",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<BigInt, _>(contact.get())
            .bind::<BigInt, _>(id),
        )
        .get_result(self.conn())
        .optional()
        .store()?;
        row.map(Identity::try_from).transpose()
    }

    fn identity_holders(
        &mut self,
        account: AccountId,
        wanted: &[(IdentityKind, &str)],
    ) -> Result<Vec<(IdentityKind, ContactId)>, StoreError> {
        let pick = |kind: IdentityKind| wanted.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v);
        // Each alternative names its kind as a constant, so that each is answered by its kind's partial unique
        // index; emails compare in lower case, as the index holds them.
        let rows: Vec<HolderRow> = Prepared(
            diesel::sql_query(
                "SELECT kind, contact_id FROM contact_identities WHERE account_id = $1 AND ( \
                   (kind = 'email' AND normalized = lower($2)) \
                   OR (kind = 'phone_number' AND normalized = $3) \
                   OR (kind = 'identifier' AND normalized = $4))",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<Nullable<Text>, _>(pick(IdentityKind::Email))
            .bind::<Nullable<Text>, _>(pick(IdentityKind::PhoneNumber))
            .bind::<Nullable<Text>, _>(pick(IdentityKind::Identifier)),
        )
        .load(self.conn())
        .store()?;
        rows.into_iter().map(|r| Ok((parse_kind(&r.kind)?, ContactId::new(r.contact_id)))).collect()
    }
}

fn parse_kind(kind: &str) -> Result<IdentityKind, StoreError> {
    IdentityKind::parse(kind).ok_or_else(|| StoreError::Other(format!("unknown identity kind {kind}")))
}

/// A `contact_identities` row.
#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = contact_identities, check_for_backend(diesel::pg::Pg))]
struct IdentityRow {
    id: i64,
    contact_id: i64,
    kind: String,
    value: String,
    is_primary: bool,
    source: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<IdentityRow> for Identity {
    type Error = StoreError;

    fn try_from(r: IdentityRow) -> Result<Self, StoreError> {
        let source = IdentitySource::parse(&r.source)
            .ok_or_else(|| StoreError::Other(format!("unknown identity source {}", r.source)))?;
        Ok(Identity {
            id: r.id,
            contact_id: ContactId::new(r.contact_id),
            kind: parse_kind(&r.kind)?,
            value: r.value,
            primary: r.is_primary,
            source,
            created_at: r.created_at,
        })
    }
}

#[derive(QueryableByName)]
struct HolderRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
}
