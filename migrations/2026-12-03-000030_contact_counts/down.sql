DROP TRIGGER contacts_counted_delete ON contacts;
DROP TRIGGER contacts_counted_insert ON contacts;
DROP FUNCTION count_contacts_deleted();
DROP FUNCTION count_contacts_inserted();
DROP TABLE contact_count_changes;
DROP TABLE account_contact_counts;
