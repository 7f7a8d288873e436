DROP TRIGGER contact_inboxes_duplicates_delete ON contact_inboxes;
DROP TRIGGER contact_inboxes_duplicates_update ON contact_inboxes;
DROP TRIGGER contact_inboxes_duplicates_insert ON contact_inboxes;
DROP TRIGGER contacts_duplicates_update ON contacts;
DROP TRIGGER contacts_duplicates_insert ON contacts;
DROP FUNCTION queue_contact_inbox_duplicate_refresh();
DROP FUNCTION queue_contact_duplicate_refresh();
DROP TABLE contact_duplicate_refreshes;
