-- Benchmark data, inserted set-based (psql variables from scripts/bench.sh):
--   :account :inbox :user_id   the account, its API inbox and the token's user (made by `coalesce admin`)
--   :contacts                  the population: ids 1..:contacts
--   :http_first :http_pairs    pairs merged over HTTP: pair i is (first + 2i, first + 2i + 1)
--   :floor_first :floor_pairs  pairs merged by the floor (pgbench), laid out the same way
--   :ledger_first :ledger_pairs  pairs for the ledger's cost (the same HTTP merges against this build and the
--                              build before the ledger; 0 pairs when not measured), laid out the same way
--   :many_first :many_pairs    contacts merged five at a time over HTTP, laid out as pairs too
--   :fixed_first :fixed_pairs  pairs merged by the fixed floor (bench_fixed_merge), laid out as pairs
-- Every population contact and every contact of a pair owns the same children: one contact inbox, two
-- conversations with two messages each (one from the contact, one from the user), one note and two labels.
-- Contact ids are explicit so that the load generator and pgbench can address pairs without a lookup.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

-- The search term of contact group n (contacts 10n … 10n + 9): "z" and four letters, a bijection of n, so a term
-- is selective for the trigram indexes too (no seeded text has a "z" elsewhere). crates/loadgen has the same
-- function (search_term); the floor calls this one.
CREATE OR REPLACE FUNCTION bench_term(n bigint) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT 'z' || chr(97 + (h / 17576 % 26)::int) || chr(97 + (h / 676 % 26)::int) || chr(97 + (h / 26 % 26)::int)
           || chr(97 + (h % 26)::int)
    FROM (SELECT (n * 7919 + 13) % 456976 AS h) AS s
$$;
-- The secondary-identity search term of group n: "y" and the four letters of bench_term(n) (a name holds them
-- after a "z", never after a "y"). crates/loadgen has the same function (identity_search_term).
CREATE OR REPLACE FUNCTION bench_identity_term(n bigint) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT 'y' || substr(bench_term(n), 2)
$$;
-- the data is consistent by construction: skip the per-row foreign key triggers while loading (superuser only)
SET session_replication_role = replica;

BEGIN;
-- population: name "Bench Zqxkr 000123", where zqxkr is the search term of the contact's group of ten;
-- unique email, phone number and identifier
INSERT INTO contacts (id, account_id, name, email, phone_number, identifier, additional_attributes,
                      custom_attributes, last_activity_at)
SELECT k, :account, 'Bench ' || initcap(bench_term(k / 10)) || ' ' || lpad(k::text, 6, '0'), 'c' || k || '@bench.invalid',
       '+1555' || lpad(k::text, 7, '0'), 'ext-' || k,
       jsonb_build_object('city', 'Paris', 'company', 'Acme ' || (k % 100)),
       jsonb_build_object('plan', 'pro', 'seq', k),
       now() - make_interval(secs => k)
FROM generate_series(1, :contacts) AS k;

-- merge pairs: the base has a name and an email; the mergee brings a phone number, an identifier and attributes
-- the base lacks, so every merge really merges attributes
INSERT INTO contacts (id, account_id, name, email, phone_number, identifier, additional_attributes,
                      custom_attributes)
SELECT id, :account,
       CASE WHEN is_base THEN 'Pair Base ' || id ELSE 'Pair Mergee ' || id END,
       CASE WHEN is_base THEN 'pb' || id || '@bench.invalid' ELSE 'pm' || id || '@bench.invalid' END,
       CASE WHEN is_base THEN NULL ELSE '+1666' || lpad(id::text, 8, '0') END,
       CASE WHEN is_base THEN NULL ELSE 'pm-' || id END,
       CASE WHEN is_base THEN '{"city": "Paris"}'::jsonb ELSE '{"city": "Lyon", "company": "Acme"}'::jsonb END,
       CASE WHEN is_base THEN '{"plan": "pro"}'::jsonb ELSE '{"plan": "free", "source": "whatsapp"}'::jsonb END
FROM (
    SELECT id, (id - :http_first) % 2 = 0 AS is_base
    FROM generate_series(:http_first, :http_first + 2 * :http_pairs - 1) AS id
    UNION ALL
    SELECT id, (id - :floor_first) % 2 = 0
    FROM generate_series(:floor_first, :floor_first + 2 * :floor_pairs - 1) AS id
    UNION ALL
    SELECT id, (id - :ledger_first) % 2 = 0
    FROM generate_series(:ledger_first, :ledger_first + 2 * :ledger_pairs - 1) AS id
    UNION ALL
    SELECT id, (id - :fixed_first) % 2 = 0
    FROM generate_series(:fixed_first, :fixed_first + 2 * :fixed_pairs - 1) AS id
    UNION ALL
    SELECT id, (id - :many_first) % 2 = 0
    FROM generate_series(:many_first, :many_first + 2 * :many_pairs - 1) AS id
) AS p;

-- identities: the triggers are off while loading (session_replication_role), so the primaries are written here
-- as the identities migration's backfill writes them; and every population contact keeps a secondary email, as
-- a merge leaves one, named after the group's second term (bench_identity_term); no other seeded text holds
-- such a five-letter run: searching for it finds the group through its secondary identities only
-- (each contact's identities in its own holder, as the trigger creates it with the first of them)
INSERT INTO contact_identity_holders (account_id, id, contact_id)
SELECT :account, id, id FROM contacts
WHERE account_id = :account AND (email IS NOT NULL OR phone_number IS NOT NULL OR identifier IS NOT NULL);
INSERT INTO contact_identities (account_id, holder_id, kind, value, is_primary)
SELECT :account, id, 'email', email, TRUE FROM contacts WHERE account_id = :account AND email IS NOT NULL
UNION ALL
SELECT :account, id, 'phone_number', phone_number, TRUE FROM contacts WHERE account_id = :account AND phone_number IS NOT NULL
UNION ALL
SELECT :account, id, 'identifier', identifier, TRUE FROM contacts WHERE account_id = :account AND identifier IS NOT NULL;
INSERT INTO contact_identities (account_id, holder_id, kind, value, is_primary, source)
SELECT :account, k, 'email', 'was' || k || '@' || bench_identity_term(k / 10) || '.invalid', FALSE, 'merge'
FROM generate_series(1, :contacts) AS k;

-- and the account's contact count, which the counting trigger (off as well) would have appended
INSERT INTO contact_count_changes (account_id, delta)
SELECT :account, count(*) FROM contacts WHERE account_id = :account;

INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id)
SELECT :account, id, :inbox, 'src-' || id FROM contacts WHERE account_id = :account ORDER BY id;

CREATE TEMP SEQUENCE display_ids;
INSERT INTO conversations (account_id, display_id, inbox_id, contact_id, contact_inbox_id, status)
SELECT :account, nextval('display_ids'), :inbox, ci.contact_id, ci.id, CASE WHEN g = 1 THEN 'resolved' ELSE 'open' END
FROM contact_inboxes ci CROSS JOIN generate_series(1, 2) AS g
WHERE ci.account_id = :account
ORDER BY ci.contact_id, g;

INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id, sender_user_id)
SELECT :account, c.id, m.kind,
       CASE WHEN m.kind = 'incoming' THEN 'Hello, I need help with order ' || c.id ELSE 'Happy to help!' END,
       CASE WHEN m.kind = 'incoming' THEN c.contact_id END,
       CASE WHEN m.kind = 'outgoing' THEN :user_id END
FROM conversations c CROSS JOIN (VALUES ('incoming'), ('outgoing')) AS m (kind)
WHERE c.account_id = :account
ORDER BY c.id, m.kind;

INSERT INTO notes (account_id, contact_id, user_id, content)
SELECT :account, id, :user_id, 'Called on ' || to_char(now(), 'YYYY-MM-DD') || '; prefers email.'
FROM contacts WHERE account_id = :account ORDER BY id;

-- two labels each; "customer" is shared by base and mergee, so the label union meets a conflict every merge
INSERT INTO contact_labels (account_id, contact_id, label)
SELECT :account, id, l
FROM contacts CROSS JOIN LATERAL (VALUES ('customer'), ('tier-' || (id % 5))) AS v (l)
WHERE account_id = :account
ORDER BY id;

UPDATE accounts SET last_conversation_display_id = (SELECT count(*) FROM conversations WHERE account_id = :account)
WHERE id = :account;
COMMIT;
