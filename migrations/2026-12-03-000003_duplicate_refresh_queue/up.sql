-- Duplicate suggestions are kept current off the request path: a change of what the scoring reads (a contact's
-- name, email, phone number, identifier; a channel address) only queues the contact here, from a trigger, in
-- the change's own transaction and without a round trip. The duplicates worker of `coalesce serve` takes the
-- queued contacts of one account at a time and recomputes their suggestions in contact_duplicate_pairs.
--
-- Append-only on purpose (no unique contact): a contact changed again while a worker refreshes it gets a new
-- row the worker's claim did not see, so it is refreshed again after that change; and queuing never waits for
-- a worker's lock. No foreign key to contacts: a merge or a deletion never touches the queue; the worker drops
-- the rows of a contact that is gone.
CREATE TABLE contact_duplicate_refreshes (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX contact_duplicate_refreshes_account_idx ON contact_duplicate_refreshes (account_id, contact_id);

CREATE FUNCTION queue_contact_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (NEW.account_id, NEW.id);
    RETURN NULL;
END $$;

-- A channel address added, moved or removed changes the suggestions of the contact it belongs (or belonged) to.
CREATE FUNCTION queue_contact_inbox_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (NEW.account_id, NEW.contact_id);
    END IF;
    IF TG_OP = 'DELETE' OR OLD.contact_id <> NEW.contact_id OR OLD.source_id <> NEW.source_id THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (OLD.account_id, OLD.contact_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER contacts_duplicates_insert AFTER INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION queue_contact_duplicate_refresh();
CREATE TRIGGER contacts_duplicates_update AFTER UPDATE OF name, email, phone_number, identifier ON contacts
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.phone_number IS DISTINCT FROM NEW.phone_number OR OLD.identifier IS DISTINCT FROM NEW.identifier)
    EXECUTE FUNCTION queue_contact_duplicate_refresh();
CREATE TRIGGER contact_inboxes_duplicates_insert AFTER INSERT ON contact_inboxes
    FOR EACH ROW EXECUTE FUNCTION queue_contact_inbox_duplicate_refresh();
CREATE TRIGGER contact_inboxes_duplicates_update AFTER UPDATE OF contact_id, source_id ON contact_inboxes
    FOR EACH ROW
    WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id OR OLD.source_id IS DISTINCT FROM NEW.source_id)
    EXECUTE FUNCTION queue_contact_inbox_duplicate_refresh();
CREATE TRIGGER contact_inboxes_duplicates_delete AFTER DELETE ON contact_inboxes
    FOR EACH ROW EXECUTE FUNCTION queue_contact_inbox_duplicate_refresh();
