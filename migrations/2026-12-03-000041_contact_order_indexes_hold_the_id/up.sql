-- The email and phone number orders of the contact list read their pages from these unique indexes (issue #16:
-- every list page within 50 ms at 1,000,000 contacts). Without the id in them each step of the walk also read
-- the contact's row for its id: the middle page of `sort=-email` took 168 ms over HTTP, 110 ms of SQL with the
-- id included (index-only), and about as long as the default order (55 ms) once the page no longer breaks ties
-- by id among unique values (store/contacts/pages.rs). The constraints keep their names, which the API's
-- `taken` errors are mapped from.
ALTER TABLE contacts
    DROP CONSTRAINT contacts_email_key,
    ADD CONSTRAINT contacts_email_key UNIQUE (account_id, email) INCLUDE (id),
    DROP CONSTRAINT contacts_phone_number_key,
    ADD CONSTRAINT contacts_phone_number_key UNIQUE (account_id, phone_number) INCLUDE (id);
