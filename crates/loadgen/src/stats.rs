//! One operation's result, as written by `http` and `pgbench-log` and read by `report`.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Latencies in microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string())
}

/// Counts and latencies of one run of one operation.
#[derive(Default)]
pub struct Tally {
    pub ok: u64,
    pub empty: u64,
    pub route_missing: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.empty += other.empty;
        self.route_missing += other.route_missing;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_insert(0) += n;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

pub struct Summary<'a> {
    pub op: &'a str,
    pub source: &'a str,
    pub concurrency: u64,
    pub elapsed_s: f64,
    pub tally: &'a Tally,
    pub hist: &'a Histogram<u64>,
    pub extra: Value,
}

fn ms(us: u64) -> f64 {
    (us as f64) / 1000.0
}

impl Summary<'_> {
    pub fn to_json(&self) -> Value {
        let t = self.tally;
        let errors = t.error_count();
        // Every answer was "no route": the endpoint is not in this build. Not an error of the benchmark.
        let endpoint_missing = t.route_missing > 0 && t.ok == 0 && errors == 0;
        let mut error_kinds: BTreeMap<String, u64> = t.errors.clone();
        if !endpoint_missing && t.route_missing > 0 {
            error_kinds.insert("404 route_not_found".into(), t.route_missing);
        }
        let errors = if endpoint_missing { 0 } else { errors + t.route_missing };
        let requests = t.ok + errors;
        let throughput = if self.elapsed_s > 0.0 { requests as f64 / self.elapsed_s } else { 0.0 };
        let h = self.hist;
        let latency = if h.is_empty() {
            Value::Null
        } else {
            json!({
                "p50": ms(h.value_at_quantile(0.50)),
                "p95": ms(h.value_at_quantile(0.95)),
                "p99": ms(h.value_at_quantile(0.99)),
                "max": ms(h.max()),
                "mean": h.mean() / 1000.0,
            })
        };
        let mut out = json!({
            "op": self.op,
            "source": self.source,
            "concurrency": self.concurrency,
            "elapsed_s": self.elapsed_s,
            "requests": requests,
            "ok": t.ok,
            "errors": errors,
            "error_kinds": error_kinds,
            "empty_results": t.empty,
            "endpoint_missing": endpoint_missing,
            "throughput": throughput,
            "latency_ms": latency,
        });
        if let (Some(o), Some(extra)) = (out.as_object_mut(), self.extra.as_object()) {
            for (k, v) in extra {
                o.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

pub fn write_json(path: &str, value: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {path}: {e}"))
}
