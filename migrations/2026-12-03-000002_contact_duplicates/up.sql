-- Duplicate suggestions (issue #15): derived data, kept current in the transaction of every change of a contact.
--
-- The key functions are the SQL twins of domain::duplicates (email_local_key, name_keys, source_key): they let
-- the candidate search of a contact be a handful of index lookups instead of a comparison with every contact.
-- IMMUTABLE so that they can be indexed; they only use immutable built-ins.

-- `Jo.Doe+news@x` → `jodoe`
CREATE FUNCTION dedupe_local_key(email TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN NULLIF(regexp_replace(split_part(split_part(lower(email), '@', 1), '+', 1), '[^a-z0-9]', '', 'g'), '');

-- `Jo Q. Doe` → {joqdoe, jodoe, doejo, jdoe}; a one-word name is itself
CREATE FUNCTION dedupe_name_keys(name TEXT) RETURNS TEXT[]
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

-- A channel address as an email (lower-cased) or an E.164 phone number; NULL for anything else (a UUID).
CREATE FUNCTION dedupe_source_key(source_id TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN position('@' IN btrim(source_id)) > 0 THEN lower(btrim(source_id))
    WHEN btrim(source_id) ~ '^[A-Za-z:_-]{0,12}[0-9+][0-9+ ().-]*$'
         AND length(regexp_replace(source_id, '[^0-9]', '', 'g')) BETWEEN 7 AND 15
        THEN '+' || regexp_replace(source_id, '[^0-9]', '', 'g')
END;

-- The candidate searches: the same local part (and a name spelling it) through the first, the same name or an
-- email spelling a name through the second, a channel address equal to a phone or an email through the third
-- (phones and emails themselves have their unique indexes), colleagues at a company domain through the fourth.
-- Not partial (`WHERE email IS NOT NULL`): a partial index on that predicate is one the planner can use to list
-- every contact with an email, which it then did for the search's `email LIKE …` instead of the trigram index.
CREATE INDEX contacts_dedupe_local_key_idx ON contacts (account_id, dedupe_local_key(email));
CREATE INDEX contacts_dedupe_name_keys_idx ON contacts USING gin (dedupe_name_keys(name))
    WITH (gin_pending_list_limit = 512);
CREATE INDEX contacts_dedupe_domain_idx ON contacts (account_id, split_part(email, '@', 2));
CREATE INDEX contact_inboxes_dedupe_source_key_idx ON contact_inboxes (account_id, dedupe_source_key(source_id))
    WHERE dedupe_source_key(source_id) IS NOT NULL;

-- One row per suggested pair, the lower id first, so that a pair is stored once. The foreign keys cascade: a
-- contact that is deleted or merged away takes its suggestions with it, in the same statement.
CREATE TABLE contact_duplicate_pairs (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    low_id BIGINT NOT NULL,
    high_id BIGINT NOT NULL,
    confidence REAL NOT NULL CHECK (confidence > 0 AND confidence < 1),
    -- [{"code", "field", "detail"}], strongest first
    reasons JSONB NOT NULL CHECK (jsonb_typeof(reasons) = 'array'),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, low_id, high_id),
    CHECK (low_id < high_id),
    FOREIGN KEY (account_id, low_id) REFERENCES contacts (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, high_id) REFERENCES contacts (account_id, id) ON DELETE CASCADE
);
-- the pairs of one contact (the primary key serves low_id), and the account's list, best first
CREATE INDEX contact_duplicate_pairs_high_idx ON contact_duplicate_pairs (account_id, high_id);
CREATE INDEX contact_duplicate_pairs_best_idx
    ON contact_duplicate_pairs (account_id, confidence DESC, low_id, high_id);

-- "Keep separate": a pair that is never suggested again. No foreign key to contacts, on purpose: a dismissal
-- is a fact that outlives the contacts' rows, so that a merge undone (which re-creates the mergee with its id)
-- finds the dismissals of the mergee where they were.
CREATE TABLE contact_duplicate_dismissals (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    low_id BIGINT NOT NULL,
    high_id BIGINT NOT NULL,
    dismissed_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, low_id, high_id),
    CHECK (low_id < high_id)
);
CREATE INDEX contact_duplicate_dismissals_user_idx ON contact_duplicate_dismissals (dismissed_by);
