//! Reads that authenticate in their own statement: the request's credentials and what it reads come back in one
//! round trip (GET contact: the token's owner, account status and role, the contact and its channel
//! addresses). The use case decides from the credentials whether to show what was read (`application::contacts`).

use application::ports::{ContactWithAddresses, Credentials};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Jsonb, Nullable, Text, Timestamptz};
use domain::{AccountId, Contact, ContactId, ContactInbox};

use super::auth::{credentials, credentials_columns, credentials_from};
use crate::errors::StoreResult;
use crate::models::{contact_inbox, ContactRow, InboxRow};
use crate::prepared::Prepared;

/// One row per channel address of the contact (one row when it has none, or is not there): the credentials,
/// the contact's columns and one address, all nullable since every join is outer.
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<BigInt>)]
    user_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    platform_app_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    account_status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    account_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    phone_number: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    identifier: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    blocked: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    thumbnail: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    additional_attributes: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    custom_attributes: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_activity_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    updated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    source_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    inbox_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    inbox_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    channel_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    avatar_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    provider: Option<String>,
}

impl Row {
    /// The contact, when the row carries one (its NOT NULL columns are all there).
    fn contact(&self) -> Option<Contact> {
        Some(
            ContactRow {
                id: self.id?,
                account_id: self.account_id?,
                name: self.name.clone()?,
                email: self.email.clone(),
                phone_number: self.phone_number.clone(),
                identifier: self.identifier.clone(),
                blocked: self.blocked?,
                thumbnail: self.thumbnail.clone()?,
                additional_attributes: self.additional_attributes.clone()?,
                custom_attributes: self.custom_attributes.clone()?,
                last_activity_at: self.last_activity_at,
                created_at: self.created_at?,
                updated_at: self.updated_at?,
            }
            .into(),
        )
    }

    /// The channel address the row carries, if any.
    fn contact_inbox(self) -> Option<ContactInbox> {
        let inbox = InboxRow {
            id: self.inbox_id?,
            name: self.inbox_name?,
            channel_type: self.channel_type?,
            avatar_url: self.avatar_url?,
            provider: self.provider,
        };
        Some(contact_inbox(self.source_id?, inbox))
    }
}

/// The credentials of the token with `digest` for `account`, and the contact `id` with its channel addresses
/// (oldest first), in one statement. The contact is read only for a member of the account: for anyone else
/// the use case answers with the authentication error and nothing else is needed.
pub(super) fn credentials_and_contact(
    conn: &mut PgConnection,
    digest: &[u8],
    account: AccountId,
    id: ContactId,
) -> Result<(Credentials, Option<ContactWithAddresses>), StoreError> {
    let rows: Vec<Row> = Prepared(
        diesel::sql_query(concat!(
            "SELECT ",
            credentials_columns!(),
            ", c.id, c.account_id, c.name, c.email, c.phone_number, c.identifier, c.blocked, c.thumbnail, \
                    c.additional_attributes, c.custom_attributes, c.last_activity_at, c.created_at, c.updated_at, \
                    x.source_id, x.inbox_id, x.inbox_name, x.channel_type, x.avatar_url, x.provider ",
            credentials_from!(),
            " LEFT JOIN contacts c ON c.account_id = $2 AND c.id = $3 AND au.role IS NOT NULL \
             LEFT JOIN LATERAL ( \
                 SELECT ci.id AS contact_inbox_id, ci.source_id, i.id AS inbox_id, i.name AS inbox_name, \
                        i.channel_type, i.avatar_url, i.provider \
                 FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id AND i.account_id = ci.account_id \
                 WHERE ci.account_id = c.account_id AND ci.contact_id = c.id) AS x ON TRUE \
             ORDER BY x.contact_inbox_id",
        ))
        .bind::<Bytea, _>(digest)
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(id.get()),
    )
    .load(conn)
    .store()?;
    let Some(first) = rows.first() else {
        return Err(StoreError::Other("the credentials query returned no row".into()));
    };
    let found =
        credentials(first.user_id, first.platform_app_id, first.account_status.as_deref(), first.role.as_deref());
    let contact = first.contact();
    let contact = contact.map(|c| (c, rows.into_iter().filter_map(Row::contact_inbox).collect()));
    Ok((found, contact))
}
