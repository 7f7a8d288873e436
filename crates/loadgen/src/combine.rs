//! `coalesce-loadgen combine --out OUT A.json B.json …`: one result from runs of the same operation (the same
//! shape as `http` and `pgbench-log` write), for an operation measured in several rounds.
//!
//! The benchmark measures the merges in two rounds, the service first in one and last in the other, because
//! the first heavy writes after the seed run measurably slower than the same writes a minute later (a second
//! service run after the floors did 1.35 × the first in one run): whichever side goes first would carry
//! that alone. Combined: counts and elapsed time add up, so throughput is every request over the time of
//! every run; the latency percentiles are the runs' own, weighted by their requests (the runs are not merged
//! sample by sample); maxima are the largest; flags are set when set in any run. `throughputs` keeps each run's.

use std::fs;

use serde_json::{json, Map, Value};

use crate::args::Args;

pub fn run(args: &Args) -> Result<(), String> {
    let out = args.req("out")?;
    let runs: Vec<Value> = args
        .positional
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
        })
        .collect::<Result<_, String>>()?;
    let combined = combine(&runs).ok_or("combine needs at least one result file")?;
    let text = serde_json::to_string_pretty(&combined).map_err(|e| e.to_string())?;
    fs::write(out, text + "\n").map_err(|e| format!("{out}: {e}"))
}

/// The runs as one (see the module's documentation); `None` for no runs.
pub(crate) fn combine(runs: &[Value]) -> Option<Value> {
    let first = runs.first()?;
    let sum = |key: &str| runs.iter().filter_map(|r| r[key].as_f64()).sum::<f64>();
    // counts stay integers, as each run writes them (readers take them with `as_u64`)
    let count = |key: &str| runs.iter().filter_map(|r| r[key].as_u64()).sum::<u64>();
    let any = |key: &str| runs.iter().any(|r| r[key].as_bool() == Some(true));
    let requests = count("requests");
    // weighted by each run's requests
    let weighted = |value: &dyn Fn(&Value) -> Option<f64>| {
        let (total, weight) = runs.iter().fold((0.0, 0.0), |(t, w), r| match (value(r), r["requests"].as_f64()) {
            (Some(v), Some(n)) => (t + v * n, w + n),
            _ => (t, w),
        });
        (weight > 0.0).then(|| total / weight)
    };
    let mut errors = Map::new();
    for r in runs {
        for (kind, n) in r["error_kinds"].as_object().into_iter().flatten() {
            let before = errors.get(kind).and_then(Value::as_u64).unwrap_or(0);
            errors.insert(kind.clone(), json!(before + n.as_u64().unwrap_or(0)));
        }
    }
    let mut latency = Map::new();
    for p in ["p50", "p95", "p99", "mean"] {
        if let Some(v) = weighted(&|r: &Value| r["latency_ms"][p].as_f64()) {
            latency.insert(p.into(), json!(v));
        }
    }
    if let Some(m) = runs.iter().filter_map(|r| r["latency_ms"]["max"].as_f64()).reduce(f64::max) {
        latency.insert("max".into(), json!(m));
    }
    let elapsed = sum("elapsed_s");
    let mut combined = first.clone();
    let fields = [
        ("elapsed_s", json!(elapsed)),
        ("requests", json!(requests)),
        ("ok", json!(count("ok"))),
        ("errors", json!(count("errors"))),
        ("error_kinds", Value::Object(errors)),
        ("empty_results", json!(count("empty_results"))),
        ("endpoint_missing", json!(any("endpoint_missing"))),
        ("throughput", json!(if elapsed > 0.0 { sum("requests") / elapsed } else { 0.0 })),
        ("latency_ms", Value::Object(latency)),
        ("pairs_exhausted", json!(any("pairs_exhausted"))),
        ("ok_including_warmup", json!(count("ok_including_warmup"))),
        ("throughputs", Value::Array(runs.iter().map(|r| r["throughput"].clone()).collect())),
    ];
    let Value::Object(map) = &mut combined else { return None };
    for (key, value) in fields {
        map.insert(key.into(), value);
    }
    for key in ["peak_rss_kib", "server_hwm_kib", "most_transactions_per_client"] {
        if let Some(m) = runs.iter().filter_map(|r| r[key].as_u64()).max() {
            map.insert(key.into(), json!(m));
        }
    }
    if let Some(cpu) = weighted(&|r: &Value| r["server_cpu_ms_per_request"].as_f64()) {
        map.insert("server_cpu_ms_per_request".into(), json!(cpu));
    }
    Some(combined)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn run(requests: u64, elapsed: f64, p50: f64, max: f64, rss: u64, exhausted: bool) -> Value {
        json!({
            "op": "merge", "source": "http", "concurrency": 16, "elapsed_s": elapsed, "requests": requests,
            "ok": requests, "errors": 1, "error_kinds": {"500": 1}, "empty_results": 0, "endpoint_missing": false,
            "throughput": requests as f64 / elapsed, "latency_ms": {"p50": p50, "p95": p50 * 2.0, "p99": p50 * 3.0,
            "max": max, "mean": p50}, "pairs_exhausted": exhausted, "peak_rss_kib": rss,
            "server_cpu_ms_per_request": p50 / 10.0, "ok_including_warmup": requests + 10, "warmup_s": 2.0
        })
    }

    #[test]
    fn two_runs_make_one_over_their_whole_time() {
        let c = combine(&[run(1000, 10.0, 10.0, 40.0, 30, false), run(3000, 10.0, 20.0, 35.0, 32, true)]).unwrap();
        assert_eq!(c["requests"], json!(4000));
        assert_eq!(c["elapsed_s"], json!(20.0));
        assert_eq!(c["throughput"], json!(200.0), "every request over the time of both runs");
        assert_eq!(c["throughputs"], json!([100.0, 300.0]));
        assert_eq!(c["latency_ms"]["p50"], json!(17.5), "weighted by requests: (10 × 1000 + 20 × 3000) / 4000");
        assert_eq!(c["latency_ms"]["max"], json!(40.0));
        assert_eq!((c["errors"].clone(), c["error_kinds"]["500"].clone()), (json!(2), json!(2)));
        assert_eq!(c["ok_including_warmup"], json!(4020));
        assert_eq!(c["peak_rss_kib"], json!(32));
        assert_eq!(c["pairs_exhausted"], json!(true));
        assert_eq!((c["op"].clone(), c["warmup_s"].clone()), (json!("merge"), json!(2.0)));
    }

    #[test]
    fn no_runs_make_nothing() {
        assert!(combine(&[]).is_none());
    }
}
