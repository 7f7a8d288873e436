-- Identities: every email address, phone number and identifier a contact is known by, primary or secondary,
-- one row each. The primaries are the contact's own email, phone_number and identifier columns (the contact
-- JSON keeps Chatwoot's shape); secondaries come from the API or from merges (the mergee's identities stay
-- findable on the base). Each identity belongs to one contact of an account at most: the unique indexes below
-- decide, not a check in the application, so two concurrent creates of the same email cannot both win.
CREATE TABLE contact_identities (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    contact_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'phone_number', 'identifier')),
    -- the stored form (domain::IdentityKind::normalize): lower-cased email, E.164 phone number
    value TEXT NOT NULL CHECK (value <> ''),
    -- what two identities are compared by; emails compare case-insensitively even when a writer outside the
    -- application stored one with capitals
    normalized TEXT NOT NULL GENERATED ALWAYS AS (CASE WHEN kind = 'email' THEN lower(value) ELSE value END) STORED,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    source TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'merge')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- identities are part of their contact: deleting the contact deletes them (the one cascade of the schema;
    -- a merge moves them to the base before it deletes the mergee)
    CONSTRAINT contact_identities_contact_fkey FOREIGN KEY (account_id, contact_id)
        REFERENCES contacts (account_id, id) ON DELETE CASCADE
);
-- One unique index per kind, so that a violation names the field it is about (errors.rs maps index names).
CREATE UNIQUE INDEX contact_identities_email_key ON contact_identities (account_id, normalized) WHERE kind = 'email';
CREATE UNIQUE INDEX contact_identities_phone_number_key ON contact_identities (account_id, normalized)
    WHERE kind = 'phone_number';
CREATE UNIQUE INDEX contact_identities_identifier_key ON contact_identities (account_id, normalized)
    WHERE kind = 'identifier';
-- At most one primary of each kind per contact; also serves the foreign key and "the identities of a contact".
CREATE UNIQUE INDEX contact_identities_primary_key ON contact_identities (account_id, contact_id, kind)
    WHERE is_primary;
CREATE INDEX contact_identities_contact_idx ON contact_identities (account_id, contact_id);
-- The contact search finds secondaries through this (primaries are found through the contacts' own trigram
-- indexes); partial, so that creating a contact, whose identities are all primary, never writes to it.
CREATE INDEX contact_identities_secondary_trgm_idx ON contact_identities USING gin (lower(value) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512) WHERE NOT is_primary;

-- The primaries follow the contact's columns, whoever writes them (the service, the merge, the undo, an
-- operator with psql): a trigger rather than extra statements in every writer, because it cannot be forgotten
-- by a new writer and adds no round trip (the merge and the undo keep their statement counts). It fires after
-- the row (at the end of the statement, so a statement that also moves identities sees them moved) and only
-- when one of the three columns changed.
--  * a value that leaves a column stays with the contact as a secondary identity: a contact keeps every
--    identity it had (delete it through the identities endpoint);
--  * a new value becomes primary: the contact's own secondary row with that value is promoted (a merge moved
--    the mergee's identities over as secondaries first), or a row is inserted, which fails on the unique
--    index when another contact holds the value.
CREATE FUNCTION contact_identities_sync() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER contact_identities_sync_insert AFTER INSERT ON contacts
    FOR EACH ROW WHEN (NEW.email IS NOT NULL OR NEW.phone_number IS NOT NULL OR NEW.identifier IS NOT NULL)
    EXECUTE FUNCTION contact_identities_sync();
CREATE TRIGGER contact_identities_sync_update AFTER UPDATE OF email, phone_number, identifier ON contacts
    FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.phone_number IS DISTINCT FROM NEW.phone_number
                       OR OLD.identifier IS DISTINCT FROM NEW.identifier)
    EXECUTE FUNCTION contact_identities_sync();

-- Backfill: every existing contact's values become its primaries, dated like the contact. (Phone numbers
-- stored before normalization are kept as stored: the service only ever stored E.164-shaped ones.)
INSERT INTO contact_identities (account_id, contact_id, kind, value, is_primary, created_at)
SELECT account_id, id, 'email', email, TRUE, created_at FROM contacts WHERE email IS NOT NULL
UNION ALL
SELECT account_id, id, 'phone_number', phone_number, TRUE, created_at FROM contacts WHERE phone_number IS NOT NULL
UNION ALL
SELECT account_id, id, 'identifier', identifier, TRUE, created_at FROM contacts WHERE identifier IS NOT NULL;

-- The ledger of a merge also holds the identities it moved to the base, and where each came from, so that the
-- undo gives them back exactly (merges recorded before this migration moved none).
ALTER TABLE contact_merge_ledgers
    ADD COLUMN moved_identity_ids BIGINT[] NOT NULL DEFAULT '{}',
    ADD COLUMN moved_identity_sources TEXT[] NOT NULL DEFAULT '{}';
