-- Lighter writes of identities (issue #14: a merge with identities within 10% of a merge without them).
-- Measured with the merge's own statements (scripts/bench/floor-merge.sql, pgbench, one client, so that the
-- statement's time is its work and not its waits): the write statement took 0.406 ms with identities and 0.345
-- without (a database copy whose identities table is empty and whose identity triggers are off); with the two
-- changes below 0.388 (three alternated runs each).
--
-- 1. The duplicate keys of secondary emails (local part and domain) leave the write path, as those of the
--    contacts' own emails did in migration 2026-12-03-000040: they were two expression indexes on
--    contact_identities, so every secondary email written or moved (one per merge in the bench) evaluated
--    dedupe_local_key and wrote two more index entries in the request's transaction. Every such change already
--    queues the contact for the duplicates refresher (migration 2026-12-03-000032), which writes a contact's
--    keys in contact_dedupe_keys before it searches: it now writes those of its secondary emails there too
--    (store/duplicates.rs, KEYS_WRITTEN), and the candidate search reads them from there.
-- 2. The identities trigger answers a merge's update of the base in one lookup: when every kind that changed had
--    no value and its new one is already the contact's primary (the merge moved the mergee's primaries in as
--    the base's in the same statement), there is nothing to write; otherwise it does what it did.

INSERT INTO contact_dedupe_keys (account_id, contact_id, kind, key)
SELECT DISTINCT i.account_id, i.contact_id, k.kind, k.key
FROM contact_identities i
CROSS JOIN LATERAL (
    SELECT 'local', dedupe_local_key(i.normalized)
    UNION ALL SELECT 'domain', NULLIF(split_part(i.normalized, '@', 2), '')
) AS k (kind, key)
WHERE i.kind = 'email' AND NOT i.is_primary AND k.key IS NOT NULL
ON CONFLICT DO NOTHING;

DROP INDEX contact_identities_secondary_local_key_idx;
DROP INDEX contact_identities_secondary_domain_idx;

CREATE OR REPLACE FUNCTION contact_identities_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k TEXT;
    old_value TEXT;
    new_value TEXT;
BEGIN
    -- A merge's update of the base, in one lookup: every kind that changed had no value and now has one that is
    -- already the contact's primary (the merge moved the mergee's primaries in as the base's in the same
    -- statement), so there is nothing to write.
    IF TG_OP = 'UPDATE' AND NOT EXISTS (
        SELECT FROM (VALUES ('email', OLD.email, NEW.email), ('phone_number', OLD.phone_number, NEW.phone_number),
                            ('identifier', OLD.identifier, NEW.identifier)) AS v (kind, old_value, new_value)
        WHERE v.old_value IS DISTINCT FROM v.new_value
          AND (v.old_value IS NOT NULL OR NOT EXISTS (
              SELECT FROM contact_identities i
              WHERE i.account_id = NEW.account_id AND i.contact_id = NEW.id AND i.kind = v.kind AND i.is_primary
                AND i.normalized = CASE WHEN v.kind = 'email' THEN lower(v.new_value) ELSE v.new_value END)))
    THEN
        RETURN NULL;
    END IF;
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
        -- already the primary: a no-op write would cost a new row version in every index of the table
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
END $$;
