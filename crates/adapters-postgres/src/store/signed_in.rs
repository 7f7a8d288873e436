//! Reads that authenticate in their own statement: the request's credentials and what it reads come back in one
//! round trip (GET contact: the token's owner, account status and role, the contact and its channel
//! addresses). The use case decides from the credentials whether to show what was read (`application::contacts`).
//! The statement reads for one request or for several at once: the reads of GET contact that arrive together
//! (`crate::batched_reads`) share it.

use application::ports::{ContactRead, CredentialsAndContact};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Jsonb, Nullable, Text, Timestamptz};
use domain::{AccountId, Contact, ContactId, ContactInbox};

use super::auth::{credentials, credentials_columns, credentials_joins};
use crate::errors::StoreResult;
use crate::models::{contact_inbox, ContactRow, InboxRow};
use crate::pool::PgDatabase;
use crate::prepared::Prepared;

/// One row per channel address of a read's contact (one row when it has none, or is not there): the read's
/// number, the credentials, the contact's columns and one address, all nullable since every join is outer.
#[derive(QueryableByName)]
struct Row {
    /// Which read the row answers (1 for the first).
    #[diesel(sql_type = BigInt)]
    n: i64,
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
) -> Result<CredentialsAndContact, StoreError> {
    let read = ContactRead { token_digest: digest.to_vec(), account, id };
    let mut found = credentials_and_contacts(conn, std::slice::from_ref(&read))?;
    found.pop().ok_or_else(|| StoreError::Other("the credentials query returned no row".into()))
}

/// Every read of `reads` in one statement on a connection of `db`, once more on a new connection when the
/// first was lost: how a reader of `crate::batched_reads` reads a batch.
pub(crate) fn read_together(db: &PgDatabase, reads: &[ContactRead]) -> Result<Vec<CredentialsAndContact>, StoreError> {
    let mut conn = db.get()?;
    match credentials_and_contacts(&mut conn, reads) {
        Err(_) if conn.lost() => {
            drop(conn);
            credentials_and_contacts(&mut *db.get()?, reads)
        }
        outcome => outcome,
    }
}

/// What [`credentials_and_contact`] reads, for every read of `reads` (in their order) in one statement: how
/// `crate::batched_reads` answers the GET contact requests that arrive together.
fn credentials_and_contacts(
    conn: &mut PgConnection,
    reads: &[ContactRead],
) -> Result<Vec<CredentialsAndContact>, StoreError> {
    let digests: Vec<&[u8]> = reads.iter().map(|r| r.token_digest.as_slice()).collect();
    let accounts: Vec<i64> = reads.iter().map(|r| r.account.get()).collect();
    let ids: Vec<i64> = reads.iter().map(|r| r.id.get()).collect();
    // The same text for any number of reads, so that it stays one prepared statement; every join is a lookup
    // by key, done once per read.
    let rows: Vec<Row> = Prepared(
        diesel::sql_query(concat!(
            "SELECT r.n, ",
            credentials_columns!(),
            ", c.id, c.account_id, c.name, c.email, c.phone_number, c.identifier, c.blocked, c.thumbnail, \
                    c.additional_attributes, c.custom_attributes, c.last_activity_at, c.created_at, c.updated_at, \
                    x.source_id, x.inbox_id, x.inbox_name, x.channel_type, x.avatar_url, x.provider \
             FROM unnest($1::bytea[], $2::int8[], $3::int8[]) WITH ORDINALITY AS r(token_digest, account_id, id, n) ",
            credentials_joins!("r.token_digest", "r.account_id"),
            " LEFT JOIN contacts c ON c.account_id = r.account_id AND c.id = r.id AND au.role IS NOT NULL \
             LEFT JOIN LATERAL ( \
                 SELECT ci.id AS contact_inbox_id, ci.source_id, i.id AS inbox_id, i.name AS inbox_name, \
                        i.channel_type, i.avatar_url, i.provider \
                 FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id AND i.account_id = ci.account_id \
                 WHERE ci.account_id = c.account_id AND ci.contact_id = c.id) AS x ON TRUE \
             ORDER BY r.n, x.contact_inbox_id",
        ))
        .bind::<Array<Bytea>, _>(digests)
        .bind::<Array<BigInt>, _>(accounts)
        .bind::<Array<BigInt>, _>(ids),
    )
    .load(conn)
    .store()?;
    let found = by_read(rows);
    if found.len() != reads.len() {
        return Err(StoreError::Other(format!("{} reads answered with {} rows", reads.len(), found.len())));
    }
    Ok(found)
}

/// The rows of each read (consecutive, in the reads' order: the statement orders by `n`), as what it found.
fn by_read(rows: Vec<Row>) -> Vec<CredentialsAndContact> {
    let mut found: Vec<(i64, CredentialsAndContact)> = Vec::new();
    for row in rows {
        match found.last_mut() {
            Some((n, (_, Some((_, addresses))))) if *n == row.n => addresses.extend(row.contact_inbox()),
            Some((n, _)) if *n == row.n => {}
            _ => {
                let credentials =
                    credentials(row.user_id, row.platform_app_id, row.account_status.as_deref(), row.role.as_deref());
                let n = row.n;
                let contact = row.contact().map(|c| (c, row.contact_inbox().into_iter().collect()));
                found.push((n, (credentials, contact)));
            }
        }
    }
    found.into_iter().map(|(_, f)| f).collect()
}
