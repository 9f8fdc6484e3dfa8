//! Where lines go: log files (opened without following symbolic links,
//! reopened on SIGHUP or when rotated), streams (standard error) and syslog
//! (a datagram to `/dev/log`). Only the writer thread touches these.
//!
//! A sink that fails never stops the others and never stops the writer: it
//! counts what it lost and says so through the other sinks (a *report*),
//! at most once a minute, and once more when it works again.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::libc;
use slog::Level;

use super::format::{Format, Line};

/// Something a sink has to tell the operator, written through every sink.
pub(crate) type Report = (Level, String);

/// How often the same failure is reported again.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Mode of a log file we create (an existing file keeps its mode): readable
/// by root's group (`adm` reads logs on Debian), by nobody else. The daemon
/// runs as root, so the file is root's.
pub(crate) const FILE_MODE: u32 = 0o640;

/// Lets one report through every `every`.
#[derive(Debug)]
pub(crate) struct Limiter {
    every: Duration,
    last: Option<Instant>,
}

impl Limiter {
    pub fn new(every: Duration) -> Limiter {
        Limiter { every, last: None }
    }

    pub fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }

    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// Opens a log file for appending: created with [`FILE_MODE`], never through
/// a symbolic link (`O_NOFOLLOW`: a link planted in a writable directory
/// cannot make root append to another file), and only if it is a regular
/// file or a character device (`/dev/console`). A FIFO is refused without
/// blocking (`O_NONBLOCK` while opening).
pub(crate) fn open_log(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                e.kind(),
                format!("{e}: it is a symbolic link, and log files are not opened through one"),
            ),
            Some(libc::ENXIO) => io::Error::new(e.kind(), format!("{e}: a FIFO without a reader")),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if !(kind.is_file() || kind.is_char_device()) {
        return Err(io::Error::other(
            "not a regular file (nor a character device)",
        ));
    }
    // Writes may block (that is the writer thread's business), so clear O_NONBLOCK.
    nix::fcntl::fcntl(
        &file,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_APPEND),
    )?;
    Ok(file)
}

/// `logfile` (everything but debug) or `debugfile` (everything, with fields).
#[derive(Debug)]
pub(crate) struct FileSink {
    path: PathBuf,
    /// The debug file: debug lines too, and the structured fields.
    pub debug: bool,
    /// `None` while it cannot be opened; tried again on SIGHUP and at each
    /// rotation check.
    file: Option<File>,
    /// Lines of this batch, written with one `write` per batch.
    buf: Vec<u8>,
    lines: u64,
    /// Lines lost since writing began to fail.
    lost: u64,
    limiter: Limiter,
}

impl FileSink {
    /// Opens `path`; the error, if any, is returned as a problem to report.
    pub fn open(path: &Path, debug: bool) -> (FileSink, Option<String>) {
        let (file, problem) = match open_log(path) {
            Ok(f) => (Some(f), None),
            Err(e) => (
                None,
                Some(format!("cannot open log file {}: {e}", path.display())),
            ),
        };
        let sink = FileSink {
            path: path.to_path_buf(),
            debug,
            file,
            buf: Vec::new(),
            lines: 0,
            lost: 0,
            limiter: Limiter::new(REPORT_EVERY),
        };
        (sink, problem)
    }

    pub fn add(&mut self, fmt: &Format, line: &Line) {
        fmt.file_line(&mut self.buf, line, self.debug);
        self.lines += 1;
    }

    /// Writes the batch. A failure (ENOSPC, EIO) loses the batch, is counted
    /// and reported at most once a minute.
    pub fn commit(&mut self, now: Instant, reports: &mut Vec<Report>) {
        if self.buf.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.lines);
        let Some(file) = &mut self.file else {
            // Its opening failed and was reported; counted until it opens.
            self.lost += lines;
            self.buf.clear();
            return;
        };
        let result = file.write_all(&self.buf);
        self.buf.clear();
        match result {
            Ok(()) if self.lost > 0 => {
                reports.push((
                    Level::Info,
                    format!(
                        "writing to {} works again; {} log lines were lost",
                        self.path.display(),
                        self.lost
                    ),
                ));
                self.lost = 0;
                self.limiter.reset();
            }
            Ok(()) => {}
            Err(e) => {
                self.lost += lines;
                if self.limiter.allow(now) {
                    reports.push((
                        Level::Error,
                        format!(
                            "cannot write to log file {}: {e}; {} log lines lost so far (said at most once a minute)",
                            self.path.display(),
                            self.lost
                        ),
                    ));
                }
            }
        }
    }

    /// Opens the path again (after logrotate moved the file, SIGHUP). If that
    /// fails, the file open until now stays in use and the failure is reported.
    pub fn reopen(&mut self, reports: &mut Vec<Report>) -> bool {
        match open_log(&self.path) {
            Ok(f) => {
                self.file = Some(f);
                true
            }
            Err(e) => {
                let still = if self.file.is_some() {
                    "; writing on to the file open before"
                } else {
                    ""
                };
                reports.push((
                    Level::Error,
                    format!("cannot reopen log file {}: {e}{still}", self.path.display()),
                ));
                false
            }
        }
    }

    /// The path no longer names the open file (moved, removed, replaced),
    /// or nothing is open.
    pub fn rotated(&self) -> bool {
        let Some(f) = &self.file else { return true };
        let (Ok(open), Ok(now)) = (f.metadata(), std::fs::symlink_metadata(&self.path)) else {
            return true;
        };
        (open.dev(), open.ino()) != (now.dev(), now.ino())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Standard error (or, in tests, any writer): the file line without fields.
pub(crate) struct Stream {
    pub out: Box<dyn io::Write + Send>,
    /// Gets debug lines and the fields.
    pub debug: bool,
    buf: Vec<u8>,
}

impl Stream {
    pub fn new(out: Box<dyn io::Write + Send>, debug: bool) -> Stream {
        Stream {
            out,
            debug,
            buf: Vec::new(),
        }
    }

    pub fn add(&mut self, fmt: &Format, line: &Line) {
        fmt.file_line(&mut self.buf, line, self.debug);
    }

    /// Errors are ignored: standard error is a courtesy copy, and nobody
    /// would read a report about it.
    pub fn commit(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let _ = self.out.write_all(&self.buf);
        let _ = self.out.flush();
        self.buf.clear();
    }
}

/// How long one datagram may wait for room in the syslog socket.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);

/// syslog over a Unix datagram socket (`/dev/log`), reconnected when the
/// syslog daemon restarts.
#[derive(Debug)]
pub(crate) struct SyslogSink {
    /// `/dev/log` (a test socket in unit tests).
    path: PathBuf,
    /// The `logfacility` name, for messages.
    name: String,
    facility: u8,
    /// Send debug lines too: with `debug` 1 or more, when 3.0.6 logs them.
    debug: bool,
    sock: Option<UnixDatagram>,
    /// While syslog is unreachable or its socket is full, lines are not
    /// sent before this (counted in `lost`).
    skip_until: Option<Instant>,
    /// How long to leave it alone after a failure.
    retry_every: Duration,
    /// Lines not sent since it failed.
    lost: u64,
    /// The files were told that syslog is down.
    down_reported: bool,
    /// For "socket full" reports.
    limiter: Limiter,
}

fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)?;
    sock.set_write_timeout(Some(SEND_TIMEOUT))?;
    Ok(sock)
}

/// The syslog daemon went away (it restarts, or its socket was replaced).
fn gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNREFUSED
                | libc::ENOTCONN
                | libc::ECONNRESET
                | libc::EPIPE
                | libc::ENOENT
                | libc::EDESTADDRREQ
        )
    )
}

impl SyslogSink {
    /// Connects at once; an error is returned as a problem to report (the
    /// sink then tries again after `retry_every`).
    pub fn open(
        path: &Path,
        name: &str,
        facility: u8,
        debug: bool,
        retry_every: Duration,
    ) -> (SyslogSink, Option<String>) {
        let mut sink = SyslogSink {
            path: path.to_path_buf(),
            name: name.to_owned(),
            facility,
            debug,
            sock: None,
            skip_until: None,
            retry_every,
            lost: 0,
            down_reported: false,
            limiter: Limiter::new(REPORT_EVERY),
        };
        let problem = match connect(path) {
            Ok(s) => {
                sink.sock = Some(s);
                None
            }
            Err(e) => {
                sink.down_reported = true;
                sink.skip_until = Some(Instant::now() + retry_every);
                Some(sink.down_text(&e))
            }
        };
        (sink, problem)
    }

    fn down_text(&self, e: &io::Error) -> String {
        format!(
            "logfacility {}: cannot send to syslog at {}: {e}; the log files still get every line; trying again",
            self.name,
            self.path.display()
        )
    }

    /// Sends `line` if syslog takes its level (info and up; debug with `debug`).
    pub fn send(&mut self, fmt: &Format, line: &Line, now: Instant, reports: &mut Vec<Report>) {
        if line.level == Level::Trace || (line.is_debug() && !self.debug) {
            return;
        }
        if self.skip_until.is_some_and(|t| now < t) {
            self.lost += 1;
            return;
        }
        self.skip_until = None;
        let dgram = fmt.syslog_datagram(self.facility, line);
        let first = match &self.sock {
            Some(s) => s.send(&dgram).map(drop),
            None => Err(io::Error::from_raw_os_error(libc::ENOTCONN)),
        };
        let result = match first {
            // Restarted (or never reached): connect again at once, once.
            Err(e) if gone(&e) => {
                self.sock = None;
                connect(&self.path).and_then(|s| {
                    s.send(&dgram)?;
                    self.sock = Some(s);
                    Ok(())
                })
            }
            other => other,
        };
        match result {
            Ok(()) => {
                if self.down_reported || self.lost > 0 {
                    reports.push((
                        Level::Info,
                        format!(
                            "syslog at {} takes lines again; {} lines were not sent to it",
                            self.path.display(),
                            self.lost
                        ),
                    ));
                }
                self.down_reported = false;
                self.lost = 0;
                self.limiter.reset();
            }
            Err(e) if self.sock.is_none() => {
                self.lost += 1;
                self.skip_until = Some(now + self.retry_every);
                if !self.down_reported {
                    self.down_reported = true;
                    reports.push((Level::Warning, self.down_text(&e)));
                }
            }
            Err(e) => {
                // Its socket is full (the daemon is stuck) or the line too long.
                self.lost += 1;
                self.skip_until = Some(now + self.retry_every);
                if self.limiter.allow(now) {
                    reports.push((
                        Level::Warning,
                        format!(
                            "syslog at {} did not take a line: {e}; the log files still get every line",
                            self.path.display()
                        ),
                    ));
                }
            }
        }
    }

    /// SIGHUP: connect again with the next line, without waiting.
    pub fn reopen(&mut self) {
        self.sock = None;
        self.skip_until = None;
    }
}
