#!/usr/bin/env bash
# The benchmark behind `make bench` (full) and `make bench-smoke` (tiny, in CI so it never rots).
#
#   scripts/bench.sh full    release build, 100,000 contacts, 15 s per operation, scaling 10 … 100,000
#   scripts/bench.sh smoke   debug build, 1,000 contacts, 2 s per operation, scaling 10 and 100
#
# It starts its own PostgreSQL cluster (port COALESCE_BENCH_PGPORT, default 54339, data under
# target/bench/pgdata; never the tests' cluster on 54329, and DATABASE_URL is ignored), creates a fresh database,
# seeds it through SQL, starts one `coalesce serve`, and measures, at the same concurrency:
#   1. the service over HTTP (crates/loadgen): merge on fresh pairs, a five-contact merge on fresh groups, undo
#      of the pair merges (each once), GET contact, search; and its statements per request;
#   2. the fixed floors: the least round trips that do each operation's database work — one — sent by pgbench
#      (scripts/bench/floor-*-fixed.sql; the merge calls bench_fixed_merge, scripts/bench/fixed-floor.sql): they
#      do not follow the service's statements, so each round trip the service saves shows;
#      and the same-statements floor: the service's own statements, one round trip each (scripts/bench/floor-*.sql);
#   3. scaling: merge and undo latency and statements per merge and per undo (pg_stat_statements) as the
#      mergee's conversations grow;
#   4. with COALESCE_BENCH_BASELINE_BIN (another build's `coalesce`, e.g. the one before the merge ledger), what
#      the ledger costs: the same HTTP merge load against this build and that one, interleaved, on fresh pairs;
#   5. what duplicate suggestions cost a create: HTTP creates as shipped (worker on), with the worker off, and on
#      a copy of the database without the suggestions' triggers and indexes, interleaved;
#   6. what identities cost a merge: HTTP merges as shipped and on a copy without identities (the table empty,
#      its triggers off), interleaved, each run on a fresh copy and the same never-merged pairs.
# Results land in target/bench/ (smoke: target/bench-smoke/): report.md, report.json, the raw results, logs.
#
# Settings (environment): COALESCE_BENCH_CONTACTS, COALESCE_BENCH_DURATION (s, whole), COALESCE_BENCH_WARMUP (s),
# COALESCE_BENCH_CONCURRENCY, COALESCE_BENCH_PAIRS (per merge run), COALESCE_BENCH_GROUPS (per five-contact merge run), COALESCE_BENCH_SCALING ("10 1000 …"),
# COALESCE_BENCH_SCALING_REPS, COALESCE_BENCH_PGPORT, COALESCE_BENCH_PGDATA, COALESCE_BENCH_KEEP_DB=1 (leave the
# cluster running), COALESCE_BENCH_BASELINE_BIN, COALESCE_BENCH_BASELINE_LABEL (what to call it in the report),
# COALESCE_BENCH_BASELINE_ROUNDS (runs of each build, default 3), COALESCE_BENCH_LEDGER_PAIRS (pairs per run),
# COALESCE_BENCH_CREATE_ROUNDS (rounds of the three create setups, default 2), COALESCE_BENCH_IDENTITY_ROUNDS
# (rounds of the two merge setups, default 2). The server reads its usual COALESCE_* settings (pool size, workers, …) and RUST_LOG.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-full}"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$mode" in
  full)
    contacts="${COALESCE_BENCH_CONTACTS:-100000}"; duration="${COALESCE_BENCH_DURATION:-15}"
    warmup="${COALESCE_BENCH_WARMUP:-2}"; scaling="${COALESCE_BENCH_SCALING:-10 1000 10000 100000}"
    reps="${COALESCE_BENCH_SCALING_REPS:-3}"; profile=release; out="$target/bench"
    large="${COALESCE_BENCH_LARGE_CONTACTS:-1000000}" ;;
  smoke)
    contacts="${COALESCE_BENCH_CONTACTS:-1000}"; duration="${COALESCE_BENCH_DURATION:-2}"
    warmup="${COALESCE_BENCH_WARMUP:-1}"; scaling="${COALESCE_BENCH_SCALING:-10 100}"
    reps="${COALESCE_BENCH_SCALING_REPS:-1}"; profile=debug; out="$target/bench-smoke"
    large="${COALESCE_BENCH_LARGE_CONTACTS:-3000}" ;;
  *) echo "usage: $0 full|smoke" >&2; exit 2 ;;
esac
concurrency="${COALESCE_BENCH_CONCURRENCY:-16}"
# Fresh pairs for 2,500 merges/s over warm-up and run (the floor does about 1,100-1,300 here; a client may take
# 20% more than its share). The report flags a run that used its pairs up: its last merges found no pair.
pairs="${COALESCE_BENCH_PAIRS:-$(( (duration + ${warmup%.*} + 1) * 2500 ))}"
# Fresh groups of 5 contacts for 600 five-contact merges/s (each is four pair merges in one request).
groups="${COALESCE_BENCH_GROUPS:-$(( (duration + ${warmup%.*} + 1) * 600 ))}"
many_pairs=$(( (5 * groups + 1) / 2 ))
pgport="${COALESCE_BENCH_PGPORT:-54339}"
baseline_bin="${COALESCE_BENCH_BASELINE_BIN:-}"
baseline_label="${COALESCE_BENCH_BASELINE_LABEL:-baseline}"
baseline_rounds="${COALESCE_BENCH_BASELINE_ROUNDS:-3}"
if [ -n "$baseline_bin" ]; then
  [ -x "$baseline_bin" ] || { echo "bench: COALESCE_BENCH_BASELINE_BIN=$baseline_bin is not an executable" >&2; exit 2; }
  baseline_bin="$(cd "$(dirname "$baseline_bin")" && pwd)/$(basename "$baseline_bin")"
  # A merge run takes about 1,000 pairs a second here; a run that uses its pairs up is measured to its last answer.
  ledger_pairs="${COALESCE_BENCH_LEDGER_PAIRS:-$(( (duration + ${warmup%.*} + 1) * 1500 ))}"
else
  ledger_pairs=0
fi
pgdata="${COALESCE_BENCH_PGDATA:-$target/bench/pgdata}"
# As root the cluster runs as `postgres`, which must reach the data directory (see scripts/db.sh).
if [ "$(id -u)" = 0 ] && [ -z "${COALESCE_BENCH_PGDATA:-}" ] && id postgres >/dev/null 2>&1 \
   && ! runuser -u postgres -- test -x "$target" 2>/dev/null; then
  pgdata="/var/tmp/coalesce-bench-$(printf '%s' "$root" | sha256sum | cut -c1-12)/pgdata"
fi
dbname=coalesce_bench
url="postgres://postgres@127.0.0.1:$pgport/$dbname"
# Durable settings, as in production: fsync and synchronous_commit on. pg_stat_statements counts statements.
pgoptions="-c shared_preload_libraries=pg_stat_statements -c fsync=on -c synchronous_commit=on -c full_page_writes=on"

log() { printf 'bench: %s\n' "$*" >&2; }
db() {
  env -u DATABASE_URL COALESCE_PGPORT="$pgport" COALESCE_PGDATA="$pgdata" COALESCE_PGDATABASE=postgres \
    COALESCE_PGOPTIONS="$pgoptions" scripts/db.sh "$@"
}

server_pid=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${COALESCE_BENCH_KEEP_DB:-0}" != 1 ]; then db stop >/dev/null 2>&1 || true; fi
  exit "$status"
}
trap cleanup EXIT

# --- build ---------------------------------------------------------------------------------------------------
# Separate invocations keep each binary's feature set the same as a plain `cargo build --bin …`, so a later
# build of either one alone reuses it.
if [ "$profile" = release ]; then
  log "building release binaries (fat LTO: a few minutes on 2 cores the first time)"
  cargo build --release --bin coalesce
  cargo build --release --bin coalesce-loadgen
  bin="$target/release"
else
  cargo build --bin coalesce
  cargo build --bin coalesce-loadgen
  bin="$target/debug"
fi
loadgen="$bin/coalesce-loadgen"

# --- database ------------------------------------------------------------------------------------------------
pgbin="$(db bindir)"
psql_db() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U postgres "$@"; }
if db status && ! psql_db -d postgres -tAc "SHOW shared_preload_libraries" | grep -q pg_stat_statements; then
  log "restarting the bench cluster with pg_stat_statements"
  db stop
fi
db start
psql_db -d postgres -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname"
psql_db -d "$dbname" -c "CREATE EXTENSION pg_stat_statements"
q() { psql_db -d "$dbname" -tAc "$1"; }

rm -rf "$out/results" "$out/pgbench"
mkdir -p "$out/results" "$out/pgbench"
results="$out/results"

# --- seed ----------------------------------------------------------------------------------------------------
export DATABASE_URL="$url"
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
account="$("$bin/coalesce" admin create-account --name "Bench" 2>/dev/null | json_field id)"
token="$("$bin/coalesce" admin create-user --account-id "$account" --name "Bench" --email bench@bench.invalid \
  --role administrator 2>/dev/null | json_field access_token)"
user_id="$(q "SELECT id FROM users WHERE email = 'bench@bench.invalid'")"
inbox="$(q "INSERT INTO inboxes (account_id, name) VALUES ($account, 'Bench API') RETURNING id" | head -1)"
digest="\\x$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
[ -n "$account" ] && [ -n "$token" ] && [ -n "$inbox" ] || { log "could not create the account, user or inbox"; exit 1; }

http_first=$((contacts + 1))
floor_first=$((http_first + 2 * pairs))
# the fixed floor's merges (one call of bench_fixed_merge each) on pairs of their own
fixed_first=$((floor_first + 2 * pairs))
# the ledger's cost: 2 × rounds runs (this build and the baseline), each on its own pairs
ledger_first=$((fixed_first + 2 * pairs))
many_first=$((ledger_first + 2 * ledger_pairs * 2 * baseline_rounds))
next=$((many_first + 2 * many_pairs))
log "seeding $contacts contacts, 3 × $pairs merge pairs, $groups groups of 5 and $((ledger_pairs * 2 * baseline_rounds)) for the ledger's cost"
started=$SECONDS
[ -n "$baseline_bin" ] || baseline_rounds=0
psql_db -d "$dbname" -v account="$account" -v inbox="$inbox" -v user_id="$user_id" -v contacts="$contacts" \
  -v http_first="$http_first" -v http_pairs="$pairs" -v floor_first="$floor_first" -v floor_pairs="$pairs" \
  -v ledger_first="$ledger_first" -v ledger_pairs="$((ledger_pairs * 2 * baseline_rounds))" \
  -v many_first="$many_first" -v many_pairs="$many_pairs" -v fixed_first="$fixed_first" -v fixed_pairs="$pairs" \
  -f scripts/bench/seed.sql
psql_db -d "$dbname" -f scripts/bench/fixed-floor.sql
declare -A scale_first
for size in $scaling; do
  scale_first[$size]=$next
  psql_db -d "$dbname" -v account="$account" -v inbox="$inbox" -v first="$next" -v reps="$reps" -v size="$size" \
    -f scripts/bench/seed-scaling.sql
  next=$((next + 2 * reps))
done
q "SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))" >/dev/null
psql_db -d "$dbname" -c "VACUUM ANALYZE"
log "seeded in $((SECONDS - started)) s"
q "SELECT t, n, pg_size_pretty(pg_total_relation_size(t::regclass)) FROM (VALUES
     ('contacts', (SELECT count(*) FROM contacts)), ('contact_inboxes', (SELECT count(*) FROM contact_inboxes)),
     ('conversations', (SELECT count(*) FROM conversations)), ('messages', (SELECT count(*) FROM messages)),
     ('notes', (SELECT count(*) FROM notes)), ('contact_labels', (SELECT count(*) FROM contact_labels))) AS s (t, n)" \
  | tr '|' '\t' > "$results/sizes.tsv"
printf 'database\t\t%s\n' "$(q "SELECT pg_size_pretty(pg_database_size(current_database()))")" >> "$results/sizes.tsv"
column -t -s $'\t' "$results/sizes.tsv" >&2 || cat "$results/sizes.tsv" >&2

# --- server --------------------------------------------------------------------------------------------------
# The address is read from the server's "listening on" line, which RUST_LOG must let through. The rate limits
# are off (the load comes from one token and one address by design) and so is the webhook worker (the floor has no
# outbox processing either); so is the duplicates worker: it would spend the run recomputing the suggestions of
# every contact the merges touched, on the same two cores, and its statements would be counted as the requests'
# (a request only queues its contacts, from a trigger; the worker's cost is the duplicates issue's, measured on
# its own). Each can be turned back on through the environment. Metrics are recorded, as in
# production, and served on a free port nobody scrapes (never the default one another process may hold).
# The database runs on this machine, so the server's pool is sized for its cores, as a deployment sizes it for
# the database's (README, "Configuration"): twice the cores, unless COALESCE_POOL_SIZE says otherwise. More
# connections only make the transactions queue inside PostgreSQL and the threads switch more (README).
export COALESCE_POOL_SIZE="${COALESCE_POOL_SIZE:-$((2 * $(nproc)))}"
start_server() {
  local binary="$1" log_file="$2"
  COALESCE_RATE_LIMIT_PER_SECOND="${COALESCE_RATE_LIMIT_PER_SECOND:-0}" COALESCE_WEBHOOK_WORKER="${COALESCE_WEBHOOK_WORKER:-false}" \
  COALESCE_DUPLICATES_WORKER="${COALESCE_DUPLICATES_WORKER:-false}" \
  COALESCE_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE="${COALESCE_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE:-0}" \
  COALESCE_METRICS_BIND="${COALESCE_METRICS_BIND-127.0.0.1:0}" \
  COALESCE_BIND=127.0.0.1:0 RUST_LOG="${RUST_LOG:-info},server::cli=info" "$binary" serve > "$log_file" 2>&1 &
  server_pid=$!
  base_url=""
  for _ in $(seq 1 300); do
    base_url="$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$log_file" | head -1)"
    [ -n "$base_url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log_file" >&2; log "the server did not start"; exit 1; }
    sleep 0.1
  done
  [ -n "$base_url" ] || { log "the server did not report its address"; exit 1; }
  log "server $server_pid ($binary) at $base_url"
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
start_server "$bin/coalesce" "$out/server.log"

# --- the machine and the settings, for the report --------------------------------------------------------------
{
  echo "mode=$mode"
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo '+dirty')"
  echo "profile=$profile"
  echo "nproc=$(nproc)"
  echo "memory=$(free -h | awk '/^Mem:/ {print $2}')"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "kernel=$(uname -r)"
  echo "postgres=$(q "SHOW server_version")"
  echo "fsync=$(q "SHOW fsync")"
  echo "synchronous_commit=$(q "SHOW synchronous_commit")"
  echo "shared_buffers=$(q "SHOW shared_buffers")"
  echo "concurrency=$concurrency"
  echo "duration_s=$duration"
  echo "warmup_s=$warmup"
  echo "contacts=$contacts"
  echo "pairs=$pairs"
  echo "scaling_reps=$reps"
  echo "pool_size=$COALESCE_POOL_SIZE"
  echo "workers=${COALESCE_WORKERS:-0 (one per core)}"
  echo "rust_log=${RUST_LOG:-info (default)}"
  echo "loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  # statements per transaction of the floor scripts (one statement a line), to compare with the service's count
  echo "floor_merge_statements=$(grep -c '^[A-Z]' scripts/bench/floor-merge.sql)"
  echo "floor_undo_statements=$(grep -c '^[A-Z]' scripts/bench/floor-undo.sql)"
} > "$results/meta.env"

# --- the service over HTTP (crates/loadgen) and the floor (pgbench), operation by operation --------------------
# The requests' statements, when PostgreSQL counts them: not the bench's own queries, and not the fold of the
# contact counts that the server's counts worker sends once a second whatever the load.
own="dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%DELETE FROM contact_count_changes%'"
http() {
  local op="$1"; shift
  q "CHECKPOINT" >/dev/null
  "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op "$op" \
    --concurrency "$concurrency" --threads 2 --duration "$duration" --warmup "$warmup" --server-pid "$server_pid" \
    --out "$results/http_${run_name:-$op}.json" "$@"
}
# pgbench runs warm-up plus run time; its log reader drops the transactions of the warm-up.
floor_seconds=$((duration + ${warmup%.*} + 1))
floor_limit=(-T "$floor_seconds")
floor() {
  local op="$1" script="$2"; shift 2
  q "CHECKPOINT" >/dev/null
  if ! "$pgbin/pgbench" -n -h 127.0.0.1 -p "$pgport" -U postgres -M prepared -c "$concurrency" -j 2 \
       "${floor_limit[@]}" -l --log-prefix="$out/pgbench/${run_name:-$op}" -D "account=$account" -D "digest=$digest" "$@" \
       -f "$script" "$dbname" > "$out/pgbench/${run_name:-$op}.out" 2>&1; then
    cat "$out/pgbench/${run_name:-$op}.out" >&2
    log "pgbench failed for $op"
    exit 1
  fi
  "$loadgen" pgbench-log --op "$op" --concurrency "$concurrency" --warmup "$((floor_seconds - duration))" \
    --out "$results/floor_${run_name:-$op}.json" "${floor_args[@]}" "$out"/pgbench/"${run_name:-$op}".[0-9]*
}
# What one merge writes into the audit row and the outbox, with the same shape and size as the service's.
snapshot='{"id": 100002, "name": "Pair Mergee 100002", "email": "pm100002@bench.invalid", "blocked": false, "thumbnail": "", "account_id": 1, "created_at": "2026-11-29T09:48:20.428802+00:00", "identifier": "pm-100002", "updated_at": "2026-11-29T09:48:20.428802+00:00", "phone_number": "+166600100002", "last_activity_at": null, "custom_attributes": {"plan": "free", "source": "whatsapp"}, "additional_attributes": {"city": "Lyon", "company": "Acme"}}'
# The ledger of such a merge: the base as it was and what the merge wrote on it.
base_snapshot='{"id": 100001, "name": "Pair Base 100001", "email": "pb100001@bench.invalid", "blocked": false, "thumbnail": "", "account_id": 1, "created_at": "2026-11-29T09:48:20.428802+00:00", "identifier": null, "updated_at": "2026-11-29T09:48:20.428802+00:00", "phone_number": null, "last_activity_at": null, "custom_attributes": {"plan": "pro"}, "additional_attributes": {"city": "Paris"}}'
written='{"identifier": {"after": "pm-100002", "before": null}, "phone_number": {"after": "+166600100002", "before": null}, "custom_attributes": {"after": {"plan": "pro", "source": "whatsapp"}, "before": {"plan": "pro"}}, "additional_attributes": {"after": {"city": "Paris", "company": "Acme"}, "before": {"city": "Paris"}}}'
# What one undo writes into the merge record and the outbox.
moved_back='{"notes": 1, "labels": 2, "messages": 2, "conversations": 2, "contact_inboxes": 1}'
none_moved='{"notes": 0, "labels": 0, "messages": 0, "conversations": 0, "contact_inboxes": 0}'
undo_counts="{\"conflicts\": [], \"moved_back\": $moved_back, \"kept_on_base\": $none_moved, \"deleted_since\": $none_moved}"
undo_payload="{\"base\": $base_snapshot, \"event\": \"contact_unmerged\", \"mergee\": $snapshot, \"merge_id\": 1, \"conflicts\": [], \"merged_at\": \"2026-11-29T09:48:44.124033+00:00\", \"account_id\": 1, \"moved_back\": $moved_back, \"unmerged_at\": \"2026-11-29T09:49:44.124033+00:00\", \"kept_on_base\": $none_moved, \"actor_user_id\": 1, \"deleted_since\": $none_moved, \"base_contact_id\": 100001, \"mergee_contact_id\": 100002}"
payload="{\"event\": \"contact_merged\", \"moved\": {\"notes\": 1, \"labels\": 2, \"messages\": 2, \"conversations\": 2, \"contact_inboxes\": 1}, \"mergee\": $snapshot, \"merge_id\": 1, \"merged_at\": \"2026-11-29T09:48:44.124033+00:00\", \"account_id\": 1, \"actor_user_id\": 1, \"base_contact_id\": 100001, \"mergee_contact_id\": 100002}"
# The same event as the service builds it before the write, which adds the record's id and time and what moved.
event="{\"event\": \"contact_merged\", \"mergee\": $snapshot, \"account_id\": 1, \"actor_user_id\": 1, \"base_contact_id\": 100001, \"mergee_contact_id\": 100002}"
# Merges first, in two rounds of half the run time each, the service first in one and last in the other: the
# first heavy writes after the seed run slower than the same writes a minute later (a second service run after
# the floors once did 1.35 x the first), so whichever side went first alone would carry that. Each round takes
# fresh pairs of its side's range, past those the first round used. `combine` makes one result of the two.
round_seconds=$(( (duration + 1) / 2 ))
merges_of() { q "SELECT count(*) FROM contact_merges WHERE mergee_contact_id BETWEEN $1 AND $(($1 + 2 * pairs - 1))"; }
merge_round() {
  local round="$1" side="$2" first="$3" count="$4"
  case $side in
    service) run_name="merge_$round" http merge --duration "$round_seconds" --pairs "$first:$count" ;;
    floor)
      floor_args=(--per-client "$((count / concurrency))")
      floor_limit=(-T "$((round_seconds + ${warmup%.*} + 1))")
      run_name="merge_$round" floor merge scripts/bench/floor-merge.sql -D n=0 -D "clients=$concurrency" \
        -D "first=$first" -D "user_id=$user_id" -D "snapshot=$snapshot" -D "event=$event" \
        -D 'merged_additional={"city": "Paris", "company": "Acme"}' -D 'merged_custom={"plan": "pro", "source": "whatsapp"}' \
        -D "base_snapshot=$base_snapshot" -D "written=$written" ;;
    fixed)
      floor_args=(--per-client "$((count / concurrency))")
      floor_limit=(-T "$((round_seconds + ${warmup%.*} + 1))")
      run_name="merge_fixed_$round" floor merge_fixed scripts/bench/floor-merge-fixed.sql -D n=0 \
        -D "clients=$concurrency" -D "first=$first" -D "snapshot=$snapshot" -D "payload=$payload" \
        -D 'merged_additional={"city": "Paris", "company": "Acme"}' -D 'merged_custom={"plan": "pro", "source": "whatsapp"}' \
        -D "base_snapshot=$base_snapshot" -D "written=$written" ;;
  esac
}
merge_round 1 service "$http_first" "$pairs"
merge_round 1 floor "$floor_first" "$pairs"
merge_round 1 fixed "$fixed_first" "$pairs"
# The pairs the first round may have touched: clients take pairs c, c + clients, …, each at its own pace, so
# the fastest pgbench client's count bounds them (a quarter more than the mean for the service's clients).
most() { sed -n 's/.*"most_transactions_per_client": *\([0-9]*\).*/\1/p' "$1"; }
http_used=$(( $(merges_of "$http_first") * 5 / 4 + 4 * concurrency ))
floor_used=$(( ($(most "$results/floor_merge_1.json") + 2) * concurrency ))
fixed_used=$(( ($(most "$results/floor_merge_fixed_1.json") + 2) * concurrency ))
merge_round 2 fixed "$((fixed_first + 2 * fixed_used))" "$((pairs - fixed_used))"
merge_round 2 floor "$((floor_first + 2 * floor_used))" "$((pairs - floor_used))"
merge_round 2 service "$((http_first + 2 * http_used))" "$((pairs - http_used))"
floor_limit=(-T "$floor_seconds")
"$loadgen" combine --out "$results/http_merge.json" "$results/http_merge_1.json" "$results/http_merge_2.json"
"$loadgen" combine --out "$results/floor_merge.json" "$results/floor_merge_1.json" "$results/floor_merge_2.json"
"$loadgen" combine --out "$results/floor_merge_fixed.json" "$results/floor_merge_fixed_1.json" \
  "$results/floor_merge_fixed_2.json"
echo "http_merges_recorded=$(merges_of "$http_first")" >> "$results/meta.env"
echo "floor_merges_recorded=$(merges_of "$floor_first")" >> "$results/meta.env"
echo "fixed_floor_merges_recorded=$(merges_of "$fixed_first")" >> "$results/meta.env"
floor_args=()
# Five contacts at once: group i is the 5 contacts from many_first + 5i (seeded as pairs, so every contact has
# children and the mergees bring attributes), merged into the first. No floor yet.
http merge5 --groups "$many_first:$groups"
recorded="$(q "SELECT count(*) FROM contact_merges WHERE mergee_contact_id BETWEEN $many_first AND $((many_first + 5 * groups - 1))")"
echo "http_merge5_records=$recorded" >> "$results/meta.env"
# Undos next: the service undoes the merges it recorded, the floor those the floor recorded, each merge once.
# The ids of a run's records are consecutive (a failed merge would leave a gap, which the undo answers 404).
merge_ids() { q "SELECT coalesce(min(id), 0) || ':' || count(*) || ':' || coalesce(max(id) - min(id) + 1, 0) FROM contact_merges WHERE mergee_contact_id BETWEEN $1 AND $2"; }
# The first round's records of each side are consecutive (the second round's come after the floors'): undo those.
IFS=: read -r undo_first undo_count undo_span <<< "$(merge_ids "$http_first" "$((http_first + 2 * http_used - 1))")"
[ "$undo_count" = "$undo_span" ] || log "the service's merge records are not consecutive ($undo_count in a span of $undo_span)"
http undo --merges "$undo_first:$undo_span"
recorded="$(q "SELECT count(*) FROM contact_merges WHERE mergee_contact_id BETWEEN $http_first AND $((floor_first - 1)) AND undone_at IS NOT NULL")"
echo "http_undos_recorded=$recorded" >> "$results/meta.env"
IFS=: read -r undo_first undo_count undo_span <<< "$(merge_ids "$floor_first" "$((floor_first + 2 * floor_used - 1))")"
[ "$undo_count" = "$undo_span" ] || { log "the floor's merge records are not consecutive ($undo_count in a span of $undo_span)"; exit 1; }
# One transaction per record: pgbench runs a fixed count per client (-t) instead of a fixed time.
floor_limit=(-t "$(( undo_count / concurrency ))")
floor undo scripts/bench/floor-undo.sql -D n=0 -D "clients=$concurrency" -D "first=$undo_first" -D "user_id=$user_id" \
  -D "undo_counts=$undo_counts" -D "undo_payload=$undo_payload"
floor_limit=(-T "$floor_seconds")
recorded="$(q "SELECT count(*) FROM contact_merges WHERE mergee_contact_id BETWEEN $floor_first AND $((floor_first + 2 * pairs - 1)) AND undone_at IS NOT NULL")"
echo "floor_undos_recorded=$recorded" >> "$results/meta.env"
# Then the reads, on a vacuumed database: the merges leave the trigram (GIN) indexes' pending lists full, which
# every search scans until VACUUM folds them in; both sides of each read comparison see the same database.
psql_db -d "$dbname" -c "VACUUM ANALYZE"
# GET contact's reads arriving together share a statement (adapters-postgres batched_reads.rs): the statements
# PostgreSQL counts over the whole run (warm-up included), per request answered.
q "SELECT pg_stat_statements_reset()" >/dev/null
http get --ids "1:$contacts"
get_answered="$(sed -n 's/.*"ok_including_warmup": *\([0-9]*\).*/\1/p' "$results/http_get.json")"
echo "service_get_statements_under_load=$(q "SELECT round(coalesce(sum(calls), 0) / greatest(${get_answered:-0}, 1)::numeric, 3) FROM pg_stat_statements WHERE $own AND query <> 'CHECKPOINT'")" \
  >> "$results/meta.env"
floor get scripts/bench/floor-get.sql -D "contacts=$contacts"
floor get_fixed scripts/bench/floor-get-fixed.sql -D "contacts=$contacts"
http search --terms "0:$((contacts / 10 - 1))"
floor search scripts/bench/floor-search.sql -D "terms=$((contacts / 10 - 1))"
floor search_fixed scripts/bench/floor-search-fixed.sql -D "terms=$((contacts / 10 - 1))"
http search-identity --terms "0:$((contacts / 10 - 1))"
floor search-identity scripts/bench/floor-search-identity.sql -D "terms=$((contacts / 10 - 1))"

# --- scaling: one merge at a time, nothing else running, statements counted by PostgreSQL ----------------------
# The requests' statements only: not the bench's own queries, and not the fold of the contact counts that the
# server's counts worker sends once a second whatever the load (a 5 s merge would be charged five of them).
# One request first, so that the pool's connection has just been used: a connection idle for more than a
# second gets a `SELECT 1` check at checkout, which is the pool's, not the merge's. Then the counters from zero.
fresh_counts() {
  "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op get --ids 1:1 \
    --concurrency 1 --requests 1 --duration 60 --out "$results/scaling_warmup.json" 2>/dev/null
  q "SELECT pg_stat_statements_reset()" >/dev/null
}
for size in $scaling; do
  first=${scale_first[$size]}
  fresh_counts
  "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op merge \
    --pairs "$first:$reps" --concurrency 1 --requests "$reps" --duration 3600 --out "$results/scaling_$size.json"
  q "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements WHERE $own ORDER BY calls DESC, query" \
    | tr '|' '\t' > "$results/statements_$size.tsv"
  {
    echo "size=$size"
    echo "statements_total=$(q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $own")"
    q "SELECT 'merges=' || count(*) || E'\nconversations=' || coalesce(sum(moved_conversations), 0)
         || E'\nmessages=' || coalesce(sum(moved_messages), 0) || E'\ncontact_inboxes=' || coalesce(sum(moved_contact_inboxes), 0)
         || E'\nnotes=' || coalesce(sum(moved_notes), 0) || E'\nlabels=' || coalesce(sum(moved_labels), 0)
       FROM contact_merges WHERE mergee_contact_id BETWEEN $first AND $((first + 2 * reps - 1))"
  } > "$results/scaling_$size.env"
  # and the undo of those merges, one at a time
  IFS=: read -r undo_first undo_count undo_span <<< "$(merge_ids "$first" "$((first + 2 * reps - 1))")"
  fresh_counts
  "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op undo \
    --merges "$undo_first:$undo_span" --concurrency 1 --requests "$undo_span" --duration 3600 \
    --out "$results/scaling_undo_$size.json"
  q "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements WHERE $own ORDER BY calls DESC, query" \
    | tr '|' '\t' > "$results/statements_undo_$size.tsv"
  {
    echo "statements_total=$(q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $own")"
    echo "undos=$(q "SELECT count(*) FROM contact_merges WHERE mergee_contact_id BETWEEN $first AND $((first + 2 * reps - 1)) AND undone_at IS NOT NULL")"
  } > "$results/scaling_undo_$size.env"
done

# The service's statements per read, counted by PostgreSQL over requests sent one at a time.
for op in get search; do
  fresh_counts
  case $op in get) range=(--ids "1:$contacts") ;; search) range=(--terms "0:$((contacts / 10 - 1))") ;; esac
  "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op "$op" "${range[@]}" \
    --concurrency 1 --requests 50 --duration 3600 --out "$results/statements_run_$op.json"
  echo "service_${op}_statements=$(q "SELECT round(coalesce(sum(calls), 0) / 50.0, 2) FROM pg_stat_statements WHERE $own")" \
    >> "$results/meta.env"
done

# --- what duplicate suggestions cost a create: the same HTTP create load in three setups, interleaved ---------
# worker: as shipped (the triggers queue each new contact; the process's duplicates worker refreshes the queue
# meanwhile, on the same cores); queue: the triggers queue, no worker; none: without the suggestions' triggers,
# indexes and keys, no worker (the service as it would be without suggestions).
# Two templates are taken now, both vacuumed: the database as it is (queue emptied) and the same without
# suggestions. Every run gets a fresh copy of its setup's template and a freshly started server: no run inherits
# the contacts the runs before it added (a bigger index, an autovacuum of those rows running meanwhile), which
# made the setups sharing one database look slower the more runs they had had. The order alternates between
# rounds. This runs before the large account is seeded, so that each copy is of the 100,000 contacts alone.
first_hwm="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$server_pid/status")"
stop_server
shipped="${dbname}_shipped" plain="${dbname}_plain" run_db="${dbname}_create_run"
# the database itself vacuumed first: the scaling above wrote millions of rows, whose autovacuum would otherwise
# run on the same cores and disk during the first runs (measured: the first round at about half the speed of
# the second)
psql_db -d "$dbname" -c "VACUUM ANALYZE" -c "CHECKPOINT"
psql_db -d postgres -c "DROP DATABASE IF EXISTS $shipped WITH (FORCE)" -c "DROP DATABASE IF EXISTS $plain WITH (FORCE)" \
  -c "CREATE DATABASE $shipped TEMPLATE $dbname STRATEGY FILE_COPY"
psql_db -d "$shipped" -c "TRUNCATE contact_duplicate_refreshes" -c "VACUUM ANALYZE"
psql_db -d postgres -c "CREATE DATABASE $plain TEMPLATE $shipped STRATEGY FILE_COPY"
psql_db -d "$plain" -c "DROP TABLE contact_dedupe_keys" \
  -c "DROP INDEX contact_inboxes_dedupe_source_key_idx" \
  -c "ALTER TABLE contacts DISABLE TRIGGER contacts_duplicates_insert, DISABLE TRIGGER contacts_duplicates_update" \
  -c "ALTER TABLE contact_inboxes DISABLE TRIGGER contact_inboxes_duplicates_insert,
        DISABLE TRIGGER contact_inboxes_duplicates_update, DISABLE TRIGGER contact_inboxes_duplicates_delete" \
  -c "ALTER TABLE contact_identities DISABLE TRIGGER contact_identities_duplicates_insert,
        DISABLE TRIGGER contact_identities_duplicates_delete" \
  -c "ALTER TABLE contact_identity_holders DISABLE TRIGGER contact_identity_holders_duplicates_update" \
  -c "VACUUM ANALYZE"
create_rounds="${COALESCE_BENCH_CREATE_ROUNDS:-2}"
echo "create_rounds=$create_rounds" >> "$results/meta.env"
create_run=0
for round in $(seq 1 "$create_rounds"); do
  order="worker queue none"
  [ $((round % 2)) = 0 ] && order="none queue worker"
  for setup in $order; do
    template="$shipped" worker=false
    [ "$setup" = none ] && template="$plain"
    [ "$setup" = worker ] && worker=true
    psql_db -d postgres -c "DROP DATABASE IF EXISTS $run_db WITH (FORCE)" \
      -c "CREATE DATABASE $run_db TEMPLATE $template STRATEGY FILE_COPY" -c "CHECKPOINT"
    # the copy's files reach the disk now, not while the run's commits wait for theirs
    sync
    DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/$run_db" COALESCE_DUPLICATES_WORKER="$worker" \
      start_server "$bin/coalesce" "$out/server_create_${setup}_$round.log"
    "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op create \
      --tag "$((create_run % 100))" --concurrency "$concurrency" --threads 2 --duration "$duration" --warmup "$warmup" \
      --server-pid "$server_pid" --out "$results/create_${setup}_$round.json"
    [ "$setup" = worker ] && echo "create_backlog_$round=$(psql_db -d "$run_db" -tAc \
      "SELECT count(*) FROM contact_duplicate_refreshes")" >> "$results/meta.env"
    stop_server
    create_run=$((create_run + 1))
  done
done

# --- what identities cost a merge (scripts/bench/identity-cost.sh) ------------------------------------------
# shellcheck source=scripts/bench/identity-cost.sh
source scripts/bench/identity-cost.sh

# the main server again, for what follows (its peak memory is the larger of the two servers')
start_server "$bin/coalesce" "$out/server_reads.log"

# --- cost as an account grows: lists and searches of one large account, one request at a time ----------------
# A second account of $large contacts (no children: lists and searches read contacts only). Each case is asked
# 8 times in a row over one connection at a time (curl); the first answer warms the caches and is dropped, the
# report takes the median of the other 7. The cases: list pages (first, deep, last) in the default order and
# each sort key, and searches from one hit to most of the account.
if [ "$large" -gt 0 ]; then
  large_account="$("$bin/coalesce" admin create-account --name "Large" 2>/dev/null | json_field id)"
  large_token="$("$bin/coalesce" admin create-user --account-id "$large_account" --name "Large" \
    --email large@bench.invalid --role administrator 2>/dev/null | json_field access_token)"
  log "seeding $large contacts into account $large_account"
  started=$SECONDS
  psql_db -d "$dbname" -v account="$large_account" -v n="$large" -f scripts/bench/seed-large.sql
  # as autovacuum would soon after such a load (it visits a table after 20% new rows), so that counts and deep
  # pages read the indexes alone; every table the seed wrote, so that no autovacuum of the seed's rows (a
  # million queue rows deleted, a million count changes) runs on the same cores while the reads are timed
  psql_db -d "$dbname" -c "VACUUM ANALYZE"
  log "seeded in $((SECONDS - started)) s"
  # a Smith halfway through the account, and the pages of the seeded suggestions (seed-large.sql)
  smith="$(q "SELECT id FROM contacts WHERE account_id = $large_account AND name LIKE '% Smith' ORDER BY id OFFSET $((large / 20)) LIMIT 1")"
  pair_pages=$(( ($(q "SELECT count(*) FROM contact_duplicate_pairs WHERE account_id = $large_account") + 14) / 15 ))
  pages=$(( (large + 14) / 15 ))
  deep=$(( pages * 9 / 10 ))
  # the middle page walks the most index entries (a page is counted off from the nearer end of its order)
  middle=$(( (pages + 1) / 2 ))
  probe=$(( large / 2 + 7 ))
  # A server samples the searchable text on its first search, in the background, and looks long terms up by
  # their rarest pieces from then on (README, "One trigram index for search"): one search first, as a server
  # that has been serving has made, and the sample's time to land (about 0.2 s at this size).
  curl -s -o /dev/null -H "api_access_token: $large_token" \
    "$base_url/api/v1/accounts/$large_account/contacts/search?q=sample"
  sleep 2
  echo "large_contacts=$large" >> "$results/meta.env"
  : > "$results/large.tsv"
  for case in \
    "list page 1|/contacts?page=1" \
    "list page $deep|/contacts?page=$deep" \
    "list last page ($pages)|/contacts?page=$pages" \
    "list page $middle (the middle)|/contacts?page=$middle" \
    "sort=-name page 1|/contacts?sort=-name&page=1" \
    "sort=name page $deep|/contacts?sort=name&page=$deep" \
    "sort=email page 1|/contacts?sort=email&page=1" \
    "sort=phone_number page 1|/contacts?sort=phone_number&page=1" \
    "sort=last_activity_at page 1|/contacts?sort=last_activity_at&page=1" \
    "sort=-email page 1|/contacts?sort=-email&page=1" \
    "sort=-created_at page $deep|/contacts?sort=-created_at&page=$deep" \
    "search an email (1 hit)|/contacts/search?q=person$probe%40company$(( probe % 1000 )).example" \
    "search a phone number (1 hit)|/contacts/search?q=%2B1777$(printf '%08d' "$probe")" \
    "search a common surname (1 in 10)|/contacts/search?q=smith" \
    "search gmail (1 in 4)|/contacts/search?q=gmail" \
    "search gmail page 100|/contacts/search?q=gmail&page=100" \
    "search a (every contact)|/contacts/search?q=a" \
    "duplicates of a contact|/contacts/$smith/duplicates" \
    "suggested pairs page 1|/contact_duplicates?page=1" \
    "suggested pairs page $(( pair_pages * 9 / 10 ))|/contact_duplicates?page=$(( pair_pages * 9 / 10 ))" \
    "suggested pairs min_confidence=0.8|/contact_duplicates?min_confidence=0.8"; do
    label="${case%%|*}" path="${case#*|}"
    times=()
    for i in 1 2 3 4 5 6 7 8; do
      t="$(curl -s -o "$out/large_answer.json" -w '%{http_code} %{time_total}' \
        -H "api_access_token: $large_token" "$base_url/api/v1/accounts/$large_account$path")"
      [ "${t%% *}" = 200 ] || { log "large account: $label answered ${t%% *}"; cat "$out/large_answer.json" >&2; exit 1; }
      [ "$i" = 1 ] || times+=("${t#* }")
    done
    p50="$(printf '%s\n' "${times[@]}" | sort -g | sed -n 4p)"
    count="$(json_field count < "$out/large_answer.json" 2>/dev/null || echo '?')"
    printf '%s\t%s\t%.2f\t%s\n' "$label" "$path" "$(awk -v t="$p50" 'BEGIN { print t * 1000 }')" "$count" >> "$results/large.tsv"
  done
  column -t -s $'\t' "$results/large.tsv" >&2 || cat "$results/large.tsv" >&2
fi

# --- what the merge ledger costs: this build and the baseline, the same HTTP merge load, interleaved ------------
# Each run gets a freshly started server and its own fresh pairs; the order alternates (this, baseline; baseline,
# this; …) so that a drift of the machine or the database over the runs weighs on both builds alike.
if [ -n "$baseline_bin" ]; then
  echo "baseline_label=$baseline_label" >> "$results/meta.env"
  echo "baseline_rounds=$baseline_rounds" >> "$results/meta.env"
  echo "ledger_pairs=$ledger_pairs" >> "$results/meta.env"
  main_pid=$server_pid main_url=$base_url
  server_pid=""
  run=0
  for round in $(seq 1 "$baseline_rounds"); do
    order="current baseline"
    [ $((round % 2)) = 0 ] && order="baseline current"
    for build in $order; do
      binary="$bin/coalesce"
      [ "$build" = baseline ] && binary="$baseline_bin"
      start_server "$binary" "$out/server_ledger_${build}_$round.log"
      q "CHECKPOINT" >/dev/null
      "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op merge \
        --concurrency "$concurrency" --threads 2 --duration "$duration" --warmup "$warmup" --server-pid "$server_pid" \
        --pairs "$((ledger_first + 2 * ledger_pairs * run)):$ledger_pairs" --out "$results/ledger_${build}_$round.json"
      echo "ledger_loadavg_${build}_$round=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/meta.env"
      stop_server
      run=$((run + 1))
    done
  done
  server_pid=$main_pid base_url=$main_url
fi

hwm="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$server_pid/status")"
echo "server_hwm_kib=$(( hwm > first_hwm ? hwm : first_hwm ))" >> "$results/meta.env"

# --- report --------------------------------------------------------------------------------------------------
"$loadgen" report --dir "$out"
