-- The floor of one merge request: the statements Coalesce issues for POST …/actions/contact_merge, in the same
-- order, with the same SQL (copied from the PostgreSQL log of a real merge), one round trip each, sent by
-- pgbench straight to PostgreSQL. Left out: HTTP, JSON, the pool's `SELECT 1` checkout check (made only for a
-- connection idle for more than a second, so not under load), and the Rust-side attribute merge (the merged
-- values are computed in SQL from the pair's ids).
--
-- The moving statement returns the ids it moved and the labels it took and added (`\gset`), and the record's
-- insert writes them into the ledger, as the service does: the ids travel to the client and back, two round trips
-- as in the service (the constants stand for what the service computes in Rust: the counts, the snapshots and
-- what the merge wrote, with the same shape and size).
--
-- pgbench -D variables: account digest first clients snapshot payload merged_additional merged_custom
-- base_snapshot written, with_ledger=true, n=0.
-- Client c merges pairs c, c + clients, c + 2 * clients, … : the same pairs the HTTP load would give client c,
-- so no two transactions touch the same pair.
\set pair :client_id + :n * :clients
\set n :n + 1
\set base :first + 2 * :pair
\set mergee :base + 1
-- authentication: token owner, account status and membership, autocommit, as the service does per request
SELECT t.user_id, t.platform_app_id, a.status AS account_status, au.role FROM (SELECT 1) AS one LEFT JOIN access_tokens t ON t.token_digest = :digest LEFT JOIN accounts a ON a.id = :account LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id;
BEGIN;
SELECT "contacts"."id", "contacts"."account_id", "contacts"."name", "contacts"."email", "contacts"."phone_number", "contacts"."identifier", "contacts"."blocked", "contacts"."thumbnail", "contacts"."additional_attributes", "contacts"."custom_attributes", "contacts"."last_activity_at", "contacts"."created_at", "contacts"."updated_at" FROM "contacts" WHERE (("contacts"."account_id" = :account) AND ("contacts"."id" = ANY(ARRAY[:base, :mergee]::bigint[]))) ORDER BY "contacts"."id" ASC FOR UPDATE;
WITH conversations_moved AS ( UPDATE conversations SET contact_id = :base WHERE account_id = :account AND contact_id = :mergee RETURNING id), messages_moved AS ( UPDATE messages SET sender_contact_id = :base WHERE account_id = :account AND sender_contact_id = :mergee RETURNING id), contact_inboxes_moved AS ( UPDATE contact_inboxes SET contact_id = :base WHERE account_id = :account AND contact_id = :mergee RETURNING id), notes_moved AS ( UPDATE notes SET contact_id = :base WHERE account_id = :account AND contact_id = :mergee RETURNING id), labels_taken AS ( DELETE FROM contact_labels WHERE account_id = :account AND contact_id = :mergee RETURNING label), labels_added AS ( INSERT INTO contact_labels (account_id, contact_id, label) SELECT :account, :base, label FROM labels_taken ON CONFLICT ON CONSTRAINT contact_labels_contact_label_key DO NOTHING RETURNING label) SELECT (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM conversations_moved) AS conversation_ids, (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM messages_moved) AS message_ids, (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM contact_inboxes_moved) AS contact_inbox_ids, (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM notes_moved) AS note_ids, (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_added) AS labels_added, (SELECT coalesce(array_agg(label ORDER BY label), '{}') FROM labels_taken) AS mergee_labels
\gset
DELETE FROM "contacts" WHERE (("contacts"."account_id" = :account) AND ("contacts"."id" = :mergee));
UPDATE "contacts" SET "name" = 'Pair Base ' || :base, "email" = 'pb' || :base || '@bench.invalid', "phone_number" = '+1666' || lpad(:mergee::text, 8, '0'), "identifier" = 'pm-' || :mergee, "additional_attributes" = :merged_additional, "custom_attributes" = :merged_custom, "updated_at" = now() WHERE (("contacts"."account_id" = :account) AND ("contacts"."id" = :base)) RETURNING "contacts"."id", "contacts"."account_id", "contacts"."name", "contacts"."email", "contacts"."phone_number", "contacts"."identifier", "contacts"."blocked", "contacts"."thumbnail", "contacts"."additional_attributes", "contacts"."custom_attributes", "contacts"."last_activity_at", "contacts"."created_at", "contacts"."updated_at";
WITH record AS ( INSERT INTO contact_merges (account_id, actor_user_id, base_contact_id, mergee_contact_id, mergee_snapshot, moved_conversations, moved_messages, moved_contact_inboxes, moved_notes, moved_labels) VALUES (:account, :user_id, :base, :mergee, :snapshot, 2, 2, 1, 1, 2) RETURNING id, created_at), ledger AS ( INSERT INTO contact_merge_ledgers (merge_id, moved_conversation_ids, moved_message_ids, moved_contact_inbox_ids, moved_note_ids, labels_added, mergee_labels, base_snapshot, written) SELECT record.id, :conversation_ids::bigint[], :message_ids::bigint[], :contact_inbox_ids::bigint[], :note_ids::bigint[], :labels_added::text[], :mergee_labels::text[], :base_snapshot::jsonb, :written::jsonb FROM record WHERE :with_ledger::boolean) SELECT id, created_at FROM record;
INSERT INTO "outbox_events" ("account_id", "event_type", "payload") VALUES (:account, 'contact.merged', :payload);
SELECT "contact_inboxes"."source_id", "inboxes"."id", "inboxes"."name", "inboxes"."channel_type", "inboxes"."avatar_url", "inboxes"."provider" FROM ("contact_inboxes" INNER JOIN "inboxes" ON (("inboxes"."id" = "contact_inboxes"."inbox_id") AND ("inboxes"."account_id" = "contact_inboxes"."account_id"))) WHERE (("contact_inboxes"."account_id" = :account) AND ("contact_inboxes"."contact_id" = :base)) ORDER BY "contact_inboxes"."id" ASC;
COMMIT;
