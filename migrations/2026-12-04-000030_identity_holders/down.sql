-- Identities back on their contacts: every row of a holder merged away moves to the contact holding it, a
-- secondary unless it is that contact's value (as a merge left them before holders); the merges recorded with
-- holders keep their undo through the ids of the rows they held.
UPDATE contact_merge_ledgers l
SET moved_identity_ids = l.moved_identity_ids || coalesce((
        SELECT array_agg(i.id ORDER BY i.id) FROM contact_merges m
        JOIN contact_identities i ON i.account_id = m.account_id AND i.holder_id = ANY (l.moved_holder_ids)
        WHERE m.id = l.merge_id), '{}'),
    moved_identity_sources = l.moved_identity_sources || coalesce((
        SELECT array_agg(i.source ORDER BY i.id) FROM contact_merges m
        JOIN contact_identities i ON i.account_id = m.account_id AND i.holder_id = ANY (l.moved_holder_ids)
        WHERE m.id = l.merge_id), '{}')
WHERE cardinality(l.moved_holder_ids) > 0;
ALTER TABLE contact_merge_ledgers DROP COLUMN moved_holder_ids;

DROP TRIGGER contact_identities_merged_text ON contact_identities;
DROP FUNCTION contact_identity_merged_text();
DROP FUNCTION contact_merged_identities(BIGINT, BIGINT);
-- (the search's index goes with the column; it comes back as migration 2026-12-03-000050 made it)
ALTER TABLE contacts DROP COLUMN merged_identities;
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (
    (lower(name) || E'\x1f' || coalesce(email, '') || E'\x1f' || coalesce(phone_number, '') || E'\x1f'
        || coalesce(lower(identifier), '')) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);
DROP TRIGGER contact_identity_holders_duplicates_update ON contact_identity_holders;
-- (the rows' own triggers are off while they move: each stays with the contact that holds it, whose suggestions
-- do not change)
ALTER TABLE contact_identities DISABLE TRIGGER USER;
UPDATE contact_identities i
SET holder_id = h.contact_id, source = 'merge',
    is_primary = i.normalized IS NOT DISTINCT FROM CASE i.kind WHEN 'email' THEN lower(c.email)
                                                  WHEN 'phone_number' THEN c.phone_number ELSE c.identifier END
FROM contact_identity_holders h JOIN contacts c ON c.account_id = h.account_id AND c.id = h.contact_id
WHERE h.account_id = i.account_id AND h.id = i.holder_id AND h.id <> h.contact_id;
ALTER TABLE contact_identities ENABLE TRIGGER USER;
ALTER TABLE contact_identities DROP CONSTRAINT contact_identities_holder_fkey;
ALTER TABLE contact_identities RENAME COLUMN holder_id TO contact_id;
ALTER TABLE contact_identities ADD CONSTRAINT contact_identities_contact_fkey FOREIGN KEY (account_id, contact_id)
    REFERENCES contacts (account_id, id) ON DELETE CASCADE;
DROP TABLE contact_identity_holders;

CREATE OR REPLACE FUNCTION contact_identities_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k TEXT;
    old_value TEXT;
    new_value TEXT;
BEGIN
    FOREACH k IN ARRAY ARRAY['email', 'phone_number', 'identifier'] LOOP
        new_value := CASE k WHEN 'email' THEN NEW.email WHEN 'phone_number' THEN NEW.phone_number ELSE NEW.identifier END;
        IF TG_OP = 'UPDATE' THEN
            old_value := CASE k WHEN 'email' THEN OLD.email WHEN 'phone_number' THEN OLD.phone_number ELSE OLD.identifier END;
            CONTINUE WHEN old_value IS NOT DISTINCT FROM new_value;
            IF old_value IS NOT NULL THEN
                UPDATE contact_identities SET is_primary = FALSE
                WHERE account_id = NEW.account_id AND contact_id = NEW.id AND kind = k AND is_primary;
            END IF;
        END IF;
        CONTINUE WHEN new_value IS NULL;
        -- already the primary: a merge moves the mergee's primaries in as the base's when the base had none
        -- of that kind, and a no-op write would cost a new row version in every index of the table
        PERFORM FROM contact_identities
        WHERE account_id = NEW.account_id AND contact_id = NEW.id AND kind = k AND is_primary
          AND normalized = CASE WHEN k = 'email' THEN lower(new_value) ELSE new_value END;
        CONTINUE WHEN FOUND;
        UPDATE contact_identities SET is_primary = TRUE
        WHERE account_id = NEW.account_id AND contact_id = NEW.id AND kind = k
          AND normalized = CASE WHEN k = 'email' THEN lower(new_value) ELSE new_value END;
        IF NOT FOUND THEN
            INSERT INTO contact_identities (account_id, contact_id, kind, value, is_primary)
            VALUES (NEW.account_id, NEW.id, k, new_value, TRUE);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER contact_identities_duplicates_insert AFTER INSERT ON contact_identities
    FOR EACH ROW WHEN (NOT NEW.is_primary) EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE TRIGGER contact_identities_duplicates_update AFTER UPDATE OF contact_id ON contact_identities
    FOR EACH ROW WHEN (OLD.contact_id <> NEW.contact_id AND NOT NEW.is_primary)
    EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_delete AFTER DELETE ON contact_identities
    FOR EACH ROW WHEN (NOT OLD.is_primary) EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
DROP FUNCTION queue_identity_holder_duplicate_refresh();

-- (the secondaries' keys written into contact_dedupe_keys stay: the refresher of that version rewrites a
-- contact's keys from its own columns when it next refreshes it, and until then a key left over only makes a
-- candidate that scores low)
CREATE INDEX contact_identities_secondary_local_key_idx
    ON contact_identities (account_id, dedupe_local_key(normalized)) WHERE kind = 'email' AND NOT is_primary;
CREATE INDEX contact_identities_secondary_domain_idx
    ON contact_identities (account_id, split_part(normalized, '@', 2)) WHERE kind = 'email' AND NOT is_primary;
