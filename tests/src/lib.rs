//! The black-box test harness: [`TestApp`] starts the real server (the same `server::http_server` the binary
//! runs) on a random loopback port over a fresh PostgreSQL database, and offers typed helpers to provision
//! accounts and tokens, call the API over real HTTP, and arrange or inspect rows with SQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use adapters_postgres::testing::TestDatabase;
use adapters_postgres::{PgDatabase, PoolConfig};
use application::admin;
use application::ports::{AccountStatus, Role};
use diesel::sql_types::{BigInt, Text};
use diesel::{sql_query, PgConnection, QueryableByName, RunQueryDsl};
use domain::AccountId;
use serde_json::Value;

pub mod contract;

pub use adapters_postgres;
pub use serde_json::json;

/// An HTTP response: status and JSON body (`Value::Null` when the body is empty or not JSON).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// The body exactly as received.
    pub text: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `code`s of the error envelope, in order.
    pub fn error_codes(&self) -> Vec<String> {
        self.body["errors"].as_array().map_or_else(Vec::new, |errors| {
            errors.iter().map(|e| e["code"].as_str().unwrap_or_default().to_owned()).collect()
        })
    }

    /// The `field`s of the error envelope, in order.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"].as_array().map_or_else(Vec::new, |errors| {
            errors.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect()
        })
    }

    /// Asserts the documented error envelope: a description and a list of {field, message, code}.
    pub fn assert_envelope(&self) {
        assert!(self.body["description"].is_string(), "no description in {}", self.body);
        let errors = self.body["errors"].as_array().unwrap_or_else(|| panic!("no errors array in {}", self.body));
        for e in errors {
            for key in ["field", "message", "code"] {
                assert!(e[key].is_string(), "error without string {key}: {}", self.body);
            }
        }
    }
}

/// A running server over its own database.
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    /// The server's own pool (shares the statement counter with the server).
    pub pg: PgDatabase,
    handle: ServerHandle,
    /// The duplicates worker, as `coalesce serve` runs it beside the server (with a pool of its own, so that
    /// `pg.statement_count()` counts the requests' statements only).
    duplicates: Option<server::background::Background>,
    agent: ureq::Agent,
    /// Every (operation, status) this app answered, as checked against the document.
    answered: std::sync::Mutex<Vec<(String, u16)>>,
}

impl TestApp {
    /// Starts the server over a fresh, migrated database.
    pub fn spawn() -> Self {
        let db = TestDatabase::new();
        let pg = db.pool(16);
        Self::spawn_on(db, pg)
    }

    /// Starts the server with a given pool (e.g. one pointing at a database that is down). The rate limits are
    /// off: tests that hammer the API from one token or address are not about them.
    pub fn spawn_on(db: TestDatabase, pg: PgDatabase) -> Self {
        let mut settings = server::ServerSettings { workers: 2, ..server::ServerSettings::default() };
        settings.limits.rate.per_second = 0.0;
        settings.limits.rate.unauthenticated_per_minute = 0;
        Self::spawn_with(db, pg, &settings)
    }

    /// Starts the server with the given settings.
    pub fn spawn_with(db: TestDatabase, pg: PgDatabase, settings: &server::ServerSettings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let address = format!("http://{}", listener.local_addr().expect("local address"));
        let server = server::http_server(listener, pg.clone(), settings).expect("build server");
        let handle = server.handle();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        let duplicates = Some(Self::duplicates_worker(&db));
        Self { address, db, pg, handle, duplicates, agent, answered: std::sync::Mutex::default() }
    }

    /// A duplicates worker over the test database, polling often so that tests wait little.
    fn duplicates_worker(db: &TestDatabase) -> server::background::Background {
        let settings = server::duplicates_worker::DuplicatesSettings {
            poll_interval: Duration::from_millis(20),
            yield_ratio: 0.0,
            ..server::duplicates_worker::DuplicatesSettings::default()
        };
        server::duplicates_worker::spawn(db.pool(1), settings)
    }

    /// Stops the duplicates worker (to see what a request itself did to the queue).
    pub fn stop_duplicates_worker(&mut self) {
        if let Some(worker) = self.duplicates.take() {
            worker.stop();
        }
    }

    /// Starts the duplicates worker again after [`TestApp::stop_duplicates_worker`].
    pub fn start_duplicates_worker(&mut self) {
        if self.duplicates.is_none() {
            self.duplicates = Some(Self::duplicates_worker(&self.db));
        }
    }

    /// Waits (at most 5 s, then panics) until the duplicates worker has refreshed every queued contact: the
    /// queue is seen empty only once the worker's transactions, which remove the rows together with writing
    /// the suggestions, have committed. Suggestions appear shortly after a change, not in its transaction.
    pub fn settle_duplicates(&self) {
        self.settle_duplicates_within(Duration::from_secs(5));
    }

    /// [`TestApp::settle_duplicates`] with another bound (for a large population).
    pub fn settle_duplicates_within(&self, bound: Duration) {
        let deadline = std::time::Instant::now() + bound;
        loop {
            let queued = self.count("SELECT count(*) AS n FROM contact_duplicate_refreshes");
            if queued == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{queued} contacts still queued for duplicates after {bound:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A server whose database cannot be reached (nothing listens on the port).
    pub fn spawn_with_database_down() -> Self {
        let db = TestDatabase::new();
        let mut config = PoolConfig::new("postgres://postgres@127.0.0.1:1/nothing");
        config.connection_timeout = Duration::from_millis(300);
        let pg = PgDatabase::new(&config);
        Self::spawn_on(db, pg)
    }

    // ---- provisioning -------------------------------------------------------------------------------------

    pub fn create_account(&self, name: &str) -> AccountId {
        admin::create_account(&self.pg, name).expect("create account").id
    }

    /// A user who is a member of `account` with `role`; returns the token.
    pub fn create_member(&self, account: AccountId, role: Role) -> String {
        let email = format!("user{}@example.com", unique());
        admin::create_user(&self.pg, "Test User", &email, Some((account, role))).expect("create user").access_token
    }

    /// A user who belongs to no account; returns the token.
    pub fn create_loner(&self) -> String {
        let email = format!("loner{}@example.com", unique());
        admin::create_user(&self.pg, "Loner", &email, None).expect("create user").access_token
    }

    pub fn create_platform_app(&self) -> String {
        admin::create_platform_app(&self.pg, "Test Platform App").expect("create platform app").1
    }

    pub fn suspend(&self, account: AccountId) {
        admin::set_account_status(&self.pg, account, AccountStatus::Suspended).expect("suspend");
    }

    /// An account with an administrator; returns (account, token).
    pub fn account_with_admin(&self) -> (AccountId, String) {
        let account = self.create_account("Acme");
        let token = self.create_member(account, Role::Administrator);
        (account, token)
    }

    // ---- HTTP ---------------------------------------------------------------------------------------------

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional token and an optional JSON body.
    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut req = self.agent.request(method, &self.url(path));
        if let Some(t) = token {
            req = req.set("api_access_token", t);
        }
        let result = match body {
            Some(b) => req.send_json(b.clone()),
            None => req.call(),
        };
        self.checked(method, path, result)
    }

    /// The (operation, status) pairs this app has answered so far.
    pub fn answered(&self) -> Vec<(String, u16)> {
        self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn checked(&self, method: &str, path: &str, result: Result<ureq::Response, ureq::Error>) -> Response {
        let (response, operation) = into_response(method, path, result);
        if let Some(operation) = operation {
            self.answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((operation, response.status));
        }
        response
    }

    /// Sends a raw body with the given content type.
    pub fn request_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Response {
        let mut req = self.agent.request(method, &self.url(path)).set("content-type", content_type);
        if let Some(t) = token {
            req = req.set("api_access_token", t);
        }
        self.checked(method, path, req.send_bytes(body))
    }

    /// Sends a request with arbitrary headers.
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.agent.request(method, &self.url(path));
        for (name, value) in headers {
            req = req.set(name, value);
        }
        self.checked(
            method,
            path,
            match body {
                Some(b) => req.send_json(b.clone()),
                None => req.call(),
            },
        )
    }

    /// `GET path` over a connection from the local address `source` (any of 127.0.0.0/8 on Linux), so the
    /// server sees another client address. A plain HTTP/1.1 exchange: the agent cannot choose its source.
    pub fn get_from(&self, source: &str, path: &str, token: Option<&str>) -> Response {
        use std::io::{Read, Write};
        use std::net::{SocketAddr, TcpStream};
        let server: SocketAddr = self.address.trim_start_matches("http://").parse().unwrap();
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let local: SocketAddr = format!("{source}:0").parse().unwrap();
        socket.bind(&local.into()).unwrap();
        socket.connect(&server.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n");
        if let Some(t) = token {
            request.push_str(&format!("api_access_token: {t}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, text) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        let body = serde_json::from_str(text).unwrap_or(Value::Null);
        Response { status, body, text: text.to_owned(), headers }
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.request("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request("POST", path, Some(token), Some(body))
    }

    /// `POST …/actions/contact_merge`.
    pub fn merge(&self, account: AccountId, token: &str, base: i64, mergee: i64) -> Response {
        self.post(
            &format!("/api/v1/accounts/{account}/actions/contact_merge"),
            token,
            &serde_json::json!({"base_contact_id": base, "mergee_contact_id": mergee}),
        )
    }

    // ---- SQL ----------------------------------------------------------------------------------------------

    pub fn sql(&self) -> PgConnection {
        self.db.connection()
    }

    /// Runs a statement.
    pub fn execute(&self, statement: &str) {
        sql_query(statement).execute(&mut self.sql()).unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// A single bigint (the query must select one column named `n`).
    pub fn count(&self, query: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        sql_query(query).get_result::<N>(&mut self.sql()).unwrap_or_else(|e| panic!("{query}: {e}")).n
    }

    /// Every row of the tables a merge touches, as JSON text: equal dumps mean nothing changed.
    pub fn dump(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = Text)]
            dump: String,
        }
        let tables = [
            "contacts",
            "contact_identities",
            "contact_identity_holders",
            "contact_inboxes",
            "conversations",
            "messages",
            "notes",
            "contact_labels",
            "contact_merges",
            "outbox_events",
        ];
        let parts: Vec<String> = tables
            .iter()
            .map(|t| format!("'{t}', (SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM {t} x)"))
            .collect();
        let query = format!("SELECT json_build_object({})::text AS dump", parts.join(", "));
        sql_query(query).get_result::<Dump>(&mut self.sql()).expect("dump").dump
    }

    /// Inserts a contact straight into the database (bypassing validation on purpose where a test needs
    /// rows the API would refuse); returns its id.
    pub fn insert_contact(
        &self,
        account: AccountId,
        name: &str,
        email: Option<&str>,
        phone: Option<&str>,
        identifier: Option<&str>,
    ) -> i64 {
        let lit = |v: Option<&str>| v.map_or_else(|| "NULL".to_owned(), |s| format!("'{}'", s.replace('\'', "''")));
        self.count(&format!(
            "INSERT INTO contacts (account_id, name, email, phone_number, identifier) VALUES ({account}, {}, {}, {}, {}) \
             RETURNING id AS n",
            lit(Some(name)),
            lit(email),
            lit(phone),
            lit(identifier)
        ))
    }

    pub fn insert_inbox(&self, account: AccountId, name: &str) -> i64 {
        self.count(&format!("INSERT INTO inboxes (account_id, name) VALUES ({account}, '{name}') RETURNING id AS n"))
    }

    /// Gives a contact `n` conversations in `inbox`, one incoming message from the contact in each, one
    /// contact inbox, `notes` notes and the given labels, all set-based.
    pub fn give_rows(&self, account: AccountId, contact: i64, inbox: i64, n: i64, notes: i64, labels: &[&str]) {
        let source = format!("src-{contact}-{}", unique());
        self.execute(&format!(
            "INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) VALUES ({account}, {contact}, {inbox}, '{source}')"
        ));
        self.execute(&format!(
            "WITH counter AS (UPDATE accounts SET last_conversation_display_id = last_conversation_display_id + {n} \
                              WHERE id = {account} RETURNING last_conversation_display_id - {n} AS start) \
             INSERT INTO conversations (account_id, display_id, inbox_id, contact_id) \
             SELECT {account}, counter.start + g, {inbox}, {contact} FROM counter, generate_series(1, {n}) g"
        ));
        self.execute(&format!(
            "INSERT INTO messages (account_id, conversation_id, message_type, content, sender_contact_id) \
             SELECT account_id, id, 'incoming', 'hello', {contact} FROM conversations \
             WHERE account_id = {account} AND contact_id = {contact} \
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)"
        ));
        self.execute(&format!(
            "INSERT INTO notes (account_id, contact_id, content) SELECT {account}, {contact}, 'note ' || g FROM generate_series(1, {notes}) g"
        ));
        for label in labels {
            self.execute(&format!(
                "INSERT INTO contact_labels (account_id, contact_id, label) VALUES ({account}, {contact}, '{label}') ON CONFLICT DO NOTHING"
            ));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_duplicates_worker();
        let handle = self.handle.clone();
        // Stop the server before its database is dropped.
        let _ = std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false))).join();
    }
}

/// The response, after checking it against the served OpenAPI document ([`contract::check`]).
fn into_response(method: &str, path: &str, result: Result<ureq::Response, ureq::Error>) -> (Response, Option<String>) {
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_owned())))
        .collect();
    let text = response.into_string().unwrap_or_default();
    let operation = contract::check(method, path, status, &text);
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (Response { status, body, text, headers }, operation)
}

/// A number unique within the test process.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id()) * 1_000_000
}

/// Helpers for the Application API (contacts, inboxes, conversations): each calls the real endpoint and
/// panics unless it succeeds, so a test can arrange its world over HTTP in a line per row.
impl TestApp {
    pub fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request("PUT", path, Some(token), Some(body))
    }

    pub fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request("PATCH", path, Some(token), Some(body))
    }

    pub fn delete(&self, path: &str, token: &str) -> Response {
        self.request("DELETE", path, Some(token), None)
    }

    /// `POST /contacts` with `body`; returns the new contact's id.
    pub fn api_contact(&self, account: AccountId, token: &str, body: &Value) -> i64 {
        let r = self.post(&format!("/api/v1/accounts/{account}/contacts"), token, body);
        assert_eq!(r.status, 200, "create contact {body}: {}", r.body);
        r.body["payload"]["contact"]["id"].as_i64().expect("contact id")
    }

    /// `POST /inboxes` (API channel); returns the new inbox's id.
    pub fn api_inbox(&self, account: AccountId, token: &str, name: &str) -> i64 {
        let body = serde_json::json!({"name": name, "channel": {"type": "api"}});
        let r = self.post(&format!("/api/v1/accounts/{account}/inboxes"), token, &body);
        assert_eq!(r.status, 200, "create inbox: {}", r.body);
        r.body["id"].as_i64().expect("inbox id")
    }

    /// `POST /conversations` for the contact in the inbox; returns the conversation's number (`id`).
    pub fn api_conversation(&self, account: AccountId, token: &str, inbox: i64, contact: i64) -> i64 {
        let body = serde_json::json!({"inbox_id": inbox, "contact_id": contact});
        let r = self.post(&format!("/api/v1/accounts/{account}/conversations"), token, &body);
        assert_eq!(r.status, 200, "create conversation: {}", r.body);
        r.body["id"].as_i64().expect("conversation id")
    }

    /// `POST /conversations/{id}/messages`; returns the message JSON.
    pub fn api_message(&self, account: AccountId, token: &str, conversation: i64, content: &str, kind: &str) -> Value {
        let body = serde_json::json!({"content": content, "message_type": kind});
        let r = self.post(&format!("/api/v1/accounts/{account}/conversations/{conversation}/messages"), token, &body);
        assert_eq!(r.status, 200, "create message: {}", r.body);
        r.body
    }
}
