//! The `coalesce` command line: `serve`, `migrate`, `openapi` and the `admin` commands. Every setting comes from
//! an environment variable, and a flag overrides it.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use adapters_http::rate_limit::RateLimitConfig;
use adapters_http::HttpLimits;
use adapters_postgres::{PgDatabase, PoolConfig};
use application::admin::{self, AdminError};
use application::duplicates;
use application::ports::{AccountStatus, Role};
use clap::{Args, Parser, Subcommand};
use domain::AccountId;
use serde_json::{json, Value};

use crate::logging::LogFormat;
use crate::ServerSettings;

/// Coalesce: a Chatwoot-compatible contacts service whose heart is Merge Contacts.
#[derive(Debug, Parser)]
#[command(name = "coalesce", version, about)]
pub struct Cli {
    /// How log lines are written (stderr): `text` for people, `json` for one JSON object per line.
    #[arg(long, global = true, env = "COALESCE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the HTTP API.
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI document (JSON) to stdout.
    Openapi,
    /// Provisioning: accounts, users, platform apps. Each prints one JSON object.
    Admin {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "COALESCE_BIND", default_value = "127.0.0.1:3000")]
    pub bind: String,
    /// Address of the metrics endpoint (`GET /metrics`, Prometheus text format); empty turns it off.
    #[arg(long, env = "COALESCE_METRICS_BIND", default_value = crate::metrics::DEFAULT_BIND)]
    pub metrics_bind: String,
    /// Most database connections open at once.
    #[arg(long, env = "COALESCE_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// How long a request waits for a database connection before answering 503, in milliseconds.
    #[arg(long, env = "COALESCE_POOL_TIMEOUT_MS", default_value_t = 2000)]
    pub pool_timeout_ms: u64,
    /// Whether a transaction whose connection is lost during its COMMIT has its outcome looked up on a new
    /// connection, so that a failover does not turn it into a 503 (one more round trip per write). Default: on
    /// when the database URL names several hosts.
    #[arg(long, env = "COALESCE_LOOK_UP_LOST_COMMITS")]
    pub look_up_lost_commits: Option<bool>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "COALESCE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Sustained requests per second allowed per access token (429 above); 0 turns the limit off.
    #[arg(long, env = "COALESCE_RATE_LIMIT_PER_SECOND", default_value_t = 100.0)]
    pub rate_limit_per_second: f64,
    /// Requests per access token allowed in a burst above the sustained rate.
    #[arg(long, env = "COALESCE_RATE_LIMIT_BURST", default_value_t = 200.0)]
    pub rate_limit_burst: f64,
    /// Requests per minute per client address (IPv6: per /64) that carry no token or one not known to be valid
    /// (also the burst; 429 above); 0 turns this limit off. The address is the connection's peer.
    #[arg(long, env = "COALESCE_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE", default_value_t = 60)]
    pub rate_limit_unauthenticated_per_minute: u32,
    /// HTTP worker threads; 0 means one per core.
    #[arg(long, env = "COALESCE_WORKERS", default_value_t = 0)]
    pub workers: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "COALESCE_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,
    /// How many days after a merge it may be undone (`POST …/contact_merges/{id}/undo`).
    #[arg(long, env = "COALESCE_UNDO_WINDOW_DAYS", default_value_t = adapters_http::DEFAULT_UNDO_WINDOW_DAYS)]
    pub undo_window_days: u32,
    /// Run the webhook delivery worker in this process.
    #[arg(long, env = "COALESCE_WEBHOOK_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_worker: bool,
    /// Pause of the webhook worker when idle, in milliseconds.
    #[arg(long, env = "COALESCE_WEBHOOK_POLL_MS", default_value_t = 500)]
    pub webhook_poll_ms: u64,
    /// Attempts before a webhook delivery is given up.
    #[arg(long, env = "COALESCE_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: u32,
    /// Wait after a delivery's first failure, doubled after each further one, in milliseconds.
    #[arg(long, env = "COALESCE_WEBHOOK_BACKOFF_MS", default_value_t = 1000)]
    pub webhook_backoff_ms: u64,
    /// Longest wait for a webhook receiver's answer, in milliseconds.
    #[arg(long, env = "COALESCE_WEBHOOK_TIMEOUT_MS", default_value_t = 5000)]
    pub webhook_timeout_ms: u64,
    /// Longest wait for a connection to a webhook receiver, in milliseconds (at most the timeout above).
    #[arg(long, env = "COALESCE_WEBHOOK_CONNECT_TIMEOUT_MS", default_value_t = 2000)]
    pub webhook_connect_timeout_ms: u64,
    /// Let webhooks reach loopback, private and other non-public addresses. For local development and tests
    /// only: in a shared deployment it lets account administrators reach the internal network.
    #[arg(long, env = "COALESCE_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// Run the duplicates worker in this process: it recomputes the duplicate suggestions of changed contacts
    /// (queued by the database in the change's transaction). Several processes may run it at once.
    #[arg(long, env = "COALESCE_DUPLICATES_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub duplicates_worker: bool,
    /// Pause of the duplicates worker when the queue is empty, in milliseconds: the longest a change waits
    /// for its suggestions when the worker is idle.
    #[arg(long, env = "COALESCE_DUPLICATES_POLL_MS", default_value_t = 200)]
    pub duplicates_poll_ms: u64,
    /// Queued contacts the duplicates worker refreshes per transaction.
    #[arg(long, env = "COALESCE_DUPLICATES_BATCH", default_value_t = application::duplicates::QUEUE_BATCH)]
    pub duplicates_batch: u64,
    /// After each batch, the duplicates worker pauses this many times the batch's duration while this process
    /// answers no request (1 keeps it busy at most about half the time; 0 drains as fast as it can).
    #[arg(long, env = "COALESCE_DUPLICATES_YIELD", default_value_t = 1.0)]
    pub duplicates_yield: f64,
    /// The same while this process is answering requests (4.0: busy at most a fifth of the time, leaving a
    /// burst of requests nearly all of the machine; the queue is caught up after it).
    #[arg(long, env = "COALESCE_DUPLICATES_BUSY_YIELD", default_value_t = 4.0)]
    pub duplicates_busy_yield: f64,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account: prints {"id", "name"}.
    CreateAccount {
        #[arg(long)]
        name: String,
    },
    /// Create a user who is a member of an account: prints {"id", "access_token"} (the token is shown only here).
    CreateUser {
        #[arg(long)]
        account_id: i64,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// administrator or agent
        #[arg(long, value_parser = ["administrator", "agent"])]
        role: String,
    },
    /// Create a platform app (provisioning API client): prints {"id", "access_token"}.
    CreatePlatformApp {
        #[arg(long)]
        name: String,
    },
    /// Suspend an account: its members are refused until it is re-activated.
    SuspendAccount {
        #[arg(long)]
        id: i64,
    },
    /// On an empty database, create a demo account, administrator and API inbox: prints them with the token.
    Demo,
    /// Recompute every duplicate suggestion of an account (dismissals stay), with progress on stderr: prints
    /// {"account_id", "contacts", "pairs_before", "pairs"}.
    RebuildDuplicates {
        #[arg(long)]
        account_id: i64,
    },
}

/// Runs a parsed command line; the error is a one-line message for stderr.
///
/// # Errors
/// Any failure, as text for the operator.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Openapi => {
            let doc = adapters_http::openapi::document_json().map_err(|e| e.to_string())?;
            println!("{doc}");
            Ok(())
        }
        Command::Migrate(db) => {
            let applied = adapters_postgres::migrations::run_pending(&db.database_url)?;
            print_json(&json!({ "applied": applied }));
            Ok(())
        }
        Command::Serve(args) => serve(args),
        Command::Admin { database, command } => {
            adapters_postgres::migrations::run_pending(&database.database_url)?;
            let db = PgDatabase::new(&PoolConfig::new(database.database_url));
            let out = match command {
                AdminCommand::RebuildDuplicates { account_id } => rebuild_duplicates(&db, AccountId::new(account_id))?,
                command => run_admin(&db, command).map_err(|e| admin_message(&e))?,
            };
            print_json(&out);
            Ok(())
        }
    }
}

fn print_json(value: &Value) {
    println!("{value}");
}

fn admin_message(e: &AdminError) -> String {
    match e {
        AdminError::Invalid(v) => format!("invalid input: {v}"),
        AdminError::NotFound(what) => format!("{what} not found"),
        AdminError::NotPermitted(what) => format!("{what} is not the platform app's to provision"),
        AdminError::Unavailable => "the database is unavailable".to_owned(),
        AdminError::Internal(m) => format!("internal error: {m}"),
    }
}

/// `admin rebuild-duplicates`: the account's suggestions recomputed batch by batch, progress on stderr.
fn rebuild_duplicates(db: &PgDatabase, account: AccountId) -> Result<Value, String> {
    let mut report = |done: u64, total: u64| eprintln!("rebuild-duplicates: {done}/{total} contacts");
    let outcome = duplicates::rebuild_duplicates(db, account, &mut report).map_err(|e| e.to_string())?;
    let pairs = duplicates::duplicate_pairs(db, account, 1, 0.0).map_err(|e| e.to_string())?.total;
    Ok(json!({
        "account_id": account.get(),
        "contacts": outcome.contacts,
        "pairs_before": outcome.pairs_before,
        "pairs": pairs,
    }))
}

fn run_admin(db: &PgDatabase, command: AdminCommand) -> Result<Value, AdminError> {
    Ok(match command {
        AdminCommand::CreateAccount { name } => {
            let account = admin::create_account(db, &name)?;
            json!({ "id": account.id.get(), "name": account.name })
        }
        AdminCommand::CreateUser { account_id, name, email, role } => {
            let role = Role::parse(&role).unwrap_or(Role::Agent);
            let user = admin::create_user(db, &name, &email, Some((AccountId::new(account_id), role)))?;
            json!({ "id": user.id.get(), "access_token": user.access_token })
        }
        AdminCommand::CreatePlatformApp { name } => {
            let (id, token) = admin::create_platform_app(db, &name)?;
            json!({ "id": id, "access_token": token })
        }
        AdminCommand::SuspendAccount { id } => {
            admin::set_account_status(db, AccountId::new(id), AccountStatus::Suspended)?;
            json!({ "id": id, "status": "suspended" })
        }
        AdminCommand::RebuildDuplicates { .. } => return Err(AdminError::Internal("handled in run".into())),
        AdminCommand::Demo => match admin::bootstrap_demo(db)? {
            Some(demo) => json!({
                "created": true,
                "account_id": demo.account_id.get(),
                "user_id": demo.user.id.get(),
                "email": demo.user.email,
                "access_token": demo.user.access_token,
                "inbox_id": demo.inbox_id,
            }),
            None => json!({ "created": false }),
        },
    })
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let applied = adapters_postgres::migrations::run_pending(&args.database.database_url)?;
    if !applied.is_empty() {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    // the duplicates worker's own connection, so that it never takes one a request is waiting for
    let mut worker_pool = PoolConfig::new(args.database.database_url.clone());
    worker_pool.max_size = 1;
    let mut pool = PoolConfig::new(args.database.database_url);
    pool.max_size = args.pool_size;
    pool.connection_timeout = Duration::from_millis(args.pool_timeout_ms.max(1));
    if let Some(on) = args.look_up_lost_commits {
        pool.look_up_lost_commits = on;
    }
    let db = PgDatabase::new(&pool);
    let settings = ServerSettings {
        limits: HttpLimits {
            max_body_bytes: args.max_body_bytes,
            rate: RateLimitConfig {
                per_second: args.rate_limit_per_second,
                burst: args.rate_limit_burst,
                unauthenticated_per_minute: args.rate_limit_unauthenticated_per_minute,
            },
        },
        workers: args.workers,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        webhook_targets: crate::webhook_targets(args.webhook_allow_private),
        undo_window_days: args.undo_window_days,
    };
    if args.webhook_allow_private {
        log::warn!("COALESCE_WEBHOOK_ALLOW_PRIVATE is on: webhooks may reach loopback and private addresses");
    }
    let listener = TcpListener::bind(&args.bind).map_err(|e| format!("cannot bind {}: {e}", args.bind))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = metrics_listener(&args.metrics_bind)?;
    log::info!("listening on http://{address} (Swagger UI at http://{address}/swagger-ui/)");
    match &metrics {
        Some((listener, _)) => {
            let at = listener.local_addr().map_err(|e| e.to_string())?;
            log::info!("metrics on http://{at}/metrics");
        }
        None => log::info!("metrics are off (COALESCE_METRICS_BIND is empty)"),
    }
    let worker = args.webhook_worker.then(|| {
        crate::webhook_worker::spawn(
            db.clone(),
            crate::webhook_worker::WebhookSettings {
                poll_interval: Duration::from_millis(args.webhook_poll_ms),
                retry: application::webhooks::RetryPolicy {
                    max_attempts: args.webhook_max_attempts.max(1),
                    base_backoff: Duration::from_millis(args.webhook_backoff_ms),
                    max_backoff: Duration::from_secs(3600),
                },
                timeout: Duration::from_millis(args.webhook_timeout_ms.max(1)),
                connect_timeout: Duration::from_millis(args.webhook_connect_timeout_ms.max(1)),
                targets: Arc::clone(&settings.webhook_targets),
            },
        )
    });
    let duplicates = args.duplicates_worker.then(|| {
        crate::duplicates_worker::spawn(
            PgDatabase::new(&worker_pool),
            crate::duplicates_worker::DuplicatesSettings {
                poll_interval: Duration::from_millis(args.duplicates_poll_ms),
                batch: args.duplicates_batch.max(1),
                yield_ratio: args.duplicates_yield,
                busy_yield_ratio: args.duplicates_busy_yield,
                serving: || adapters_http::telemetry::requests_in_flight() > 0,
            },
        )
    });
    // always on: without it a count stays right but its reader adds up more and more pending changes
    let counts = crate::counts_worker::spawn(PgDatabase::new(&worker_pool), COUNTS_FOLD_EVERY);
    let served = actix_web::rt::System::new().block_on(async move {
        let metrics_server = match metrics {
            Some((listener, handle)) => {
                Some(crate::metrics::http_server(listener, handle, db.clone()).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        let metrics_handle = metrics_server.as_ref().map(actix_web::dev::Server::handle);
        if let Some(server) = metrics_server {
            actix_web::rt::spawn(server);
        }
        let served = crate::http_server(listener, db, &settings).map_err(|e| e.to_string())?.await;
        // stopped after the API, so that it answered scrapes while requests drained
        if let Some(handle) = metrics_handle {
            handle.stop(false).await;
        }
        served.map_err(|e| e.to_string())
    });
    if let Some(worker) = worker {
        worker.stop();
    }
    if let Some(worker) = duplicates {
        worker.stop();
    }
    counts.stop();
    served
}

/// How often the contact-count worker folds: a list's count reads at most about this much of pending changes.
/// Under a second, the pool's trust window, so that the worker's connection is not checked again before every
/// fold (the check would be a second statement each time; see `adapters_postgres::pool`).
const COUNTS_FOLD_EVERY: Duration = Duration::from_millis(900);

/// The metrics endpoint's listener and the installed recorder; `None` when `bind` is empty (metrics off).
fn metrics_listener(
    bind: &str,
) -> Result<Option<(TcpListener, metrics_exporter_prometheus::PrometheusHandle)>, String> {
    let bind = bind.trim();
    if bind.is_empty() {
        return Ok(None);
    }
    let listener = TcpListener::bind(bind).map_err(|e| {
        format!("cannot bind the metrics endpoint to {bind}: {e} (set COALESCE_METRICS_BIND to another address, or empty to turn metrics off)")
    })?;
    Ok(Some((listener, crate::metrics::install()?)))
}
