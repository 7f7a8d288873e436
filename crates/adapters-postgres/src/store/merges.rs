//! [`MergeStore`] on PostgreSQL: the set-based moves of a merge and its audit trail (use cases:
//! `application::merge_contacts`, `merge_preview` and `merge_history`).

use application::ports::{MergeEntry, MergeStore, MergeWrite, MergeWritten, MovedCounts, Page};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use domain::{AccountId, ContactAttributes, ContactId, UserId};

use super::PgSession;
use crate::errors::StoreResult;
use crate::prepared::Prepared;
use crate::schema::contact_merges;

impl MergeStore for PgSession {
    fn write_merge(&mut self, merge: &MergeWrite<'_>) -> Result<MergeWritten, StoreError> {
        write::write_merge(self, merge)
    }

    fn count_children(&mut self, account: AccountId, contact: ContactId) -> Result<MovedCounts, StoreError> {
        let c: ChildCounts = diesel::sql_query(
            "SELECT \
               (SELECT count(*) FROM conversations WHERE account_id = $1 AND contact_id = $2) AS conversations, \
               (SELECT count(*) FROM messages WHERE account_id = $1 AND sender_contact_id = $2) AS messages, \
               (SELECT count(*) FROM contact_inboxes WHERE account_id = $1 AND contact_id = $2) AS contact_inboxes, \
               (SELECT count(*) FROM notes WHERE account_id = $1 AND contact_id = $2) AS notes, \
               (SELECT count(*) FROM contact_labels WHERE account_id = $1 AND contact_id = $2) AS labels",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(contact.get())
        .get_result(self.conn())
        .store()?;
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(MovedCounts {
            conversations: unsigned(c.conversations),
            messages: unsigned(c.messages),
            contact_inboxes: unsigned(c.contact_inboxes),
            notes: unsigned(c.notes),
            labels: unsigned(c.labels),
        })
    }

    fn taken_fields(
        &mut self,
        account: AccountId,
        attributes: &ContactAttributes,
        exclude: &[ContactId],
    ) -> Result<Vec<&'static str>, StoreError> {
        let exclude: Vec<i64> = exclude.iter().map(|c| c.get()).collect();
        // One fixed text: prepared once per connection (the undo's every other statement is too).
        let row: TakenRow = Prepared(
            diesel::sql_query(
                // identities hold every contact's primaries and secondaries: a value another contact merely
                // keeps as a secondary is taken as well
                // (the contact holding an identity is its holder's)
                "SELECT \
               EXISTS (SELECT 1 FROM contact_identities i JOIN contact_identity_holders h \
                       ON h.account_id = i.account_id AND h.id = i.holder_id WHERE i.account_id = $1 \
                       AND i.kind = 'email' AND i.normalized = lower($2) AND h.contact_id <> ALL($5)) AS email, \
               EXISTS (SELECT 1 FROM contact_identities i JOIN contact_identity_holders h \
                       ON h.account_id = i.account_id AND h.id = i.holder_id WHERE i.account_id = $1 \
                       AND i.kind = 'identifier' AND i.normalized = $3 AND h.contact_id <> ALL($5)) AS identifier, \
               EXISTS (SELECT 1 FROM contact_identities i JOIN contact_identity_holders h \
                       ON h.account_id = i.account_id AND h.id = i.holder_id WHERE i.account_id = $1 \
                       AND i.kind = 'phone_number' AND i.normalized = $4 AND h.contact_id <> ALL($5)) AS phone_number",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<Nullable<Text>, _>(attributes.email.as_deref())
            .bind::<Nullable<Text>, _>(attributes.identifier.as_deref())
            .bind::<Nullable<Text>, _>(attributes.phone_number.as_deref())
            .bind::<Array<BigInt>, _>(exclude),
        )
        .get_result(self.conn())
        .store()?;
        let fields = [("email", row.email), ("identifier", row.identifier), ("phone_number", row.phone_number)];
        Ok(fields.into_iter().filter_map(|(f, taken)| taken.then_some(f)).collect())
    }

    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError> {
        // Follow mergee -> base links of merges not undone; a contact is merged away at most once until that
        // merge is undone, so the chain has no branches.
        let row: MergedInto = diesel::sql_query(
            "WITH RECURSIVE chain (contact_id, depth) AS ( \
                 SELECT base_contact_id, 1 FROM contact_merges \
                 WHERE account_id = $1 AND mergee_contact_id = $2 AND undone_at IS NULL \
                 UNION ALL \
                 SELECT m.base_contact_id, chain.depth + 1 FROM contact_merges m \
                 JOIN chain ON m.account_id = $1 AND m.mergee_contact_id = chain.contact_id AND m.undone_at IS NULL \
                 WHERE chain.depth < 1000) \
             SELECT (SELECT c.id FROM chain JOIN contacts c ON c.account_id = $1 AND c.id = chain.contact_id \
                     ORDER BY chain.depth DESC LIMIT 1) AS id",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(id.get())
        .get_result(self.conn())
        .store()?;
        Ok(row.id.map(ContactId::new))
    }

    fn list_merges(
        &mut self,
        account: AccountId,
        contact: Option<ContactId>,
        page: Page,
    ) -> Result<(Vec<MergeEntry>, u64), StoreError> {
        let total = self.merge_history_count(account, contact)?;
        let mut query = contact_merges::table.filter(contact_merges::account_id.eq(account.get())).into_boxed();
        if let Some(c) = contact {
            query = query
                .filter(contact_merges::base_contact_id.eq(c.get()).or(contact_merges::mergee_contact_id.eq(c.get())));
        }
        let rows: Vec<MergeRow> = query
            .order(contact_merges::id.desc())
            .offset(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .limit(i64::from(page.size))
            .select(MergeRow::as_select())
            .load(self.conn())
            .store()?;
        Ok((rows.into_iter().map(merge_entry).collect(), total))
    }

    fn find_merge(&mut self, account: AccountId, id: i64) -> Result<Option<MergeEntry>, StoreError> {
        let row: Option<MergeRow> = contact_merges::table
            .filter(contact_merges::account_id.eq(account.get()))
            .filter(contact_merges::id.eq(id))
            .select(MergeRow::as_select())
            .first(self.conn())
            .optional()
            .store()?;
        Ok(row.map(merge_entry))
    }
}

#[derive(QueryableByName)]
struct ChildCounts {
    #[diesel(sql_type = BigInt)]
    conversations: i64,
    #[diesel(sql_type = BigInt)]
    messages: i64,
    #[diesel(sql_type = BigInt)]
    contact_inboxes: i64,
    #[diesel(sql_type = BigInt)]
    notes: i64,
    #[diesel(sql_type = BigInt)]
    labels: i64,
}

#[derive(QueryableByName)]
struct TakenRow {
    #[diesel(sql_type = Bool)]
    email: bool,
    #[diesel(sql_type = Bool)]
    identifier: bool,
    #[diesel(sql_type = Bool)]
    phone_number: bool,
}

#[derive(QueryableByName)]
struct MergedInto {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

/// A `contact_merges` row, as the history shows it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = contact_merges, check_for_backend(diesel::pg::Pg))]
pub(super) struct MergeRow {
    id: i64,
    account_id: i64,
    actor_user_id: Option<i64>,
    base_contact_id: i64,
    mergee_contact_id: i64,
    mergee_snapshot: serde_json::Value,
    moved_conversations: i64,
    moved_messages: i64,
    moved_contact_inboxes: i64,
    moved_notes: i64,
    moved_labels: i64,
    created_at: DateTime<Utc>,
    undone_at: Option<DateTime<Utc>>,
    undone_by: Option<i64>,
}

pub(super) fn merge_entry(r: MergeRow) -> MergeEntry {
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    MergeEntry {
        id: r.id,
        account_id: AccountId::new(r.account_id),
        actor: r.actor_user_id.map(UserId::new),
        base_contact_id: ContactId::new(r.base_contact_id),
        mergee_contact_id: ContactId::new(r.mergee_contact_id),
        mergee_snapshot: r.mergee_snapshot,
        moved: MovedCounts {
            conversations: unsigned(r.moved_conversations),
            messages: unsigned(r.moved_messages),
            contact_inboxes: unsigned(r.moved_contact_inboxes),
            notes: unsigned(r.moved_notes),
            labels: unsigned(r.moved_labels),
        },
        created_at: r.created_at,
        undone_at: r.undone_at,
        undone_by: r.undone_by.map(UserId::new),
    }
}

impl PgSession {
    fn merge_history_count(&mut self, account: AccountId, contact: Option<ContactId>) -> Result<u64, StoreError> {
        let mut query = contact_merges::table.filter(contact_merges::account_id.eq(account.get())).into_boxed();
        if let Some(c) = contact {
            query = query
                .filter(contact_merges::base_contact_id.eq(c.get()).or(contact_merges::mergee_contact_id.eq(c.get())));
        }
        let n: i64 = query.count().get_result(self.conn()).store()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

mod write;

#[cfg(test)]
mod tests;
