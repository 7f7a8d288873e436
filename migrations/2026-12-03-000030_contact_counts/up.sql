-- How many contacts an account has, kept in the transactions that add and remove them, so that a contact list
-- page answers `meta.count` without counting (an exact count(*) of 1,000,000 contacts takes 200-300 ms).
--
-- Two tables, so that no two writers ever wait for each other:
-- * contact_count_changes: append-only. A statement that inserts or deletes contacts appends one row per
--   account it touched, with the signed number, from a statement-level trigger (one row for a one-contact
--   create and for a seed of a million alike). Appending takes no lock another writer waits for, as a single
--   counter row would (every create of the account would queue behind the one before it).
-- * account_contact_counts: the folded total per account. `coalesce serve` folds the changes into it about once
--   a second, in one statement that deletes the changes it adds; a second process folding at the same time finds
--   them deleted and adds nothing.
-- The count of an account is its folded total plus its changes not folded yet, both read in one snapshot.
CREATE TABLE account_contact_counts (
    account_id BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- No CHECK (contacts >= 0): the fold adds a negative sum through INSERT … ON CONFLICT DO UPDATE, and
    -- PostgreSQL checks the proposed row (the bare sum) before it finds the conflicting one.
    contacts BIGINT NOT NULL
);

CREATE TABLE contact_count_changes (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL,
    delta BIGINT NOT NULL
);
-- the reader sums an account's pending changes from the index alone
CREATE INDEX contact_count_changes_account_idx ON contact_count_changes (account_id) INCLUDE (delta);

CREATE FUNCTION count_contacts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_count_changes (account_id, delta)
    SELECT account_id, count(*) FROM inserted_contacts GROUP BY account_id;
    RETURN NULL;
END $$;

CREATE FUNCTION count_contacts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_count_changes (account_id, delta)
    SELECT account_id, -count(*) FROM deleted_contacts GROUP BY account_id;
    RETURN NULL;
END $$;

CREATE TRIGGER contacts_counted_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS inserted_contacts FOR EACH STATEMENT EXECUTE FUNCTION count_contacts_inserted();
CREATE TRIGGER contacts_counted_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted_contacts FOR EACH STATEMENT EXECUTE FUNCTION count_contacts_deleted();

-- A contact never moves to another account (no statement changes contacts.account_id), so inserts and deletes
-- are the only changes of a count.
INSERT INTO account_contact_counts (account_id, contacts)
SELECT accounts.id, (SELECT count(*) FROM contacts WHERE contacts.account_id = accounts.id) FROM accounts;
