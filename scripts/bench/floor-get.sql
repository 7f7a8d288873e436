-- The floor of GET …/contacts/{id}: authentication, the contact, its contact inboxes (the response shows them),
-- one round trip each, with the SQL diesel generates for the adapter's find_contact and contact_inboxes.
-- The endpoint is built on another branch: when it lands, compare this with its statements in the PostgreSQL
-- log and keep the two the same. pgbench -D variables: account digest contacts.
\set id random(1, :contacts)
SELECT t.user_id, t.platform_app_id, a.status AS account_status, au.role FROM (SELECT 1) AS one LEFT JOIN access_tokens t ON t.token_digest = :digest LEFT JOIN accounts a ON a.id = :account LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id;
SELECT "contacts"."id", "contacts"."account_id", "contacts"."name", "contacts"."email", "contacts"."phone_number", "contacts"."identifier", "contacts"."blocked", "contacts"."thumbnail", "contacts"."additional_attributes", "contacts"."custom_attributes", "contacts"."last_activity_at", "contacts"."created_at", "contacts"."updated_at" FROM "contacts" WHERE (("contacts"."account_id" = :account) AND ("contacts"."id" = :id)) LIMIT 1;
SELECT "contact_inboxes"."source_id", "inboxes"."id", "inboxes"."name", "inboxes"."channel_type", "inboxes"."avatar_url", "inboxes"."provider" FROM ("contact_inboxes" INNER JOIN "inboxes" ON (("inboxes"."id" = "contact_inboxes"."inbox_id") AND ("inboxes"."account_id" = "contact_inboxes"."account_id"))) WHERE (("contact_inboxes"."account_id" = :account) AND ("contact_inboxes"."contact_id" = ANY(ARRAY[:id]::bigint[]))) ORDER BY "contact_inboxes"."id" ASC;
