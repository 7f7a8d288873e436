//! `http`: fixed-concurrency HTTP load on one operation: one keep-alive connection per client, each client
//! sending its next request when its previous answer has arrived, the clients multiplexed over `--threads`
//! threads (default 2, as the floor's `pgbench -j 2`).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

mod driver;

use crate::args::Args;
use crate::client::{query_value, write_request};
use crate::stats::{histogram, write_json, Summary, Tally};

#[derive(Clone)]
enum Op {
    /// Each request merges a pair no other request touches: pair i is (first + 2i, first + 2i + 1).
    Merge {
        first: i64,
        count: i64,
    },
    /// Each request undoes a merge no other request touches: request n of client c undoes merge record
    /// first + c + n × concurrency (the ids of the merges an earlier `merge` run recorded).
    Undo {
        first: i64,
        count: i64,
    },
    /// Each request merges a group no other request touches into its first contact: group i is the `size`
    /// contacts from first + size × i.
    MergeMany {
        first: i64,
        count: i64,
        size: i64,
    },
    Get {
        lo: i64,
        hi: i64,
    },
    Search {
        lo: i64,
        hi: i64,
    },
    /// A search whose term only a secondary identity holds (the group's `identity_search_term`).
    SearchIdentity {
        lo: i64,
        hi: i64,
    },
    /// Each request creates a contact with one of 320 common names and an email (every third one also a phone
    /// number) no other request uses (`tag`, 0–99, keeps runs apart), so that its duplicate suggestions have
    /// namesakes to look at.
    Create {
        tag: u32,
    },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Merge { .. } => "merge",
            Op::Undo { .. } => "undo",
            Op::MergeMany { .. } => "merge5",
            Op::Get { .. } => "get",
            Op::Search { .. } => "search",
            Op::SearchIdentity { .. } => "search-identity",
            Op::Create { .. } => "create",
        }
    }
}

#[derive(Clone)]
struct Target {
    base_url: String,
    token: String,
    account: i64,
}

/// What one request came to.
enum Outcome {
    Ok,
    /// A search that matched nothing: answered correctly, but the term was not selective as meant.
    Empty,
    RouteMissing,
    Error(String),
}

/// splitmix64: enough randomness to pick ids, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi].
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi.saturating_sub(lo)).unwrap_or(0).saturating_add(1);
        lo.saturating_add(i64::try_from(self.next() % span).unwrap_or(0))
    }
}

struct ClientResult {
    tally: Tally,
    hist: Histogram<u64>,
    last_end: Option<Instant>,
    pairs_exhausted: bool,
    /// Successful answers during the warm-up (not in the tally): with the tally, every change the run made.
    warmup_ok: u64,
}

struct Plan {
    op: Op,
    target: Target,
    concurrency: i64,
    measure_from: Instant,
    deadline: Instant,
    /// Requests still to send when the run is bounded by count; negative when it is not.
    remaining: Arc<AtomicI64>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let target = Target {
        base_url: args.req("base-url")?.trim_end_matches('/').to_owned(),
        token: args.req("token")?.to_owned(),
        account: args.num("account", 1)?,
    };
    let op = match args.req("op")? {
        "merge" => {
            let (first, count) = args.range("pairs")?.ok_or("--pairs FIRST:COUNT is required for merge")?;
            Op::Merge { first, count }
        }
        "undo" => {
            let (first, count) = args.range("merges")?.ok_or("--merges FIRST:COUNT is required for undo")?;
            Op::Undo { first, count }
        }
        "merge5" => {
            let (first, count) = args.range("groups")?.ok_or("--groups FIRST:COUNT is required for merge5")?;
            Op::MergeMany { first, count, size: 5 }
        }
        "get" => {
            let (lo, hi) = args.range("ids")?.ok_or("--ids LO:HI is required for get")?;
            Op::Get { lo, hi }
        }
        "search" => {
            let (lo, hi) = args.range("terms")?.ok_or("--terms LO:HI is required for search")?;
            Op::Search { lo, hi }
        }
        "search-identity" => {
            let (lo, hi) = args.range("terms")?.ok_or("--terms LO:HI is required for search-identity")?;
            Op::SearchIdentity { lo, hi }
        }
        "create" => {
            let tag: u32 = args.num("tag", 0)?;
            if tag > 99 {
                return Err("--tag must be 0 to 99".into());
            }
            Op::Create { tag }
        }
        other => {
            return Err(format!("unknown --op {other}: merge, merge5, undo, get, search, search-identity or create"))
        }
    };
    let out = args.req("out")?;
    let concurrency: i64 = args.num("concurrency", 16)?.max(1);
    let duration: f64 = args.num("duration", 10.0)?;
    let warmup: f64 = args.num("warmup", 0.0)?;
    let requests: i64 = args.num("requests", -1)?;
    // Threads that multiplex the connections: pgbench's `-j 2` on the floor's side.
    let threads: i64 = args.num("threads", 2)?.max(1);
    let server_pid: Option<u32> = args.opt("server-pid").map(str::parse).transpose().map_err(|_| "bad --server-pid")?;

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup.max(0.0));
    let deadline = measure_from + Duration::from_secs_f64(duration.max(0.0));
    let plan = Arc::new(Plan {
        op: op.clone(),
        target,
        concurrency,
        measure_from,
        deadline,
        remaining: Arc::new(AtomicI64::new(requests)),
    });

    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = server_pid.map(|pid| {
        let stop = Arc::clone(&stop_sampling);
        thread::spawn(move || sample_rss(pid, measure_from, &stop))
    });

    // Clients are dealt to the threads in turn, as pgbench deals its clients to its `-j` threads.
    let threads: Vec<_> = (0..threads.clamp(1, concurrency))
        .map(|t| {
            let plan = Arc::clone(&plan);
            let clients: Vec<i64> = (t..concurrency).step_by(usize::try_from(threads).unwrap_or(1)).collect();
            thread::spawn(move || driver::run_clients(&plan, &clients))
        })
        .collect();
    let mut tally = Tally::default();
    let mut hist = histogram()?;
    let mut last_end = measure_from;
    let mut pairs_exhausted = false;
    let mut warmup_ok = 0;
    for r in threads
        .into_iter()
        .map(|t| t.join().map_err(|_| "a client thread panicked".to_owned()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        tally.merge(r.tally);
        hist.add(&r.hist).map_err(|e| e.to_string())?;
        last_end = last_end.max(r.last_end.unwrap_or(measure_from));
        pairs_exhausted |= r.pairs_exhausted;
        warmup_ok += r.warmup_ok;
    }
    stop_sampling.store(true, Ordering::Relaxed);
    let cpu_end = server_pid.and_then(cpu_ticks);
    let (peak_rss_kib, cpu_start) = match sampler {
        Some(s) => s.join().map_err(|_| "the RSS sampler panicked".to_owned())?,
        None => (None, None),
    };
    let hwm_kib = server_pid.and_then(|pid| proc_status_kib(pid, "VmHWM:"));

    let elapsed = last_end.saturating_duration_since(measure_from).as_secs_f64();
    // The server's CPU time per measured request (user + system), in ms: where the service spends its share.
    let answered = tally.ok + tally.error_count();
    let server_cpu_ms_per_request = match (cpu_start, cpu_end) {
        (Some(a), Some(b)) if answered > 0 => Some(b.saturating_sub(a) as f64 * 1000.0 / USER_HZ / answered as f64),
        _ => None,
    };
    let summary = Summary {
        op: op.name(),
        source: "http",
        concurrency: u64::try_from(concurrency).unwrap_or(0),
        elapsed_s: elapsed,
        tally: &tally,
        hist: &hist,
        extra: json!({
            "pairs_exhausted": pairs_exhausted,
            "peak_rss_kib": peak_rss_kib,
            "server_cpu_ms_per_request": server_cpu_ms_per_request,
            "server_hwm_kib": hwm_kib,
            "warmup_s": warmup,
            "ok_including_warmup": tally.ok + warmup_ok,
        }),
    };
    let result = summary.to_json();
    write_json(out, &result)?;
    eprintln!("{}", one_line(&result));
    Ok(())
}

/// A one-line summary for the console.
pub fn one_line(r: &Value) -> String {
    let f = |k: &str| r["latency_ms"][k].as_f64().map_or_else(|| "-".into(), |v| format!("{v:.2}"));
    let (source, op) = (r["source"].as_str().unwrap_or(""), r["op"].as_str().unwrap_or(""));
    if r["endpoint_missing"].as_bool() == Some(true) {
        return format!("{source} {op}: endpoint missing (every request answered 404 route_not_found)");
    }
    format!(
        "{source} {op}: {} requests, {:.1}/s, p50 {} ms, p95 {} ms, p99 {} ms, errors {}",
        r["requests"],
        r["throughput"].as_f64().unwrap_or(0.0),
        f("p50"),
        f("p95"),
        f("p99"),
        r["errors"],
    )
}

/// How long a request may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What a response must show to count as the right answer.
enum Expect {
    /// The created contact, with its id.
    Created,
    /// The merge's response names the base.
    Merged(i64),
    /// The many-contact merge's response names the base and has a record per mergee.
    MergedMany(i64, i64),
    /// The undo's response has both contacts back and says what moved.
    Undone,
    /// The contact asked for.
    Contact(i64),
    /// A page of search results.
    Page,
}

/// One client: the requests it sends, in order, and what came of them. The driver decides when bytes move.
struct ClientState {
    plan: Arc<Plan>,
    client: i64,
    rng: Rng,
    sent: i64,
    answered_route_missing: u64,
    result: ClientResult,
    /// The request in flight: when it was sent and what it must answer.
    in_flight: Option<(Instant, Expect)>,
}

impl ClientState {
    fn new(plan: Arc<Plan>, client: i64) -> Result<Self, String> {
        let seed = u64::try_from(client).unwrap_or(0).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED;
        let result = ClientResult {
            tally: Tally::default(),
            hist: histogram()?,
            last_end: None,
            pairs_exhausted: false,
            warmup_ok: 0,
        };
        Ok(Self { plan, client, rng: Rng(seed), sent: 0, answered_route_missing: 0, result, in_flight: None })
    }

    /// Writes the next request into `out`, or says the client is done.
    fn next(&mut self, host: &str, out: &mut Vec<u8>) -> bool {
        let plan = Arc::clone(&self.plan);
        if Instant::now() >= plan.deadline {
            return false;
        }
        if plan.remaining.load(Ordering::Relaxed) >= 0 && plan.remaining.fetch_sub(1, Ordering::Relaxed) <= 0 {
            return false;
        }
        let t = &plan.target;
        let expect = match &plan.op {
            Op::Merge { first, count } => {
                let pair = self.client + self.sent * plan.concurrency;
                if pair >= *count {
                    self.result.pairs_exhausted = true;
                    return false;
                }
                let base = first + 2 * pair;
                let body = format!("{{\"base_contact_id\":{base},\"mergee_contact_id\":{}}}", base + 1);
                write_request(out, host, "POST", &path(t, "/actions/contact_merge"), &t.token, Some(&body));
                Expect::Merged(base)
            }
            Op::Undo { first, count } => {
                let n = self.client + self.sent * plan.concurrency;
                if n >= *count {
                    self.result.pairs_exhausted = true;
                    return false;
                }
                let merge = first + n;
                write_request(out, host, "POST", &path(t, &format!("/contact_merges/{merge}/undo")), &t.token, None);
                Expect::Undone
            }
            Op::MergeMany { first, count, size } => {
                let group = self.client + self.sent * plan.concurrency;
                if group >= *count {
                    self.result.pairs_exhausted = true;
                    return false;
                }
                let base = first + size * group;
                let mergees: Vec<String> = (1..*size).map(|k| (base + k).to_string()).collect();
                let body = format!("{{\"base_contact_id\":{base},\"mergee_contact_ids\":[{}]}}", mergees.join(","));
                write_request(out, host, "POST", &path(t, "/actions/contact_merge_many"), &t.token, Some(&body));
                Expect::MergedMany(base, size - 1)
            }
            Op::Get { lo, hi } => {
                let id = self.rng.between(*lo, *hi);
                write_request(out, host, "GET", &path(t, &format!("/contacts/{id}")), &t.token, None);
                Expect::Contact(id)
            }
            Op::Search { lo, hi } => {
                let term = query_value(&search_term(self.rng.between(*lo, *hi)));
                write_request(out, host, "GET", &path(t, &format!("/contacts/search?q={term}")), &t.token, None);
                Expect::Page
            }
            Op::SearchIdentity { lo, hi } => {
                let term = query_value(&identity_search_term(self.rng.between(*lo, *hi)));
                write_request(out, host, "GET", &path(t, &format!("/contacts/search?q={term}")), &t.token, None);
                Expect::Page
            }
            Op::Create { tag } => {
                let n = self.client + self.sent * plan.concurrency;
                let body = create_body(*tag, n, self.rng.next());
                write_request(out, host, "POST", &path(t, "/contacts"), &t.token, Some(&body));
                Expect::Created
            }
        };
        self.in_flight = Some((Instant::now(), expect));
        true
    }

    /// Records the answer to the request in flight (a response, or the error that ended it); false when the
    /// client should stop.
    fn answered(&mut self, response: Result<(u16, &[u8]), String>) -> bool {
        let end = Instant::now();
        let Some((sent_at, expect)) = self.in_flight.take() else { return true };
        let outcome = match response {
            Ok((status, body)) => judge(status, body, |v| match expect {
                Expect::Merged(base) => v["id"].as_i64() == Some(base) && v["payload"][0]["id"].as_i64() == Some(base),
                Expect::MergedMany(base, mergees) => {
                    v["id"].as_i64() == Some(base)
                        && v["merges"].as_array().and_then(|m| i64::try_from(m.len()).ok()) == Some(mergees)
                }
                Expect::Undone => v["base"]["id"].is_i64() && v["mergee"]["id"].is_i64() && v["moved_back"].is_object(),
                Expect::Contact(id) => v["payload"]["id"].as_i64() == Some(id),
                Expect::Page => v["payload"].is_array() && v["meta"].is_object(),
                Expect::Created => v["payload"]["contact"]["id"].is_i64(),
            }),
            Err(e) => Outcome::Error(format!("transport {e}")),
        };
        self.sent += 1;
        let bounded = self.plan.remaining.load(Ordering::Relaxed) >= 0;
        // A missing endpoint answers at once; a few answers are enough to know, no need to hammer it.
        if matches!(outcome, Outcome::RouteMissing) {
            self.answered_route_missing += 1;
        }
        let only_route_missing = self.answered_route_missing == u64::try_from(self.sent).unwrap_or(0);
        let result = &mut self.result;
        if sent_at < self.plan.measure_from && !bounded {
            if matches!(outcome, Outcome::Ok | Outcome::Empty) {
                result.warmup_ok += 1;
            }
            if only_route_missing && self.sent >= 20 {
                result.tally.route_missing += 1;
                return false;
            }
            return true;
        }
        let micros = u64::try_from(end.duration_since(sent_at).as_micros()).unwrap_or(u64::MAX);
        result.hist.saturating_record(micros.max(1));
        result.last_end = Some(end);
        match outcome {
            Outcome::Ok => result.tally.ok += 1,
            Outcome::Empty => {
                result.tally.ok += 1;
                result.tally.empty += 1;
            }
            Outcome::RouteMissing => result.tally.route_missing += 1,
            Outcome::Error(kind) => result.tally.error(kind),
        }
        !(only_route_missing && self.sent >= 20)
    }
}

/// The search term of contact group n: the same bijection as `bench_term` in scripts/bench/seed.sql.
pub fn search_term(n: i64) -> String {
    let h = (n.rem_euclid(456_976) * 7919 + 13) % 456_976;
    let letter = |d: i64| char::from(b'a' + u8::try_from(d % 26).unwrap_or(0));
    format!("z{}{}{}{}", letter(h / 17_576), letter(h / 676), letter(h / 26), letter(h))
}

/// The term only the secondary identities of contact group n hold: the same as `bench_identity_term` in
/// scripts/bench/seed.sql ("y" and the four letters of the group's search term).
pub fn identity_search_term(n: i64) -> String {
    format!("y{}", &search_term(n)[1..])
}

fn path(t: &Target, rest: &str) -> String {
    format!("/api/v1/accounts/{}{rest}", t.account)
}

/// Classifies an answer: a 200 must carry the body `valid` expects; any other status is an error named by its
/// status and the envelope's first code, but for the 404 `route_not_found` of an endpoint that does not exist.
fn judge(status: u16, body: &[u8], valid: impl Fn(&Value) -> bool) -> Outcome {
    let parsed = serde_json::from_slice::<Value>(body);
    if status == 200 {
        return match parsed {
            Ok(v) if valid(&v) => {
                if v["payload"].as_array().is_some_and(Vec::is_empty) {
                    Outcome::Empty
                } else {
                    Outcome::Ok
                }
            }
            _ => Outcome::Error("200 unexpected body".to_owned()),
        };
    }
    let code = parsed.ok().and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned)).unwrap_or_default();
    if status == 404 && code == "route_not_found" {
        Outcome::RouteMissing
    } else {
        Outcome::Error(format!("{status} {code}").trim().to_owned())
    }
}

const FIRST_NAMES: [&str; 20] = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "Maria",
    "Ahmed",
    "Wei",
    "Sofia",
    "Lukas",
    "Emma",
    "Yuki",
    "Fatima",
    "Carlos",
    "Olga",
];
const LAST_NAMES: [&str; 16] = [
    "Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Muller", "Schmidt", "Rossi", "Silva", "Kim",
    "Nguyen", "Khan", "Ivanova", "Tanaka", "Dubois",
];

/// The body of create `n` of the run tagged `tag`: a common name, an email of its own at one of a few
/// domains, and every third one a phone number of its own.
fn create_body(tag: u32, n: i64, random: u64) -> String {
    let first = FIRST_NAMES[usize::try_from(random % 20).unwrap_or(0)];
    let last = LAST_NAMES[usize::try_from((random >> 8) % 16).unwrap_or(0)];
    let domain =
        ["gmail.com", "example.org", "acme.test", "globex.test"][usize::try_from((random >> 16) % 4).unwrap_or(0)];
    let email = format!("{}.{}.{tag}.{n}@{domain}", first.to_lowercase(), last.to_lowercase());
    // +49 151, the tag, then n: unique across runs with different tags
    let phone =
        if n % 3 == 0 { format!(",\"phone_number\":\"+49151{tag:02}{:06}\"", n % 1_000_000) } else { String::new() };
    format!("{{\"name\":\"{first} {last}\",\"email\":\"{email}\"{phone}}}")
}

/// A `/proc/<pid>/status` line in KiB (`VmRSS:`, `VmHWM:`).
pub fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second of /proc's CPU times: USER_HZ, 100 on every Linux architecture we run on.
const USER_HZ: f64 = 100.0;

/// User plus system CPU time of a process so far, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are space-separated numbers.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The server's peak resident set size while measured load runs, sampled every 20 ms, and its CPU time when
/// the measured part began.
fn sample_rss(pid: u32, from: Instant, stop: &AtomicBool) -> (Option<u64>, Option<u64>) {
    let mut peak: Option<u64> = None;
    let mut cpu_at_start = None;
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= from {
            if cpu_at_start.is_none() {
                cpu_at_start = cpu_ticks(pid);
            }
            if let Some(kib) = proc_status_kib(pid, "VmRSS:") {
                peak = Some(peak.map_or(kib, |p| p.max(kib)));
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    (peak, cpu_at_start)
}
