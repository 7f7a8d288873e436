-- Search reads one trigram (GIN) index over a contact's four searchable columns instead of one index per column
-- (store/contacts/pages.rs, SEARCH_CONDITION). The columns are joined by the unit separator (U+001F), which
-- pg_trgm treats as a word boundary like a space, so the index holds the same trigrams as the four did; a term
-- without that character matches the joined text exactly where it matches one of the columns (a match cannot
-- cross a separator it does not contain), and the condition tests the columns one by one for a term with it.
-- Why (issues #14, #15, #16): every contact insert and every update of a searchable column (a merge's base
-- update, a PATCH) wrote four GIN entries lists, and a search scanned four indexes and OR-ed their bitmaps.
-- Measured on 1,000,000 contacts, capped match count, median of 9 (the bench's large account): a one-hit email
-- 61 -> 40 ms, a common surname 25 -> 17 ms; a one-letter term or `gmail` a few ms slower (a longer text to test per row).
-- The expression is written out again in the search condition: an index is used only for the same expression.
DROP INDEX contacts_name_trgm_idx, contacts_email_trgm_idx, contacts_phone_number_trgm_idx,
    contacts_identifier_trgm_idx;
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (
    (lower(name) || E'\x1f' || coalesce(email, '') || E'\x1f' || coalesce(phone_number, '') || E'\x1f'
        || coalesce(lower(identifier), '')) gin_trgm_ops)
    WITH (gin_pending_list_limit = 512);
