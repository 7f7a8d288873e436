CREATE FUNCTION queue_contact_identity_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (NEW.account_id, NEW.contact_id);
    END IF;
    IF TG_OP = 'DELETE' OR OLD.contact_id <> NEW.contact_id THEN
        INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (OLD.account_id, OLD.contact_id);
    END IF;
    RETURN NULL;
END $$;

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

CREATE OR REPLACE TRIGGER contact_inboxes_duplicates_insert AFTER INSERT ON contact_inboxes
    FOR EACH ROW EXECUTE FUNCTION queue_contact_inbox_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_inboxes_duplicates_update AFTER UPDATE OF contact_id, source_id ON contact_inboxes
    FOR EACH ROW
    WHEN (OLD.contact_id IS DISTINCT FROM NEW.contact_id OR OLD.source_id IS DISTINCT FROM NEW.source_id)
    EXECUTE FUNCTION queue_contact_inbox_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_inboxes_duplicates_delete AFTER DELETE ON contact_inboxes
    FOR EACH ROW EXECUTE FUNCTION queue_contact_inbox_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_insert AFTER INSERT ON contact_identities
    FOR EACH ROW WHEN (NOT NEW.is_primary) EXECUTE FUNCTION queue_contact_identity_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_update AFTER UPDATE OF contact_id ON contact_identities
    FOR EACH ROW WHEN (OLD.contact_id <> NEW.contact_id AND NOT NEW.is_primary)
    EXECUTE FUNCTION queue_contact_identity_duplicate_refresh();
CREATE OR REPLACE TRIGGER contact_identities_duplicates_delete AFTER DELETE ON contact_identities
    FOR EACH ROW WHEN (NOT OLD.is_primary) EXECUTE FUNCTION queue_contact_identity_duplicate_refresh();
DROP FUNCTION queue_row_owners_duplicate_refresh();

DROP FUNCTION queue_duplicate_refresh_of_owners(BIGINT, BIGINT, BIGINT);

CREATE OR REPLACE FUNCTION queue_contact_duplicate_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_duplicate_refreshes (account_id, contact_id) VALUES (NEW.account_id, NEW.id);
    RETURN NULL;
END $$;

DROP INDEX contact_duplicate_refreshes_account_idx;
CREATE INDEX contact_duplicate_refreshes_account_idx ON contact_duplicate_refreshes (account_id, contact_id);
ALTER TABLE contact_duplicate_refreshes DROP COLUMN queued_by;
