//! The report's inputs and small pieces: reading the results `scripts/bench.sh` leaves, the checks, the scaling
//! rows and the ledger's cost.

use serde_json::Value;

pub(super) fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

pub(super) fn read_json(path: &str) -> Option<Value> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok())
}

pub(super) fn read_env(path: &str) -> Result<Vec<(String, String)>, String> {
    Ok(read(path)?
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect())
}

pub(super) fn get<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
    env.iter().find(|(k, _)| k == key).map_or("?", |(_, v)| v.as_str())
}

pub(super) fn num(env: &[(String, String)], key: &str) -> Option<f64> {
    get(env, key).parse().ok()
}

pub(super) fn ms(v: &Value, key: &str) -> String {
    v["latency_ms"][key].as_f64().map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"))
}

pub(super) fn missing(v: &Value) -> bool {
    v["endpoint_missing"].as_bool() == Some(true)
}

pub(super) fn measured(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !missing(v) && v["requests"].as_u64().unwrap_or(0) > 0)
}

pub(super) struct Check {
    pub(super) name: &'static str,
    pub(super) status: &'static str,
    pub(super) detail: String,
}

impl Check {
    pub(super) fn new(name: &'static str, pass: Option<bool>, detail: String) -> Self {
        let status = match pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "n/a",
        };
        Self { name, status, detail }
    }
}

pub(super) struct ScalingRow {
    pub(super) size: u64,
    pub(super) merges: u64,
    pub(super) rows_moved: f64,
    pub(super) p50: Option<f64>,
    pub(super) max: Option<f64>,
    pub(super) statements: Option<f64>,
    pub(super) errors: u64,
    pub(super) statement_lines: Vec<(String, String)>,
    pub(super) undos: u64,
    pub(super) undo_p50: Option<f64>,
    pub(super) undo_max: Option<f64>,
    pub(super) undo_statements: Option<f64>,
    pub(super) undo_errors: u64,
    pub(super) undo_statement_lines: Vec<(String, String)>,
}

/// pg_stat_statements' lines as `calls<TAB>query`.
pub(super) fn read_statements(path: &str) -> Vec<(String, String)> {
    read(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect()
}

/// The HTTP merge runs against this build and against the baseline build (the one before the ledger).
pub(super) struct LedgerCost {
    pub(super) baseline_label: String,
    pub(super) current: Vec<f64>,
    pub(super) baseline: Vec<f64>,
    pub(super) current_errors: u64,
    pub(super) baseline_errors: u64,
}

impl LedgerCost {
    pub(super) fn read(results: &str, meta: &[(String, String)]) -> Option<Self> {
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

    pub(super) fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// Merges/s with the ledger over merges/s without it.
    pub(super) fn ratio(&self) -> f64 {
        let base = Self::mean(&self.baseline);
        if base > 0.0 {
            Self::mean(&self.current) / base
        } else {
            0.0
        }
    }

    /// The runs of both builds and their ratio, as a markdown table.
    pub(super) fn table(&self) -> String {
        let runs = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
        format!(
            "| build | merges/s per run | mean | spread (max − min) / mean | errors |\n|---|---|---:|---:|---:|\n\
             | this build (ledger) | {} | {:.0} | {:.1}% | {} |\n| {} | {} | {:.0} | {:.1}% | {} |\n\n\
             With the ledger: {:.2} × the merges/s without it ({:+.1}%).\n",
            runs(&self.current),
            Self::mean(&self.current),
            Self::spread(&self.current) * 100.0,
            self.current_errors,
            self.baseline_label,
            runs(&self.baseline),
            Self::mean(&self.baseline),
            Self::spread(&self.baseline) * 100.0,
            self.baseline_errors,
            self.ratio(),
            (self.ratio() - 1.0) * 100.0
        )
    }

    /// The spread of a build's runs: (max − min) / mean.
    pub(super) fn spread(v: &[f64]) -> f64 {
        let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        let mean = Self::mean(v);
        if mean > 0.0 {
            (hi - lo) / mean
        } else {
            0.0
        }
    }
}

pub(super) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
