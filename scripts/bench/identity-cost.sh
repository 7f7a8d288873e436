# Sourced by scripts/bench.sh after the create-cost runs, with its variables and functions (psql_db, q,
# start_server, stop_server, the templates $shipped and $plain, $run_db, …): what identities cost a merge.
# It drops the templates when done.
# --- what identities cost a merge: the same HTTP merge load with and without identities, interleaved -----------
# with: the shipped template (as above); without: a copy whose contact_identities and contact_identity_holders
# are empty and whose identity triggers (the primaries kept in step with the contacts' columns, the secondaries
# and the holders queued for suggestions, the merged text kept when a merged identity goes) are off: the merge
# as it would be without identities, everything else (suggestions, counts, the ledger) the same.
# Every run merges the same window of pairs, never merged before, on a fresh copy of its setup's template.
noid="${dbname}_without_identities"
psql_db -d postgres -c "DROP DATABASE IF EXISTS $noid WITH (FORCE)" -c "CREATE DATABASE $noid TEMPLATE $shipped STRATEGY FILE_COPY"
psql_db -d "$noid" \
  -c "ALTER TABLE contacts DISABLE TRIGGER contact_identities_sync_insert, DISABLE TRIGGER contact_identities_sync_update" \
  -c "ALTER TABLE contact_identities DISABLE TRIGGER contact_identities_duplicates_insert,
        DISABLE TRIGGER contact_identities_duplicates_delete, DISABLE TRIGGER contact_identities_merged_text" \
  -c "ALTER TABLE contact_identity_holders DISABLE TRIGGER contact_identity_holders_duplicates_update" \
  -c "TRUNCATE contact_identities, contact_identity_holders" -c "VACUUM ANALYZE"
# the service's range past the last pair any run merged (a pair is base, base + 1, from http_first on)
identity_first=$(( $(q "SELECT coalesce(max(mergee_contact_id), $http_first - 1) FROM contact_merges
  WHERE mergee_contact_id BETWEEN $http_first AND $((floor_first - 1))") + 1 ))
identity_pairs=$(( (floor_first - identity_first) / 2 ))
identity_rounds=0
if [ "$identity_pairs" -ge $((2 * concurrency)) ]; then
  identity_rounds="${COALESCE_BENCH_IDENTITY_ROUNDS:-2}"
fi
echo "identity_rounds=$identity_rounds" >> "$results/meta.env"
echo "identity_pairs=$identity_pairs" >> "$results/meta.env"
for round in $(seq 1 "$identity_rounds"); do
  order="with without"
  [ $((round % 2)) = 0 ] && order="without with"
  for setup in $order; do
    template="$shipped"
    [ "$setup" = without ] && template="$noid"
    psql_db -d postgres -c "DROP DATABASE IF EXISTS $run_db WITH (FORCE)" \
      -c "CREATE DATABASE $run_db TEMPLATE $template STRATEGY FILE_COPY" -c "CHECKPOINT"
    sync
    DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/$run_db" start_server "$bin/coalesce" \
      "$out/server_identities_${setup}_$round.log"
    "$loadgen" http --base-url "$base_url" --token "$token" --account "$account" --op merge \
      --pairs "$identity_first:$identity_pairs" --concurrency "$concurrency" --threads 2 --duration "$duration" \
      --warmup "$warmup" --server-pid "$server_pid" --out "$results/identities_${setup}_$round.json"
    stop_server
  done
done
psql_db -d postgres -c "DROP DATABASE IF EXISTS $run_db WITH (FORCE)" -c "DROP DATABASE $shipped" \
  -c "DROP DATABASE $plain" -c "DROP DATABASE $noid"
