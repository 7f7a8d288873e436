-- One large account for "cost as an account grows" (scripts/bench.sh): :n contacts with no children (lists and
-- searches read contacts only), set-based. psql variables: :account :n.
-- Shapes chosen so that every kind of search has its case: one contact in ten is a Smith (a common surname,
-- 100,000 hits at 1,000,000), one in four has a gmail.com address (250,000 hits), the rest a company domain;
-- every phone number and email is unique; three in four contacts have been active, at distinct times.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
INSERT INTO contacts (account_id, name, email, phone_number, identifier, last_activity_at, created_at)
SELECT :account,
       (ARRAY['Ada', 'Bea', 'Cid', 'Dora', 'Emil', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun'])[1 + k % 10] || ' ' ||
           CASE WHEN k % 10 = 3 THEN 'Smith' ELSE 'Lastname' || lpad((k % 50000)::text, 5, '0') END,
       'person' || k || '@' || CASE WHEN k % 4 = 0 THEN 'gmail.com' ELSE 'company' || (k % 1000) || '.example' END,
       '+1777' || lpad(k::text, 8, '0'),
       CASE WHEN k % 2 = 0 THEN 'crm-' || k END,
       CASE WHEN k % 4 <> 1 THEN now() - make_interval(secs => k) END,
       now() - make_interval(secs => 2 * k)
FROM generate_series(1, :n) AS k;
