//! The root logger: heartbeat's line format (spec §12.3) written to `logfile`
//! (everything but debug), `debugfile` (everything, with structured fields) and
//! standard error, behind an asynchronous drain that *blocks* when full, so that
//! no line about a takeover is ever dropped.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use slog::{o, Drain, Key, Level, Logger, OwnedKVList, Record, Serializer, KV};

/// Lines queued between the actors and the writer thread.
const CHANNEL: usize = 4096;

struct Sink {
    out: Box<dyn std::io::Write + Send>,
    /// Gets debug lines and structured fields.
    debug: bool,
}

/// Writes heartbeat-format lines to several sinks.
pub struct HaDrain {
    sinks: Mutex<Vec<Sink>>,
    host: String,
    pid: u32,
    syslogmsgfmt: bool,
}

struct Fields(String);

impl Serializer for Fields {
    fn emit_arguments(&mut self, key: Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

fn priority(level: Level) -> &'static str {
    match level {
        Level::Critical => "CRIT",
        Level::Error => "ERROR",
        Level::Warning => "WARN",
        Level::Info => "info",
        Level::Debug | Level::Trace => "debug",
    }
}

impl HaDrain {
    fn line(&self, record: &Record<'_>, fields: Option<&str>) -> String {
        let now = chrono::Local::now();
        let prio = priority(record.level());
        let msg = record.msg();
        let fields = fields.unwrap_or_default();
        if self.syslogmsgfmt {
            format!(
                "{} {} heartbeat: [{}]: {prio}: {msg}{fields}\n",
                now.format("%b %d %H:%M:%S"),
                self.host,
                self.pid
            )
        } else {
            format!(
                "heartbeat[{}]: {} {prio}: {msg}{fields}\n",
                self.pid,
                now.format("%Y/%m/%d_%H:%M:%S")
            )
        }
    }
}

impl Drain for HaDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut fields = Fields(String::new());
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let plain = self.line(record, None);
        let detailed = self.line(record, Some(&fields.0));
        let is_debug = !record.level().is_at_least(Level::Info);
        let Ok(mut sinks) = self.sinks.lock() else {
            return Ok(());
        };
        for sink in sinks.iter_mut() {
            if is_debug && !sink.debug {
                continue;
            }
            let text = if sink.debug { &detailed } else { &plain };
            // A full disk must not stop the daemon: the line is lost, heartbeats go on.
            let _ = sink.out.write_all(text.as_bytes());
            let _ = sink.out.flush();
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Builds the root logger. Files that cannot be opened are reported on stderr
/// and skipped; stderr always gets the non-debug lines.
pub fn root(
    host: &str,
    logfile: Option<&Path>,
    debugfile: Option<&Path>,
    syslogmsgfmt: bool,
) -> (Logger, Vec<String>) {
    let mut problems = Vec::new();
    let mut sinks = vec![Sink {
        out: Box::new(std::io::stderr()),
        debug: false,
    }];
    for (path, debug) in [(logfile, false), (debugfile, true)] {
        let Some(path) = path else { continue };
        if path == Path::new("/dev/null") {
            continue;
        }
        match open_append(path) {
            Ok(f) => sinks.push(Sink {
                out: Box::new(f),
                debug,
            }),
            Err(e) => problems.push(format!("cannot open log file {}: {e}", path.display())),
        }
    }
    let drain = HaDrain {
        sinks: Mutex::new(sinks),
        host: host.to_owned(),
        pid: std::process::id(),
        syslogmsgfmt,
    };
    let drain = slog_async::Async::new(drain)
        .chan_size(CHANNEL)
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .thread_name("heartbeat-log".into())
        .build()
        .fuse();
    (Logger::root(drain, o!()), problems)
}
