//! What a feature costs an operation: the same HTTP load in setups with and without the feature, the runs
//! interleaved, each on a fresh copy of its setup's database (`<prefix>_<setup>_<round>.json`, written by
//! `scripts/bench.sh`). Two are measured:
//! - [`CREATES`], what duplicate suggestions cost a contact create: `worker` (as shipped, the triggers queue each
//!   new contact and the process's duplicates worker refreshes the queue meanwhile, on the same cores), `queue`
//!   (the triggers queue, no worker: the request path alone) and `none` (without the suggestions' triggers,
//!   indexes and keys: the fixed reference);
//! - [`IDENTITIES`], what identities cost a merge: `with` (as shipped) and `without` (the identities table empty
//!   and its triggers off: the reference), each run merging the same never-merged pairs.

use serde_json::{json, Value};

use super::inputs::{num, read_json, Check, LedgerCost};

/// One feature's cost measurement: where its results are and how the report speaks of it.
pub(super) struct Measure {
    /// The results' file prefix and the key of its round count in `meta.env`.
    prefix: &'static str,
    rounds_key: &'static str,
    /// (setup, label); the last one is the reference, without the feature.
    setups: &'static [(&'static str, &'static str)],
    /// The lowest throughput the feature may leave, as a fraction of the reference's.
    budget: f64,
    check: &'static str,
    unit: &'static str,
    title: &'static str,
    intro: &'static str,
}

pub(super) const CREATES: Measure = Measure {
    prefix: "create",
    rounds_key: "create_rounds",
    setups: &[
        ("worker", "suggestions, worker on (as shipped)"),
        ("queue", "suggestions queued, worker off"),
        ("none", "no suggestions (no triggers, no indexes)"),
    ],
    // the duplicates issue's budget: creating a contact loses at most 15% of its throughput
    budget: 0.85,
    check: "duplicate suggestions cost a create ≤ 15% of its throughput",
    unit: "creates/s",
    title: "What duplicate suggestions cost a create",
    intro: "The same HTTP create load (contacts with common names, each with an email of its own; same \
            concurrency, duration and warm-up) in three setups, the runs interleaved, each on a fresh copy of its \
            setup's database (taken just before, vacuumed) and a freshly started server. Without suggestions: the \
            copy has no suggestions' triggers, indexes or keys.",
};

pub(super) const IDENTITIES: Measure = Measure {
    prefix: "identities",
    rounds_key: "identity_rounds",
    setups: &[("with", "identities (as shipped)"), ("without", "no identities (table empty, its triggers off)")],
    // the identities issue's budget: a merge keeps its throughput within 10%
    budget: 0.9,
    check: "identities cost a merge ≤ 10% of its throughput",
    unit: "merges/s",
    title: "What identities cost a merge",
    intro: "The same HTTP merge load (the same never-merged pairs in every run; same concurrency, duration and \
            warm-up) in two setups, the runs interleaved, each on a fresh copy of its setup's database (taken \
            after the runs above, vacuumed) and a freshly started server. Without identities: the copy's \
            `contact_identities` and `contact_identity_holders` are empty and their triggers (primaries kept in \
            step with the contacts' columns, secondaries and holders queued for suggestions, a contact's merged \
            text kept when one of its merged identities goes) are off, so a merge leaves the base no merged text; \
            suggestions, counts and the ledger are as shipped.",
};

pub(super) struct SetupCost {
    measure: &'static Measure,
    /// Requests/s per run, per setup (in the measure's order).
    runs: Vec<Vec<f64>>,
    errors: Vec<u64>,
    /// Contacts still queued after each `worker` run of the creates (what the worker had not caught up with).
    backlog: Vec<f64>,
}

impl SetupCost {
    pub(super) fn read(measure: &'static Measure, results: &str, meta: &[(String, String)]) -> Option<Self> {
        let rounds = num(meta, measure.rounds_key)? as u64;
        let n = measure.setups.len();
        let mut cost = Self { measure, runs: vec![Vec::new(); n], errors: vec![0; n], backlog: Vec::new() };
        for round in 1..=rounds {
            for (i, (setup, _)) in measure.setups.iter().enumerate() {
                let Some(v) = read_json(&format!("{results}/{}_{setup}_{round}.json", measure.prefix)) else {
                    continue;
                };
                cost.runs[i].push(v["throughput"].as_f64().unwrap_or(0.0));
                cost.errors[i] += v["errors"].as_u64().unwrap_or(0);
            }
            if let Some(left) = num(meta, &format!("{}_backlog_{round}", measure.prefix)) {
                cost.backlog.push(left);
            }
        }
        cost.runs.iter().all(|r| !r.is_empty()).then_some(cost)
    }

    /// A setup's mean throughput over the reference's.
    fn ratio(&self, setup: usize) -> f64 {
        let reference = self.runs.last().map_or(0.0, |r| LedgerCost::mean(r));
        if reference > 0.0 {
            LedgerCost::mean(&self.runs[setup]) / reference
        } else {
            0.0
        }
    }

    /// Whether the budget holds as shipped (the first setup), with the figures.
    pub(super) fn check(measure: &'static Measure, cost: Option<&Self>) -> Check {
        let Some(c) = cost else { return Check::new(measure.check, None, "not measured".into()) };
        Check::new(measure.check, Some(c.ratio(0) >= measure.budget), c.figures())
    }

    fn figures(&self) -> String {
        let reference = self.runs.len() - 1;
        let means: Vec<String> = (0..self.runs.len())
            .map(|i| {
                format!("{:.0} {} {}", LedgerCost::mean(&self.runs[i]), self.measure.unit, self.measure.setups[i].1)
            })
            .collect();
        let ratios: Vec<String> = (0..reference).map(|i| format!("{:.2} ×", self.ratio(i))).collect();
        format!("{}: {}", means.join(", "), ratios.join(" and "))
    }

    /// The report's section: what was measured, and the table.
    pub(super) fn section(&self) -> String {
        format!("## {}\n\n{}\n\n{}\n", self.measure.title, self.measure.intro, self.table())
    }

    fn table(&self) -> String {
        let runs = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
        let unit = self.measure.unit;
        let mut md = format!(
            "| setup | {unit} per run | mean | × {} | errors |\n|---|---|---:|---:|---:|\n",
            self.measure.setups[self.runs.len() - 1].1
        );
        for (i, (_, label)) in self.measure.setups.iter().enumerate() {
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
        let setups = self.measure.setups.iter();
        json!({
            "per_s": setups.clone().zip(&self.runs).map(|((s, _), r)| (s.to_string(), json!(r)))
                .collect::<serde_json::Map<_, _>>(),
            "ratio": setups.enumerate().map(|(i, (s, _))| (s.to_string(), json!(self.ratio(i))))
                .collect::<serde_json::Map<_, _>>(),
            "errors": self.errors,
            "backlog_after_worker_runs": self.backlog,
        })
    }
}
