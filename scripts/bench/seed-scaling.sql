-- One scaling case (psql variables from scripts/bench.sh): :reps pairs starting at :first, laid out like the merge
-- pairs (pair i is (first + 2i, first + 2i + 1)); each mergee owns :size conversations with one message each.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
-- the data is consistent by construction: skip the per-row foreign key triggers while loading (superuser only)
SET session_replication_role = replica;
BEGIN;
INSERT INTO contacts (id, account_id, name, email, phone_number, identifier)
SELECT id, :account, 'Scale ' || id, 's' || id || '@bench.invalid',
       CASE WHEN (id - :first) % 2 = 1 THEN '+1777' || lpad(id::text, 8, '0') END,
       CASE WHEN (id - :first) % 2 = 1 THEN 'sm-' || id END
FROM generate_series(:first, :first + 2 * :reps - 1) AS id;
-- their identities, as the triggers (off while loading) would write them, each contact's in its own holder
INSERT INTO contact_identity_holders (account_id, id, contact_id)
SELECT :account, id, id FROM generate_series(:first, :first + 2 * :reps - 1) AS id;
INSERT INTO contact_identities (account_id, holder_id, kind, value, is_primary)
SELECT :account, id, 'email', email, TRUE FROM contacts WHERE account_id = :account AND id BETWEEN :first AND :first + 2 * :reps - 1
UNION ALL
SELECT :account, id, 'phone_number', phone_number, TRUE FROM contacts
WHERE account_id = :account AND id BETWEEN :first AND :first + 2 * :reps - 1 AND phone_number IS NOT NULL
UNION ALL
SELECT :account, id, 'identifier', identifier, TRUE FROM contacts
WHERE account_id = :account AND id BETWEEN :first AND :first + 2 * :reps - 1 AND identifier IS NOT NULL;
-- and the contacts' count, as the counting trigger (off as well) would have appended it
INSERT INTO contact_count_changes (account_id, delta) VALUES (:account, 2 * :reps);

WITH last AS (SELECT last_conversation_display_id AS d FROM accounts WHERE id = :account)
INSERT INTO conversations (account_id, display_id, inbox_id, contact_id, status)
SELECT :account, last.d + row_number() OVER (ORDER BY m, g), :inbox, m, 'open'
FROM last, generate_series(:first + 1, :first + 2 * :reps - 1, 2) AS m CROSS JOIN generate_series(1, :size) AS g;

INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id)
SELECT :account, c.id, 'incoming', 'Message in conversation ' || c.id, c.contact_id
FROM conversations c
WHERE c.account_id = :account AND c.contact_id BETWEEN :first AND :first + 2 * :reps - 1;

UPDATE accounts SET last_conversation_display_id = (SELECT max(display_id) FROM conversations WHERE account_id = :account)
WHERE id = :account;
COMMIT;
