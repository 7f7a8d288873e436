-- The keys a contact's duplicate candidates are searched by (its name keys, its email's local key and domain)
-- move from expression indexes on contacts to a table of their own, written by the duplicates refresher.
--
-- As expression indexes they were maintained by every request that created a contact or changed one of those
-- columns: three more index entries (one of them a GIN entry per name key, another on one of a few hot domain
-- keys) in the request's own transaction, about a fifth of a contact insert's database throughput (pgbench,
-- inserts like `make bench`'s creates, 8 clients, alternated runs: 1,967 against 2,408 inserts/s without them).
-- Every such change already queues the contact for the refresher (migration 000003), which must read the
-- contact anyway: it now writes the contact's keys here, first, then searches its candidates by the keys of the
-- others. A pair is found by whichever of its two contacts is refreshed later (each search is symmetric), so a
-- contact not refreshed yet is found once it is. The keys of a deleted or merged-away contact go with it
-- (the foreign key cascades), so a search never spends its bounded candidates on contacts that are gone.
CREATE TABLE contact_dedupe_keys (
    account_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('name', 'local', 'domain')),
    key TEXT NOT NULL,
    PRIMARY KEY (account_id, kind, key, contact_id),
    FOREIGN KEY (account_id, contact_id) REFERENCES contacts (account_id, id) ON DELETE CASCADE
);
-- the refresher's rewrite of one contact's keys, and the cascade of a deletion
CREATE INDEX contact_dedupe_keys_contact_idx ON contact_dedupe_keys (account_id, contact_id);

INSERT INTO contact_dedupe_keys (account_id, contact_id, kind, key)
SELECT DISTINCT c.account_id, c.id, k.kind, k.key
FROM contacts c
CROSS JOIN LATERAL (
    SELECT 'name', unnest(dedupe_name_keys(c.name))
    UNION ALL SELECT 'local', dedupe_local_key(c.email)
    UNION ALL SELECT 'domain', NULLIF(split_part(c.email, '@', 2), '')
) AS k (kind, key)
WHERE k.key IS NOT NULL;

DROP INDEX contacts_dedupe_local_key_idx;
DROP INDEX contacts_dedupe_name_keys_idx;
DROP INDEX contacts_dedupe_domain_idx;
