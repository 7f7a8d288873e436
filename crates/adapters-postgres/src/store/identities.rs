//! [`IdentityStore`] on PostgreSQL: a contact's identities and who holds a value (use case:
//! `application::identities`; `application::contacts` names holders through it). The primaries are kept in
//! step with the contacts' columns by the trigger of the identities migration, not here.
//!
//! Identities belong to holders, and holders to contacts (migration `2026-12-04-000030`): a contact's identities
//! are those of the holders it holds. What the API calls primary is the contact's own email, phone number or
//! identifier (the row's flag says it was a primary of its holder's first contact), and an identity whose holder
//! was merged away came from a merge.

use application::ports::IdentityStore;
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use domain::{AccountId, ContactId, Identity, IdentityKind, IdentitySource};

use super::PgSession;
use crate::errors::StoreResult;
use crate::prepared::Prepared;

/// A contact's identities as the API shows them, from the holders (`h`) it holds, joined to the contact (`c`)
/// and the identities (`i`); the caller adds the conditions.
macro_rules! held_identities {
    () => {
        "SELECT i.id, h.contact_id, i.kind, i.value, \
                i.normalized IS NOT DISTINCT FROM CASE i.kind WHEN 'email' THEN lower(c.email) \
                    WHEN 'phone_number' THEN c.phone_number ELSE c.identifier END AS is_primary, \
                CASE WHEN h.id <> h.contact_id THEN 'merge' ELSE i.source END AS source, i.created_at \
         FROM contact_identity_holders h \
         JOIN contacts c ON c.account_id = h.account_id AND c.id = h.contact_id \
         JOIN contact_identities i ON i.account_id = h.account_id AND i.holder_id = h.id "
    };
}

impl IdentityStore for PgSession {
    fn identities(&mut self, account: AccountId, contact: ContactId) -> Result<Vec<Identity>, StoreError> {
        let rows: Vec<IdentityRow> = Prepared(
            diesel::sql_query(concat!(held_identities!(), "WHERE h.account_id = $1 AND h.contact_id = $2"))
                .bind::<BigInt, _>(account.get())
                .bind::<BigInt, _>(contact.get()),
        )
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
        // into the contact's own holder, created with its first identity (the foreign key is checked at the
        // statement's end, when both rows are there)
        let row: IdentityRow = Prepared(
            diesel::sql_query(
                "WITH own_holder AS ( \
                     INSERT INTO contact_identity_holders (account_id, id, contact_id) VALUES ($1, $2, $2) \
                     ON CONFLICT DO NOTHING) \
                 INSERT INTO contact_identities (account_id, holder_id, kind, value) VALUES ($1, $2, $3, $4) \
                 RETURNING id, holder_id AS contact_id, kind, value, is_primary, source, created_at",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<BigInt, _>(contact.get())
            .bind::<Text, _>(kind.as_str())
            .bind::<Text, _>(value),
        )
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
            diesel::sql_query(concat!(
                "WITH found AS (",
                held_identities!(),
                "WHERE h.account_id = $1 AND h.contact_id = $2 AND i.id = $3), \
                 deleted AS ( \
                     DELETE FROM contact_identities t USING found \
                     WHERE t.account_id = $1 AND t.id = found.id AND NOT found.is_primary) \
                 SELECT * FROM found"
            ))
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
        // index; emails compare in lower case, as the index holds them. The contact is the holder's.
        let rows: Vec<HolderRow> = Prepared(
            diesel::sql_query(
                "SELECT i.kind, h.contact_id FROM contact_identities i \
                 JOIN contact_identity_holders h ON h.account_id = i.account_id AND h.id = i.holder_id \
                 WHERE i.account_id = $1 AND ( \
                   (i.kind = 'email' AND i.normalized = lower($2)) \
                   OR (i.kind = 'phone_number' AND i.normalized = $3) \
                   OR (i.kind = 'identifier' AND i.normalized = $4))",
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

/// An identity as the API shows it: the contact holding it, primary when it is that contact's own value.
#[derive(QueryableByName)]
struct IdentityRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Bool)]
    is_primary: bool,
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = Timestamptz)]
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
