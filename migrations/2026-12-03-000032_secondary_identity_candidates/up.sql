-- Duplicate candidates are also found through secondary identities: the emails and phone numbers a contact kept
-- from its merges or was given through POST …/identities. A channel address equal to another contact's old
-- phone number, or an email local part shared with another contact's old address, is the same signal as with
-- the primary ones. The candidate query (store/duplicates.rs, `identities`) reads secondary emails and phone
-- numbers beside the contacts' own columns; these indexes serve its two email keys as the contacts' indexes do,
-- and the equality searches use the identities' unique indexes.
CREATE INDEX contact_identities_secondary_local_key_idx
    ON contact_identities (account_id, dedupe_local_key(normalized)) WHERE kind = 'email' AND NOT is_primary;
CREATE INDEX contact_identities_secondary_domain_idx
    ON contact_identities (account_id, split_part(normalized, '@', 2)) WHERE kind = 'email' AND NOT is_primary;

-- A secondary identity added, moved (a merge gives the mergee's to the base, an undo gives them back) or removed
-- changes the suggestions of its contact: queue it, as the contacts' triggers do (a primary changes with the
-- contact's own column, whose trigger queues it already).
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

CREATE TRIGGER contact_identities_duplicates_insert AFTER INSERT ON contact_identities
    FOR EACH ROW WHEN (NOT NEW.is_primary) EXECUTE FUNCTION queue_contact_identity_duplicate_refresh();
CREATE TRIGGER contact_identities_duplicates_update AFTER UPDATE OF contact_id ON contact_identities
    FOR EACH ROW WHEN (OLD.contact_id <> NEW.contact_id AND NOT NEW.is_primary)
    EXECUTE FUNCTION queue_contact_identity_duplicate_refresh();
CREATE TRIGGER contact_identities_duplicates_delete AFTER DELETE ON contact_identities
    FOR EACH ROW WHEN (NOT OLD.is_primary) EXECUTE FUNCTION queue_contact_identity_duplicate_refresh();
