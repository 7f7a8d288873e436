-- Cheaper writes of contacts (issue #14: a merge with identities within 10% of a merge before them). Measured
-- with the fixed floor's merge (scripts/bench/fixed-floor.sql) on a seeded database, interleaved runs:
--  * the identities trigger no longer rewrites an identity that is already the contact's primary: the merge now
--    moves the mergee's primaries in as the base's primaries for the kinds the base lacks and takes (store/
--    merges.rs), instead of moving them as secondaries for the trigger to promote one by one;
--  * two duplicate-key functions, which every insert and every non-HOT update of a contact (and of a contact
--    inbox) evaluates for its index, are PL/pgSQL instead of SQL: neither can be inlined (a sub-select, a CASE
--    of a STRICT function), and a SQL function that is not inlined is planned anew in every statement that calls
--    it (about 80 µs for dedupe_name_keys, against nothing measurable for the PL/pgSQL version, whose plan the
--    session keeps). Same arguments, same results, same flags: the indexes built on them stay valid (the test
--    `the_sql_key_functions_are_the_domains_twins` compares both with the domain's twins).
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

CREATE OR REPLACE FUNCTION dedupe_name_keys(name TEXT) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    w TEXT[] := array_remove(regexp_split_to_array(lower(name), '[^a-z0-9]+'), '');
    n INT := cardinality(w);
BEGIN
    IF n = 0 THEN
        RETURN '{}'::TEXT[];
    ELSIF n = 1 THEN
        RETURN w;
    END IF;
    RETURN ARRAY[array_to_string(w, ''), w[1] || w[n], w[n] || w[1], left(w[1], 1) || w[n]];
END $$;

CREATE OR REPLACE FUNCTION dedupe_source_key(source_id TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF position('@' IN btrim(source_id)) > 0 THEN
        RETURN lower(btrim(source_id));
    ELSIF btrim(source_id) ~ '^[A-Za-z:_-]{0,12}[0-9+][0-9+ ().-]*$'
          AND length(regexp_replace(source_id, '[^0-9]', '', 'g')) BETWEEN 7 AND 15 THEN
        RETURN '+' || regexp_replace(source_id, '[^0-9]', '', 'g');
    END IF;
    RETURN NULL;
END $$;
