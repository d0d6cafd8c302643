//! What the tool tells the person or program that runs it, on stderr: as lines of text, or
//! with `--log-format json` as one JSON object per event, so that a scheduler or a log
//! pipeline can read a job's progress, failures and summary without parsing English.
//!
//! Every event has `timestamp` (RFC 3339, UTC), `level` (`ERROR`, `WARN`, `INFO`), `event` (what
//! kind: `run`, `failure`, `summary`, `dry_run`, `verify`, `error`, ...) and `message` (the text
//! line a person would see), plus the fields of its kind. The log lines of the library (retry
//! waits, warnings) come through `tracing` in the same shape, with `event` `log`.

use std::{io::Write, sync::OnceLock};

use serde_json::{Map, Value};
use tracing_subscriber::fmt::{format::Writer, time::FormatTime};

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for a person; colours only on a terminal and without `NO_COLOR`.
    #[default]
    Text,
    /// One JSON object per event, one per line.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format for the whole process; the first call wins.
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
}

pub fn json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// How bad an event is.
#[derive(Debug, Clone, Copy)]
pub enum Level {
    Error,
    Info,
}

/// Reports one event: `message` as a line of text, or the JSON object of `event` with `fields`
/// (an object; anything else is ignored).
pub fn emit(level: Level, event: &str, message: &str, fields: Value) {
    if !json() {
        eprintln!("{message}");
        return;
    }
    let mut object = Map::new();
    object.insert("timestamp".into(), Value::String(timestamp()));
    object.insert(
        "level".into(),
        Value::String(
            match level {
                Level::Error => "ERROR",
                Level::Info => "INFO",
            }
            .into(),
        ),
    );
    object.insert("event".into(), Value::String(event.into()));
    object.insert("message".into(), Value::String(message.into()));
    if let Value::Object(fields) = fields {
        object.extend(fields);
    }
    let mut line = Value::Object(object).to_string();
    line.push('\n');
    // One write per event, so that lines of concurrent events never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Now, as the `tracing` JSON lines write it, so both kinds of event read alike.
fn timestamp() -> String {
    let mut now = String::new();
    let _ = tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut now));
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_rfc3339_utc() {
        let t = timestamp();
        assert_eq!(t.len(), "2026-11-30T01:02:03.123456Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
