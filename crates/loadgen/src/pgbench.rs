//! `pgbench-log`: pgbench's per-transaction logs (`-l`) summarised like an `http` run.
//!
//! A log line is `client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]`, where
//! `time` is the transaction's latency in µs, or `failed` / `serialization` / `deadlock` / `skipped`.

use std::collections::HashMap;

use serde_json::json;

use crate::args::Args;
use crate::http::one_line;
use crate::stats::{histogram, write_json, Summary, Tally};

pub fn run(args: &Args) -> Result<(), String> {
    let op = args.req("op")?;
    let out = args.req("out")?;
    let concurrency: u64 = args.num("concurrency", 16)?;
    // Merge scripts give each client its own slice of pairs; more transactions than that reused a pair.
    let per_client: Option<u64> = args.opt("per-client").map(str::parse).transpose().map_err(|_| "bad --per-client")?;
    if args.positional.is_empty() {
        return Err("pgbench-log needs the log files".into());
    }
    // The first `warmup` seconds of the run (from the first transaction's start) are not recorded, as with `http`.
    let warmup_us = (args.num::<f64>("warmup", 0.0)?.max(0.0) * 1e6) as u64;
    let mut records = Vec::new();
    let mut per_client_count: HashMap<u64, u64> = HashMap::new();
    for file in &args.positional {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                continue;
            }
            let (Ok(client), Ok(epoch_s), Ok(epoch_us)) =
                (f[0].parse::<u64>(), f[4].parse::<u64>(), f[5].parse::<u64>())
            else {
                continue;
            };
            *per_client_count.entry(client).or_insert(0) += 1;
            let end = epoch_s * 1_000_000 + epoch_us;
            match f[2].parse::<u64>() {
                Ok(latency) => records.push((end.saturating_sub(latency), end, Ok(latency))),
                Err(_) => records.push((end, end, Err(f[2].to_owned()))),
            }
        }
    }
    let run_start = records.iter().map(|r| r.0).min().unwrap_or(0) + warmup_us;
    let ok_including_warmup = records.iter().filter(|r| r.2.is_ok()).count();
    let mut tally = Tally::default();
    let mut hist = histogram()?;
    let mut last_end = 0u64;
    for (_, end, outcome) in records.into_iter().filter(|r| r.0 >= run_start) {
        last_end = last_end.max(end);
        match outcome {
            Ok(latency) => {
                tally.ok += 1;
                hist.saturating_record(latency.max(1));
            }
            Err(kind) => tally.error(format!("pgbench {kind}")),
        }
    }
    // Throughput is counted from the end of the warm-up to the last answer, like the HTTP runs.
    let elapsed = last_end.saturating_sub(run_start) as f64 / 1e6;
    let most = per_client_count.values().copied().max().unwrap_or(0);
    let summary = Summary {
        op,
        source: "pgbench",
        concurrency,
        elapsed_s: elapsed,
        tally: &tally,
        hist: &hist,
        extra: json!({
            "pairs_exhausted": per_client.is_some_and(|n| most > n),
            "most_transactions_per_client": most,
            "ok_including_warmup": ok_including_warmup,
        }),
    };
    let result = summary.to_json();
    write_json(out, &result)?;
    eprintln!("{}", one_line(&result));
    Ok(())
}
