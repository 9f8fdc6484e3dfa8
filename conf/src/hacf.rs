//! `ha.cf` (spec §12.1-§12.2), read line by line as heartbeat 3.0.6 reads it.
//!
//! Lexical rules kept from 3.0.6: `#` anywhere starts a comment; the directive is
//! the first word and is case-sensitive; option values are split on blanks and
//! commas and each value applies separately (`node a b`, `bcast eth0 eth1`);
//! whole-line directives (`ucast`, `mcast`, `ping_group`, `respawn`, `failfast`,
//! `apiauth`) take the rest of the line.
//!
//! Where 3.0.6 silently ignores or misreads something, we say so instead: a
//! directive without a value, a second value for a one-value directive, a
//! `baud` after serial lines that would not see its new value, extra words on a
//! media line (errors); a `udpport` after the first bcast or ucast line, which
//! leaves that medium type on the earlier port as in 3.0.6 (a warning naming
//! both lines; the seed's ha.cf repeats the default there, which is silent).
//!
//! `ha-ext.cf` (beside ha.cf, read after it, never read by 3.0.6) holds only
//! our own directives ([`EXTENSIONS`]), so that a ha.cf shared with 3.0.6
//! nodes stays valid for them.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::diag::{At, Diagnostics, Loc};
use crate::model::{
    ApiAuth, AutoFailback, Compression, GenMethod, Medium, MsgFmt, PingNode, Respawn,
};
use crate::partial::Partial;
use crate::time;

/// Longest line 3.0.6 reads in one piece (MAXLINE - 1); it splits longer ones silently.
pub const MAX_LINE: usize = 5119;

/// Longest node name (HOSTLENG - 1).
pub const MAX_NODE_NAME: usize = 99;

/// Default UDP port (IANA `ha-cluster`).
pub const DEFAULT_UDPPORT: u16 = 694;

/// Default serial speed.
pub const DEFAULT_BAUD: u32 = 19200;

/// Speeds the serial medium accepts.
pub const BAUD_RATES: [u32; 7] = [9600, 19200, 38400, 57600, 115_200, 230_400, 460_800];

/// syslog facility names `logfacility` accepts (glibc's names, case-sensitive).
pub const FACILITIES: [&str; 21] = [
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "mark", "news", "security",
    "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
];
const FACILITY_LOCAL7: &str = "local7";

/// Directives of ours that 3.0.6 does not know (it refuses them as illegal): a
/// ha.cf shared with 3.0.6 nodes must not use them; `ha-ext.cf` holds them.
pub(crate) const EXTENSIONS: &[&str] = &[
    "script_timeout",
    "ipfail",
    "metrics_listen",
    "ipaddr_scripts",
];

/// The file beside ha.cf for our own directives (3.0.6 never reads it).
pub const EXT_FILE: &str = "ha-ext.cf";

/// Directives 3.0.6 acts on and we accept without effect, each with what
/// happens instead (one warning each, at start and in `check-config`).
const NO_EFFECT: &[(&str, &str)] = &[
    (
        "coredumps",
        "core dumps follow the system's settings (ulimit -c, kernel.core_pattern)",
    ),
    (
        "coreroot",
        "core dumps follow the system's settings (kernel.core_pattern)",
    ),
    (
        "memreserve",
        "with realtime on, all of the daemon's memory is locked at start instead",
    ),
    (
        "compression",
        "packets are sent uncompressed (compressed zlib packets from 3.0.6 peers are read)",
    ),
    (
        "compression_threshold",
        "packets are sent uncompressed (compressed zlib packets from 3.0.6 peers are read)",
    ),
    (
        "traditional_compression",
        "packets are sent uncompressed (compressed zlib packets from 3.0.6 peers are read)",
    ),
    (
        "log_badpack",
        "bad packets are always logged, at a bounded rate",
    ),
];

/// Media directives: a refused one means no follow-on "No heartbeat media defined".
pub(crate) const MEDIA_DIRECTIVES: &[&str] = &[
    "bcast", "udp", "ucast", "mcast", "serial", "ucast6", "mcast6", "hbaping", "rds",
];

/// Every directive name 3.0.6 accepts (for "did you mean" hints).
const KNOWN: &[&str] = &[
    "cluster",
    "node",
    "hopfudge",
    "keepalive",
    "deadtime",
    "deadping",
    "initdead",
    "warntime",
    "watchdog",
    "baud",
    "udpport",
    "logfacility",
    "logfile",
    "debugfile",
    "nice_failback",
    "auto_failback",
    "rtprio",
    "hbgenmethod",
    "realtime",
    "debug",
    "msgfmt",
    "use_logd",
    "conn_logd_time",
    "use_apphbd",
    "log_badpack",
    "syslogmsgfmt",
    "coredumps",
    "coreroot",
    "crm_daemon_dir",
    "crmd_spawns_pengine",
    "crm",
    "pacemaker",
    "autojoin",
    "uuidfrom",
    "compression",
    "compression_threshold",
    "traditional_compression",
    "env",
    "max_rexmit_delay",
    "record_config_changes",
    "record_pengine_inputs",
    "enable_config_writes",
    "memreserve",
    "quorum_server",
    "stonith",
    "stonith_host",
    "apiauth",
    "respawn",
    "failfast",
    "bcast",
    "ucast",
    "mcast",
    "serial",
    "ping",
    "ping_group",
    "ping6",
    "ucast6",
    "mcast6",
    "hbaping",
    "rds",
    "udp",
];

/// Reads ha.cf text into `partial`, then, if given, the text of `ha-ext.cf`
/// (our own directives only, read after ha.cf).
pub(crate) fn parse(
    path: &Path,
    text: &str,
    ext: Option<(&Path, &str)>,
    partial: &mut Partial,
    diags: &mut Diagnostics,
) {
    partial.written.get_or_insert_with(Default::default);
    let mut r = Reader::new(path, partial, diags);
    for (i, raw) in text.split('\n').enumerate() {
        r.line(i + 1, raw);
    }
    if let Some((ext_path, ext_text)) = ext {
        r.file = Arc::from(ext_path);
        r.ext_only = true;
        for (i, raw) in ext_text.split('\n').enumerate() {
            r.line(i + 1, raw);
        }
    }
}

/// Applies directives that come from another front end (TOML): `(line, directive,
/// value text)`, with the same checks and messages as ha.cf lines.
pub(crate) fn apply(
    path: &Path,
    directives: &[(usize, &str, String)],
    partial: &mut Partial,
    diags: &mut Diagnostics,
) {
    let mut r = Reader::new(path, partial, diags);
    for (n, directive, rest) in directives {
        r.directive(*n, directive, rest);
    }
}

struct Reader<'a> {
    file: Arc<Path>,
    /// Reading `ha-ext.cf`: only [`EXTENSIONS`] are allowed.
    ext_only: bool,
    p: &'a mut Partial,
    diags: &'a mut Diagnostics,
    /// One-value directives already given, and where (to flag repeats).
    seen: HashMap<&'static str, Loc>,
    /// The port of the bcast media and the first bcast line: 3.0.6's bcast
    /// plugin reads `udpport` once, at its first line.
    bcast_port: Option<(u16, usize)>,
    /// The same for ucast.
    ucast_port: Option<(u16, usize)>,
    /// First serial line: `baud` must precede it.
    first_serial: Option<usize>,
    udpport: u16,
    baud: u32,
}

/// Splits option values as 3.0.6 does (blanks and commas).
fn values(rest: &str) -> Vec<&str> {
    rest.split([',', ' ', '\t', '\r', '\x0c'])
        .filter(|s| !s.is_empty())
        .collect()
}

fn words(rest: &str) -> Vec<&str> {
    rest.split_whitespace().collect()
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Checks an interface name the way the kernel limits it.
pub(crate) fn valid_iface(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

/// Closest known directive, for a hint.
fn suggest(word: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .chain(EXTENSIONS)
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'a> Reader<'a> {
    fn new(path: &Path, p: &'a mut Partial, diags: &'a mut Diagnostics) -> Reader<'a> {
        let file: Arc<Path> = Arc::from(path);
        p.main_loc = Some(Loc::new(&file, 0));
        Reader {
            file,
            ext_only: false,
            p,
            diags,
            seen: HashMap::new(),
            bcast_port: None,
            ucast_port: None,
            first_serial: None,
            udpport: DEFAULT_UDPPORT,
            baud: DEFAULT_BAUD,
        }
    }

    fn loc(&self, line: usize) -> Loc {
        Loc::new(&self.file, line)
    }

    /// `line N` in the file being read, `FILE:N` in the other one.
    fn place(&self, loc: &Loc) -> String {
        if loc.file == self.file {
            format!("line {}", loc.line)
        } else {
            loc.to_string()
        }
    }

    fn error(&mut self, line: usize, msg: impl Into<String>) {
        let loc = self.loc(line);
        self.diags.error(&loc, msg);
    }

    fn error_hint(&mut self, line: usize, msg: impl Into<String>, hint: impl Into<String>) {
        let loc = self.loc(line);
        self.diags.error_hint(&loc, msg, hint);
    }

    fn warn_hint(&mut self, line: usize, msg: impl Into<String>, hint: impl Into<String>) {
        let loc = self.loc(line);
        self.diags.warn_hint(&loc, msg, hint);
    }

    fn not_supported(&mut self, line: usize, what: &str, hint: &str) {
        self.error_hint(line, format!("{what} is not supported"), hint);
    }

    fn line(&mut self, n: usize, raw: &str) {
        if raw.len() > MAX_LINE {
            self.error(
                n,
                format!(
                    "line is longer than {MAX_LINE} characters; heartbeat 3.0.6 would split it"
                ),
            );
            return;
        }
        let text = raw.split('#').next().unwrap_or_default();
        let text = text.split('\r').next().unwrap_or_default().trim_start();
        if text.trim().is_empty() {
            return;
        }
        let (directive, rest) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        if rest.is_empty() {
            self.error_hint(
                n,
                format!("{directive} needs a value"),
                "heartbeat 3.0.6 silently ignores a directive without a value; give one or remove the line",
            );
            return;
        }
        self.directive(n, directive, rest);
    }

    /// For one-value directives: returns the value, flagging repeats and extra values.
    fn one(&mut self, n: usize, name: &'static str, rest: &str) -> Option<String> {
        let vals = values(rest);
        if vals.len() != 1 {
            let hint = if name.ends_with("time")
                || name.ends_with("timeout")
                || name == "keepalive"
                || name == "deadping"
                || name == "initdead"
            {
                "write the unit right after the number, without a space: `500ms`, `2` (seconds)"
            } else {
                "give exactly one value"
            };
            self.error_hint(
                n,
                format!("{name} takes one value, found {}: {rest}", vals.len()),
                hint,
            );
            return None;
        }
        if let Some(prev) = self.seen.insert(name, self.loc(n)) {
            let prev = self.place(&prev);
            self.warn_hint(
                n,
                format!("{name} is set again (first set on {prev}); this line wins"),
                "remove one of the two lines",
            );
        }
        Some(vals[0].to_owned())
    }

    fn time(&mut self, n: usize, name: &'static str, rest: &str) -> Option<At<Duration>> {
        let v = self.one(n, name, rest)?;
        match time::parse(&v) {
            Ok(d) => Some(At::new(d, self.loc(n))),
            Err(e) => {
                self.error_hint(
                    n,
                    format!("{name}: bad time value {v:?}: {e}"),
                    "times are a number of seconds (`2`, `1.5`) or milliseconds with `ms` (`500ms`)",
                );
                None
            }
        }
    }

    fn boolean(&mut self, n: usize, name: &'static str, rest: &str) -> Option<bool> {
        let v = self.one(n, name, rest)?;
        let b = parse_bool(&v);
        if b.is_none() {
            self.error_hint(
                n,
                format!("{name}: {v:?} is not a boolean"),
                "use on/off (or yes/no, true/false, 1/0)",
            );
        }
        b
    }

    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &mut self,
        n: usize,
        name: &'static str,
        rest: &str,
        min: T,
        max: T,
    ) -> Option<T> {
        let v = self.one(n, name, rest)?;
        match v.parse::<T>() {
            Ok(x) if x >= min && x <= max => Some(x),
            _ => {
                self.error(
                    n,
                    format!("{name}: {v:?} is not a number from {min} to {max}"),
                );
                None
            }
        }
    }

    /// A value from a fixed set (case-sensitive, as 3.0.6 compares them).
    fn choice<T: Copy>(
        &mut self,
        n: usize,
        name: &'static str,
        rest: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let v = self.one(n, name, rest)?;
        let found = options
            .iter()
            .find(|(word, _)| *word == v)
            .map(|(_, value)| *value);
        if found.is_none() {
            let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
            self.error(
                n,
                format!("{name}: {v:?} is not one of {}", words.join(", ")),
            );
        }
        found
    }

    fn path(&mut self, n: usize, name: &'static str, rest: &str) -> Option<PathBuf> {
        let v = self.one(n, name, rest)?;
        if !v.starts_with('/') {
            self.error_hint(
                n,
                format!("{name}: {v:?} is not an absolute path"),
                "write the full path, starting with /",
            );
            return None;
        }
        Some(PathBuf::from(v))
    }

    fn directive(&mut self, n: usize, directive: &str, rest: &str) {
        if self.ext_only && !EXTENSIONS.contains(&directive) {
            let what = if KNOWN.contains(&directive) {
                format!("{directive} is a heartbeat 3.0.6 directive: it belongs in ha.cf, not in {EXT_FILE}")
            } else {
                format!("Illegal directive [{directive}] in {EXT_FILE}")
            };
            self.error_hint(
                n,
                what,
                format!(
                    "{EXT_FILE} holds only our own directives: {}",
                    EXTENSIONS.join(", ")
                ),
            );
            return;
        }
        let errors_before = self.diags.error_count();
        let first_time = !self.p.directives_seen.iter().any(|d| d == directive);
        self.directive_inner(n, directive, rest);
        if self.diags.error_count() > errors_before {
            // Nothing later may build on a refused line (issue 14, item 9).
            self.p.refused.push(directive.to_owned());
            return;
        }
        if first_time {
            self.p.directives_seen.push(directive.to_owned());
            if let Some((_, instead)) = NO_EFFECT.iter().find(|(d, _)| *d == directive) {
                self.warn_hint(
                    n,
                    format!("{directive} is accepted for heartbeat 3.0.6 compatibility but has no effect here: {instead}"),
                    "remove the line unless 3.0.6 nodes share this file",
                );
            }
        }
    }

    fn directive_inner(&mut self, n: usize, directive: &str, rest: &str) {
        // As 3.0.6 records option values: each value in turn, so the last one
        // stays. `crm` and `pacemaker` are one setting under two names.
        if let (Some(written), Some(name), Some(value)) = (
            self.p.written.as_mut(),
            crate::params::RECORDED.iter().find(|d| **d == directive),
            values(rest).last(),
        ) {
            match *name {
                "crm" | "pacemaker" => {
                    written.insert("crm", (*value).to_owned());
                    written.insert("pacemaker", (*value).to_owned());
                }
                _ => {
                    written.insert(name, (*value).to_owned());
                }
            }
        }
        match directive {
            "cluster" => self.p.cluster = self.one(n, "cluster", rest),
            "node" => {
                for v in values(rest) {
                    let name = v.to_ascii_lowercase();
                    if name.len() > MAX_NODE_NAME {
                        self.error(n, format!("node name {v:?} is longer than {MAX_NODE_NAME} characters"));
                    } else {
                        let loc = self.loc(n);
                        self.p.nodes.push(At::new(name, loc));
                    }
                }
            }
            "keepalive" => self.p.keepalive = self.time(n, "keepalive", rest),
            "deadtime" => self.p.deadtime = self.time(n, "deadtime", rest),
            "warntime" => self.p.warntime = self.time(n, "warntime", rest),
            "initdead" => self.p.initdead = self.time(n, "initdead", rest),
            "deadping" => self.p.deadping = self.time(n, "deadping", rest),
            "script_timeout" => self.p.script_timeout = self.time(n, "script_timeout", rest),
            "hopfudge" => self.p.hopfudge = self.number(n, "hopfudge", rest, 0u8, 255),
            "debug" => self.p.debug = self.number(n, "debug", rest, 0u8, 255),
            "rtprio" => self.p.rtprio = self.number(n, "rtprio", rest, 1u8, 99),
            "memreserve" => self.p.memreserve_kib = self.number(n, "memreserve", rest, 1u32, u32::MAX),
            "compression_threshold" => {
                self.p.compression_threshold_kib = self.number(n, "compression_threshold", rest, 1u32, 1024 * 1024)
            }
            "max_rexmit_delay" => {
                self.p.max_rexmit_delay =
                    self.number(n, "max_rexmit_delay", rest, 1u64, 60_000).map(Duration::from_millis)
            }
            "watchdog" => {
                if let Some(prev) = self.seen.get("watchdog").cloned() {
                    let prev = self.place(&prev);
                    self.error_hint(n, format!("Watchdog device multiply specified (first on {prev})"), "keep one watchdog line");
                    return;
                }
                self.p.watchdog = self.path(n, "watchdog", rest);
            }
            "baud" => self.baud(n, rest),
            "udpport" => self.udpport(n, rest),
            "logfacility" => {
                let Some(v) = self.one(n, "logfacility", rest) else { return };
                self.p.logfacility = match v.as_str() {
                    "none" => Some(None),
                    "kern" => {
                        self.warn_hint(
                            n,
                            "logfacility kern means no syslog logging (heartbeat 3.0.6 treats it like none)",
                            "use daemon or local0-local7 to log to syslog",
                        );
                        Some(None)
                    }
                    f if FACILITIES.contains(&f) || f == FACILITY_LOCAL7 => Some(Some(v.clone())),
                    _ => {
                        self.error_hint(
                            n,
                            format!("Log facility({v}) not valid"),
                            "use none, daemon, local0-local7, or another syslog facility name in lower case",
                        );
                        None
                    }
                }
            }
            "logfile" => self.p.logfile = self.path(n, "logfile", rest),
            "debugfile" => self.p.debugfile = self.path(n, "debugfile", rest),
            "auto_failback" => {
                let Some(v) = self.one(n, "auto_failback", rest) else { return };
                let mode = match parse_bool(&v) {
                    Some(true) => Some(AutoFailback::On),
                    Some(false) => Some(AutoFailback::Off),
                    None if v.eq_ignore_ascii_case("legacy") => Some(AutoFailback::Legacy),
                    None => {
                        self.error(n, format!("auto_failback: {v:?} is not one of on, off, legacy"));
                        None
                    }
                };
                self.p.auto_failback = mode.map(|m| At::new(m, self.loc(n)));
            }
            "nice_failback" => self.nice_failback(n, rest),
            "hbgenmethod" => {
                self.p.hbgenmethod = self.choice(n, "hbgenmethod", rest, &[("file", GenMethod::File), ("time", GenMethod::Time)])
            }
            "msgfmt" => {
                self.p.msgfmt =
                    self.choice(n, "msgfmt", rest, &[("classic", MsgFmt::Classic), ("netstring", MsgFmt::Netstring)])
            }
            "compression" => {
                self.p.compression =
                    self.choice(n, "compression", rest, &[("zlib", Compression::Zlib), ("bz2", Compression::Bz2)])
            }
            "realtime" => self.p.realtime = self.boolean(n, "realtime", rest),
            "ipfail" => {
                let loc = self.loc(n);
                self.p.ipfail = self.boolean(n, "ipfail", rest).map(|b| At::new(b, loc));
            }
            "metrics_listen" => self.metrics_listen(n, rest),
            "ipaddr_scripts" => self.p.ipaddr_scripts = self.boolean(n, "ipaddr_scripts", rest),
            "log_badpack" => self.p.log_badpack = self.boolean(n, "log_badpack", rest),
            "syslogmsgfmt" => self.p.syslogmsgfmt = self.boolean(n, "syslogmsgfmt", rest),
            "coredumps" => self.p.coredumps = self.boolean(n, "coredumps", rest),
            "traditional_compression" => self.p.traditional_compression = self.boolean(n, "traditional_compression", rest),
            "coreroot" => self.p.coreroot = self.path(n, "coreroot", rest),
            "use_logd" => {
                let on = self.boolean(n, "use_logd", rest);
                if on == Some(true) && !self.p.use_logd.as_ref().is_some_and(|u| u.value) {
                    self.warn_hint(
                        n,
                        format!("use_logd {}: there is no separate logging daemon here; heartbeat logs by itself to what logfile, debugfile and logfacility name (/var/log/ha-log when none is given)", values(rest)[0]),
                        "name logfile, debugfile or logfacility to choose where the log goes",
                    );
                }
                if let Some(on) = on {
                    self.p.use_logd = Some(At::new(on, self.loc(n)));
                }
            }
            "conn_logd_time" => {
                if self.time(n, "conn_logd_time", rest).is_some() {
                    self.warn_hint(n, "conn_logd_time has no effect: there is no logging daemon", "remove the line");
                }
            }
            "use_apphbd" => {
                if self.boolean(n, "use_apphbd", rest) == Some(true) {
                    self.not_supported(n, "use_apphbd on", "remove the line or write `use_apphbd off`");
                }
            }
            "crm" | "pacemaker" => self.pacemaker(n, directive, rest),
            "crm_daemon_dir" | "crmd_spawns_pengine" | "record_config_changes" | "record_pengine_inputs"
            | "enable_config_writes" => {
                self.warn_hint(n, format!("{directive} has no effect: it only applies with pacemaker"), "remove the line");
            }
            "autojoin" => {
                let Some(v) = self.one(n, "autojoin", rest) else { return };
                match v.to_ascii_lowercase().as_str() {
                    "none" => {}
                    "other" | "any" => self.not_supported(
                        n,
                        &format!("autojoin {v}"),
                        "list every node with `node` lines (heartbeat 3.0.6 also refuses autojoin with haresources)",
                    ),
                    _ => self.error(n, format!("Invalid autojoin directive [{v}]: use none")),
                }
            }
            "uuidfrom" => {
                let Some(v) = self.one(n, "uuidfrom", rest) else { return };
                match v.as_str() {
                    "file" => {}
                    "nodename" => self.not_supported(
                        n,
                        "uuidfrom nodename",
                        "3.0.6 derives that UUID from glibc's rand(), which cannot be reproduced; remove the line (the default is file)",
                    ),
                    _ => self.error(n, format!("Invalid uuidfrom directive [{v}]: use file")),
                }
            }
            "quorum_server" => self.not_supported(n, "quorum_server", "remove the line"),
            "env" => {
                for v in values(rest) {
                    match v.split_once('=') {
                        Some((name, value)) if !name.is_empty() => {
                            // 3.0.6 calls setenv at once: the last value of a name wins.
                            match self.p.env.iter_mut().find(|(k, _)| k == name) {
                                Some(prev) => {
                                    prev.1 = value.to_owned();
                                    self.warn_hint(n, format!("env {name} is set again; this value wins"), "set each name once");
                                }
                                None => self.p.env.push((name.to_owned(), value.to_owned())),
                            }
                        }
                        _ => self.error_hint(n, format!("env: invalid nvpair({v})"), "write env NAME=value"),
                    }
                }
            }
            "stonith" | "stonith_host" => self.not_supported(
                n,
                &format!("{directive} (STONITH devices)"),
                "remove the line; without STONITH, heartbeat 3.0.6 also logs `No STONITH device configured`",
            ),
            "apiauth" => self.apiauth(n, rest),
            "respawn" | "failfast" => self.respawn(n, directive == "failfast", rest),
            "udp" | "bcast" => {
                if directive == "udp" {
                    self.warn_hint(n, "directive 'udp' replaced by 'bcast'", "write bcast");
                }
                for iface in values(rest) {
                    if valid_iface(iface) {
                        let m = Medium::Bcast {
                            iface: iface.to_owned(),
                            port: self.udp_port(n, false),
                        };
                        self.push_medium(n, m);
                    } else {
                        self.error(n, format!("Illegal bcast [UDP/IP broadcast] in config file [{iface}]: not an interface name"));
                    }
                }
            }
            "ucast" => self.ucast(n, rest),
            "mcast" => self.mcast(n, rest),
            "serial" => {
                self.first_serial.get_or_insert(n);
                for dev in values(rest) {
                    if !dev.starts_with('/') {
                        self.error_hint(
                            n,
                            format!("Serial port not full pathname [{dev}] in config file"),
                            "write the full device path, e.g. /dev/ttyS0",
                        );
                        continue;
                    }
                    let m = Medium::Serial {
                        device: PathBuf::from(dev),
                        baud: self.baud,
                    };
                    self.push_medium(n, m);
                }
            }
            "ping" | "ping6" => {
                for host in values(rest) {
                    let ok = if directive == "ping6" {
                        host.parse::<std::net::Ipv6Addr>().is_ok() || valid_hostname(host)
                    } else {
                        host.parse::<Ipv4Addr>().is_ok() || valid_hostname(host)
                    };
                    if !ok {
                        self.error(n, format!("{directive}: {host:?} is not an address or host name"));
                        continue;
                    }
                    let loc = self.loc(n);
                    self.p.ping_nodes.push(At::new(
                        PingNode {
                            name: host.to_ascii_lowercase(),
                            hosts: vec![host.to_owned()],
                            group: false,
                        },
                        loc,
                    ));
                }
            }
            "ping_group" => {
                let w = words(rest);
                let Some((name, hosts)) = w.split_first().filter(|(_, h)| !h.is_empty()) else {
                    self.error_hint(n, "ping_group needs a name and at least one host", "write ping_group NAME HOST [HOST...]");
                    return;
                };
                if let Some(bad) = hosts.iter().find(|h| h.parse::<Ipv4Addr>().is_err() && !valid_hostname(h)) {
                    self.error(n, format!("ping_group {name}: {bad:?} is not an address or host name"));
                    return;
                }
                let loc = self.loc(n);
                self.p.ping_nodes.push(At::new(
                    PingNode {
                        name: name.to_ascii_lowercase(),
                        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
                        group: true,
                    },
                    loc,
                ));
            }
            "ucast6" | "mcast6" | "hbaping" | "rds" => self.not_supported(
                n,
                &format!("the {directive} medium"),
                "use bcast, ucast, mcast or serial",
            ),
            "normalpoll" => self.error(n, format!("Illegal directive [{directive}]")),
            other => {
                let hint = match suggest(other) {
                    Some(k) => format!("did you mean `{k}`? Directive names are case-sensitive"),
                    None => "see the ha.cf reference in the README".to_owned(),
                };
                self.error_hint(n, format!("Illegal directive [{other}]"), hint);
            }
        }
    }

    fn push_medium(&mut self, n: usize, m: Medium) {
        let loc = self.loc(n);
        self.p.media.push(At::new(m, loc));
    }

    /// The port of a bcast or ucast line: the `udpport` in force at the first
    /// line of that medium type, as 3.0.6's plugins read it once.
    fn udp_port(&mut self, n: usize, ucast: bool) -> u16 {
        let port = self.udpport;
        let latched = if ucast {
            &mut self.ucast_port
        } else {
            &mut self.bcast_port
        };
        latched.get_or_insert((port, n)).0
    }

    /// `metrics_listen ADDR:PORT` (ours): where the Prometheus endpoint listens.
    fn metrics_listen(&mut self, n: usize, rest: &str) {
        let Some(v) = self.one(n, "metrics_listen", rest) else {
            return;
        };
        match v.parse::<std::net::SocketAddr>() {
            Ok(a) if a.port() != 0 => self.p.metrics_listen = Some(a),
            Ok(_) => self.error_hint(
                n,
                format!("metrics_listen {v}: port 0 is not a port to scrape"),
                "give a fixed port, e.g. `metrics_listen 127.0.0.1:9100`",
            ),
            Err(_) => self.error_hint(
                n,
                format!("metrics_listen: bad address {v:?}"),
                "give an IP address and a port, e.g. `metrics_listen 127.0.0.1:9100` or `metrics_listen [::1]:9100`",
            ),
        }
    }

    /// `udpport` after a bcast or ucast line does not reach that medium
    /// type: 3.0.6's plugin read the port once, at its first line, and its
    /// peers listen there. Kept, with a warning naming both lines; the same
    /// port, as in the seed's ha.cf, is harmless and silent.
    fn udpport(&mut self, n: usize, rest: &str) {
        let Some(port) = self.number(n, "udpport", rest, 1u16, u16::MAX) else {
            return;
        };
        for (kind, latched) in [("bcast", self.bcast_port), ("ucast", self.ucast_port)] {
            if let Some((old, line)) = latched.filter(|(old, _)| *old != port) {
                self.warn_hint(
                    n,
                    format!("`udpport {port}` comes after the {kind} line {line}: every {kind} medium keeps port {old}, as heartbeat 3.0.6 reads the port once, at the first {kind} line"),
                    format!("move `udpport {port}` above line {line} to use it for {kind} too (on every node at once)"),
                );
            }
        }
        self.udpport = port;
    }

    fn baud(&mut self, n: usize, rest: &str) {
        if let Some(prev) = self.seen.get("baud").cloned() {
            let prev = self.place(&prev);
            self.error_hint(
                n,
                format!("Baudrate multiply specified (first on {prev})"),
                "keep one baud line",
            );
            return;
        }
        let Some(v) = self.one(n, "baud", rest) else {
            return;
        };
        let Some(baud) = v.parse::<u32>().ok().filter(|b| BAUD_RATES.contains(b)) else {
            self.error_hint(
                n,
                format!("invalid baudrate [{v}] specified"),
                "use one of 9600, 19200, 38400, 57600, 115200, 230400, 460800",
            );
            return;
        };
        if let Some(line) = self.first_serial.filter(|_| baud != self.baud) {
            self.error_hint(
                n,
                format!("baudrate setting must precede media statements (serial on line {line})"),
                format!("move `baud {baud}` above line {line}: heartbeat 3.0.6 would ignore it"),
            );
            return;
        }
        self.baud = baud;
    }

    fn ucast(&mut self, n: usize, rest: &str) {
        match words(rest).as_slice() {
            [iface, peer] => {
                if !valid_iface(iface) {
                    self.error(n, format!("ucast: [{iface}] is not an interface name"));
                } else if peer.parse::<Ipv4Addr>().is_err() && !valid_hostname(peer) {
                    self.error(
                        n,
                        format!("ucast: [{peer}] is not an IPv4 address or host name"),
                    );
                } else {
                    let m = Medium::Ucast {
                        iface: (*iface).to_owned(),
                        peer: (*peer).to_owned(),
                        port: self.udp_port(n, true),
                    };
                    self.push_medium(n, m);
                }
            }
            [iface] => self.error_hint(
                n,
                format!("ucast: [{iface}] missing target IP address/hostname"),
                "write ucast IFACE PEER-ADDRESS",
            ),
            _ => self.error_hint(
                n,
                format!("ucast takes two words, found: {rest}"),
                "write ucast IFACE PEER-ADDRESS (one peer per line)",
            ),
        }
    }

    fn mcast(&mut self, n: usize, rest: &str) {
        let w = words(rest);
        let syntax = "write mcast IFACE GROUP PORT TTL LOOP, e.g. mcast eth0 239.0.0.1 694 1 0";
        if w.len() != 5 {
            let what = ["device", "mcast address", "port", "ttl", "loop"];
            let msg = match what.get(w.len()) {
                Some(missing) => format!(
                    "mcast [{}] missing {missing}",
                    w.first().copied().unwrap_or_default()
                ),
                None => format!("mcast takes five words, found {}: {rest}", w.len()),
            };
            self.error_hint(n, msg, syntax);
            return;
        }
        let iface = w[0];
        if !valid_iface(iface) {
            self.error(
                n,
                format!("mcast device [{iface}] is not an interface name"),
            );
            return;
        }
        let Some(group) = w[1].parse::<Ipv4Addr>().ok().filter(Ipv4Addr::is_multicast) else {
            self.error_hint(
                n,
                format!("mcast [{iface}] bad addr [{}]", w[1]),
                "the group must be an IPv4 multicast address (224.0.0.0/4)",
            );
            return;
        };
        let Some(port) = w[2].parse::<u16>().ok().filter(|p| *p > 0) else {
            self.error(n, format!("mcast [{iface}] bad port [{}]", w[2]));
            return;
        };
        let Some(ttl) = w[3].parse::<u8>().ok().filter(|t| *t <= 4) else {
            self.error_hint(
                n,
                format!("mcast [{iface}] bad ttl [{}]", w[3]),
                "ttl must be 0 to 4",
            );
            return;
        };
        let looped = match w[4] {
            "0" => false,
            "1" => true,
            other => {
                self.error_hint(
                    n,
                    format!("mcast [{iface}] bad loop [{other}]"),
                    "loop must be 0 or 1",
                );
                return;
            }
        };
        let m = Medium::Mcast {
            iface: iface.to_owned(),
            group,
            port,
            ttl,
            looped,
        };
        self.push_medium(n, m);
    }

    fn respawn(&mut self, n: usize, failfast: bool, rest: &str) {
        let kind = if failfast { "failfast" } else { "respawn" };
        let w = words(rest);
        let Some((user, argv)) = w.split_first().filter(|(_, a)| !a.is_empty()) else {
            self.error_hint(
                n,
                format!("{kind} needs a user and a command"),
                format!("write {kind} USER /full/path [ARGS...]"),
            );
            return;
        };
        if user.len() >= 64 {
            self.error(n, "UID specified for client child is too long");
            return;
        }
        if !argv[0].starts_with('/') {
            self.error_hint(
                n,
                format!("Client child command [{}] is not full pathname", argv[0]),
                "write the full path of the program",
            );
            return;
        }
        self.p.respawn.push(Respawn {
            user: (*user).to_owned(),
            argv: argv.iter().map(|a| (*a).to_owned()).collect(),
            failfast,
            loc: self.loc(n),
        });
    }

    fn apiauth(&mut self, n: usize, rest: &str) {
        let syntax = "write apiauth CLIENT [uid=user1,user2] [gid=group1,group2]; one or the other must be given";
        let w = words(rest);
        let Some((client, specs)) = w.split_first() else {
            return;
        };
        if client.len() > 31 {
            self.error(
                n,
                format!("apiauth: client name [{client}] too long (at most 31 characters)"),
            );
            return;
        }
        let mut api = ApiAuth {
            client: (*client).to_owned(),
            uids: Vec::new(),
            gids: Vec::new(),
        };
        let (mut have_uid, mut have_gid) = (false, false);
        for spec in specs {
            let (list, have, what) = match spec.split_once('=') {
                Some(("uid", l)) => (l, &mut have_uid, "uid"),
                Some(("gid", l)) => (l, &mut have_gid, "gid"),
                _ => {
                    self.error_hint(
                        n,
                        format!("Invalid apiauth directive [{rest}]: unexpected {spec:?}"),
                        syntax,
                    );
                    return;
                }
            };
            if std::mem::replace(have, true) {
                self.error_hint(n, format!("Duplicate {what} list in apiauth"), syntax);
                return;
            }
            let names: Vec<String> = list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if names.is_empty() {
                self.error_hint(n, format!("Bad {what} list [{list}] in apiauth"), syntax);
                return;
            }
            if what == "uid" {
                api.uids = names;
            } else {
                api.gids = names;
            }
        }
        if !have_uid && !have_gid {
            self.error_hint(n, "Missing uid or gid in apiauth", syntax);
            return;
        }
        if let Some(prev) = self.p.apiauth.iter().find(|a| a.value.client == api.client) {
            let line = prev.loc.line;
            self.error(
                n,
                format!(
                    "Duplicate apiauth directive for API client {} (first on line {line})",
                    api.client
                ),
            );
            return;
        }
        let loc = self.loc(n);
        self.p.apiauth.push(At::new(api, loc));
    }

    /// `crm` or `pacemaker` (one setting under two names), quoted as written.
    fn pacemaker(&mut self, n: usize, directive: &str, rest: &str) {
        if let Some(prev) = self
            .seen
            .get("pacemaker")
            .or_else(|| self.seen.get("crm"))
            .cloned()
        {
            let prev = self.place(&prev);
            self.error(
                n,
                format!("pacemaker/crm directive used multiple times! (first on {prev})"),
            );
            return;
        }
        let name = if directive == "crm" {
            "crm"
        } else {
            "pacemaker"
        };
        let Some(v) = self.one(n, name, rest) else {
            return;
        };
        if parse_bool(&v) == Some(false) {
            return;
        }
        let known = parse_bool(&v).is_some()
            || ["respawn", "minimal", "manual", "ccm-only", "valgrind"]
                .contains(&v.to_ascii_lowercase().as_str());
        if known {
            self.not_supported(
                n,
                &format!("{name} {v} (CRM resource management)"),
                "this heartbeat manages the resource groups of haresources; write `crm off` or remove the line",
            );
        } else {
            self.error(n, format!("{name}: {v:?} is not a valid value"));
        }
    }

    /// The obsolete `nice_failback`, read exactly as 3.0.6 reads it (spec §8.3).
    fn nice_failback(&mut self, n: usize, rest: &str) {
        let Some(v) = self.one(n, "nice_failback", rest) else {
            return;
        };
        if parse_bool(&v).is_none() {
            self.error(n, format!("nice_failback: {v:?} is not a boolean"));
            return;
        }
        let earlier = self.p.auto_failback.as_ref().map(|a| a.value);
        let (mode, meaning) = match earlier {
            Some(AutoFailback::On | AutoFailback::Off) => (AutoFailback::Off, "auto_failback off"),
            _ => (AutoFailback::Legacy, "auto_failback legacy"),
        };
        self.warn_hint(
            n,
            format!("nice_failback is obsolete; heartbeat 3.0.6 reads `nice_failback {v}` here as `{meaning}`, and so do we"),
            "replace the line with `auto_failback on` or `auto_failback off`",
        );
        // Like 3.0.6, the nested setting is not "recorded": without an auto_failback
        // line the default (legacy) applies anyway.
        if earlier.is_some() {
            self.p.auto_failback = Some(At::new(mode, self.loc(n)));
        }
    }
}

/// A DNS host name (letters, digits, `-`, `.`, `_`), at most 253 characters.
pub(crate) fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.starts_with(|c: char| c.is_ascii_alphanumeric())
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && h.parse::<Ipv4Addr>().is_err()
        && !h.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos() {
        assert_eq!(suggest("keepalve"), Some("keepalive"));
        assert_eq!(suggest("deadtim"), Some("deadtime"));
        assert_eq!(suggest("Keepalive"), Some("keepalive"));
        assert_eq!(suggest("frobnicate"), None);
    }

    #[test]
    fn hostnames_exclude_bad_dotted_quads() {
        assert!(valid_hostname("ping1.linux-ha.org"));
        assert!(!valid_hostname("192.0.2.300"));
        assert!(!valid_hostname("-x"));
        assert!(!valid_hostname("a b"));
    }
}
