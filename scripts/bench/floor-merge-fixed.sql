-- The fixed floor of one merge: one round trip, the call of bench_fixed_merge (scripts/bench/fixed-floor.sql),
-- which does the merge's database work in one transaction. Each pgbench client merges its own fresh pairs, laid
-- out as for the other merge runs.
-- pgbench -D variables: account digest first clients snapshot payload merged_additional merged_custom
-- base_snapshot written, n=0.
\set pair :client_id + :n * :clients
\set n :n + 1
\set base :first + 2 * :pair
\set mergee :base + 1
SELECT bench_fixed_merge(:account, :digest, :base, :mergee, :snapshot, :payload, :merged_additional, :merged_custom, :base_snapshot, :written);
