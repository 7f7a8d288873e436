-- The functions as migrations 2026-12-03-000002 and 2026-12-03-000020 wrote them.
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
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    SELECT CASE
        WHEN cardinality(w) = 0 THEN '{}'::TEXT[]
        WHEN cardinality(w) = 1 THEN w
        ELSE ARRAY[array_to_string(w, ''), w[1] || w[cardinality(w)], w[cardinality(w)] || w[1],
                   left(w[1], 1) || w[cardinality(w)]]
    END
    FROM (SELECT array_remove(regexp_split_to_array(lower(name), '[^a-z0-9]+'), '') AS w) words
);

CREATE OR REPLACE FUNCTION dedupe_source_key(source_id TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN position('@' IN btrim(source_id)) > 0 THEN lower(btrim(source_id))
    WHEN btrim(source_id) ~ '^[A-Za-z:_-]{0,12}[0-9+][0-9+ ().-]*$'
         AND length(regexp_replace(source_id, '[^0-9]', '', 'g')) BETWEEN 7 AND 15
        THEN '+' || regexp_replace(source_id, '[^0-9]', '', 'g')
END;
