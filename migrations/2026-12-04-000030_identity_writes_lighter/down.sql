-- The secondary emails' key indexes back, and the identities trigger as migration 2026-12-03-000033 wrote it.
-- The secondary emails' keys written into contact_dedupe_keys stay: the refresher of that version rewrites a
-- contact's keys from its own columns when it next refreshes it, and until then a key left over only makes a
-- candidate that scores low.
CREATE INDEX contact_identities_secondary_local_key_idx
    ON contact_identities (account_id, dedupe_local_key(normalized)) WHERE kind = 'email' AND NOT is_primary;
CREATE INDEX contact_identities_secondary_domain_idx
    ON contact_identities (account_id, split_part(normalized, '@', 2)) WHERE kind = 'email' AND NOT is_primary;

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
