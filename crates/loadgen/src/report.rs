//! `report`: `report.md` and `report.json` from the results `scripts/bench.sh` leaves in `DIR/results`, and the
//! tables on stdout.
//!
//! Inputs: `meta.env` (the machine and the settings), `sizes.tsv`, `http_<op>.json` and `floor_<op>.json` for
//! merge, merge5, undo, get and search, `floor_<op>_fixed.json` for merge, get and search (the fixed floors), the
//! service's statements per read (`service_<op>_statements` in `meta.env`), per scaling size `scaling_<n>.json` (latencies), `scaling_<n>.env` (statements
//! and rows moved, from PostgreSQL) and `statements_<n>.tsv` (pg_stat_statements' lines), and the same for the
//! undo of those merges (`scaling_undo_<n>.*`, `statements_undo_<n>.tsv`); when the ledger's cost was measured,
//! `ledger_current_<round>.json` and `ledger_baseline_<round>.json` (HTTP merge runs against this build and the
//! baseline build); what suggestions cost a create and identities a merge (`create_<setup>_<round>.json`,
//! `identities_<setup>_<round>.json`, `report/setup_cost.rs`).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::args::Args;
use crate::stats::write_json;

mod inputs;
mod large;
mod notes;
mod scaling;
mod setup_cost;

use inputs::{
    get, measured, mib, missing, ms, num, read, read_env, read_json, read_statements, Check, LedgerCost, ScalingRow,
};
use notes::{FIXED_FLOOR_NOTE, FLOOR_NOTE};
use setup_cost::SetupCost;

const OPERATIONS: [(&str, &str); 6] = [
    ("merge", "merge (POST …/actions/contact_merge, fresh pair each)"),
    (
        "merge5",
        "merge of 5 contacts (POST …/actions/contact_merge_many, a fresh base and 4 mergees each; no floor yet)",
    ),
    ("undo", "undo (POST …/contact_merges/{id}/undo, each merge above once)"),
    ("get", "get contact (GET …/contacts/{id})"),
    ("search", "search (GET …/contacts/search?q=, ~10 hits)"),
    ("search-identity", "search by secondary identity (GET …/contacts/search?q=, ~10 hits, only in secondary emails)"),
];

/// The operations with a fixed floor: the least round trips that do the operation's database work (one), which do
/// not follow the service's statements (`scripts/bench/floor-<op>-fixed.sql`, `fixed-floor.sql`).
const FIXED_FLOORS: [&str; 3] = ["merge", "get", "search"];

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
    // The fixed floors (the least round trips that do each operation's database work), for the operations that
    // have one: their ratio does not move when the service's statements change.
    let fixed: Vec<(&str, Option<Value>, Option<f64>)> = FIXED_FLOORS
        .iter()
        .map(|op| {
            let fixed = read_json(&format!("{results}/floor_{op}_fixed.json"));
            let service = operations.iter().find(|o| o.0 == *op).and_then(|o| o.2.clone());
            let ratio = match (measured(service.as_ref()), measured(fixed.as_ref())) {
                (Some(s), Some(f)) => {
                    let (s, f) = (s["throughput"].as_f64().unwrap_or(0.0), f["throughput"].as_f64().unwrap_or(0.0));
                    (f > 0.0).then(|| s / f)
                }
                _ => None,
            };
            (*op, fixed, ratio)
        })
        .collect();
    let fixed_of = |op: &str| fixed.iter().find(|f| f.0 == op);

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
    for op in FIXED_FLOORS {
        let name = match op {
            "merge" => "merge ≥ 0.6 × fixed floor",
            "get" => "GET contact ≥ 0.6 × fixed floor",
            _ => "search ≥ 0.6 × fixed floor",
        };
        checks.push(match fixed_of(op).and_then(|f| f.2) {
            Some(r) => Check::new(name, Some(r >= 0.6), format!("{r:.2} × fixed floor")),
            None => Check::new(name, Some(false), "not measured".into()),
        });
    }
    let mut error_lines = Vec::new();
    for (op, f, _) in &fixed {
        match f {
            Some(v) if v["errors"].as_u64().unwrap_or(0) > 0 => {
                error_lines.push(format!("fixed floor {op}: {} {}", v["errors"], v["error_kinds"]));
            }
            Some(_) => {}
            None => error_lines.push(format!("fixed floor {op}: no result")),
        }
    }
    for (op, _, service, floor, _) in &operations {
        for (source, v) in [("service", service), ("floor", floor)] {
            match v {
                Some(v) if v["errors"].as_u64().unwrap_or(0) > 0 => {
                    error_lines.push(format!("{source} {op}: {} {}", v["errors"], v["error_kinds"]));
                }
                Some(_) => {}
                // the five-contact merge has no floor (yet): only its service run must exist
                None if source == "floor" && *op == "merge5" => {}
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
    // and every five-contact merge answered 200 must have left four records, one per mergee
    let merged5 = operations
        .iter()
        .find(|o| o.0 == "merge5")
        .and_then(|o| o.2.as_ref()?["ok_including_warmup"].as_f64())
        .map(|n| n * 4.0);
    for (who, what, done, recorded) in [
        ("service", "five-contact merge records", merged5, num(&meta, "http_merge5_records")),
        ("service", "merges", answered, num(&meta, "http_merges_recorded")),
        ("floor", "merges", floor_done, num(&meta, "floor_merges_recorded")),
        (
            "fixed floor",
            "merges",
            fixed_of("merge").and_then(|f| f.1.as_ref()?["ok_including_warmup"].as_f64()),
            num(&meta, "fixed_floor_merges_recorded"),
        ),
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
    let (large_md, large_json) = match large::section(&results, &meta) {
        Some((md, check, value)) => {
            checks.push(check);
            (Some(md), Some(value))
        }
        None => (None, None),
    };
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
    let creates = SetupCost::read(&setup_cost::CREATES, &results, &meta);
    checks.push(SetupCost::check(&setup_cost::CREATES, creates.as_ref()));
    let identities = SetupCost::read(&setup_cost::IDENTITIES, &results, &meta);
    checks.push(SetupCost::check(&setup_cost::IDENTITIES, identities.as_ref()));
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
        "| operation | service req/s | p50 ms | p95 ms | p99 ms | errors | statements per request | fixed floor tx/s \
         | fixed floor p50 | service/fixed floor | same-statements floor tx/s | floor p50 | floor p95 | floor p99 \
         | service/same-statements floor |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    // The service's statements per request, as PostgreSQL counted them one request at a time.
    let statements_of = |op: &str| match op {
        "merge" => scaling.first().and_then(|r| r.statements),
        "undo" => scaling.first().and_then(|r| r.undo_statements),
        other => num(&meta, &format!("service_{other}_statements")),
    };
    for (op, label, service, floor, ratio) in &operations {
        let fixed_cells = match fixed_of(op) {
            Some((_, Some(f), r)) => format!(
                "{:.0} | {} | {}",
                f["throughput"].as_f64().unwrap_or(0.0),
                ms(f, "p50"),
                r.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}"))
            ),
            _ => "– | – | –".into(),
        };
        let mut statements = statements_of(op).map_or_else(|| "–".to_owned(), |s| format!("{s}"));
        // reads arriving together share a statement: what that makes per request under this load
        if let Some(shared) = num(&meta, &format!("service_{op}_statements_under_load")) {
            let _ = write!(statements, " ({shared} under load)");
        }
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
        let _ =
            writeln!(table, "| {label} | {service_cells} | {statements} | {fixed_cells} | {floor_cells} | {ratio} |");
    }
    let _ = writeln!(md, "## Service vs floor\n\n{table}");
    // the merges' rounds (scripts/bench.sh: service first in one, last in the other), each run's throughput
    if let Some((_, _, service, floor, _)) = operations.iter().find(|o| o.0 == "merge") {
        let fixed = fixed_of("merge").and_then(|f| f.1.clone());
        let rounds = |v: &Option<Value>| -> Option<String> {
            let runs = v.as_ref()?["throughputs"].as_array()?;
            Some(runs.iter().filter_map(Value::as_f64).map(|t| format!("{t:.0}")).collect::<Vec<_>>().join(" and "))
        };
        if let (Some(s), Some(f), Some(x)) = (rounds(service), rounds(floor), rounds(&fixed)) {
            let _ = writeln!(
                md,
                "Merges were measured in two rounds of half the run time, the service first in one and last in \
                 the other (fixed floor, same-statements floor, service), each figure above over both: the service \
                 {s}/s, the same-statements floor {f} tx/s, the fixed floor {x} tx/s.\n"
            );
        }
    }
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
    let _ = writeln!(md, "{FIXED_FLOOR_NOTE}\n\n{FLOOR_NOTE}\n");
    let scale = scaling::table(&scaling);
    let _ = writeln!(md, "{}", scaling::section(&scale));
    let ledger_md = ledger.as_ref().map(LedgerCost::table).unwrap_or_default();
    if !ledger_md.is_empty() {
        let _ = writeln!(
            md,
            "## What the ledger costs\n\nThe same HTTP merge load (fresh pairs, same concurrency, duration and \
             warm-up) against this build and against the build before merges kept a ledger, on the same database, \
             a freshly started server per run, the runs interleaved.\n\n{ledger_md}"
        );
    }
    let creates_md = creates.as_ref().map(SetupCost::section).unwrap_or_default();
    let identities_md = identities.as_ref().map(SetupCost::section).unwrap_or_default();
    let _ = write!(md, "{creates_md}{identities_md}");
    if let Some(section) = &large_md {
        let _ = writeln!(md, "{section}");
    }
    let mut targets = String::new();
    for c in &checks {
        let _ = writeln!(targets, "- **{}** {}: {}", c.status, c.name, c.detail);
    }
    let _ = writeln!(md, "## Targets\n\n{targets}");
    if let Some(first) = scaling.first() {
        let _ = write!(md, "{}", scaling::statements(first));
    }

    // --- json -------------------------------------------------------------------------------------------------
    let report = json!({
        "meta": meta.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        "sizes": sizes,
        "operations": operations.iter().map(|(op, label, s, f, r)| json!({
            "op": op, "label": label, "service": s, "floor": f, "service_over_floor": r,
            "fixed_floor": fixed_of(op).and_then(|x| x.1.clone()),
            "service_over_fixed_floor": fixed_of(op).and_then(|x| x.2),
            "service_statements_per_request": statements_of(op),
        })).collect::<Vec<_>>(),
        "fixed_floor_includes": FIXED_FLOOR_NOTE,
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
        "large_account": large_json,
        "ledger_cost": ledger.as_ref().map(|l| json!({
            "baseline": l.baseline_label,
            "merges_per_s_with_ledger": l.current, "merges_per_s_without_ledger": l.baseline,
            "mean_with_ledger": LedgerCost::mean(&l.current), "mean_without_ledger": LedgerCost::mean(&l.baseline),
            "spread_with_ledger": LedgerCost::spread(&l.current), "spread_without_ledger": LedgerCost::spread(&l.baseline),
            "errors_with_ledger": l.current_errors, "errors_without_ledger": l.baseline_errors,
            "with_over_without": l.ratio(),
        })),
        "create_cost": creates.as_ref().map(SetupCost::json),
        "identity_cost": identities.as_ref().map(SetupCost::json),
        "checks": checks.iter().map(|c| json!({"check": c.name, "status": c.status, "detail": c.detail}))
            .collect::<Vec<_>>(),
    });
    std::fs::write(format!("{dir}/report.md"), &md).map_err(|e| format!("cannot write {dir}/report.md: {e}"))?;
    write_json(&format!("{dir}/report.json"), &report)?;

    println!(
        "\n{table}\n{scale}\n{ledger_md}\n{creates_md}\n{identities_md}\n{}\n{targets}",
        large_md.unwrap_or_default()
    );
    println!("Report: {dir}/report.md and {dir}/report.json");
    Ok(())
}
