-- A contact is queued for the duplicates worker once per transaction, and not at all when the transaction has
-- deleted it. A merge changed the base three ways (its compared fields, a channel address, a secondary email)
-- and took the mergee's address and identities away from a contact it deleted in the same statement: five queue
-- rows, each a heap tuple and two index entries, where one says the same to the worker (it refreshes a contact
-- once per claim, and drops the rows of a contact that is gone).
--
-- "Queued by this transaction" is a row whose xmin is the transaction's own id: the row commits or rolls back
-- with the change that queued it, so skipping a second row never leaves a change unqueued. A row queued by
-- another transaction does not count: a worker may be refreshing from a snapshot taken before this change.

CREATE OR REPLACE FUNCTION queue_contact_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_duplicate_refreshes (account_id, contact_id)
    SELECT NEW.account_id, NEW.id
    WHERE NOT EXISTS (SELECT FROM contact_duplicate_refreshes q
                      WHERE q.account_id = NEW.account_id AND q.contact_id = NEW.id
                        AND q.xmin = pg_current_xact_id()::xid);
    RETURN NULL;
END $$;

-- The contact a row belongs to after the change (queued once), and the one it belonged to before when that
-- contact is still there (a merge deletes it in the same statement, before the statement's triggers run).
CREATE FUNCTION queue_duplicate_refresh_of_owners(account BIGINT, owner BIGINT, previous BIGINT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF owner IS NOT NULL THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id)
        SELECT account, owner
        WHERE NOT EXISTS (SELECT FROM contact_duplicate_refreshes q
                          WHERE q.account_id = account AND q.contact_id = owner
                            AND q.xmin = pg_current_xact_id()::xid);
    END IF;
    IF previous IS NOT NULL THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id)
        SELECT account, previous
        WHERE EXISTS (SELECT FROM contacts c WHERE c.account_id = account AND c.id = previous)
          AND NOT EXISTS (SELECT FROM contact_duplicate_refreshes q
                          WHERE q.account_id = account AND q.contact_id = previous
                            AND q.xmin = pg_current_xact_id()::xid);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION queue_contact_inbox_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM queue_duplicate_refresh_of_owners(NEW.account_id, NEW.contact_id, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM queue_duplicate_refresh_of_owners(OLD.account_id, NULL, OLD.contact_id);
    ELSE
        PERFORM queue_duplicate_refresh_of_owners(NEW.account_id, NEW.contact_id,
            CASE WHEN OLD.contact_id <> NEW.contact_id OR OLD.source_id <> NEW.source_id THEN OLD.contact_id END);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION queue_contact_identity_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM queue_duplicate_refresh_of_owners(NEW.account_id, NEW.contact_id, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM queue_duplicate_refresh_of_owners(OLD.account_id, NULL, OLD.contact_id);
    ELSE
        PERFORM queue_duplicate_refresh_of_owners(NEW.account_id, NEW.contact_id,
            CASE WHEN OLD.contact_id <> NEW.contact_id THEN OLD.contact_id END);
    END IF;
    RETURN NULL;
END $$;
