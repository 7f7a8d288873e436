//! What the floors are, said once in each report (markdown and JSON).

/// What the fixed floors are, said once in the report.
pub(super) const FIXED_FLOOR_NOTE: &str =
    "The fixed floor is the least number of round trips that does an operation's \
database work — one — sent by pgbench (`-M prepared`, same concurrency and run time) on the same database: for a \
merge one call of `bench_fixed_merge`, a PL/pgSQL function the bench creates in its own database \
(`scripts/bench/fixed-floor.sql`: authenticate, lock both contacts, move every child returning the ledger's ids, \
delete the mergee, update the base, the audit record with its ledger, the outbox event, the base's contact inboxes, \
in one transaction), on pairs of its own; for GET contact one statement reading the token's membership, the \
contact and its contact inboxes (`floor-get-fixed.sql`); for search one statement with the membership, the count, \
the page and its contact inboxes (`floor-search-fixed.sql`). It does not follow the service's statements, so every \
round trip the service saves shows in its ratio. The same-statements floor (next) sends the service's own \
statements, one round trip each.";

/// What the floors are, said once in the report.
pub(super) const FLOOR_NOTE: &str =
    "The floor is pgbench (`-M prepared`, same concurrency, same run time after the same \
warm-up) sending the service's own SQL straight to PostgreSQL, one round trip per statement, on the same \
database in the same run: per merge the authentication lookup (autocommit), `BEGIN`, the `SELECT … FOR UPDATE` \
of both contacts, the one statement that writes the whole merge (a data-modifying CTE: the moves of every child \
and identity, the mergee's `DELETE`, the base's `UPDATE`, the audit record with its ledger, the outbox event, the \
base's contact inboxes) and `COMMIT`, each pgbench client on its own fresh pairs (`scripts/bench/floor-merge.sql`); \
per undo the \
authentication lookup, `BEGIN`, the record, the base `FOR UPDATE`, the record `FOR UPDATE` and its ledger, the \
check that the mergee's email, phone and identifier are free, the base's `UPDATE` back, the mergee's `INSERT` \
under its own id, the one statement that moves everything back, both contacts' inboxes, the record marked undone, \
the outbox `INSERT` and `COMMIT`, on the floor's own merges (`floor-undo.sql`); for GET contact the one statement \
that authenticates and reads the contact with its inboxes (`floor-get.sql`); for search the authentication lookup \
and the reads (`floor-search.sql`, `floor-search-identity.sql`): the statements PostgreSQL counts for those endpoints. Not in the \
floor: HTTP, JSON, the attribute merge in Rust, the pool's checkout (a `SELECT 1` only for a connection idle \
for more than a second, so none under load) and the thread hand-off of each request to the blocking pool and \
back.";
