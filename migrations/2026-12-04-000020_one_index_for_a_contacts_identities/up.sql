-- One index for a contact's identities where there were two. The primaries' uniqueness (one per contact and
-- kind) and the lookups by contact (a contact's identities, a merge's move, the foreign key's cascade) are both
-- served by a unique index over (account_id, contact_id, kind, NULLIF(is_primary, false)): a primary has TRUE in
-- the last column, so two primaries of a kind collide; a secondary has NULL, and NULLs never collide. Every
-- identity written (three per created contact, three per merge in the bench) writes one index entry fewer.
DROP INDEX contact_identities_contact_idx;
DROP INDEX contact_identities_primary_key;
CREATE UNIQUE INDEX contact_identities_primary_key
    ON contact_identities (account_id, contact_id, kind, (NULLIF(is_primary, false)));
