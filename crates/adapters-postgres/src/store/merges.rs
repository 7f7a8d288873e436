//! [`MergeStore`] on PostgreSQL: the set-based moves of a merge and its audit trail (use cases:
//! `application::merge_contacts`, `merge_preview` and `merge_history`).

use application::ports::{MergeEntry, MergeRecord, MergeStore, MovedCounts, Page, StoredMerge};
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
    fn move_children(&mut self, account: AccountId, from: ContactId, to: ContactId) -> Result<MovedCounts, StoreError> {
        // Every child in one statement (one round trip whatever the number of rows): conversations, the
        // messages the mergee sent, contact inboxes and notes change owner; labels are a union, the mergee's rows
        // taken and the base given each label it does not carry yet. Foreign keys are checked at the end of the
        // statement, against all of it.
        let (a, from, to) = (account.get(), from.get(), to.get());
        let moved: ChildCounts = Prepared(
            diesel::sql_query(
                "WITH conversations_moved AS ( \
                     UPDATE conversations SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING 1), \
                 messages_moved AS ( \
                     UPDATE messages SET sender_contact_id = $3 \
                     WHERE account_id = $1 AND sender_contact_id = $2 RETURNING 1), \
                 contact_inboxes_moved AS ( \
                     UPDATE contact_inboxes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING 1), \
                 notes_moved AS ( \
                     UPDATE notes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING 1), \
                 labels_taken AS ( \
                     DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 RETURNING label), \
                 labels_added AS ( \
                     INSERT INTO contact_labels (account_id, contact_id, label) SELECT $1, $3, label FROM labels_taken \
                     ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING 1) \
                 SELECT (SELECT count(*) FROM conversations_moved) AS conversations, \
                        (SELECT count(*) FROM messages_moved) AS messages, \
                        (SELECT count(*) FROM contact_inboxes_moved) AS contact_inboxes, \
                        (SELECT count(*) FROM notes_moved) AS notes, \
                        (SELECT count(*) FROM labels_taken) AS labels",
            )
            .bind::<BigInt, _>(a)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to),
        )
        .get_result(self.conn())
        .store()?;
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(MovedCounts {
            conversations: unsigned(moved.conversations),
            messages: unsigned(moved.messages),
            contact_inboxes: unsigned(moved.contact_inboxes),
            notes: unsigned(moved.notes),
            labels: unsigned(moved.labels),
        })
    }

    fn insert_merge_record(&mut self, r: &MergeRecord) -> Result<StoredMerge, StoreError> {
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (id, created_at): (i64, DateTime<Utc>) = diesel::insert_into(contact_merges::table)
            .values((
                contact_merges::account_id.eq(r.account_id.get()),
                contact_merges::actor_user_id.eq(r.actor.map(UserId::get)),
                contact_merges::base_contact_id.eq(r.base_contact_id.get()),
                contact_merges::mergee_contact_id.eq(r.mergee_contact_id.get()),
                contact_merges::mergee_snapshot.eq(&r.mergee_snapshot),
                contact_merges::moved_conversations.eq(signed(r.moved.conversations)),
                contact_merges::moved_messages.eq(signed(r.moved.messages)),
                contact_merges::moved_contact_inboxes.eq(signed(r.moved.contact_inboxes)),
                contact_merges::moved_notes.eq(signed(r.moved.notes)),
                contact_merges::moved_labels.eq(signed(r.moved.labels)),
            ))
            .returning((contact_merges::id, contact_merges::created_at))
            .get_result(self.conn())
            .store()?;
        Ok(StoredMerge { id, created_at })
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
        let row: TakenRow = diesel::sql_query(
            "SELECT \
               EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND email = $2 AND id <> ALL($5)) AS email, \
               EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND identifier = $3 AND id <> ALL($5)) AS identifier, \
               EXISTS (SELECT 1 FROM contacts WHERE account_id = $1 AND phone_number = $4 AND id <> ALL($5)) AS phone_number",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<Nullable<Text>, _>(attributes.email.as_deref())
        .bind::<Nullable<Text>, _>(attributes.identifier.as_deref())
        .bind::<Nullable<Text>, _>(attributes.phone_number.as_deref())
        .bind::<Array<BigInt>, _>(exclude)
        .get_result(self.conn())
        .store()?;
        let fields = [("email", row.email), ("identifier", row.identifier), ("phone_number", row.phone_number)];
        Ok(fields.into_iter().filter_map(|(f, taken)| taken.then_some(f)).collect())
    }

    fn merged_into(&mut self, account: AccountId, id: ContactId) -> Result<Option<ContactId>, StoreError> {
        // Follow mergee -> base links; a contact is merged away at most once, so the chain has no branches.
        let row: MergedInto = diesel::sql_query(
            "WITH RECURSIVE chain (contact_id, depth) AS ( \
                 SELECT base_contact_id, 1 FROM contact_merges WHERE account_id = $1 AND mergee_contact_id = $2 \
                 UNION ALL \
                 SELECT m.base_contact_id, chain.depth + 1 FROM contact_merges m \
                 JOIN chain ON m.account_id = $1 AND m.mergee_contact_id = chain.contact_id \
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

/// A `contact_merges` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = contact_merges, check_for_backend(diesel::pg::Pg))]
struct MergeRow {
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
}

fn merge_entry(r: MergeRow) -> MergeEntry {
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
