DROP INDEX contacts_search_trgm_idx;
CREATE INDEX contacts_name_trgm_idx ON contacts USING gin (lower(name) gin_trgm_ops) WITH (gin_pending_list_limit = 512);
CREATE INDEX contacts_email_trgm_idx ON contacts USING gin (email gin_trgm_ops) WITH (gin_pending_list_limit = 512);
CREATE INDEX contacts_phone_number_trgm_idx ON contacts USING gin (phone_number gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);
CREATE INDEX contacts_identifier_trgm_idx ON contacts USING gin (lower(identifier) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);
