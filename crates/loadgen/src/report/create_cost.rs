//! What duplicate suggestions cost a contact create: the same HTTP create load in three setups, interleaved
//! (`create_<setup>_<round>.json`, written by `scripts/bench.sh`):
//! - `worker`: as shipped, the triggers queue each new contact and the process's duplicates worker refreshes
//!   the queue meanwhile, on the same cores;
//! - `queue`: the triggers queue, no worker (the request path alone);
//! - `none`: without the suggestions' triggers, indexes and keys, no worker (the service as it would be without
//!   suggestions): the fixed reference.
//!
//! Each run is on a fresh copy of its setup's database, so that no run inherits what the runs before it wrote.

use serde_json::{json, Value};

use super::inputs::{num, read_json, Check, LedgerCost};

pub(super) const SETUPS: [(&str, &str); 3] = [
    ("worker", "suggestions, worker on (as shipped)"),
    ("queue", "suggestions queued, worker off"),
    ("none", "no suggestions (no triggers, no indexes)"),
];

/// The duplicates issue's budget: creating a contact loses at most 15% of its throughput.
const BUDGET: f64 = 0.85;

pub(super) struct CreateCost {
    /// Creates/s per run, per setup (in `SETUPS` order).
    runs: [Vec<f64>; 3],
    errors: [u64; 3],
    /// Contacts still queued after each `worker` run (what the worker had not caught up with).
    backlog: Vec<f64>,
}

impl CreateCost {
    pub(super) fn read(results: &str, meta: &[(String, String)]) -> Option<Self> {
        let rounds = num(meta, "create_rounds")? as u64;
        let mut cost = Self { runs: Default::default(), errors: [0; 3], backlog: Vec::new() };
        for round in 1..=rounds {
            for (i, (setup, _)) in SETUPS.iter().enumerate() {
                let Some(v) = read_json(&format!("{results}/create_{setup}_{round}.json")) else { continue };
                cost.runs[i].push(v["throughput"].as_f64().unwrap_or(0.0));
                cost.errors[i] += v["errors"].as_u64().unwrap_or(0);
            }
            if let Some(left) = num(meta, &format!("create_backlog_{round}")) {
                cost.backlog.push(left);
            }
        }
        cost.runs.iter().all(|r| !r.is_empty()).then_some(cost)
    }

    /// A setup's mean creates/s over the reference's.
    fn ratio(&self, setup: usize) -> f64 {
        let reference = LedgerCost::mean(&self.runs[2]);
        if reference > 0.0 {
            LedgerCost::mean(&self.runs[setup]) / reference
        } else {
            0.0
        }
    }

    /// Whether the budget holds as shipped (worker on), with the figures.
    pub(super) fn check(cost: Option<&Self>) -> Check {
        let name = "duplicate suggestions cost a create ≤ 15% of its throughput";
        let Some(c) = cost else { return Check::new(name, None, "not measured".into()) };
        Check::new(name, Some(c.ratio(0) >= BUDGET), c.figures())
    }

    fn figures(&self) -> String {
        format!(
            "{:.0} creates/s as shipped, {:.0} with the worker off, {:.0} without suggestions: {:.2} × and {:.2} ×",
            LedgerCost::mean(&self.runs[0]),
            LedgerCost::mean(&self.runs[1]),
            LedgerCost::mean(&self.runs[2]),
            self.ratio(0),
            self.ratio(1)
        )
    }

    /// The report's section: what was measured, and the table.
    pub(super) fn section(&self) -> String {
        format!(
            "## What duplicate suggestions cost a create\n\nThe same HTTP create load (contacts with common names, \
             each with an email of its own; same concurrency, duration and warm-up) in three setups, the runs \
             interleaved, each on a fresh copy of its setup's database (taken just before, vacuumed) and a freshly \
             started server. Without suggestions: the copy has no suggestions' triggers, indexes or keys.\n\n{}\n",
            self.table()
        )
    }

    fn table(&self) -> String {
        let runs = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
        let mut md = String::from(
            "| setup | creates/s per run | mean | × without suggestions | errors |\n|---|---|---:|---:|---:|\n",
        );
        for (i, (_, label)) in SETUPS.iter().enumerate() {
            md.push_str(&format!(
                "| {label} | {} | {:.0} | {:.2} | {} |\n",
                runs(&self.runs[i]),
                LedgerCost::mean(&self.runs[i]),
                self.ratio(i),
                self.errors[i]
            ));
        }
        if !self.backlog.is_empty() {
            md.push_str(&format!(
                "\nContacts still queued for the worker at the end of each worker-on run: {}.\n",
                runs(&self.backlog)
            ));
        }
        md
    }

    pub(super) fn json(&self) -> Value {
        json!({
            "creates_per_s": SETUPS.iter().zip(&self.runs).map(|((s, _), r)| (s.to_string(), json!(r)))
                .collect::<serde_json::Map<_, _>>(),
            "ratio_worker": self.ratio(0),
            "ratio_queue": self.ratio(1),
            "errors": self.errors,
            "backlog_after_worker_runs": self.backlog,
        })
    }
}
