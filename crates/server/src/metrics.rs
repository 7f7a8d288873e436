//! The metrics endpoint: `GET /metrics` in the Prometheus text format, on its own listener
//! (`COALESCE_METRICS_BIND`, default `127.0.0.1:9464`), never on the API's port.
//!
//! Counters and histograms are recorded where things happen, through the `metrics` facade (the HTTP adapter:
//! requests, merges, undos, rate limiting; the PostgreSQL adapter: pool waits and time-outs; the webhook worker
//! here: deliveries by outcome) into the Prometheus exporter's recorder installed here. Gauges of a moment —
//! the pool's connections and the webhook backlog — are read when scraped and written after the recorder's
//! output (the backlog with one indexed query; see `adapters_postgres::metrics` for why at scrape time).

use std::fmt::Write as _;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use adapters_postgres::PgDatabase;
use application::webhooks::DeliveryRound;
use metrics::{counter, describe_counter};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const WEBHOOK_DELIVERIES: &str = "coalesce_webhook_deliveries_total";
pub const DUPLICATE_REFRESHES: &str = "coalesce_duplicate_refreshes_total";

/// The default listener of the metrics endpoint.
pub const DEFAULT_BIND: &str = "127.0.0.1:9464";

/// Buckets of request durations, in seconds.
const REQUEST_BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Buckets of the pool's waits, in seconds: mostly well under a millisecond, up to the checkout time-out.
const POOL_WAIT_BUCKETS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// How often histograms' recent samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// Longest the scrape waits for a connection, and then for the backlog query.
const BACKLOG_TIMEOUT: Duration = Duration::from_millis(1000);

/// Counts the outcomes of one round of webhook deliveries.
pub fn deliveries(round: &DeliveryRound) {
    for (outcome, n) in [("delivered", round.delivered), ("retrying", round.retrying), ("given_up", round.given_up)] {
        if n > 0 {
            counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }
}

/// Counts one round of the duplicates worker: contacts whose suggestions it recomputed, and those it queued
/// again because a request held them.
pub fn duplicate_refreshes(done: &application::duplicates::Refreshed) {
    for (outcome, n) in [("refreshed", done.refreshed), ("requeued", done.requeued)] {
        if n > 0 {
            counter!(DUPLICATE_REFRESHES, "outcome" => outcome).increment(n);
        }
    }
}

/// Installs the process's recorder and describes every metric. Call once, before serving.
///
/// # Errors
/// When a recorder is already installed.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&REQUEST_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(adapters_postgres::metrics::POOL_WAIT.into()), &POOL_WAIT_BUCKETS)
        })
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    adapters_http::metrics::describe();
    adapters_postgres::metrics::describe();
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts by outcome: delivered (2xx), retrying (failed, tried again later), given_up \
         (failed for good: out of attempts, or the address is not allowed)."
    );
    describe_counter!(
        DUPLICATE_REFRESHES,
        "Contacts the duplicates worker handled, by outcome: refreshed (suggestions recomputed), requeued (a \
         request held the contact; tried again later)."
    );
    let upkeep = handle.clone();
    // Without upkeep, samples recorded between scrapes pile up in memory; the thread lives as long as the process.
    let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || loop {
        std::thread::sleep(UPKEEP_EVERY);
        upkeep.run_upkeep();
    });
    Ok(handle)
}

struct Scrape {
    handle: PrometheusHandle,
    db: PgDatabase,
}

/// The metrics endpoint's server on its own listener: one worker, no signal handling of its own (the caller
/// stops it after the API's server, so that it can still be scraped while requests drain).
///
/// # Errors
/// When the listener cannot be used.
pub fn http_server(listener: TcpListener, handle: PrometheusHandle, db: PgDatabase) -> std::io::Result<Server> {
    let scrape = web::Data::new(Scrape { handle, db });
    Ok(HttpServer::new(move || App::new().app_data(scrape.clone()).route("/metrics", web::get().to(metrics)))
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run())
}

async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    let db = scrape.db.clone();
    let backlog = web::block(move || db.backlog(BACKLOG_TIMEOUT)).await.map_err(|e| e.to_string()).and_then(|b| {
        b.map_err(|e| {
            log::warn!("metrics: cannot read the webhook backlog: {e}");
            e.to_string()
        })
    });
    scrape.handle.run_upkeep();
    let mut body = scrape.handle.render();
    append_moment(&mut body, &scrape.db, backlog.ok());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(body)
}

/// Writes one gauge family: help, type, and a sample per (labels, value).
fn gauge(out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// The gauges read at scrape time. Without a backlog (the database did not answer) only `coalesce_database_up`
/// says so: an old number would look current.
fn append_moment(out: &mut String, db: &PgDatabase, backlog: Option<adapters_postgres::metrics::Backlog>) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    let pool = db.pool_usage();
    gauge(
        out,
        "coalesce_db_pool_connections",
        "Database connections of this process's pool, by state (in_use, idle).",
        &[("{state=\"in_use\"}", f64::from(pool.in_use)), ("{state=\"idle\"}", f64::from(pool.idle))],
    );
    gauge(
        out,
        "coalesce_db_pool_max_connections",
        "The most connections the pool opens (COALESCE_POOL_SIZE).",
        &[("", f64::from(pool.max))],
    );
    gauge(
        out,
        "coalesce_database_up",
        "Whether the database answered this scrape's backlog query (1) or not (0).",
        &[("", if backlog.is_some() { 1.0 } else { 0.0 })],
    );
    if let Some(b) = backlog {
        // counts far below 2^53: exact as floats
        #[allow(clippy::cast_precision_loss)]
        let (outbox, deliveries) = (b.outbox_pending as f64, b.deliveries_pending as f64);
        gauge(
            out,
            "coalesce_outbox_events_pending",
            "Outbox events not yet turned into webhook deliveries.",
            &[("", outbox)],
        );
        gauge(
            out,
            "coalesce_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox event not yet turned into deliveries (0 when none).",
            &[("", b.outbox_oldest_age_seconds.max(0.0))],
        );
        gauge(
            out,
            "coalesce_webhook_deliveries_pending",
            "Webhook deliveries waiting for their first or next attempt.",
            &[("", deliveries)],
        );
    }
}
