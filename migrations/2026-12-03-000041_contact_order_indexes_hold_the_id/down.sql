ALTER TABLE contacts
    DROP CONSTRAINT contacts_email_key,
    ADD CONSTRAINT contacts_email_key UNIQUE (account_id, email),
    DROP CONSTRAINT contacts_phone_number_key,
    ADD CONSTRAINT contacts_phone_number_key UNIQUE (account_id, phone_number);
