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

-- Duplicate suggestions, for the read cases of the duplicates endpoints. The triggers queued every contact for
-- the duplicates worker, which scores a few hundred contacts a second: a million would take it an hour. So the
-- queue is emptied and the seed writes pairs of the worker's shape instead: each Smith with the next one
-- (100,000 pairs at 1,000,000 contacts, so a Smith has two), a similar-name reason, confidences spread over
-- 0.30-0.95. Reading them is what is measured; computing them is the worker's (README, "Duplicate suggestions").
DELETE FROM contact_duplicate_refreshes WHERE account_id = :account;
INSERT INTO contact_duplicate_pairs (account_id, low_id, high_id, confidence, reasons)
SELECT :account, id, next_id, 0.30 + (id % 66) / 100.0,
       '[{"code": "similar_name", "field": "name", "detail": "similarity 1.00"}]'::jsonb
FROM (SELECT id, lead(id) OVER (ORDER BY id) AS next_id
      FROM contacts WHERE account_id = :account AND name LIKE '% Smith') AS smiths
WHERE next_id IS NOT NULL;
