//! "Cost as an account grows": the lists and searches of one large account (`large.tsv` from
//! `scripts/bench.sh`: case, path, median ms over 7 requests, `meta.count`), their table and their target.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::inputs::{num, read, Check};

/// The target every list and search page must meet, and the account size it is judged at.
const TARGET_MS: f64 = 50.0;
const TARGET_CONTACTS: f64 = 1_000_000.0;

/// One case: what was asked, how long it took (median), how many contacts `meta.count` said matched.
struct Case {
    label: String,
    path: String,
    p50_ms: Option<f64>,
    count: String,
}

/// The section's markdown, its check and its JSON; `None` when the run measured no large account.
pub(super) fn section(results: &str, meta: &[(String, String)]) -> Option<(String, Check, Value)> {
    let contacts = num(meta, "large_contacts")?;
    let cases: Vec<Case> = read(&format!("{results}/large.tsv"))
        .ok()?
        .lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            Some(Case {
                label: f.next()?.to_owned(),
                path: f.next()?.to_owned(),
                p50_ms: f.next()?.parse().ok(),
                count: f.next().unwrap_or("?").to_owned(),
            })
        })
        .collect();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## Cost as an account grows: one account of {contacts:.0} contacts\n\nEach case asked 8 times in a row, one \
         request at a time; the first answer is dropped, the median of the other 7 is shown.\n\n| case | request | \
         p50 ms | meta.count |\n|---|---|---:|---:|"
    );
    for c in &cases {
        let p50 = c.p50_ms.map_or_else(|| "?".to_owned(), |v| format!("{v:.1}"));
        let _ = writeln!(md, "| {} | `{}` | {p50} | {} |", c.label, c.path, c.count);
    }
    let slowest =
        cases.iter().filter_map(|c| c.p50_ms.map(|v| (v, c.label.as_str()))).fold(None, |acc, (v, l)| match acc {
            Some((best, _)) if best >= v => acc,
            _ => Some((v, l)),
        });
    let all_measured = !cases.is_empty() && cases.iter().all(|c| c.p50_ms.is_some());
    let within = cases.iter().all(|c| c.p50_ms.is_some_and(|v| v <= TARGET_MS));
    let detail = format!(
        "{} cases at {contacts:.0} contacts, slowest {}",
        cases.len(),
        slowest.map_or_else(|| "?".to_owned(), |(v, l)| format!("{l} at {v:.1} ms"))
    );
    // Judged only at the size the target names: a smaller account says nothing about it.
    let pass = (all_measured && contacts >= TARGET_CONTACTS).then_some(within);
    let check = Check::new("every list and search page ≤ 50 ms p50 at 1,000,000 contacts", pass, detail);
    let value = json!({
        "contacts": contacts,
        "cases": cases.iter().map(|c| json!({"case": c.label, "path": c.path, "p50_ms": c.p50_ms, "count": c.count}))
            .collect::<Vec<_>>(),
    });
    Some((md, check, value))
}
