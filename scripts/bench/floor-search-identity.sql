-- The floor of GET …/contacts/search?q= by a secondary identity (floor-search.sql with another term): authentication, one page of 15 contacts with
-- the total for `meta` (capped at 10,000) in one statement, matched
-- case-insensitively on name, email, phone number or identifier (the columns the search's trigram index covers) or a
-- secondary identity (the identities' partial trigram index), and
-- the page's contact inboxes: the statements of the adapter's contacts_page and contact_inboxes_of, in order.
-- The term is bench_identity_term(t) (seed.sql), as the HTTP load of search-identity sends: only the secondary
-- emails of the 10 contacts numbered 10t … 10t + 9 hold it.
-- pgbench cannot build strings, so the authentication statement also returns the pattern (\gset): the searches
-- then bind it as one parameter, as the service would.
-- pgbench -D variables: account digest terms.
\set t random(0, :terms)
SELECT t.user_id, t.platform_app_id, a.status AS account_status, au.role, '%' || bench_identity_term(:t) || '%' AS pattern FROM (SELECT 1) AS one LEFT JOIN access_tokens t ON t.token_digest = :digest LEFT JOIN accounts a ON a.id = :account LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id \gset
WITH capped AS MATERIALIZED (SELECT contacts.* FROM contacts WHERE account_id = :account AND (((lower(name) || E'\x1f' || coalesce(email, '') || E'\x1f' || coalesce(phone_number, '') || E'\x1f' || coalesce(lower(identifier), '')) LIKE lower(:pattern) AND (strpos(:pattern, E'\x1f') = 0 OR lower(name) LIKE lower(:pattern) OR email LIKE lower(:pattern) OR phone_number LIKE lower(:pattern) OR lower(identifier) LIKE lower(:pattern))) OR id = ANY (ARRAY(SELECT contact_id FROM contact_identities WHERE account_id + 0 = :account AND NOT is_primary AND lower(value) LIKE lower(:pattern)))) LIMIT 10001), matched AS (SELECT count(*) AS n FROM capped) SELECT page.*, (SELECT n FROM matched) AS total FROM ( (SELECT * FROM capped WHERE (SELECT n FROM matched) < 10001 AND (SELECT n FROM matched) > 0 ORDER BY last_activity_at DESC NULLS LAST, id DESC LIMIT 15 OFFSET 0) UNION ALL (SELECT * FROM capped WHERE (SELECT n FROM matched) >= 10001 OR (SELECT n FROM matched) <= 0 LIMIT 1)) AS page ORDER BY last_activity_at DESC NULLS LAST, id DESC;
SELECT "contact_inboxes"."contact_id", "contact_inboxes"."source_id", "inboxes"."id", "inboxes"."name", "inboxes"."channel_type", "inboxes"."avatar_url", "inboxes"."provider" FROM ("contact_inboxes" INNER JOIN "inboxes" ON (("inboxes"."id" = "contact_inboxes"."inbox_id") AND ("inboxes"."account_id" = "contact_inboxes"."account_id"))) WHERE (("contact_inboxes"."account_id" = :account) AND ("contact_inboxes"."contact_id" BETWEEN :t * 10 AND :t * 10 + 9)) ORDER BY "contact_inboxes"."id" ASC;
