-- The ledger of a merge: what it moved, added and wrote, and the base as it was, so that the merge can be
-- undone exactly. One row per merge, written by the merge's own insert (one statement); a merge without a ledger
-- row was recorded before the ledger existed and cannot be undone. (A table of its own rather than more columns
-- on contact_merges: diesel's tables stop at 16 columns without a feature that slows every build.)
CREATE TABLE contact_merge_ledgers (
    merge_id BIGINT PRIMARY KEY REFERENCES contact_merges (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    moved_conversation_ids BIGINT[] NOT NULL,
    -- the messages the mergee sent (messages of moved conversations moved with their conversation)
    moved_message_ids BIGINT[] NOT NULL,
    moved_contact_inbox_ids BIGINT[] NOT NULL,
    moved_note_ids BIGINT[] NOT NULL,
    -- the labels the merge gave the base (those it did not carry), and every label the mergee had
    labels_added TEXT[] NOT NULL,
    mergee_labels TEXT[] NOT NULL,
    -- the base just before the merge, in the shape of contact_merges.mergee_snapshot
    base_snapshot JSONB NOT NULL,
    -- each attribute the merge changed on the base: {"field": {"before": ..., "after": ...}}
    written JSONB NOT NULL
);
CREATE INDEX contact_merge_ledgers_account_idx ON contact_merge_ledgers (account_id);

-- The undo of a merge: when, by whom, and what it did.
ALTER TABLE contact_merges
    ADD COLUMN undone_at TIMESTAMPTZ,
    ADD COLUMN undone_by BIGINT REFERENCES users (id),
    ADD COLUMN undo_counts JSONB;
CREATE INDEX contact_merges_undone_by_idx ON contact_merges (undone_by);
