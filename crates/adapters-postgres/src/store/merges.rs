//! [`MergeStore`] on PostgreSQL: the set-based moves of a merge and its audit trail (use cases:
//! `application::merge_contacts`, `merge_preview` and `merge_history`).

use application::ports::{Absorbed, MergeEntry, MergeRecord, MergeStore, MovedCounts, MovedRows, Page, StoredMerge};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};
use domain::{AccountId, ContactAttributes, ContactId, IdentityKind, UserId};

use super::PgSession;
use crate::errors::StoreResult;
use crate::models::{contact_inbox, InboxRow};
use crate::prepared::Prepared;
use crate::schema::contact_merges;

impl MergeStore for PgSession {
    fn absorb_contact(
        &mut self,
        account: AccountId,
        from: ContactId,
        to: ContactId,
        primaries: &[IdentityKind],
    ) -> Result<Absorbed, StoreError> {
        // Every child and the mergee's row in one statement (one round trip whatever the number of rows):
        // conversations, the messages the mergee sent, contact inboxes and notes change owner; labels are a union,
        // the mergee's rows taken and the base given each label it does not carry yet; the mergee is deleted.
        // Foreign keys are checked at the end of the statement, against all of it: the mergee's delete finds
        // every child moved (and its identities' cascade finds none left), or the statement fails. It also
        // reads the base's contact inboxes for the merge's answer: every statement of it sees the rows as they
        // were before it, so those of the base and of the mergee are the base's after it. The same statement returns which rows it moved and which labels it
        // added: the ledger an undo reverses, at no extra round trip. The mergee's identities become the base's
        // (the self-join reads the source each had, for the undo): its primaries of the kinds the base lacks and
        // takes ($4) as the base's primaries, which the identities trigger then finds in place when the base's
        // fields are written; every other one as a secondary. (Moving every one as a secondary for the trigger
        // to promote wrote each taken identity twice, in every index of the table.)
        let (a, from, to) = (account.get(), from.get(), to.get());
        let primaries: Vec<&str> = primaries.iter().map(|k| k.as_str()).collect();
        let moved: MovedLedger = Prepared(
            diesel::sql_query(
                "WITH conversations_moved AS ( \
                     UPDATE conversations SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING id), \
                 messages_moved AS ( \
                     UPDATE messages SET sender_contact_id = $3 \
                     WHERE account_id = $1 AND sender_contact_id = $2 RETURNING id), \
                 contact_inboxes_moved AS ( \
                     UPDATE contact_inboxes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING id), \
                 notes_moved AS ( \
                     UPDATE notes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING id), \
                 labels_taken AS ( \
                     DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 RETURNING label), \
                 labels_added AS ( \
                     INSERT INTO contact_labels (account_id, contact_id, label) SELECT $1, $3, label FROM labels_taken \
                     ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING label), \
                 identities_moved AS ( \
                     UPDATE contact_identities t SET contact_id = $3, is_primary = t.is_primary AND t.kind = ANY($4), source = 'merge' \
                     FROM contact_identities was WHERE was.id = t.id AND t.account_id = $1 AND t.contact_id = $2 \
                     RETURNING t.id, was.source), \
                 mergee_deleted AS (DELETE FROM contacts WHERE account_id = $1 AND id = $2) \
                 SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM conversations_moved) AS conversation_ids, \
                        (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM messages_moved) AS message_ids, \
                        (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM contact_inboxes_moved) AS contact_inbox_ids, \
                        (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM notes_moved) AS note_ids, \
                        (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_added) AS labels_added, \
                        (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_taken) AS mergee_labels, \
                        (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM identities_moved) AS identity_ids, \
                        (SELECT coalesce(array_agg(source ORDER BY id), '{}') FROM identities_moved) AS identity_sources, \
                        inboxes.* \
                 FROM (SELECT coalesce(array_agg(ci.source_id ORDER BY ci.id), '{}') AS inbox_source_ids, \
                              coalesce(array_agg(i.id ORDER BY ci.id), '{}') AS inbox_ids, \
                              coalesce(array_agg(i.name ORDER BY ci.id), '{}') AS inbox_names, \
                              coalesce(array_agg(i.channel_type ORDER BY ci.id), '{}') AS inbox_channel_types, \
                              coalesce(array_agg(i.avatar_url ORDER BY ci.id), '{}') AS inbox_avatar_urls, \
                              coalesce(array_agg(i.provider ORDER BY ci.id), '{}') AS inbox_providers \
                       FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id AND i.account_id = ci.account_id \
                       WHERE ci.account_id = $1 AND ci.contact_id IN ($2, $3)) AS inboxes",
            )
            .bind::<BigInt, _>(a)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .bind::<Array<Text>, _>(primaries),
        )
        .get_result(self.conn())
        .store()?;
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let counts = MovedCounts {
            conversations: count(moved.conversation_ids.len()),
            messages: count(moved.message_ids.len()),
            contact_inboxes: count(moved.contact_inbox_ids.len()),
            notes: count(moved.note_ids.len()),
            labels: count(moved.mergee_labels.len()),
        };
        let base_inboxes = moved
            .inbox_source_ids
            .into_iter()
            .zip(moved.inbox_ids)
            .zip(moved.inbox_names)
            .zip(moved.inbox_channel_types)
            .zip(moved.inbox_avatar_urls)
            .zip(moved.inbox_providers)
            .map(|(((((source_id, id), name), channel_type), avatar_url), provider)| {
                contact_inbox(source_id, InboxRow { id, name, channel_type, avatar_url, provider })
            })
            .collect();
        let rows = MovedRows {
            conversation_ids: moved.conversation_ids,
            message_ids: moved.message_ids,
            contact_inbox_ids: moved.contact_inbox_ids,
            note_ids: moved.note_ids,
            labels_added: moved.labels_added,
            mergee_labels: moved.mergee_labels,
            identity_ids: moved.identity_ids,
            identity_sources: moved.identity_sources,
        };
        Ok(Absorbed { moved: counts, rows, base_inboxes })
    }

    fn insert_merge_record(&mut self, r: &MergeRecord) -> Result<StoredMerge, StoreError> {
        // The record and its ledger in one statement (the ledger row only when there is one to write).
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let ledger = r.ledger.as_ref();
        let ids = |pick: fn(&MovedRows) -> &Vec<i64>| ledger.map_or_else(Vec::new, |l| pick(&l.rows).clone());
        let labels = |pick: fn(&MovedRows) -> &Vec<String>| ledger.map_or_else(Vec::new, |l| pick(&l.rows).clone());
        let empty = serde_json::Value::Null;
        let stored: StoredRow = Prepared(
            diesel::sql_query(
                "WITH record AS ( \
                     INSERT INTO contact_merges (account_id, actor_user_id, base_contact_id, mergee_contact_id, \
                         mergee_snapshot, moved_conversations, moved_messages, moved_contact_inboxes, moved_notes, \
                         moved_labels) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, created_at), \
                 ledger AS ( \
                     INSERT INTO contact_merge_ledgers (merge_id, moved_conversation_ids, moved_message_ids, \
                         moved_contact_inbox_ids, moved_note_ids, labels_added, mergee_labels, base_snapshot, \
                         written, moved_identity_ids, moved_identity_sources) \
                     SELECT record.id, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM record WHERE $11) \
                 SELECT id, created_at FROM record",
            )
            .bind::<BigInt, _>(r.account_id.get())
            .bind::<Nullable<BigInt>, _>(r.actor.map(UserId::get))
            .bind::<BigInt, _>(r.base_contact_id.get())
            .bind::<BigInt, _>(r.mergee_contact_id.get())
            .bind::<Jsonb, _>(&r.mergee_snapshot)
            .bind::<BigInt, _>(signed(r.moved.conversations))
            .bind::<BigInt, _>(signed(r.moved.messages))
            .bind::<BigInt, _>(signed(r.moved.contact_inboxes))
            .bind::<BigInt, _>(signed(r.moved.notes))
            .bind::<BigInt, _>(signed(r.moved.labels))
            .bind::<Bool, _>(ledger.is_some())
            .bind::<Array<BigInt>, _>(ids(|r| &r.conversation_ids))
            .bind::<Array<BigInt>, _>(ids(|r| &r.message_ids))
            .bind::<Array<BigInt>, _>(ids(|r| &r.contact_inbox_ids))
            .bind::<Array<BigInt>, _>(ids(|r| &r.note_ids))
            .bind::<Array<Text>, _>(labels(|r| &r.labels_added))
            .bind::<Array<Text>, _>(labels(|r| &r.mergee_labels))
            .bind::<Jsonb, _>(ledger.map_or(&empty, |l| &l.base_snapshot))
            .bind::<Jsonb, _>(ledger.map_or(&empty, |l| &l.written))
            .bind::<Array<BigInt>, _>(ids(|r| &r.identity_ids))
            .bind::<Array<Text>, _>(labels(|r| &r.identity_sources)),
        )
        .get_result(self.conn())
        .store()?;
        Ok(StoredMerge { id: stored.id, created_at: stored.created_at })
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
                "SELECT \
               EXISTS (SELECT 1 FROM contact_identities WHERE account_id = $1 AND kind = 'email' \
                       AND normalized = lower($2) AND contact_id <> ALL($5)) AS email, \
               EXISTS (SELECT 1 FROM contact_identities WHERE account_id = $1 AND kind = 'identifier' \
                       AND normalized = $3 AND contact_id <> ALL($5)) AS identifier, \
               EXISTS (SELECT 1 FROM contact_identities WHERE account_id = $1 AND kind = 'phone_number' \
                       AND normalized = $4 AND contact_id <> ALL($5)) AS phone_number",
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

/// What the moving statement returns: the ids it moved per table and the labels it took and added.
#[derive(QueryableByName)]
struct MovedLedger {
    #[diesel(sql_type = Array<BigInt>)]
    conversation_ids: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    message_ids: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    contact_inbox_ids: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    note_ids: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    labels_added: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    mergee_labels: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    identity_ids: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    identity_sources: Vec<String>,
    /// the base's contact inboxes after the move, column by column, oldest first
    #[diesel(sql_type = Array<Text>)]
    inbox_source_ids: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    inbox_ids: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    inbox_names: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    inbox_channel_types: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    inbox_avatar_urls: Vec<String>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    inbox_providers: Vec<Option<String>>,
}

#[derive(QueryableByName)]
struct StoredRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
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

#[cfg(test)]
mod tests;
