//! Shared helpers: a running `coalesce serve`, a private PostgreSQL cluster, SQL one-liners.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::{sql_query, Connection, PgConnection, QueryableByName, RunQueryDsl};
use serde_json::Value;

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One bigint (the query selects one column named `n`).
pub fn scalar(url: &str, query: &str) -> i64 {
    let mut conn = PgConnection::establish(url).unwrap();
    sql_query(query).get_result::<N>(&mut conn).unwrap_or_else(|e| panic!("{query}: {e}")).n
}

/// Runs a statement.
pub fn execute(url: &str, statement: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    sql_query(statement).execute(&mut conn).unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// A running `coalesce serve` (killed when dropped).
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts the binary against `database_url` with extra environment, and waits until it listens.
    pub fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("coalesce-test-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_coalesce"));
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .env("COALESCE_WEBHOOK_POLL_MS", "50")
            .env("COALESCE_WEBHOOK_BACKOFF_MS", "100")
            .env("COALESCE_WEBHOOK_MAX_ATTEMPTS", "4")
            .env("COALESCE_WEBHOOK_TIMEOUT_MS", "2000")
            .env("COALESCE_RATE_LIMIT_PER_SECOND", "0")
            .env("COALESCE_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE", "0")
            // off unless a test asks for it: the default address would be shared by every server of the run
            .env("COALESCE_METRICS_BIND", "")
            .stdout(Stdio::null())
            .stderr(log_file);
        for (k, v) in env {
            command.env(k, v);
        }
        let server = Self { child: command.spawn().unwrap(), base: format!("http://127.0.0.1:{port}"), log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{}/health", server.base)).call().is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Calls the API; any status is an answer.
    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let req = ureq::request(method, &format!("{}{path}", self.base))
            .timeout(Duration::from_secs(120))
            .set("api_access_token", token);
        let result = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let status = response.status();
        (status, response.into_json().unwrap_or(Value::Null))
    }

    /// `GET path` status, `None` when nothing answers.
    pub fn status_of(&self, path: &str) -> Option<u16> {
        match ureq::get(&format!("{}{path}", self.base)).timeout(Duration::from_secs(30)).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Some(r.status()),
            Err(_) => None,
        }
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The metrics endpoint's exposition (`GET /metrics` on `address`).
pub fn scrape(address: &str) -> String {
    let response = ureq::get(&format!("http://{address}/metrics")).timeout(Duration::from_secs(30)).call().unwrap();
    assert!(response.content_type().starts_with("text/plain"), "Prometheus text format: {}", response.content_type());
    response.into_string().unwrap()
}

/// The value of the sample `series` (name and labels exactly as exposed) in an exposition, if present.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A private PostgreSQL cluster started with the project's own script, so a test may stop and restart it.
pub struct Cluster {
    dir: PathBuf,
    pub port: u16,
}

impl Cluster {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("coalesce-cluster-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The cluster's owner (postgres, when we are root) must be able to reach the folder.
        let _ = Command::new("chmod").args(["755", dir.to_str().unwrap()]).status();
        let cluster = Self { dir, port: free_port() };
        let started = cluster.script("start");
        assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
        cluster
    }

    pub fn script(&self, action: &str) -> Output {
        Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/db.sh"))
            .arg(action)
            .env_remove("DATABASE_URL")
            .env("COALESCE_PGDATA", self.dir.join("pgdata"))
            .env("COALESCE_PGPORT", self.port.to_string())
            .output()
            .unwrap()
    }

    pub fn url(&self) -> String {
        String::from_utf8(self.script("url").stdout).unwrap().trim().to_owned()
    }

    pub fn stop(&self) {
        assert!(self.script("stop").status.success());
    }

    pub fn start(&self) {
        let out = self.script("start");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.script("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
