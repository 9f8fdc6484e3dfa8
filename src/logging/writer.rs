//! The writer thread: takes everything queued, formats it for each sink,
//! writes each file once per batch, sends syslog one datagram per line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use slog::Level;

use super::format::{Class, Format, Line};
use super::queue::{Item, Queue};
use super::sinks::{FileSink, Report, Stream, SyslogSink};

/// How often the files' paths are checked for a rotation nobody signalled
/// (cluster-glue, which 3.0.6 logs through, checks once a minute).
pub(crate) const ROTATION_CHECK: Duration = Duration::from_secs(60);

pub(crate) struct Writer {
    pub queue: Arc<Queue>,
    pub fmt: Format,
    pub files: Vec<FileSink>,
    pub streams: Vec<Stream>,
    pub syslog: Option<SyslogSink>,
    pub rotation_check: Duration,
    pub last_check: Instant,
    /// Reports from the sinks, written through all sinks after the batch.
    pub reports: Vec<Report>,
}

fn internal(level: Level, msg: String) -> Line {
    Line {
        time: Local::now(),
        level,
        msg,
        fields: String::new(),
        class: Class::Vital,
    }
}

/// The line written where lines were dropped.
pub(crate) fn dropped_notice(since: DateTime<Local>, lines: u64, warnings: u64) -> Line {
    let of = if warnings > 0 {
        format!(" ({warnings} of them WARN or ERROR)")
    } else {
        String::new()
    };
    Line {
        time: since,
        level: Level::Warning,
        msg: format!(
            "{lines} log lines dropped{of}: the log writer fell behind (a slow, full or hung file system?)"
        ),
        fields: String::new(),
        class: Class::Vital,
    }
}

impl Writer {
    pub fn run(mut self) {
        while let Some(batch) = self.queue.take() {
            for item in batch {
                match item {
                    Item::Line(l) => self.line(&l),
                    Item::Dropped {
                        since,
                        lines,
                        warnings,
                    } => self.line(&dropped_notice(since, lines, warnings)),
                    Item::Reopen => {
                        self.commit();
                        self.reopen();
                    }
                    Item::Flush(ticket) => {
                        self.commit();
                        ticket.done();
                    }
                }
            }
            self.commit();
            if self.last_check.elapsed() >= self.rotation_check {
                self.check_rotation();
            }
        }
    }

    fn line(&mut self, l: &Line) {
        let debug = l.is_debug();
        for f in &mut self.files {
            if !debug || f.debug {
                f.add(&self.fmt, l);
            }
        }
        for s in &mut self.streams {
            if !debug || s.debug {
                s.add(&self.fmt, l);
            }
        }
        if let Some(s) = &mut self.syslog {
            s.send(&self.fmt, l, Instant::now(), &mut self.reports);
        }
    }

    /// Writes the batch. A sink's report goes through every sink at once; a
    /// report about a report is rate-limited away, so this ends after a few
    /// rounds (anything left waits for the next batch).
    fn commit(&mut self) {
        for _ in 0..3 {
            let now = Instant::now();
            for f in &mut self.files {
                f.commit(now, &mut self.reports);
            }
            for s in &mut self.streams {
                s.commit();
            }
            if self.reports.is_empty() {
                return;
            }
            for (level, text) in std::mem::take(&mut self.reports) {
                self.line(&internal(level, text));
            }
        }
    }

    /// SIGHUP: every file opened again at its path, syslog reconnected.
    fn reopen(&mut self) {
        for f in &mut self.files {
            f.reopen(&mut self.reports);
        }
        if let Some(s) = &mut self.syslog {
            s.reopen();
        }
        self.last_check = Instant::now();
        self.commit();
    }

    /// logrotate without a SIGHUP: a path that names another file (or none)
    /// is opened again, as cluster-glue does.
    fn check_rotation(&mut self) {
        self.last_check = Instant::now();
        for f in &mut self.files {
            if f.rotated() && f.reopen(&mut self.reports) {
                self.reports.push((
                    Level::Info,
                    format!("log-rotate detected on logfile {}", f.path().display()),
                ));
            }
        }
        self.commit();
    }
}
