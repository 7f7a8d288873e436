//! `coalesce-loadgen`: the load generator and report writer behind `make bench` (see `scripts/bench.sh`).
//!
//! ```text
//! coalesce-loadgen http --base-url URL --token T --account A
//!                       --op merge|merge5|undo|get|search|search-identity|create
//!                       --out FILE
//!                       [--concurrency 16] [--threads 2] [--duration SECS] [--warmup SECS] [--requests N]
//!                       [--server-pid PID]
//!                       [--pairs FIRST:COUNT]            merge: pair i is (FIRST + 2i, FIRST + 2i + 1)
//!                       [--groups FIRST:COUNT]           merge5: group i is the 5 contacts from FIRST + 5i,
//!                                                        merged into the first
//!                       [--merges FIRST:COUNT]           undo: request n of client c undoes merge record
//!                                                        FIRST + c + n × concurrency
//!                       [--ids LO:HI]                    get: random contact id in [LO, HI]
//!                       [--terms LO:HI]                  search: q = the term of a random contact group in
//!                                                        [LO, HI] (`bench_term` in scripts/bench/seed.sql)
//!                       [--tag 0-99]                     create: a contact with a common name and an email
//!                                                        of its own (the tag keeps runs apart)
//! coalesce-loadgen pgbench-log --op NAME --out FILE [--concurrency N] [--per-client N] LOG...
//! coalesce-loadgen report --dir DIR
//! coalesce-loadgen combine --out FILE RESULT...             one result from several runs (`combine.rs`)
//! ```
//!
//! `http` runs one operation at fixed concurrency: one keep-alive connection per client, the clients multiplexed
//! over a few threads with non-blocking sockets (as pgbench's `-j`), for a fixed time (after a warm-up that is
//! not recorded) or a fixed number of requests. Latencies
//! go into an HDR histogram. `pgbench-log` reads pgbench's per-transaction logs (`-l`) into the same result
//! format, so the service and the floor are summarised by the same code. `report` writes `report.md` and
//! `report.json` from the results and prints the tables.

mod args;
mod client;
mod combine;
mod http;
mod pgbench;
mod report;
mod stats;

fn main() {
    let mut argv = std::env::args().skip(1);
    let command = argv.next().unwrap_or_default();
    let rest: Vec<String> = argv.collect();
    let outcome = args::Args::parse(&rest).and_then(|args| match command.as_str() {
        "http" => http::run(&args),
        "pgbench-log" => pgbench::run(&args),
        "report" => report::run(&args),
        "combine" => combine::run(&args),
        _ => Err("usage: coalesce-loadgen http|pgbench-log|report|combine [--option value]... (see the source header)"
            .into()),
    });
    if let Err(message) = outcome {
        eprintln!("coalesce-loadgen: {message}");
        std::process::exit(1);
    }
}
