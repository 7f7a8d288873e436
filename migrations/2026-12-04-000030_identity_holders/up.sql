-- Identities held through holders (issue #14: a merge with identities within 10% of a merge without them).
-- A merge moved every identity of the mergee to the base: one new row version per identity, with its index
-- entries, its foreign-key check and its triggers (three per merge in the bench; 0.79 x the merge without
-- identities at the database level). Now identities belong to a holder, and a merge re-points the mergee's
-- holders: one row however many identities they hold (0.89-0.92 x in the same measurement; README, "What
-- identities cost a merge").
--
-- A holder is the set of identities first given to one contact, and has that contact's id; `contact_id` is the
-- contact that holds them now: the contact itself, or the base it was merged into (a merge re-points every
-- holder of the mergee, its own and those it had taken, so a holder is never more than one step from its
-- contact). The rows keep the flags they had on their first contact (`is_primary` is now "a primary of the
-- holder's own contact"; what the API calls primary is the value of the contact's field, which the trigger below
-- keeps among the contact's identities).
CREATE TABLE contact_identity_holders (
    account_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    PRIMARY KEY (account_id, id),
    -- deleting a contact deletes the holders it holds, and their identities with them
    CONSTRAINT contact_identity_holders_contact_fkey FOREIGN KEY (account_id, contact_id)
        REFERENCES contacts (account_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_identity_holders_contact_idx ON contact_identity_holders (account_id, contact_id);

-- The search finds a base by the identities of the holders it took (the mergee's old email or phone number)
-- through the one trigram index it reads already: a contact carries their text (`merged_identities`, the values
-- joined by U+001F; NULL while it took none), written by the merge's update of the base, and the search's index
-- covers it after the four columns. The identities of a contact's own holder are found as before (its columns,
-- and the secondaries' trigram index by holder id, which is the contact's). A separate index over the merged
-- holders' text cost the search a tenth of its throughput (a second index to read for every term; README,
-- "What identities cost a merge"). The separator adds no trigram (pg_trgm treats it as a word boundary), so a
-- contact without merged identities has the same index entries as before.
ALTER TABLE contacts ADD COLUMN merged_identities TEXT;
DROP INDEX contacts_search_trgm_idx;
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (
    (lower(name) || E'\x1f' || coalesce(email, '') || E'\x1f' || coalesce(phone_number, '') || E'\x1f'
        || coalesce(lower(identifier), '') || E'\x1f' || coalesce(merged_identities, '')) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);

-- Backfill: every contact holding identities gets its holder, at home (merges recorded before this migration
-- moved the rows themselves, which are therefore already the base's).
INSERT INTO contact_identity_holders (account_id, id, contact_id)
SELECT DISTINCT account_id, contact_id, contact_id FROM contact_identities;

ALTER TABLE contact_identities DROP CONSTRAINT contact_identities_contact_fkey;
ALTER TABLE contact_identities RENAME COLUMN contact_id TO holder_id;
ALTER TABLE contact_identities ADD CONSTRAINT contact_identities_holder_fkey FOREIGN KEY (account_id, holder_id)
    REFERENCES contact_identity_holders (account_id, id) ON DELETE CASCADE;

-- A merge records the holders it re-pointed (the undo points them back); merges recorded before moved rows
-- (moved_identity_ids), which the undo still gives back by id.
ALTER TABLE contact_merge_ledgers ADD COLUMN moved_holder_ids BIGINT[] NOT NULL DEFAULT '{}';

-- The primaries follow the contact's columns (see migration 2026-12-03-000020), through holders:
--  * a value that leaves a column stays with the contact: a row of the contact's own holder is flagged
--    secondary; a row of a holder it took in a merge is a secondary already;
--  * a new value already held by the contact (through any of its holders) is kept where it is, a secondary of
--    its own holder promoted; otherwise it is inserted into the contact's own holder (created at the first
--    identity), which fails on the unique index when another contact holds the value.
CREATE OR REPLACE FUNCTION contact_identities_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k TEXT;
    old_value TEXT;
    new_value TEXT;
    found_id BIGINT;
    found_holder BIGINT;
    found_primary BOOLEAN;
    -- a holder created here holds nothing yet: no lookups (a created contact's usual case)
    fresh BOOLEAN := FALSE;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- the undo re-creates a mergee whose holder is still there (pointed back in the same statement)
        INSERT INTO contact_identity_holders (account_id, id, contact_id) VALUES (NEW.account_id, NEW.id, NEW.id)
        ON CONFLICT DO NOTHING;
        fresh := FOUND;
    END IF;
    FOREACH k IN ARRAY ARRAY['email', 'phone_number', 'identifier'] LOOP
        new_value := CASE k WHEN 'email' THEN NEW.email WHEN 'phone_number' THEN NEW.phone_number ELSE NEW.identifier END;
        IF TG_OP = 'UPDATE' THEN
            old_value := CASE k WHEN 'email' THEN OLD.email WHEN 'phone_number' THEN OLD.phone_number ELSE OLD.identifier END;
            CONTINUE WHEN old_value IS NOT DISTINCT FROM new_value;
            IF old_value IS NOT NULL THEN
                UPDATE contact_identities SET is_primary = FALSE
                WHERE account_id = NEW.account_id AND holder_id = NEW.id AND kind = k AND is_primary;
            END IF;
        END IF;
        CONTINUE WHEN new_value IS NULL;
        IF NOT fresh THEN
            SELECT i.id, i.holder_id, i.is_primary INTO found_id, found_holder, found_primary
            FROM contact_identities i
            JOIN contact_identity_holders h ON h.account_id = i.account_id AND h.id = i.holder_id
            WHERE i.account_id = NEW.account_id AND i.kind = k
              AND i.normalized = CASE WHEN k = 'email' THEN lower(new_value) ELSE new_value END
              AND h.contact_id = NEW.id;
            IF FOUND THEN
                IF found_holder = NEW.id AND NOT found_primary THEN
                    UPDATE contact_identities SET is_primary = TRUE WHERE id = found_id;
                END IF;
                CONTINUE;
            END IF;
            INSERT INTO contact_identity_holders (account_id, id, contact_id) VALUES (NEW.account_id, NEW.id, NEW.id)
            ON CONFLICT DO NOTHING;
        END IF;
        INSERT INTO contact_identities (account_id, holder_id, kind, value, is_primary)
        VALUES (NEW.account_id, NEW.id, k, new_value, TRUE);
    END LOOP;
    RETURN NULL;
END;
$$;

-- A holder that changes contact changes the suggestions of both (the one that lost it when it still exists):
-- as a secondary identity's move did (migration 2026-12-04-000010), for all its identities at once.
CREATE TRIGGER contact_identity_holders_duplicates_update AFTER UPDATE OF contact_id ON contact_identity_holders
    FOR EACH ROW WHEN (OLD.contact_id <> NEW.contact_id) EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
-- An identity row no longer changes contact; it is added and deleted (under its holder's contact).
DROP TRIGGER contact_identities_duplicates_update ON contact_identities;
CREATE OR REPLACE FUNCTION queue_identity_holder_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_duplicate_refreshes (account_id, contact_id)
    SELECT h.account_id, h.contact_id FROM contact_identity_holders h
    WHERE h.account_id = coalesce(NEW.account_id, OLD.account_id) AND h.id = coalesce(NEW.holder_id, OLD.holder_id)
    ON CONFLICT (account_id, contact_id, queued_by) DO NOTHING;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER contact_identities_duplicates_insert AFTER INSERT ON contact_identities
    FOR EACH ROW WHEN (NOT NEW.is_primary) EXECUTE FUNCTION queue_identity_holder_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_delete AFTER DELETE ON contact_identities
    FOR EACH ROW WHEN (NOT OLD.is_primary) EXECUTE FUNCTION queue_identity_holder_duplicate_refresh();

-- A row of a merged-away holder that goes (a secondary of its contact deleted through the API) leaves its
-- contact's merged text, and changes its contact's suggestions (the trigger above skips rows flagged primary).
-- (Nothing else changes a merged-away holder's rows: identities are added to a contact's own holder, and the
-- trigger above flips the flags of its own holder's rows only.) A holder deleted with its contact leaves no row.
-- The API locks the contact before it deletes one of its identities (application::identities), so no merge
-- into it runs between the text read here and the text written.
CREATE FUNCTION contact_merged_identities(p_account BIGINT, p_contact BIGINT) RETURNS TEXT
LANGUAGE sql STABLE AS $$
    SELECT string_agg(lower(i.value), E'\x1f' ORDER BY i.id)
    FROM contact_identity_holders h
    JOIN contact_identities i ON i.account_id = h.account_id AND i.holder_id = h.id
    WHERE h.account_id = p_account AND h.contact_id = p_contact AND h.id <> p_contact
$$;
CREATE FUNCTION contact_identity_merged_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH merged_away AS (
        UPDATE contacts c SET merged_identities = contact_merged_identities(c.account_id, c.id)
        FROM contact_identity_holders h
        WHERE h.account_id = OLD.account_id AND h.id = OLD.holder_id AND h.contact_id <> h.id
          AND c.account_id = h.account_id AND c.id = h.contact_id
        RETURNING c.account_id, c.id)
    INSERT INTO contact_duplicate_refreshes (account_id, contact_id) SELECT account_id, id FROM merged_away
    ON CONFLICT (account_id, contact_id, queued_by) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER contact_identities_merged_text AFTER DELETE ON contact_identities
    FOR EACH ROW EXECUTE FUNCTION contact_identity_merged_text();

-- The secondary emails' duplicate keys (local part, domain) leave the identities' partial indexes, which cannot
-- see the rows of a holder merged away (they keep their primary flags): the refresher writes them into
-- contact_dedupe_keys with the contact's own (store/duplicates.rs, KEYS_WRITTEN), and the candidates are found
-- there. The keys of today's secondaries are written here; every later change queues its contact.
INSERT INTO contact_dedupe_keys (account_id, contact_id, kind, key)
SELECT DISTINCT h.account_id, h.contact_id, k.kind, k.key
FROM contact_identities i
JOIN contact_identity_holders h ON h.account_id = i.account_id AND h.id = i.holder_id
CROSS JOIN LATERAL (
    SELECT 'local', dedupe_local_key(i.normalized)
    UNION ALL SELECT 'domain', NULLIF(split_part(i.normalized, '@', 2), '')
) AS k (kind, key)
WHERE i.kind = 'email' AND NOT i.is_primary AND k.key IS NOT NULL
ON CONFLICT DO NOTHING;
DROP INDEX contact_identities_secondary_local_key_idx;
DROP INDEX contact_identities_secondary_domain_idx;
