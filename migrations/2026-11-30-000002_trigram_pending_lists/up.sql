-- Every merge re-indexes the base contact in the four trigram (GIN) indexes the search uses. GIN queues those
-- entries in a pending list (fastupdate) that every search must scan until it is merged into the index, which
-- happens at VACUUM or when the list outgrows gin_pending_list_limit (4 MB by default). Measured on the
-- benchmark's 100,000 contacts after 10 s of contact updates from 16 clients, with the search floor's queries:
--   4 MB (default): 7,400 updates/s, then 185 searches/s (2,500 on a clean index)
--   512 kB:         7,700 updates/s, then 890 searches/s
--   64 kB:          4,400 updates/s, then 2,250 searches/s
--   fastupdate off: 2,600 updates/s, then 2,430 searches/s
-- 512 kB costs the writes nothing measurable and keeps a search after a burst of merges within a few times its
-- clean speed instead of more than ten; autovacuum folds the rest in.
ALTER INDEX contacts_name_trgm_idx SET (gin_pending_list_limit = 512);
ALTER INDEX contacts_email_trgm_idx SET (gin_pending_list_limit = 512);
ALTER INDEX contacts_phone_number_trgm_idx SET (gin_pending_list_limit = 512);
ALTER INDEX contacts_identifier_trgm_idx SET (gin_pending_list_limit = 512);
