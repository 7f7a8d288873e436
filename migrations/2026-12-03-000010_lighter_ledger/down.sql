DROP INDEX contact_merges_undone_by_idx;
CREATE INDEX contact_merges_undone_by_idx ON contact_merges (undone_by);
ALTER TABLE contact_merge_ledgers ADD COLUMN account_id BIGINT REFERENCES accounts (id);
UPDATE contact_merge_ledgers l SET account_id = m.account_id FROM contact_merges m WHERE m.id = l.merge_id;
ALTER TABLE contact_merge_ledgers ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX contact_merge_ledgers_account_idx ON contact_merge_ledgers (account_id);
