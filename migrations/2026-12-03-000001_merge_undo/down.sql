ALTER TABLE contact_merges
    DROP COLUMN undo_counts,
    DROP COLUMN undone_by,
    DROP COLUMN undone_at;
DROP TABLE contact_merge_ledgers;
