CREATE INDEX contacts_dedupe_local_key_idx ON contacts (account_id, dedupe_local_key(email));
CREATE INDEX contacts_dedupe_name_keys_idx ON contacts USING gin (dedupe_name_keys(name))
    WITH (gin_pending_list_limit = 512);
CREATE INDEX contacts_dedupe_domain_idx ON contacts (account_id, split_part(email, '@', 2));
DROP TABLE contact_dedupe_keys;
