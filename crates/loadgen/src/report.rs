//! `report`: `report.md` and `report.json` from the results `scripts/bench.sh` leaves in `DIR/results`, and the
//! tables on stdout.
//!
//! Inputs: `meta.env` (the machine and the settings), `sizes.tsv`, `http_<op>.json` and `floor_<op>.json` for
//! merge, undo, get and search, per scaling size `scaling_<n>.json` (latencies), `scaling_<n>.env` (statements
//! and rows moved, from PostgreSQL) and `statements_<n>.tsv` (pg_stat_statements' lines), and the same for the
//! undo of those merges (`scaling_undo_<n>.*`, `statements_undo_<n>.tsv`); when the ledger's cost was measured,
//! `ledger_current_<round>.json` and `ledger_baseline_<round>.json` (HTTP merge runs against this build and the
//! baseline build).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::args::Args;
use crate::stats::write_json;

const OPERATIONS: [(&str, &str); 5] = [
    ("merge", "merge (POST …/actions/contact_merge, fresh pair each)"),
    ("undo", "undo (POST …/contact_merges/{id}/undo, each merge above once)"),
    ("get", "get contact (GET …/contacts/{id})"),
    ("search", "search (GET …/contacts/search?q=, ~10 hits)"),
    ("search-identity", "search by secondary identity (GET …/contacts/search?q=, ~10 hits, only in secondary emails)"),
];

/// What the floor is, said once in the report.
const FLOOR_NOTE: &str = "The floor is pgbench (`-M prepared`, same concurrency, same run time after the same \
warm-up) sending the service's own SQL straight to PostgreSQL, one round trip per statement, on the same \
database in the same run: per merge the authentication lookup (autocommit), `BEGIN`, the `SELECT … FOR UPDATE` \
of both contacts, the one statement that moves every child (a data-modifying CTE), the `DELETE` of the mergee, the \
`UPDATE … RETURNING` of the base, the audit record and its ledger in one `INSERT` (the moved ids the moving \
statement returned travel to the client and back, as in the service), the outbox `INSERT`, the contact-inbox \
`SELECT` and `COMMIT`, each pgbench client on its own fresh pairs (`scripts/bench/floor-merge.sql`); per undo the \
authentication lookup, `BEGIN`, the record, the base `FOR UPDATE`, the record `FOR UPDATE` and its ledger, the \
check that the mergee's email, phone and identifier are free, the base's `UPDATE` back, the mergee's `INSERT` \
under its own id, the one statement that moves everything back, both contacts' inboxes, the record marked undone, \
the outbox `INSERT` and `COMMIT`, on the floor's own merges (`floor-undo.sql`); per read the authentication lookup and \
the reads (`floor-get.sql`, `floor-search.sql`, `floor-search-identity.sql`), the statements PostgreSQL counts for those endpoints. Not in the \
floor: HTTP, JSON, the attribute merge in Rust, the pool's checkout (a `SELECT 1` only for a connection idle \
for more than a second, so none under load) and the thread hand-off of each request to the blocking pool and \
back.";

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn read_json(path: &str) -> Option<Value> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok())
}

fn read_env(path: &str) -> Result<Vec<(String, String)>, String> {
    Ok(read(path)?
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect())
}

fn get<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
    env.iter().find(|(k, _)| k == key).map_or("?", |(_, v)| v.as_str())
}

fn num(env: &[(String, String)], key: &str) -> Option<f64> {
    get(env, key).parse().ok()
}

fn ms(v: &Value, key: &str) -> String {
    v["latency_ms"][key].as_f64().map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"))
}

fn missing(v: &Value) -> bool {
    v["endpoint_missing"].as_bool() == Some(true)
}

fn measured(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !missing(v) && v["requests"].as_u64().unwrap_or(0) > 0)
}

struct Check {
    name: &'static str,
    status: &'static str,
    detail: String,
}

impl Check {
    fn new(name: &'static str, pass: Option<bool>, detail: String) -> Self {
        let status = match pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "n/a",
        };
        Self { name, status, detail }
    }
}

struct ScalingRow {
    size: u64,
    merges: u64,
    rows_moved: f64,
    p50: Option<f64>,
    max: Option<f64>,
    statements: Option<f64>,
    errors: u64,
    statement_lines: Vec<(String, String)>,
    undos: u64,
    undo_p50: Option<f64>,
    undo_max: Option<f64>,
    undo_statements: Option<f64>,
    undo_errors: u64,
    undo_statement_lines: Vec<(String, String)>,
}

/// pg_stat_statements' lines as `calls<TAB>query`.
fn read_statements(path: &str) -> Vec<(String, String)> {
    read(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect()
}

/// The HTTP merge runs against this build and against the baseline build (the one before the ledger).
struct LedgerCost {
    baseline_label: String,
    current: Vec<f64>,
    baseline: Vec<f64>,
    current_errors: u64,
    baseline_errors: u64,
}

impl LedgerCost {
    fn read(results: &str, meta: &[(String, String)]) -> Option<Self> {
        let rounds = num(meta, "baseline_rounds")? as u64;
        let mut cost = Self {
            baseline_label: get(meta, "baseline_label").to_owned(),
            current: Vec::new(),
            baseline: Vec::new(),
            current_errors: 0,
            baseline_errors: 0,
        };
        for round in 1..=rounds {
            for build in ["current", "baseline"] {
                let Some(v) = read_json(&format!("{results}/ledger_{build}_{round}.json")) else { continue };
                let (runs, errors) = if build == "current" {
                    (&mut cost.current, &mut cost.current_errors)
                } else {
                    (&mut cost.baseline, &mut cost.baseline_errors)
                };
                runs.push(v["throughput"].as_f64().unwrap_or(0.0));
                *errors += v["errors"].as_u64().unwrap_or(0);
            }
        }
        (!cost.current.is_empty() && !cost.baseline.is_empty()).then_some(cost)
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// Merges/s with the ledger over merges/s without it.
    fn ratio(&self) -> f64 {
        let base = Self::mean(&self.baseline);
        if base > 0.0 {
            Self::mean(&self.current) / base
        } else {
            0.0
        }
    }

    /// The spread of a build's runs: (max − min) / mean.
    fn spread(v: &[f64]) -> f64 {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        let mean = Self::mean(v);
        if mean > 0.0 {
            (hi - lo) / mean
        } else {
            0.0
        }
    }
}

pub fn run(args: &Args) -> Result<(), String> {
    let dir = args.req("dir")?;
    let results = format!("{dir}/results");
    let meta = read_env(&format!("{results}/meta.env"))?;
    let sizes: Vec<Vec<String>> = read(&format!("{results}/sizes.tsv"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();

    // --- operations -------------------------------------------------------------------------------------------
    let mut operations = Vec::new();
    for (op, label) in OPERATIONS {
        let service = read_json(&format!("{results}/http_{op}.json"));
        let floor = read_json(&format!("{results}/floor_{op}.json"));
        let ratio = match (measured(service.as_ref()), measured(floor.as_ref())) {
            (Some(s), Some(f)) => {
                let (s, f) = (s["throughput"].as_f64().unwrap_or(0.0), f["throughput"].as_f64().unwrap_or(0.0));
                (f > 0.0).then(|| s / f)
            }
            _ => None,
        };
        operations.push((op, label, service, floor, ratio));
    }

    // --- scaling ----------------------------------------------------------------------------------------------
    let mut scaling = Vec::new();
    let mut entries: Vec<u64> = std::fs::read_dir(&results)
        .map_err(|e| format!("cannot list {results}: {e}"))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("scaling_")?.strip_suffix(".json")?.parse().ok()
        })
        .collect();
    entries.sort_unstable();
    for size in entries {
        let lat = read_json(&format!("{results}/scaling_{size}.json")).unwrap_or(Value::Null);
        let env = read_env(&format!("{results}/scaling_{size}.env")).unwrap_or_default();
        let merges = num(&env, "merges").unwrap_or(0.0);
        let per = |k: &str| if merges > 0.0 { num(&env, k).map(|v| v / merges) } else { None };
        let rows_moved = ["conversations", "messages", "contact_inboxes", "notes", "labels"]
            .iter()
            .filter_map(|k| per(k))
            .sum::<f64>();
        let statement_lines = read_statements(&format!("{results}/statements_{size}.tsv"));
        let undo_lat = read_json(&format!("{results}/scaling_undo_{size}.json")).unwrap_or(Value::Null);
        let undo_env = read_env(&format!("{results}/scaling_undo_{size}.env")).unwrap_or_default();
        let undos = num(&undo_env, "undos").unwrap_or(0.0);
        scaling.push(ScalingRow {
            undos: undos as u64,
            undo_p50: undo_lat["latency_ms"]["p50"].as_f64(),
            undo_max: undo_lat["latency_ms"]["max"].as_f64(),
            undo_statements: num(&undo_env, "statements_total").filter(|_| undos > 0.0).map(|s| s / undos),
            undo_errors: undo_lat["errors"].as_u64().unwrap_or(0),
            undo_statement_lines: read_statements(&format!("{results}/statements_undo_{size}.tsv")),
            size,
            merges: merges as u64,
            rows_moved,
            p50: lat["latency_ms"]["p50"].as_f64(),
            max: lat["latency_ms"]["max"].as_f64(),
            statements: per("statements_total"),
            errors: lat["errors"].as_u64().unwrap_or(0),
            statement_lines,
        });
    }

    // --- checks -----------------------------------------------------------------------------------------------
    let mut checks = Vec::new();
    let ratio_of = |op: &str| operations.iter().find(|o| o.0 == op).and_then(|o| o.4);
    let missing_of = |op: &str| operations.iter().find(|o| o.0 == op).and_then(|o| o.2.as_ref()).is_some_and(missing);
    for (op, name, min) in [("merge", "merge throughput ≥ 0.7 × floor", 0.7), ("get", "GET contact ≥ 0.5 × floor", 0.5)]
    {
        checks.push(match ratio_of(op) {
            Some(r) => Check::new(name, Some(r >= min), format!("{r:.2} × floor")),
            None if missing_of(op) => Check::new(name, None, "endpoint missing in this build".into()),
            None => Check::new(name, Some(false), "not measured".into()),
        });
    }
    let mut error_lines = Vec::new();
    for (op, _, service, floor, _) in &operations {
        for (source, v) in [("service", service), ("floor", floor)] {
            match v {
                Some(v) if v["errors"].as_u64().unwrap_or(0) > 0 => {
                    error_lines.push(format!("{source} {op}: {} {}", v["errors"], v["error_kinds"]));
                }
                Some(_) => {}
                None => error_lines.push(format!("{source} {op}: no result")),
            }
        }
    }
    for row in &scaling {
        if row.errors > 0 {
            error_lines.push(format!("scaling {}: {} errors", row.size, row.errors));
        }
        if row.undo_errors > 0 {
            error_lines.push(format!("scaling {} undo: {} errors", row.size, row.undo_errors));
        }
    }
    // Every successful merge, warm-up included, must have left its audit row, and no other merge may have.
    let merge_service = operations.first().and_then(|o| o.2.clone()).unwrap_or(Value::Null);
    let merge_floor = operations.first().and_then(|o| o.3.clone()).unwrap_or(Value::Null);
    let answered = merge_service["ok_including_warmup"].as_f64();
    let floor_done = merge_floor["ok_including_warmup"].as_f64();
    // Likewise every successful undo must have marked its record undone.
    let undo_of = |i: usize| {
        operations.iter().find(|o| o.0 == "undo").and_then(|o| if i == 0 { o.2.clone() } else { o.3.clone() })
    };
    let undone = undo_of(0).and_then(|v| v["ok_including_warmup"].as_f64());
    let floor_undone = undo_of(1).and_then(|v| v["ok_including_warmup"].as_f64());
    for (who, what, done, recorded) in [
        ("service", "merges", answered, num(&meta, "http_merges_recorded")),
        ("floor", "merges", floor_done, num(&meta, "floor_merges_recorded")),
        ("service", "undos", undone, num(&meta, "http_undos_recorded")),
        ("floor", "undos", floor_undone, num(&meta, "floor_undos_recorded")),
    ] {
        if let (Some(d), Some(r)) = (done, recorded) {
            if (r - d).abs() > 0.5 {
                error_lines.push(format!("{who}: {d} {what} succeeded but {r} records show it"));
            }
        }
    }
    checks.push(Check::new(
        "zero errors",
        Some(error_lines.is_empty()),
        if error_lines.is_empty() {
            format!(
                "no errors; each of the {} merges answered 200 (and of the floor's {} merges) has its audit row, \
                 each of the {} undos answered 200 (and of the floor's {}) marked its record undone",
                answered.map_or_else(|| "?".to_owned(), |a| format!("{a}")),
                floor_done.map_or_else(|| "?".to_owned(), |a| format!("{a}")),
                undone.map_or_else(|| "?".to_owned(), |a| format!("{a}")),
                floor_undone.map_or_else(|| "?".to_owned(), |a| format!("{a}"))
            )
        } else {
            error_lines.join("; ")
        },
    ));
    let counts: Vec<f64> = scaling.iter().filter_map(|r| r.statements).collect();
    let constant = !counts.is_empty() && counts.iter().all(|c| (c - counts[0]).abs() < 0.01);
    checks.push(Check::new(
        "statements per merge constant",
        (!counts.is_empty()).then_some(constant),
        counts.iter().map(|c| format!("{c}")).collect::<Vec<_>>().join(", "),
    ));
    let undo_counts: Vec<f64> = scaling.iter().filter_map(|r| r.undo_statements).collect();
    let undo_constant = !undo_counts.is_empty() && undo_counts.iter().all(|c| (c - undo_counts[0]).abs() < 0.01);
    checks.push(Check::new(
        "statements per undo constant",
        (!undo_counts.is_empty()).then_some(undo_constant),
        undo_counts.iter().map(|c| format!("{c}")).collect::<Vec<_>>().join(", "),
    ));
    // The floor must send what the service sends: as many statements per merge and per undo.
    let floors = [
        ("merge", counts.first(), num(&meta, "floor_merge_statements")),
        ("undo", undo_counts.first(), num(&meta, "floor_undo_statements")),
    ];
    let same = floors
        .iter()
        .all(|(_, service, floor)| matches!((service, floor), (Some(s), Some(f)) if (*s - f).abs() < 0.01));
    checks.push(Check::new(
        "the floor sends the service's statements",
        floors.iter().all(|(_, s, f)| s.is_some() && f.is_some()).then_some(same),
        floors
            .iter()
            .map(|(op, s, f)| {
                let show = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v}"));
                format!("{op}: service {}, floor {}", show(s.copied()), show(*f))
            })
            .collect::<Vec<_>>()
            .join("; "),
    ));
    let ledger = LedgerCost::read(&results, &meta);
    checks.push(match &ledger {
        Some(l) => Check::new(
            "the ledger costs ≤ 10% of merge throughput",
            Some(l.ratio() >= 0.9),
            format!(
                "{:.0} merges/s with it, {:.0} without ({}): {:.2} ×, {:+.1}%",
                LedgerCost::mean(&l.current),
                LedgerCost::mean(&l.baseline),
                l.baseline_label,
                l.ratio(),
                (l.ratio() - 1.0) * 100.0
            ),
        ),
        None => Check::new(
            "the ledger costs ≤ 10% of merge throughput",
            None,
            "not measured (set COALESCE_BENCH_BASELINE_BIN)".into(),
        ),
    });
    // Growth exponent between consecutive sizes: log(latency ratio) / log(rows-moved ratio); 1 is linear.
    let mut exponents = Vec::new();
    for w in scaling.windows(2) {
        if let (Some(a), Some(b)) = (w[0].p50, w[1].p50) {
            if w[1].rows_moved > w[0].rows_moved && a > 0.0 && b > 0.0 {
                exponents.push((w[0].size, w[1].size, (b / a).ln() / (w[1].rows_moved / w[0].rows_moved).ln()));
            }
        }
    }
    checks.push(Check::new(
        "latency grows no faster than linearly",
        (!exponents.is_empty()).then(|| exponents.iter().all(|e| e.2 <= 1.1)),
        exponents.iter().map(|(a, b, e)| format!("{a}→{b}: exponent {e:.2}")).collect::<Vec<_>>().join(", ")
            + " (latency ∝ rows^exponent; ≤ 1.1 passes)",
    ));
    let peak_load = operations.iter().filter_map(|o| o.2.as_ref()?["peak_rss_kib"].as_u64()).max();
    let hwm = num(&meta, "server_hwm_kib").map(|v| v as u64);
    checks.push(Check::new(
        "server RSS under load < 64 MiB",
        peak_load.map(|p| p < 64 * 1024),
        format!(
            "peak {} sampled under load; VmHWM over the whole run {}",
            peak_load.map_or("?".into(), mib),
            hwm.map_or("?".into(), mib)
        ),
    ));
    let exhausted: Vec<&str> = operations
        .iter()
        .filter(|o| o.0 != "undo")
        .filter(|o| [&o.2, &o.3].iter().any(|v| v.as_ref().is_some_and(|v| v["pairs_exhausted"] == true)))
        .map(|o| o.0)
        .collect();
    // The undo has as many merges to undo as the merge run recorded: it may finish them before its time is up,
    // and is then measured up to its last answer.
    let undo_ran_out = operations
        .iter()
        .filter(|o| o.0 == "undo")
        .filter_map(|o| o.2.as_ref())
        .find(|v| v["pairs_exhausted"] == true)
        .map(|v| v["elapsed_s"].as_f64().unwrap_or(0.0));

    // --- markdown ---------------------------------------------------------------------------------------------
    let mut md = String::new();
    let m = |k: &str| get(&meta, k).to_owned();
    let _ = writeln!(md, "# Coalesce benchmark ({} run)\n", m("mode"));
    let _ = writeln!(md, "{} · commit `{}` · {} build\n", m("date"), m("commit"), m("profile"));
    let _ = writeln!(
        md,
        "Machine: {} cores ({}), {} RAM, Linux {}; load average before the run {}.  \nPostgreSQL {} on the same \
         machine: fsync={}, synchronous_commit={}, shared_buffers={}.  \nLoad: {} connections, {} s per operation \
         after {} s of warm-up. Server: `coalesce serve`, pool size {}, workers {}, RUST_LOG {}.\n",
        m("nproc"),
        m("cpu"),
        m("memory"),
        m("kernel"),
        m("loadavg_before"),
        m("postgres"),
        m("fsync"),
        m("synchronous_commit"),
        m("shared_buffers"),
        m("concurrency"),
        m("duration_s"),
        m("warmup_s"),
        m("pool_size"),
        m("workers"),
        m("rust_log"),
    );
    let _ = writeln!(md, "## Data\n\n| table | rows | size |\n|---|---:|---:|");
    for s in &sizes {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            s.first().map_or("", String::as_str),
            s.get(1).map_or("", String::as_str),
            s.get(2).map_or("", String::as_str)
        );
    }
    let _ = writeln!(
        md,
        "\nThe rows are the population of {} contacts, {} merge pairs for the service and {} for the floor (each \
         contact with one contact inbox, two conversations of two messages, one note and two labels), {}the \
         scaling cases.\n",
        m("contacts"),
        m("pairs"),
        m("pairs"),
        match (num(&meta, "ledger_pairs"), num(&meta, "baseline_rounds")) {
            (Some(p), Some(r)) => format!("{} pairs for the ledger's cost ({} per run), ", p * 2.0 * r, p),
            _ => String::new(),
        }
    );
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| operation | service req/s | p50 ms | p95 ms | p99 ms | errors | floor tx/s | floor p50 | floor p95 | floor p99 \
         | service/floor |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (_, label, service, floor, ratio) in &operations {
        let floor_cells = match floor {
            Some(f) => format!(
                "{:.0} | {} | {} | {}",
                f["throughput"].as_f64().unwrap_or(0.0),
                ms(f, "p50"),
                ms(f, "p95"),
                ms(f, "p99")
            ),
            None => "– | – | – | –".into(),
        };
        let service_cells = match service {
            Some(s) if missing(s) => "endpoint missing | – | – | – | –".to_owned(),
            Some(s) => format!(
                "{:.0} | {} | {} | {} | {}",
                s["throughput"].as_f64().unwrap_or(0.0),
                ms(s, "p50"),
                ms(s, "p95"),
                ms(s, "p99"),
                s["errors"]
            ),
            None => "not run | – | – | – | –".into(),
        };
        let ratio = ratio.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}"));
        let _ = writeln!(table, "| {label} | {service_cells} | {floor_cells} | {ratio} |");
    }
    let _ = writeln!(md, "## Service vs floor\n\n{table}");
    let cpu: Vec<String> = operations
        .iter()
        .filter_map(|(op, _, service, _, _)| {
            let v = service.as_ref().filter(|v| !missing(v))?["server_cpu_ms_per_request"].as_f64()?;
            Some(format!("{op} {v:.2} ms"))
        })
        .collect();
    if !cpu.is_empty() {
        let _ = writeln!(
            md,
            "Server CPU time per request (user + system, from /proc): {}. On this machine the load generator, \
             the server and PostgreSQL share the same cores, so every millisecond the service spends is taken \
             from the database.\n",
            cpu.join(", ")
        );
    }
    let _ = writeln!(
        md,
        "Peak server RSS under load {}; VmHWM over the whole run {}.{}\n",
        peak_load.map_or("?".into(), mib),
        hwm.map_or("?".into(), mib),
        if exhausted.is_empty() {
            String::new()
        } else {
            format!(" **Pairs ran out** for {} (raise COALESCE_BENCH_PAIRS).", exhausted.join(", "))
        }
    );
    if let Some(s) = undo_ran_out {
        let _ = writeln!(
            md,
            "The service undid every merge the merge run had recorded before its time was up: its undo rate is \
             measured over the {s:.1} s up to its last answer.\n"
        );
    }
    let _ = writeln!(md, "{FLOOR_NOTE}\n");
    let mut scale = String::new();
    let _ = writeln!(
        scale,
        "| conversations owned by the mergee | rows moved per merge | merges | latency p50 ms | max ms | statements per \
         merge | undos | undo p50 ms | undo max ms | statements per undo |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in &scaling {
        let f = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"));
        let _ = writeln!(
            scale,
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.size,
            r.rows_moved,
            r.merges,
            f(r.p50),
            f(r.max),
            r.statements.map_or_else(|| "–".to_owned(), |s| format!("{s}")),
            r.undos,
            f(r.undo_p50),
            f(r.undo_max),
            r.undo_statements.map_or_else(|| "–".to_owned(), |s| format!("{s}"))
        );
    }
    let _ = writeln!(
        md,
        "## Scaling: one merge at a time, nothing else running\n\nEach mergee owns N conversations with one message \
         each; rows moved counts conversations and messages. Statements are counted by PostgreSQL \
         (pg_stat_statements, reset before each size): everything the service sent for the merges, including \
         authentication, the pool's checkout checks and transaction control. Then the same merges are undone, \
         one at a time, counted the same way.\n\n{scale}"
    );
    let mut ledger_md = String::new();
    if let Some(l) = &ledger {
        let runs = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            ledger_md,
            "| build | merges/s per run | mean | spread (max − min) / mean | errors |\n|---|---|---:|---:|---:|\n\
             | this build (ledger) | {} | {:.0} | {:.1}% | {} |\n| {} | {} | {:.0} | {:.1}% | {} |\n\n\
             With the ledger: {:.2} × the merges/s without it ({:+.1}%).",
            runs(&l.current),
            LedgerCost::mean(&l.current),
            LedgerCost::spread(&l.current) * 100.0,
            l.current_errors,
            l.baseline_label,
            runs(&l.baseline),
            LedgerCost::mean(&l.baseline),
            LedgerCost::spread(&l.baseline) * 100.0,
            l.baseline_errors,
            l.ratio(),
            (l.ratio() - 1.0) * 100.0
        );
        let _ = writeln!(
            md,
            "## What the ledger costs\n\nThe same HTTP merge load (fresh pairs, same concurrency, duration and \
             warm-up) against this build and against the build before merges kept a ledger, on the same database, \
             a freshly started server per run, the runs interleaved.\n\n{ledger_md}"
        );
    }
    let mut targets = String::new();
    for c in &checks {
        let _ = writeln!(targets, "- **{}** {}: {}", c.status, c.name, c.detail);
    }
    let _ = writeln!(md, "## Targets\n\n{targets}");
    if let Some(first) = scaling.first() {
        let _ = writeln!(
            md,
            "## The statements of {} merge(s), as PostgreSQL counted them (size {})\n\n| calls | statement \
             |\n|---:|---|",
            first.merges, first.size
        );
        for (calls, query) in &first.statement_lines {
            let mut q: String = query.chars().take(140).collect();
            if q.len() < query.len() {
                q.push('…');
            }
            let _ = writeln!(md, "| {calls} | `{}` |", q.replace('|', "\\|").replace('`', "'"));
        }
        let _ = writeln!(
            md,
            "\n## The statements of {} undo(s), as PostgreSQL counted them (size {})\n\n| calls | statement \
             |\n|---:|---|",
            first.undos, first.size
        );
        for (calls, query) in &first.undo_statement_lines {
            let mut q: String = query.chars().take(140).collect();
            if q.len() < query.len() {
                q.push('…');
            }
            let _ = writeln!(md, "| {calls} | `{}` |", q.replace('|', "\\|").replace('`', "'"));
        }
    }

    // --- json -------------------------------------------------------------------------------------------------
    let report = json!({
        "meta": meta.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "sizes": sizes,
        "operations": operations.iter().map(|(op, label, s, f, r)| json!({
            "op": op, "label": label, "service": s, "floor": f, "service_over_floor": r,
        })).collect::<Vec<_>>(),
        "floor_includes": FLOOR_NOTE,
        "scaling": scaling.iter().map(|r| json!({
            "conversations_owned": r.size, "rows_moved_per_merge": r.rows_moved, "merges": r.merges,
            "latency_p50_ms": r.p50, "latency_max_ms": r.max, "statements_per_merge": r.statements,
            "errors": r.errors,
            "undos": r.undos, "undo_latency_p50_ms": r.undo_p50, "undo_latency_max_ms": r.undo_max,
            "statements_per_undo": r.undo_statements, "undo_errors": r.undo_errors,
            "undo_statements": r.undo_statement_lines.iter().map(|(c, q)| json!({"calls": c, "query": q})).collect::<Vec<_>>(),
            "statements": r.statement_lines.iter().map(|(c, q)| json!({"calls": c, "query": q})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "peak_rss_kib_under_load": peak_load,
        "server_hwm_kib": hwm,
        "pairs_exhausted": exhausted,
        "undo_ran_out_after_s": undo_ran_out,
        "ledger_cost": ledger.as_ref().map(|l| json!({
            "baseline": l.baseline_label,
            "merges_per_s_with_ledger": l.current, "merges_per_s_without_ledger": l.baseline,
            "mean_with_ledger": LedgerCost::mean(&l.current), "mean_without_ledger": LedgerCost::mean(&l.baseline),
            "spread_with_ledger": LedgerCost::spread(&l.current), "spread_without_ledger": LedgerCost::spread(&l.baseline),
            "errors_with_ledger": l.current_errors, "errors_without_ledger": l.baseline_errors,
            "with_over_without": l.ratio(),
        })),
        "checks": checks.iter().map(|c| json!({"check": c.name, "status": c.status, "detail": c.detail}))
            .collect::<Vec<_>>(),
    });
    std::fs::write(format!("{dir}/report.md"), &md).map_err(|e| format!("cannot write {dir}/report.md: {e}"))?;
    write_json(&format!("{dir}/report.json"), &report)?;

    println!("\n{table}\n{scale}\n{ledger_md}\n{targets}");
    println!("Report: {dir}/report.md and {dir}/report.json");
    Ok(())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
