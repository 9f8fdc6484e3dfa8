//! heartbeat's line formats: the files' (protocol notes §12.3) and the
//! datagram sent to syslog, with heartbeat's priority words and the mapping
//! of `logfacility` names and slog levels onto syslog's numbers.

use std::fmt::Write as _;

use chrono::{DateTime, Local};
use slog::Level;

/// One log line, formatted by the caller (the time is when it was logged, not
/// when it was written) and written by the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub time: DateTime<Local>,
    pub level: Level,
    pub msg: String,
    /// ` key=value` pairs, for the debug file only.
    pub fields: String,
    /// What the overflow policy may do with it.
    pub class: Class,
}

/// How much a line matters when the writer falls behind (see the module doc
/// of `logging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// debug and info: dropped, and counted, when the queue is full.
    Normal,
    /// WARN and ERROR: kept until the queue holds [`super::queue::Limits::bytes`].
    Warning,
    /// CRIT, and info lines flagged `important` (takeovers, acquire, release):
    /// never dropped.
    Vital,
}

impl Line {
    /// Bytes it takes in the queue, roughly.
    pub fn size(&self) -> usize {
        std::mem::size_of::<Line>() + self.msg.len() + self.fields.len()
    }

    /// Debug and trace lines go to the debug file only.
    pub fn is_debug(&self) -> bool {
        !self.level.is_at_least(Level::Info)
    }
}

/// heartbeat's priority word (cluster-glue's `prio2str`).
pub(crate) fn priority(level: Level) -> &'static str {
    match level {
        Level::Critical => "CRIT",
        Level::Error => "ERROR",
        Level::Warning => "WARN",
        Level::Info => "info",
        Level::Debug | Level::Trace => "debug",
    }
}

/// The syslog severity (RFC 3164 §4.1.1) of a slog level.
pub(crate) fn severity(level: Level) -> u8 {
    match level {
        Level::Critical => 2,             // LOG_CRIT
        Level::Error => 3,                // LOG_ERR
        Level::Warning => 4,              // LOG_WARNING
        Level::Info => 6,                 // LOG_INFO
        Level::Debug | Level::Trace => 7, // LOG_DEBUG
    }
}

/// The facility number of a `logfacility` name, as glibc's `facilitynames`
/// table (which 3.0.6 uses through cluster-glue) gives it. `kern` and `none`
/// mean no syslog and never get here (hb-conf maps them to no facility).
pub fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        // glibc's INTERNAL_MARK: LOG_MAKEPRI(LOG_NFACILITIES, 0).
        "mark" => 24,
        _ => return None,
    })
}

/// What every line of this process shares.
#[derive(Debug, Clone)]
pub(crate) struct Format {
    /// `uname -n` as heartbeat prints it in the file format.
    pub host: String,
    pub pid: u32,
    /// `syslogmsgfmt`: the file line looks like a syslog line (default).
    pub syslogmsgfmt: bool,
}

impl Format {
    /// Appends the file line (with its newline) to `out`:
    /// `Nov 25 22:04:19 vm heartbeat: [8395]: info: message` or, with
    /// `syslogmsgfmt false`, `heartbeat[8395]: 2026/11/25_22:04:19 info: message`.
    /// `fields` adds the structured fields (the debug file).
    pub fn file_line(&self, out: &mut Vec<u8>, line: &Line, fields: bool) {
        let mut s = String::with_capacity(64 + line.msg.len() + line.fields.len());
        let prio = priority(line.level);
        if self.syslogmsgfmt {
            let _ = write!(
                s,
                "{} {} heartbeat: [{}]: {prio}: {}",
                line.time.format("%b %d %H:%M:%S"),
                self.host,
                self.pid,
                line.msg
            );
        } else {
            let _ = write!(
                s,
                "heartbeat[{}]: {} {prio}: {}",
                self.pid,
                line.time.format("%Y/%m/%d_%H:%M:%S"),
                line.msg
            );
        }
        if fields {
            s.push_str(&line.fields);
        }
        s.push('\n');
        out.extend_from_slice(s.as_bytes());
    }

    /// The datagram for `/dev/log`, as glibc's `syslog()` builds it for 3.0.6
    /// (`openlog("heartbeat", LOG_CONS, facility)`, then
    /// `syslog(pri, "[%d]: %s: %s", pid, prio, msg)`):
    /// `<PRI>Nov  5 22:04:19 heartbeat: [8395]: info: message`. That is
    /// RFC 3164 as local syslog sockets take it: no host name (the syslog
    /// daemon adds it), the day padded with a space, the tag `heartbeat`.
    pub fn syslog_datagram(&self, facility: u8, line: &Line) -> Vec<u8> {
        let pri = u16::from(facility) * 8 + u16::from(severity(line.level));
        format!(
            "<{pri}>{} heartbeat: [{}]: {}: {}",
            line.time.format("%b %e %H:%M:%S"),
            self.pid,
            priority(line.level),
            line.msg
        )
        .into_bytes()
    }
}
