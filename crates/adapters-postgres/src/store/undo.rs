//! [`UndoStore`] on PostgreSQL: locking a merge record, re-creating the mergee with its own id (and its
//! identities), and moving the ledger's rows back in one statement (use case: `application::undo`).

use application::ports::{LedgerFacts, MovedCounts, UndoCounts, UndoStore, UndoableMerge};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};
use domain::{AccountId, Contact, ContactId, UserId};

use super::merges::{merge_entry, MergeRow};
use super::PgSession;
use crate::errors::StoreResult;
use crate::models::ContactRow;
use crate::prepared::Prepared;
use crate::schema::{contact_merge_ledgers, contact_merges};

impl UndoStore for PgSession {
    fn lock_merge(&mut self, account: AccountId, id: i64) -> Result<Option<UndoableMerge>, StoreError> {
        let row: Option<MergeRow> = contact_merges::table
            .filter(contact_merges::account_id.eq(account.get()))
            .filter(contact_merges::id.eq(id))
            .for_update()
            .select(MergeRow::as_select())
            .first(self.conn())
            .optional()
            .store()?;
        let Some(row) = row else { return Ok(None) };
        // The record was found in this account above; its ledger is found by the record's id.
        let ledger: Option<(serde_json::Value, serde_json::Value)> = contact_merge_ledgers::table
            .filter(contact_merge_ledgers::merge_id.eq(id))
            .select((contact_merge_ledgers::base_snapshot, contact_merge_ledgers::written))
            .first(self.conn())
            .optional()
            .store()?;
        Ok(Some(UndoableMerge {
            entry: merge_entry(row),
            ledger: ledger.map(|(base_snapshot, written)| LedgerFacts { base_snapshot, written }),
        }))
    }

    fn merge_that_took(&mut self, account: AccountId, contact: ContactId) -> Result<Option<i64>, StoreError> {
        contact_merges::table
            .filter(contact_merges::account_id.eq(account.get()))
            .filter(contact_merges::mergee_contact_id.eq(contact.get()))
            .filter(contact_merges::undone_at.is_null())
            .order(contact_merges::id.desc())
            .select(contact_merges::id)
            .first(self.conn())
            .optional()
            .store()
    }

    fn restore_contact(&mut self, c: &Contact, merge_id: i64, base: ContactId) -> Result<Contact, StoreError> {
        let a = &c.attributes;
        // An explicit id: the contact comes back under the id every reference to it used. The same statement gives
        // it back its identities: the holders the merge re-pointed to the base and that the base still holds point
        // back to it (migration `2026-12-04-000030`; `move_back` rewrites both contacts' merged text); a merge
        // recorded before holders moved rows, which go back by id, each with its source before the merge (into the
        // contact's own holder, created when missing); and any secondary of the base's own holder that is one of
        // its own email, phone number and identifier (a merge recorded before identities were moved left them
        // there as the base's; without them the contact could not take its own values back). The identities
        // trigger fires after the whole statement, so it finds them back on the contact and promotes its email,
        // phone number and identifier to primaries instead of creating them anew; the foreign keys are checked
        // then too, when the contact exists.
        let row: ContactRow = Prepared(
            diesel::sql_query(
                "WITH restored AS ( \
                     INSERT INTO contacts (id, account_id, name, email, phone_number, identifier, blocked, thumbnail, \
                         additional_attributes, custom_attributes, last_activity_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *), \
                 ledger AS ( \
                     SELECT l.* FROM contact_merge_ledgers l JOIN contact_merges m ON m.id = l.merge_id \
                     WHERE m.account_id = $2 AND l.merge_id = $13), \
                 wanted AS ( \
                     SELECT DISTINCT ON (id) id, source FROM ( \
                         SELECT moved.id, moved.source, 0 AS rank \
                         FROM ledger, unnest(ledger.moved_identity_ids, ledger.moved_identity_sources) AS moved (id, source) \
                         UNION ALL \
                         SELECT i.id, i.source, 1 FROM contact_identities i \
                         WHERE i.account_id = $2 AND i.holder_id = $14 AND NOT i.is_primary AND ( \
                             (i.kind = 'email' AND i.normalized = lower($4)) OR (i.kind = 'phone_number' AND i.normalized = $5) \
                             OR (i.kind = 'identifier' AND i.normalized = $6))) AS w \
                     ORDER BY id, rank), \
                 own_holder AS ( \
                     INSERT INTO contact_identity_holders (account_id, id, contact_id) \
                     SELECT $2, $1, $1 WHERE EXISTS (SELECT FROM wanted) ON CONFLICT DO NOTHING), \
                 holders_back AS ( \
                     UPDATE contact_identity_holders h SET contact_id = $1 \
                     FROM ledger, unnest(ledger.moved_holder_ids) AS moved (id) \
                     WHERE h.account_id = $2 AND h.id = moved.id AND h.contact_id = $14), \
                 identities_back AS ( \
                     UPDATE contact_identities t SET holder_id = $1, source = wanted.source FROM wanted \
                     WHERE t.id = wanted.id AND t.account_id = $2 AND t.holder_id = $14 AND NOT t.is_primary) \
                 SELECT * FROM restored",
            )
            .bind::<BigInt, _>(c.id.get())
            .bind::<BigInt, _>(c.account_id.get())
            .bind::<Text, _>(&a.name)
            .bind::<Nullable<Text>, _>(a.email.as_deref())
            .bind::<Nullable<Text>, _>(a.phone_number.as_deref())
            .bind::<Nullable<Text>, _>(a.identifier.as_deref())
            .bind::<Bool, _>(c.blocked)
            .bind::<Text, _>(&c.thumbnail)
            .bind::<Jsonb, _>(serde_json::Value::Object(a.additional_attributes.clone()))
            .bind::<Jsonb, _>(serde_json::Value::Object(a.custom_attributes.clone()))
            .bind::<Nullable<Timestamptz>, _>(c.last_activity_at)
            .bind::<Timestamptz, _>(c.created_at)
            .bind::<BigInt, _>(merge_id)
            .bind::<BigInt, _>(base.get()),
        )
        .get_result(self.conn())
        .store()?;
        Ok(row.into())
    }

    fn move_back(
        &mut self,
        account: AccountId,
        merge_id: i64,
        base: ContactId,
        mergee: ContactId,
        merged_at: DateTime<Utc>,
    ) -> Result<UndoCounts, StoreError> {
        // One statement whatever the number of rows, reading the ids from the ledger row itself (they never
        // travel to the application). Each move joins the unnested ids to the table (an index probe per id, or a
        // hash join): an `id IN (SELECT unnest(…))` or `= ANY(array)` filter may be planned as a scan of the whole
        // array for each of the base's rows, which is quadratic at 100,000 rows. each ledger row the base still owns goes back to the mergee; the mergee
        // gets its labels back and the base loses those the merge added. The counts of rows the base gained
        // after the merge read the statement's starting snapshot, which the moves do not change for them. The text
        // of the identities each contact holds through merges (the search's, migration `2026-12-04-000030`) is
        // written again for both: `restore_contact` pointed the mergee's holders back.
        let c: BackCounts = Prepared(
            diesel::sql_query(
                "WITH ledger AS ( \
                     SELECT l.* FROM contact_merge_ledgers l JOIN contact_merges m ON m.id = l.merge_id \
                     WHERE m.account_id = $1 AND l.merge_id = $2), \
                 conversations_back AS ( \
                     UPDATE conversations t SET contact_id = $4 FROM ledger, unnest(ledger.moved_conversation_ids) AS moved (id) \
                     WHERE t.id = moved.id AND t.account_id = $1 AND t.contact_id = $3 RETURNING 1), \
                 messages_back AS ( \
                     UPDATE messages t SET sender_contact_id = $4 FROM ledger, unnest(ledger.moved_message_ids) AS moved (id) \
                     WHERE t.id = moved.id AND t.account_id = $1 AND t.sender_contact_id = $3 RETURNING 1), \
                 contact_inboxes_back AS ( \
                     UPDATE contact_inboxes t SET contact_id = $4 FROM ledger, unnest(ledger.moved_contact_inbox_ids) AS moved (id) \
                     WHERE t.id = moved.id AND t.account_id = $1 AND t.contact_id = $3 RETURNING 1), \
                 notes_back AS ( \
                     UPDATE notes t SET contact_id = $4 FROM ledger, unnest(ledger.moved_note_ids) AS moved (id) \
                     WHERE t.id = moved.id AND t.account_id = $1 AND t.contact_id = $3 RETURNING 1), \
                 labels_taken_back AS ( \
                     DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $3 \
                     AND label IN (SELECT unnest(labels_added) FROM ledger) RETURNING 1), \
                 labels_back AS ( \
                     INSERT INTO contact_labels (account_id, contact_id, label) \
                     SELECT $1, $4, unnest(mergee_labels) FROM ledger \
                     ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING 1), \
                 merged_texts AS ( \
                     UPDATE contacts c SET merged_identities = t.text \
                     FROM (SELECT id, contact_merged_identities($1, id) AS text FROM unnest(ARRAY[$3, $4]) AS id) t \
                     WHERE c.account_id = $1 AND c.id = t.id AND c.merged_identities IS DISTINCT FROM t.text) \
                 SELECT (SELECT count(*) FROM conversations_back) AS back_conversations, \
                        (SELECT count(*) FROM messages_back) AS back_messages, \
                        (SELECT count(*) FROM contact_inboxes_back) AS back_contact_inboxes, \
                        (SELECT count(*) FROM notes_back) AS back_notes, \
                        (SELECT count(*) FROM labels_back) AS back_labels, \
                        (SELECT coalesce(sum(cardinality(moved_conversation_ids)), 0)::bigint FROM ledger) \
                            AS ledger_conversations, \
                        (SELECT coalesce(sum(cardinality(moved_message_ids)), 0)::bigint FROM ledger) AS ledger_messages, \
                        (SELECT coalesce(sum(cardinality(moved_contact_inbox_ids)), 0)::bigint FROM ledger) \
                            AS ledger_contact_inboxes, \
                        (SELECT coalesce(sum(cardinality(moved_note_ids)), 0)::bigint FROM ledger) AS ledger_notes, \
                        (SELECT count(*) FROM conversations \
                         WHERE account_id = $1 AND contact_id = $3 AND created_at > $5) AS kept_conversations, \
                        (SELECT count(*) FROM messages \
                         WHERE account_id = $1 AND sender_contact_id = $3 AND created_at > $5) AS kept_messages, \
                        (SELECT count(*) FROM contact_inboxes \
                         WHERE account_id = $1 AND contact_id = $3 AND created_at > $5) AS kept_contact_inboxes, \
                        (SELECT count(*) FROM notes \
                         WHERE account_id = $1 AND contact_id = $3 AND created_at > $5) AS kept_notes, \
                        (SELECT count(*) FROM contact_labels \
                         WHERE account_id = $1 AND contact_id = $3 AND created_at > $5 \
                         AND label NOT IN (SELECT unnest(labels_added) FROM ledger)) AS kept_labels",
            )
            .bind::<BigInt, _>(account.get())
            .bind::<BigInt, _>(merge_id)
            .bind::<BigInt, _>(base.get())
            .bind::<BigInt, _>(mergee.get())
            .bind::<Timestamptz, _>(merged_at),
        )
        .get_result(self.conn())
        .store()?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let moved_back = MovedCounts {
            conversations: n(c.back_conversations),
            messages: n(c.back_messages),
            contact_inboxes: n(c.back_contact_inboxes),
            notes: n(c.back_notes),
            labels: n(c.back_labels),
        };
        let deleted_since = MovedCounts {
            conversations: n(c.ledger_conversations - c.back_conversations),
            messages: n(c.ledger_messages - c.back_messages),
            contact_inboxes: n(c.ledger_contact_inboxes - c.back_contact_inboxes),
            notes: n(c.ledger_notes - c.back_notes),
            labels: 0,
        };
        let kept_on_base = MovedCounts {
            conversations: n(c.kept_conversations),
            messages: n(c.kept_messages),
            contact_inboxes: n(c.kept_contact_inboxes),
            notes: n(c.kept_notes),
            labels: n(c.kept_labels),
        };
        Ok(UndoCounts { moved_back, deleted_since, kept_on_base })
    }

    fn mark_undone(
        &mut self,
        account: AccountId,
        merge_id: i64,
        actor: UserId,
        counts: &serde_json::Value,
    ) -> Result<DateTime<Utc>, StoreError> {
        Prepared(
            diesel::update(
                contact_merges::table
                    .filter(contact_merges::account_id.eq(account.get()))
                    .filter(contact_merges::id.eq(merge_id)),
            )
            .set((
                contact_merges::undone_at.eq(diesel::dsl::now),
                contact_merges::undone_by.eq(actor.get()),
                contact_merges::undo_counts.eq(counts),
            ))
            .returning(contact_merges::undone_at),
        )
        .get_result::<Option<DateTime<Utc>>>(self.conn())
        .store()?
        .ok_or_else(|| StoreError::Other("undone_at was not set".into()))
    }
}

/// What moving a merge back returns.
#[derive(QueryableByName)]
struct BackCounts {
    #[diesel(sql_type = BigInt)]
    back_conversations: i64,
    #[diesel(sql_type = BigInt)]
    back_messages: i64,
    #[diesel(sql_type = BigInt)]
    back_contact_inboxes: i64,
    #[diesel(sql_type = BigInt)]
    back_notes: i64,
    #[diesel(sql_type = BigInt)]
    back_labels: i64,
    #[diesel(sql_type = BigInt)]
    ledger_conversations: i64,
    #[diesel(sql_type = BigInt)]
    ledger_messages: i64,
    #[diesel(sql_type = BigInt)]
    ledger_contact_inboxes: i64,
    #[diesel(sql_type = BigInt)]
    ledger_notes: i64,
    #[diesel(sql_type = BigInt)]
    kept_conversations: i64,
    #[diesel(sql_type = BigInt)]
    kept_messages: i64,
    #[diesel(sql_type = BigInt)]
    kept_contact_inboxes: i64,
    #[diesel(sql_type = BigInt)]
    kept_notes: i64,
    #[diesel(sql_type = BigInt)]
    kept_labels: i64,
}
