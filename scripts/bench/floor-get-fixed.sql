-- The fixed floor of GET …/contacts/{id}: one statement that authenticates the token, reads the contact and its
-- contact inboxes (the response shows them). It does not follow the service's statements.
-- pgbench -D variables: account digest contacts.
\set id random(1, :contacts)
SELECT au.role, a.status, c.*, (SELECT coalesce(json_agg(json_build_object('source_id', ci.source_id, 'inbox_id', i.id, 'name', i.name, 'channel_type', i.channel_type, 'avatar_url', i.avatar_url, 'provider', i.provider) ORDER BY ci.id), '[]') FROM contact_inboxes ci JOIN inboxes i ON i.id = ci.inbox_id AND i.account_id = ci.account_id WHERE ci.account_id = c.account_id AND ci.contact_id = c.id) AS contact_inboxes FROM access_tokens t JOIN accounts a ON a.id = :account LEFT JOIN account_users au ON au.account_id = a.id AND au.user_id = t.user_id LEFT JOIN contacts c ON c.account_id = a.id AND c.id = :id WHERE t.token_digest = :digest;
