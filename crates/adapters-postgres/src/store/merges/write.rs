//! A merge's whole write in one statement ([`MergeStore::write_merge`](application::ports::MergeStore)): the
//! moves, the mergee's delete, the base's update, the audit record with its ledger and the outbox event.

use application::ports::{Absorbed, MergeWrite, MergeWritten, MovedRows, StoredMerge};
use application::StoreError;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz};

use crate::errors::StoreResult;
use crate::models::{contact_inbox, ContactAttributesChangeset, ContactRow, InboxRow};
use crate::prepared::Prepared;
use crate::store::PgSession;

/// `$col` (a `timestamptz`) as chrono's `to_rfc3339` writes it: UTC as `+00:00`, the fraction in 0, 3 or 6
/// digits, whichever is exact. The outbox event's `merged_at` is written in SQL and must read the same as the
/// record's `created_at` written by the service elsewhere. (The colons are quoted literals of the pattern, so
/// that pgbench, which sends this text in the bench's floor, does not read `:MI` as one of its variables.)
macro_rules! rfc3339 {
    ($col:literal) => {
        concat!(
            "(to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\":\"MI\":\"SS') || \
             CASE WHEN to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'US') = '000000' THEN '' \
                  WHEN to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'US') LIKE '%000' \
                      THEN to_char(",
            $col,
            " AT TIME ZONE 'UTC', '.MS') \
                  ELSE to_char(",
            $col,
            " AT TIME ZONE 'UTC', '.US') END || '+00:00')"
        )
    };
}
#[cfg(test)]
pub(super) use rfc3339;

/// The statement. Every data-modifying part sees the rows as they were before it (one snapshot), and PostgreSQL
/// checks the foreign keys at its end, against all of it: the mergee's delete finds every child moved (and its
/// identities' cascade finds none left), or the statement fails.
/// - The children change owner: conversations, the messages the mergee sent, contact inboxes, notes; labels are a
///   union (the mergee's rows taken, the base given each label it does not carry yet). The mergee's identities
///   become the base's without a row of them written: the holders the mergee holds (its own, and those it took
///   in earlier merges) are re-pointed to the base (migration `2026-12-04-000030`). The identities trigger then
///   finds the values the base takes among them when the base's fields are written.
/// - The base's update waits for the mergee's delete (its condition reads the delete's row), so that the
///   mergee's unique email, phone number or identifier can move over within the statement. It appends the
///   values of every identity the re-pointed holders hold to the base's merged text, which the search's trigram
///   index covers (the rows are read as before the statement; none of them changes in it). Not through
///   `contact_merged_identities()`, which the undo and a trigger use: that reads the holders as they were before
///   the statement, still the mergee's, and a SQL function is planned again in every statement that calls it.
/// - The record, its ledger and the outbox event take what moved from `moved`, read once.
/// - The base's contact inboxes are read for the merge's answer: as they were before the statement, so those of
///   the base and of the mergee, which are the base's after it.
const WRITE_MERGE: &str = concat!(
    "WITH conversations_moved AS ( \
         UPDATE conversations SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING id), \
     messages_moved AS ( \
         UPDATE messages SET sender_contact_id = $3 WHERE account_id = $1 AND sender_contact_id = $2 RETURNING id), \
     contact_inboxes_moved AS ( \
         UPDATE contact_inboxes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING id), \
     notes_moved AS ( \
         UPDATE notes SET contact_id = $3 WHERE account_id = $1 AND contact_id = $2 RETURNING id), \
     labels_taken AS ( \
         DELETE FROM contact_labels WHERE account_id = $1 AND contact_id = $2 RETURNING label), \
     labels_added AS ( \
         INSERT INTO contact_labels (account_id, contact_id, label) SELECT $1, $3, label FROM labels_taken \
         ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING label), \
     holders_moved AS ( \
         UPDATE contact_identity_holders h SET contact_id = $3 \
         WHERE h.account_id = $1 AND h.contact_id = $2 RETURNING h.id), \
     mergee_deleted AS (DELETE FROM contacts WHERE account_id = $1 AND id = $2 RETURNING id), \
     base AS ( \
         UPDATE contacts SET name = $4, email = $5, phone_number = $6, identifier = $7, \
             additional_attributes = $8, custom_attributes = $9, updated_at = $10, \
             merged_identities = NULLIF(concat_ws(E'\\x1f', contacts.merged_identities, ( \
                 SELECT string_agg(lower(i.value), E'\\x1f' ORDER BY i.id) FROM contact_identities i \
                 WHERE i.account_id = $1 AND i.holder_id IN (SELECT id FROM holders_moved))), '') \
         WHERE account_id = $1 AND id = $3 AND EXISTS (SELECT FROM mergee_deleted) \
         RETURNING id, account_id, name, email, phone_number, identifier, blocked, thumbnail, \
             additional_attributes, custom_attributes, last_activity_at, created_at, updated_at), \
     moved AS ( \
         SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM conversations_moved) AS conversation_ids, \
                (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM messages_moved) AS message_ids, \
                (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM contact_inboxes_moved) AS contact_inbox_ids, \
                (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM notes_moved) AS note_ids, \
                (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_added) AS labels_added, \
                (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_taken) AS mergee_labels, \
                (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM holders_moved) AS holder_ids), \
     record AS ( \
         INSERT INTO contact_merges (account_id, actor_user_id, base_contact_id, mergee_contact_id, \
             mergee_snapshot, moved_conversations, moved_messages, moved_contact_inboxes, moved_notes, moved_labels) \
         SELECT $1, $11, $3, $2, $12, cardinality(conversation_ids), cardinality(message_ids), \
             cardinality(contact_inbox_ids), cardinality(note_ids), cardinality(mergee_labels) FROM moved \
         RETURNING id, created_at, moved_conversations, moved_messages, moved_contact_inboxes, moved_notes, \
             moved_labels), \
     ledger AS ( \
         INSERT INTO contact_merge_ledgers (merge_id, moved_conversation_ids, moved_message_ids, \
             moved_contact_inbox_ids, moved_note_ids, labels_added, mergee_labels, base_snapshot, written, \
             moved_holder_ids) \
         SELECT record.id, conversation_ids, message_ids, contact_inbox_ids, note_ids, labels_added, mergee_labels, \
             $13, $14, holder_ids FROM record, moved), \
     event AS ( \
         INSERT INTO outbox_events (account_id, event_type, payload) \
         SELECT $1, $15, $16 || jsonb_build_object('merge_id', id, 'merged_at', ",
    rfc3339!("created_at"),
    ", 'moved', jsonb_build_object('conversations', moved_conversations, 'messages', moved_messages, \
                 'contact_inboxes', moved_contact_inboxes, 'notes', moved_notes, 'labels', moved_labels)) \
         FROM record) \
     SELECT base.*, record.id AS merge_id, record.created_at AS merged_at, moved.*, inboxes.* \
     FROM base, record, moved, \
          (SELECT coalesce(array_agg(ci.source_id ORDER BY ci.id), '{}') AS inbox_source_ids, \
                  coalesce(array_agg(i.id ORDER BY ci.id), '{}') AS inbox_ids, \
                  coalesce(array_agg(i.name ORDER BY ci.id), '{}') AS inbox_names, \
                  coalesce(array_agg(i.channel_type ORDER BY ci.id), '{}') AS inbox_channel_types, \
                  coalesce(array_agg(i.avatar_url ORDER BY ci.id), '{}') AS inbox_avatar_urls, \
                  coalesce(array_agg(i.provider ORDER BY ci.id), '{}') AS inbox_providers \
           FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id AND i.account_id = ci.account_id \
           WHERE ci.account_id = $1 AND ci.contact_id IN ($2, $3)) AS inboxes"
);

/// Writes the merge; see [`WRITE_MERGE`].
pub(super) fn write_merge(session: &mut PgSession, m: &MergeWrite<'_>) -> Result<MergeWritten, StoreError> {
    let attributes = ContactAttributesChangeset::new(m.attributes);
    let row: Written = Prepared(
        diesel::sql_query(WRITE_MERGE)
            .bind::<BigInt, _>(m.account_id.get())
            .bind::<BigInt, _>(m.mergee_contact_id.get())
            .bind::<BigInt, _>(m.base_contact_id.get())
            .bind::<Text, _>(attributes.name)
            .bind::<Nullable<Text>, _>(attributes.email)
            .bind::<Nullable<Text>, _>(attributes.phone_number)
            .bind::<Nullable<Text>, _>(attributes.identifier)
            .bind::<Jsonb, _>(&attributes.additional_attributes)
            .bind::<Jsonb, _>(&attributes.custom_attributes)
            .bind::<Timestamptz, _>(attributes.updated_at)
            .bind::<Nullable<BigInt>, _>(m.actor.map(domain::UserId::get))
            .bind::<Jsonb, _>(&m.mergee_snapshot)
            .bind::<Jsonb, _>(&m.base_snapshot)
            .bind::<Jsonb, _>(&m.written)
            .bind::<Text, _>(m.event_type)
            .bind::<Jsonb, _>(&m.event),
    )
    .get_result(session.conn())
    .store()?;
    Ok(row.into())
}

/// What [`WRITE_MERGE`] answers: the base as stored, the record, the ids it moved per table and the labels it
/// took and added, the base's contact inboxes after the move (column by column, oldest first).
#[derive(QueryableByName)]
struct Written {
    #[diesel(embed)]
    base: ContactRow,
    #[diesel(sql_type = BigInt)]
    merge_id: i64,
    #[diesel(sql_type = Timestamptz)]
    merged_at: DateTime<Utc>,
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
    holder_ids: Vec<i64>,
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

impl From<Written> for MergeWritten {
    fn from(w: Written) -> Self {
        let base_inboxes = w
            .inbox_source_ids
            .into_iter()
            .zip(w.inbox_ids)
            .zip(w.inbox_names)
            .zip(w.inbox_channel_types)
            .zip(w.inbox_avatar_urls)
            .zip(w.inbox_providers)
            .map(|(((((source_id, id), name), channel_type), avatar_url), provider)| {
                contact_inbox(source_id, InboxRow { id, name, channel_type, avatar_url, provider })
            })
            .collect();
        let rows = MovedRows {
            conversation_ids: w.conversation_ids,
            message_ids: w.message_ids,
            contact_inbox_ids: w.contact_inbox_ids,
            note_ids: w.note_ids,
            labels_added: w.labels_added,
            mergee_labels: w.mergee_labels,
            identity_ids: Vec::new(),
            identity_sources: Vec::new(),
            identity_holder_ids: w.holder_ids,
        };
        Self {
            contact: w.base.into(),
            absorbed: Absorbed { moved: rows.counts(), rows, base_inboxes },
            stored: StoredMerge { id: w.merge_id, created_at: w.merged_at },
        }
    }
}
