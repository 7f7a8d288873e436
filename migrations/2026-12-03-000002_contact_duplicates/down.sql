DROP TABLE contact_duplicate_dismissals;
DROP TABLE contact_duplicate_pairs;
DROP INDEX contact_inboxes_dedupe_source_key_idx;
DROP INDEX contacts_dedupe_name_keys_idx;
DROP INDEX contacts_dedupe_local_key_idx;
DROP FUNCTION dedupe_source_key(TEXT);
DROP FUNCTION dedupe_name_keys(TEXT);
DROP FUNCTION dedupe_local_key(TEXT);
