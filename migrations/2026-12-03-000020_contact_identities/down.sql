ALTER TABLE contact_merge_ledgers
    DROP COLUMN moved_identity_sources,
    DROP COLUMN moved_identity_ids;
DROP TRIGGER contact_identities_sync_update ON contacts;
DROP TRIGGER contact_identities_sync_insert ON contacts;
DROP FUNCTION contact_identities_sync();
DROP TABLE contact_identities;
