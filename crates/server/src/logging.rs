//! The process's logger: env_logger behind the `log` facade (`RUST_LOG` filters, `info` by default), writing to
//! stderr in one of two formats (`COALESCE_LOG_FORMAT`):
//!
//! - `text` (default), for people: `[time LEVEL target request-id] message key=value …`;
//! - `json`, for log pipelines: one JSON object per line with `time`, `level`, `target`, `request_id` (when the
//!   line belongs to a request), `message`, then the record's structured fields (the access line's `method`,
//!   `path`, `route`, `status`, `duration_ms`, `account_id`, `peer`).
//!
//! The request id is the one current on the logging thread (`adapters_http::log_context`), so every line a
//! request causes carries it. Nothing here adds headers or bodies to a line: tokens are never logged.

use std::io::Write;

use adapters_http::log_context;
use env_logger::fmt::Formatter;
use log::kv::{Key, Value, VisitSource, VisitValue};
use log::Record;
use serde_json::{Map, Value as Json};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the logger. Call once, first thing.
pub fn init(format: LogFormat) {
    let mut builder = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        LogFormat::Text => builder.format(text_line),
        LogFormat::Json => builder.format(json_line),
    };
    builder.init();
}

/// The record's structured fields, in order, as JSON values (absent ones, such as `account_id` on a route
/// without an account, left out).
fn fields(record: &Record<'_>) -> Vec<(String, Json)> {
    struct Collect(Vec<(String, Json)>);
    impl<'kvs> VisitSource<'kvs> for Collect {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
            let json = serde_json::to_value(&value).unwrap_or_else(|_| Json::String(value.to_string()));
            if !json.is_null() {
                self.0.push((key.as_str().to_owned(), json));
            }
            Ok(())
        }
    }
    let mut collect = Collect(Vec::new());
    let _ = record.key_values().visit(&mut collect);
    collect.0
}

fn text_line(buf: &mut Formatter, record: &Record<'_>) -> std::io::Result<()> {
    write!(buf, "[{} {:<5} {}", buf.timestamp_millis(), record.level(), record.target())?;
    if let Some(id) = log_context::current() {
        write!(buf, " {id}")?;
    }
    write!(buf, "] {}", record.args())?;
    // Written as they are visited, without building JSON values first: the access line is written for every
    // request, and the conversion's allocations were a visible share of a cheap request's time.
    let mut fields = TextFields { buf, failed: None };
    let _ = record.key_values().visit(&mut fields);
    if let Some(e) = fields.failed {
        return Err(e);
    }
    writeln!(buf)
}

/// Writes each present field of a record as ` key=value`; absent ones (null) are left out.
struct TextFields<'a> {
    buf: &'a mut Formatter,
    failed: Option<std::io::Error>,
}

impl<'kvs> VisitSource<'kvs> for TextFields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let mut field = TextField { fields: self, key: key.as_str() };
        value.visit(&mut field)
    }
}

struct TextField<'a, 'b> {
    fields: &'a mut TextFields<'b>,
    key: &'a str,
}

impl TextField<'_, '_> {
    fn write(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), log::kv::Error> {
        if let Err(e) = self.fields.buf.write_fmt(args) {
            self.fields.failed = Some(e);
            return Err(log::kv::Error::msg("cannot write the log line"));
        }
        Ok(())
    }
}

impl<'v> VisitValue<'v> for TextField<'_, '_> {
    fn visit_any(&mut self, value: Value<'_>) -> Result<(), log::kv::Error> {
        let key = self.key;
        self.write(format_args!(" {key}={value}"))
    }

    fn visit_null(&mut self) -> Result<(), log::kv::Error> {
        Ok(())
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), log::kv::Error> {
        let key = self.key;
        // `{:?}` keeps the decimal point of a whole number (`3.0`), as JSON would
        self.write(format_args!(" {key}={value:?}"))
    }

    fn visit_str(&mut self, value: &str) -> Result<(), log::kv::Error> {
        let key = self.key;
        // quoted only when it would not read as one token
        if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"') {
            self.write(format_args!(" {key}={value:?}"))
        } else {
            self.write(format_args!(" {key}={value}"))
        }
    }
}

fn json_line(buf: &mut Formatter, record: &Record<'_>) -> std::io::Result<()> {
    let mut line = Map::new();
    line.insert("time".into(), Json::String(buf.timestamp_millis().to_string()));
    line.insert("level".into(), Json::String(record.level().to_string()));
    line.insert("target".into(), Json::String(record.target().to_owned()));
    if let Some(id) = log_context::current() {
        line.insert("request_id".into(), Json::String(id.to_string()));
    }
    line.insert("message".into(), Json::String(record.args().to_string()));
    for (key, value) in fields(record) {
        // a field never replaces one of the line's own keys
        line.entry(key).or_insert(value);
    }
    serde_json::to_writer(&mut *buf, &Json::Object(line)).map_err(std::io::Error::other)?;
    writeln!(buf)
}
