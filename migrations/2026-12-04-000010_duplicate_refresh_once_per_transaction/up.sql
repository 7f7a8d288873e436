-- A contact is queued for the duplicates worker once per transaction, and not at all when the transaction has
-- deleted it. A merge changed the base three ways (its compared fields, a channel address, a secondary email)
-- and took the mergee's address and identities away from a contact it deleted in the same statement: five queue
-- rows, each a heap tuple and two index entries, where one says the same to the worker (it refreshes a contact
-- once per claim, and drops the rows of a contact that is gone).
--
-- Each row records the transaction that queued it (queued_by, its id), and (account, contact, queued_by) is
-- unique: a second row of the same transaction is skipped by ON CONFLICT, which the unique index decides
-- without a plan. (A lookup of the queue would be planned once per connection, and planned on an empty queue it
-- is a sequential scan that every later change pays as the queue grows: measured, merges at a seventh of their
-- speed once 100,000 rows were queued.) A row queued by another transaction never collides: a worker may be
-- refreshing from a snapshot taken before this change. Rows queued before this migration have no queued_by.
ALTER TABLE contact_duplicate_refreshes ADD COLUMN queued_by BIGINT;
ALTER TABLE contact_duplicate_refreshes ALTER COLUMN queued_by SET DEFAULT (pg_current_xact_id()::text::bigint);
DROP INDEX contact_duplicate_refreshes_account_idx;
CREATE UNIQUE INDEX contact_duplicate_refreshes_account_idx
    ON contact_duplicate_refreshes (account_id, contact_id, queued_by);

CREATE OR REPLACE FUNCTION queue_contact_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (NEW.account_id, NEW.id)
    ON CONFLICT (account_id, contact_id, queued_by) DO NOTHING;
    RETURN NULL;
END $$;

-- The contact a row belongs to after the change, and the one it belonged to before when that contact is still
-- there (a merge deletes it in the same statement, before the statement's triggers run).
CREATE FUNCTION queue_duplicate_refresh_of_owners(account BIGINT, owner BIGINT, previous BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF owner IS NOT NULL THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (account, owner)
        ON CONFLICT (account_id, contact_id, queued_by) DO NOTHING;
    END IF;
    IF previous IS NOT NULL THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id)
        SELECT account, previous WHERE EXISTS (SELECT FROM contacts c WHERE c.account_id = account AND c.id = previous)
        ON CONFLICT (account_id, contact_id, queued_by) DO NOTHING;
    END IF;
END $$;

-- A channel address or a secondary identity: its owner after the change, and before it when that changed or
-- the row went (NEW is null for a DELETE, OLD for an INSERT). One function for both tables' triggers, which keep
-- their conditions.
CREATE FUNCTION queue_row_owners_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue_duplicate_refresh_of_owners(coalesce(NEW.account_id, OLD.account_id), NEW.contact_id,
        CASE WHEN TG_OP = 'DELETE' OR OLD.contact_id <> NEW.contact_id THEN OLD.contact_id END);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER contact_inboxes_duplicates_insert AFTER INSERT ON contact_inboxes
    FOR EACH ROW EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_inboxes_duplicates_update AFTER UPDATE OF contact_id, source_id ON contact_inboxes
    FOR EACH ROW
    WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id OR OLD.source_id IS DISTINCT FROM NEW.source_id)
    EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_inboxes_duplicates_delete AFTER DELETE ON contact_inboxes
    FOR EACH ROW EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_insert AFTER INSERT ON contact_identities
    FOR EACH ROW WHEN (NOT NEW.is_primary) EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_update AFTER UPDATE OF contact_id ON contact_identities
    FOR EACH ROW WHEN (OLD.contact_id <> NEW.contact_id AND NOT NEW.is_primary)
    EXECUTE FUNCTION queue_row_owners_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_delete AFTER DELETE ON contact_identities
    FOR EACH ROW WHEN (NOT OLD.is_primary) EXECUTE FUNCTION queue_row_owners_duplicate_refresh();

DROP FUNCTION queue_contact_inbox_duplicate_refresh();
DROP FUNCTION queue_contact_identity_duplicate_refresh();
