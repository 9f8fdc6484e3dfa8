//! The root logger: heartbeat's line format (protocol notes §12.3) written to
//! `logfile` (everything but debug), `debugfile` (everything, with the
//! structured fields), syslog over `/dev/log` (`logfacility`) and standard
//! error, by one writer thread.
//!
//! # Layout
//!
//! * this file: the slog drain, [`root`] and [`LogHandle`] (SIGHUP reopens).
//! * `format`: the file line and the syslog datagram, priority words,
//!   facility and severity numbers.
//! * `queue`: the queue between callers and the writer, and its overflow policy.
//! * `sinks`: log files (`O_NOFOLLOW`, mode 0640, reopen), standard error, syslog.
//! * `writer`: the writer thread.
//! * `journal`: the event journal, a sink of its own (records with a `kind`
//!   key, as JSON lines in the state directory) with its own thread.
//!
//! # Logging never blocks the heartbeat path
//!
//! A logging call formats its line (in the caller: the time is when it
//! happened) and appends it to a queue under a lock that the writer thread
//! only holds to take the whole queue at once. The writer does all file and
//! socket I/O without the lock. So when the disk is full, or the log file is on
//! a hung NFS mount, or syslog is stuck, only the writer waits; the actor that
//! sends heartbeats never does.
//!
//! While the writer is stalled the queue grows, within limits
//! ([`queue::Limits::DAEMON`]):
//!
//! * debug and info lines are dropped once 20 000 lines wait. Where they
//!   went missing, the writer later writes one WARN line: `N log lines
//!   dropped: the log writer fell behind ...`.
//! * WARN and ERROR lines are kept until 64 MiB wait (days of a warning a second).
//! * CRIT lines, and info lines carrying `important => true` (the node table
//!   and the resource manager log with it: every takeover, acquire, release,
//!   standby and script line), are never dropped. They come at most once per
//!   cluster state change, so memory bounds them in practice.
//!
//! A file that cannot be written (ENOSPC, EIO) loses that batch; the loss is
//! counted and reported through the other sinks (syslog, standard error, the
//! other file) at most once a minute, and once more when writing works again.
//! Nothing crashes, nothing waits.
//!
//! # Reopening (logrotate)
//!
//! [`LogHandle::reopen`] (SIGHUP) queues a reopen in line with the log lines:
//! every line logged after the call goes to the file now at the configured
//! path. Files are created mode 0640, never through a symbolic link. Like
//! cluster-glue, the writer also notices by itself, within a minute, that a
//! path names another file (or none) and reopens it.
//!
//! # syslog
//!
//! As 3.0.6 (cluster-glue's `cl_direct_log`): ident `heartbeat`, no PID in
//! the tag, the message `[PID]: PRIO: text`, facility from `logfacility`,
//! severity from the level. info and up are sent, debug lines too with
//! `debug` 1 or more (3.0.6 only logs them then). If `/dev/log` is missing
//! or refuses, one warning goes to the files and the lines are sent again
//! once it works; a restarted syslog daemon is reconnected at the next line.

mod format;
pub mod journal;
mod queue;
mod sinks;
mod writer;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slog::{o, Drain, Key, Level, Logger, OwnedKVList, Record, Serializer, KV};

use format::{Class, Format, Line};
use queue::{Item, Limits, Queue, Ticket};
use sinks::{FileSink, Stream, SyslogSink};
use writer::Writer;

pub use format::facility_code;

/// The key that marks a logger (or one line) whose info lines must never be
/// dropped: `log.new(o!(logging::IMPORTANT => true))`. It is not printed.
pub const IMPORTANT: &str = "important";

/// The syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// What [`root`] builds.
pub struct Root {
    /// The root logger; clone it, or `new(o!(...))` children from it.
    pub log: Logger,
    /// Reopens and flushes; thread-safe and cheap to clone.
    pub handle: LogHandle,
    /// Files or syslog that could not be opened at start: log them as warnings.
    pub problems: Vec<String>,
}

/// Talks to the writer thread from anywhere: the signal task, `run`, tests.
#[derive(Clone)]
pub struct LogHandle {
    queue: Arc<Queue>,
    /// The event journal, when there is one.
    journal: Option<Arc<journal::Journal>>,
}

impl LogHandle {
    /// Reopens the log files at their configured paths and reconnects to
    /// syslog, in order with the lines: what is logged after this call lands
    /// in the new files. Never blocks (the writer does the opening).
    pub fn reopen(&self) {
        self.queue.control(Item::Reopen);
    }

    /// Waits at most `timeout` until everything logged before has been
    /// written. Returns false if the writer did not get there in time (a
    /// stalled disk); the lines still wait in the queue.
    pub fn flush(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        let ticket = Arc::new(Ticket::default());
        self.queue.control(Item::Flush(Arc::clone(&ticket)));
        let logs = ticket.wait(timeout);
        let journal = self
            .journal
            .as_ref()
            .is_none_or(|j| j.flush(timeout.saturating_sub(start.elapsed())));
        logs && journal
    }

    /// Stamps later journal entries with the heartbeat generation.
    pub fn set_generation(&self, gen: u64) {
        if let Some(j) = &self.journal {
            j.set_generation(gen);
        }
    }

    /// Lines dropped since the start (the writer fell behind).
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }
}

/// Where the lines go; [`root`] fills it from ha.cf, tests by hand.
pub(crate) struct Setup {
    pub fmt: Format,
    /// (path, is the debug file).
    pub files: Vec<(PathBuf, bool)>,
    /// Standard error in the daemon, any writer in tests.
    pub streams: Vec<Stream>,
    pub syslog: Option<SyslogSetup>,
    pub limits: Limits,
    pub rotation_check: Duration,
    /// The event journal's file, and how large it may grow.
    pub journal: Option<(PathBuf, journal::Limits)>,
}

pub(crate) struct SyslogSetup {
    pub path: PathBuf,
    /// The `logfacility` name.
    pub name: String,
    pub facility: u8,
    /// Send debug lines too.
    pub debug: bool,
    /// Wait this long before trying an unreachable syslog again.
    pub retry_every: Duration,
}

/// Builds the root logger from ha.cf's logging directives. `/dev/null` as a
/// file means no file, as in cluster-glue. With `journal` (a path), the
/// records that carry a `kind` also go to the event journal there.
pub fn root(
    host: &str,
    cfg: &hb_conf::model::Logging,
    journal: Option<PathBuf>,
) -> std::io::Result<Root> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for (path, debug) in [(&cfg.logfile, false), (&cfg.debugfile, true)] {
        if let Some(path) = path {
            if path != Path::new("/dev/null") {
                files.push((path.clone(), debug));
            }
        }
    }
    let syslog = cfg.logfacility.as_ref().and_then(|name| {
        let Some(facility) = facility_code(name) else {
            problems.push(format!(
                "logfacility {name}: unknown syslog facility; not logging to syslog"
            ));
            return None;
        };
        Some(SyslogSetup {
            path: PathBuf::from(DEV_LOG),
            name: name.clone(),
            facility,
            debug: cfg.debug > 0,
            retry_every: Duration::from_secs(1),
        })
    });
    let setup = Setup {
        fmt: Format {
            host: host.to_owned(),
            pid: std::process::id(),
            syslogmsgfmt: cfg.syslogmsgfmt,
        },
        files,
        streams: vec![Stream::new(Box::new(std::io::stderr()), false)],
        syslog,
        limits: Limits::DAEMON,
        rotation_check: writer::ROTATION_CHECK,
        journal: journal.map(|p| (p, journal::Limits::DAEMON)),
    };
    let mut root = build(setup)?;
    problems.append(&mut root.problems);
    root.problems = problems;
    Ok(root)
}

/// Opens the sinks, starts the writer thread, returns the logger.
pub(crate) fn build(setup: Setup) -> std::io::Result<Root> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for (path, debug) in &setup.files {
        let (sink, problem) = FileSink::open(path, *debug);
        files.push(sink);
        problems.extend(problem);
    }
    let syslog = setup.syslog.map(|s| {
        let (sink, problem) =
            SyslogSink::open(&s.path, &s.name, s.facility, s.debug, s.retry_every);
        problems.extend(problem);
        (sink, s.debug)
    });
    let debug_wanted = files.iter().any(|f| f.debug)
        || setup.streams.iter().any(|s| s.debug)
        || syslog.as_ref().is_some_and(|(_, d)| *d);
    let queue = Arc::new(Queue::new(setup.limits));
    let writer = Writer {
        queue: Arc::clone(&queue),
        fmt: setup.fmt,
        files,
        streams: setup.streams,
        syslog: syslog.map(|(s, _)| s),
        rotation_check: setup.rotation_check,
        last_check: Instant::now(),
        reports: Vec::new(),
    };
    std::thread::Builder::new()
        .name("heartbeat-log".into())
        .stack_size(hb_actors::realtime::THREAD_STACK)
        .spawn(move || writer.run())?;
    let journal = match setup.journal {
        Some((path, limits)) => {
            let q = Arc::clone(&queue);
            let report: journal::Report = Box::new(move |level, msg| {
                q.push(Line {
                    time: chrono::Local::now(),
                    level,
                    msg,
                    fields: String::new(),
                    class: Class::Vital,
                });
            });
            Some(journal::Journal::start(
                path,
                limits,
                journal::QUEUE_LIMIT,
                report,
            )?)
        }
        None => None,
    };
    let drain = HaDrain {
        queue: Arc::clone(&queue),
        debug_wanted,
        journal: journal.clone(),
    };
    Ok(Root {
        log: Logger::root(drain.fuse(), o!()),
        handle: LogHandle { queue, journal },
        problems,
    })
}

/// Turns records into queued [`Line`]s.
struct HaDrain {
    queue: Arc<Queue>,
    /// Some sink takes debug lines; if none does, they are not even formatted.
    debug_wanted: bool,
    /// Gets every record first, and keeps those with a `kind`.
    journal: Option<Arc<journal::Journal>>,
}

impl Drop for HaDrain {
    /// The last logger is gone: the writers write what is left, then end.
    fn drop(&mut self) {
        self.queue.close();
        if let Some(j) = &self.journal {
            j.close();
        }
    }
}

/// Collects ` key=value` pairs, and the [`IMPORTANT`] flag (not printed).
struct Fields {
    text: String,
    important: bool,
}

impl Serializer for Fields {
    fn emit_bool(&mut self, key: Key, val: bool) -> slog::Result {
        if key == IMPORTANT {
            self.important |= val;
            return Ok(());
        }
        self.emit_arguments(key, &format_args!("{val}"))
    }

    fn emit_arguments(&mut self, key: Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        if key == IMPORTANT {
            self.important |= val.to_string() == "true";
            return Ok(());
        }
        let _ = write!(self.text, " {key}={val}");
        Ok(())
    }
}

fn class(level: Level, important: bool) -> Class {
    match level {
        Level::Critical => Class::Vital,
        Level::Error | Level::Warning => Class::Warning,
        Level::Info if important => Class::Vital,
        _ => Class::Normal,
    }
}

impl Drain for HaDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let level = record.level();
        // The journal keeps debug records too (a script's success is one).
        if let Some(j) = &self.journal {
            j.record(record, values);
        }
        if !level.is_at_least(Level::Info) && !self.debug_wanted {
            return Ok(());
        }
        let mut fields = Fields {
            text: String::new(),
            important: false,
        };
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        self.queue.push(Line {
            time: chrono::Local::now(),
            level,
            msg: record.msg().to_string(),
            fields: fields.text,
            class: class(level, fields.important),
        });
        Ok(())
    }
}
