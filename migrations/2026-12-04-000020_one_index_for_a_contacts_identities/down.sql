DROP INDEX contact_identities_primary_key;
CREATE UNIQUE INDEX contact_identities_primary_key ON contact_identities (account_id, contact_id, kind)
    WHERE is_primary;
CREATE INDEX contact_identities_contact_idx ON contact_identities (account_id, contact_id);
