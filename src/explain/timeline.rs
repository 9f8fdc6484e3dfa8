//! From journal entries to a timeline that says why each step happened: a
//! pure function (no clock, no files; the time zone is a parameter), so that
//! a scripted failover can be checked against its expected text.
//!
//! It folds over the entries in order and keeps what later steps are
//! explained by:
//!
//! * which links of each node are dead, and since when (a death then names
//!   the links it was decided on, and those that had died before);
//! * what last happened to each peer (dead, shut down, restarted), and the
//!   *cause* of the next resource transition: the operator's request, a
//!   peer's death, auto-failback, ipfail, a partition, start-up. The resource
//!   protocol's decisions come as the lines it logged (heartbeat's words),
//!   which are matched here;
//! * the group being acquired or released, with its script runs and
//!   gratuitous ARP, printed as one sentence when it is done.
//!
//! Entries before `since` still feed that state; only sentences about later
//! moments are printed.

use std::collections::HashMap;

use chrono::{NaiveDate, TimeZone};

use crate::logging::journal::Entry;

/// Two entries this close (milliseconds of `CLOCK_BOOTTIME`) come from one decision.
const SAME_TICK_MS: u64 = 100;

/// `HH:MM:SS.mmm` of a wall time.
pub fn time<Tz: TimeZone>(ms: u64, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at(ms, tz).format("%H:%M:%S%.3f").to_string()
}

/// `YYYY-MM-DD HH:MM:SS` of a wall time.
pub fn date_time<Tz: TimeZone>(ms: u64, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at(ms, tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn at<Tz: TimeZone>(ms: u64, tz: &Tz) -> chrono::DateTime<Tz> {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    tz.timestamp_millis_opt(ms).single().unwrap_or_else(|| {
        tz.timestamp_millis_opt(0)
            .single()
            .expect("the epoch exists")
    })
}

/// A group being acquired or released.
struct Run {
    acquire: bool,
    group: String,
    home: String,
    at: u64,
    cause: Option<String>,
    /// `IPaddr start 12 ms`, `svc start failed (exit 1) after 40 ms`.
    steps: Vec<String>,
    garp: bool,
}

/// Where a cause came from, and which entry set it.
#[derive(Clone)]
struct Cause {
    text: String,
    /// Index of the entry that set it.
    set_at: usize,
}

struct Fold<'a, Tz: TimeZone> {
    entries: &'a [Entry],
    tz: &'a Tz,
    since: u64,
    out: Vec<String>,
    day: Option<NaiveDate>,
    me: Option<String>,
    auto_failback: Option<String>,
    /// (node, link) -> when it was declared dead.
    dead_links: HashMap<(String, String), u64>,
    /// Nodes known to be up.
    alive: HashMap<String, bool>,
    /// What last happened to a peer: "dead", "shutdown", "restart".
    last_peer: HashMap<String, &'static str>,
    cause: Option<Cause>,
    /// Index of the entry that started the latest group run.
    last_run_start: Option<usize>,
    run: Option<Run>,
    /// The daemon that wrote the latest entries, and whether it said it stopped.
    last_pid: Option<u32>,
    stopped: bool,
}

/// The timeline of `entries` (oldest first), one sentence per line (with a
/// line per day), from `since` (Unix ms) on. Times are shown in `tz`.
pub fn timeline<Tz: TimeZone>(entries: &[Entry], since: Option<u64>, tz: &Tz) -> Vec<String>
where
    Tz::Offset: std::fmt::Display,
{
    let mut f = Fold {
        entries,
        tz,
        since: since.unwrap_or(0),
        out: Vec::new(),
        day: None,
        me: None,
        auto_failback: None,
        dead_links: HashMap::new(),
        alive: HashMap::new(),
        last_peer: HashMap::new(),
        cause: None,
        last_run_start: None,
        run: None,
        last_pid: None,
        stopped: true,
    };
    for (i, e) in entries.iter().enumerate() {
        f.entry(i, e);
    }
    if let Some(run) = f.run.take() {
        let what = if run.acquire {
            "acquiring"
        } else {
            "releasing"
        };
        let t = f.t(run.at);
        f.say(
            run.at,
            format!(
                "{} was {what} group {} at {t} when the journal ends.",
                f.me(),
                run.group
            ),
        );
    }
    f.out
}

impl<Tz: TimeZone> Fold<'_, Tz>
where
    Tz::Offset: std::fmt::Display,
{
    fn t(&self, ms: u64) -> String {
        time(ms, self.tz)
    }

    fn me(&self) -> String {
        self.me.clone().unwrap_or_else(|| "this node".into())
    }

    /// Prints a sentence about the moment `ms`, under its day.
    fn say(&mut self, ms: u64, text: String) {
        if ms < self.since {
            return;
        }
        let day = at(ms, self.tz).date_naive();
        if self.day != Some(day) {
            self.day = Some(day);
            self.out.push(day.format("%Y-%m-%d").to_string());
        }
        self.out.push(format!("  {text}"));
    }

    fn set_cause(&mut self, i: usize, text: impl Into<String>) {
        self.cause = Some(Cause {
            text: text.into(),
            set_at: i,
        });
    }

    /// A cause set after the latest group run started (so not already used).
    fn fresh_cause(&self) -> Option<&Cause> {
        self.cause
            .as_ref()
            .filter(|c| self.last_run_start.is_none_or(|r| c.set_at > r))
    }

    fn entry(&mut self, i: usize, e: &Entry) {
        let node = e.str("node").unwrap_or("?").to_owned();
        let at = e.wall_ms;
        let t = self.t(at);
        match e.kind.as_str() {
            "start" => self.start(i, e),
            "shutdown" => {
                self.set_cause(i, "graceful shutdown of heartbeat");
                self.say(
                    at,
                    format!("{} stopping at {t} (graceful shutdown).", self.me()),
                );
            }
            "stopped" => {
                self.stopped = true;
                self.say(at, format!("{} stopped at {t}.", self.me()));
            }
            "standby" | "takeover" => {
                let set = e.str("set").unwrap_or("all");
                if e.bool("refused") == Some(true) {
                    let why = e.msg.split_once(": refused, ").map_or("", |(_, r)| r);
                    self.say(
                        at,
                        format!(
                            "heartbeat {} {set} requested at {t}: refused, {why}.",
                            e.kind
                        ),
                    );
                } else {
                    self.set_cause(i, format!("heartbeat {} {set} (operator)", e.kind));
                    self.say(at, format!("heartbeat {} {set} requested at {t}.", e.kind));
                }
            }
            "decision" => self.decision(i, e),
            "node_dead" => self.node_dead(e),
            "link_dead" => {
                let link = e.str("link").unwrap_or("?").to_owned();
                self.dead_links.insert((node.clone(), link.clone()), at);
                let dead_node = self.alive.get(&node) == Some(&false);
                if !dead_node && !self.node_dies_now(i, e, &node) {
                    let silent = e.u64("silent_ms").map_or(String::new(), |s| {
                        format!(": nothing heard on it for {s} ms")
                    });
                    let dt = e
                        .u64("deadtime_ms")
                        .map_or(String::new(), |d| format!(" (deadtime {d} ms)"));
                    self.say(at, format!("Link {node}:{link} dead at {t}{silent}{dt}; {node} is still heard on its other links."));
                }
            }
            "link_up" => {
                let link = e.str("link").unwrap_or("?").to_owned();
                if self
                    .dead_links
                    .remove(&(node.clone(), link.clone()))
                    .is_some()
                    && self.alive.get(&node) == Some(&true)
                {
                    self.say(at, format!("Link {node}:{link} up again at {t}."));
                }
            }
            "node_status" => {
                let status = e.str("status").unwrap_or("?");
                if matches!(status, "up" | "active") && self.alive.get(&node) != Some(&true) {
                    self.alive.insert(node.clone(), true);
                    self.say(at, format!("{node} is up at {t} (status {status})."));
                }
            }
            "late" => {
                let interval = e.u64("interval_ms").unwrap_or(0);
                let warn = e
                    .u64("warntime_ms")
                    .map_or(String::new(), |w| format!(" (warntime {w} ms"));
                let dead = e
                    .u64("deadtime_ms")
                    .map_or(String::new(), |d| format!(", deadtime {d} ms"));
                let close = if warn.is_empty() { "" } else { ")" };
                let beyond = if e.bool("beyond_deadtime") == Some(true) {
                    "; later than its dead time"
                } else {
                    ""
                };
                self.say(at, format!("Late heartbeat from {node} at {t}: {interval} ms after the previous one{warn}{dead}{close}{beyond}."));
            }
            "node_restart" => {
                self.last_peer.insert(node.clone(), "restart");
                self.say(at, format!("{node} restarted at {t} (a new generation)."));
            }
            "shutdown_notice" => {
                self.last_peer.insert(node.clone(), "shutdown");
                self.alive.insert(node.clone(), false);
                self.say(at, format!("{node} announced a graceful shutdown at {t}."));
            }
            "partition" => {
                self.alive.insert(node.clone(), true);
                self.say(at, format!("{node} returned at {t} after a partition: it had been declared dead but kept running."));
            }
            "ping_dead" => {
                let d = e.u64("deadping_ms").map_or(String::new(), |d| {
                    format!(" (no reply for deadping, {d} ms)")
                });
                self.say(at, format!("Ping node {node} dead at {t}{d}."));
            }
            "ping_up" => self.say(at, format!("Ping node {node} answers at {t}.")),
            "acquire_start" | "release_start" => {
                self.close_run(None);
                self.last_run_start = Some(i);
                self.run = Some(Run {
                    acquire: e.kind == "acquire_start",
                    group: e.str("group").unwrap_or("?").to_owned(),
                    home: e.str("home").unwrap_or("?").to_owned(),
                    at,
                    cause: self.cause.as_ref().map(|c| c.text.clone()),
                    steps: Vec::new(),
                    garp: false,
                });
            }
            "script" => {
                let op = e.str("op").unwrap_or("?");
                if op == "status" {
                    return;
                }
                if let Some(run) = self.run.as_mut() {
                    run.steps.push(script_step(e));
                }
            }
            "garp" => match self.run.as_mut() {
                Some(run) => run.garp = true,
                None => {
                    let addr = e.str("addr").unwrap_or("?");
                    self.say(
                        at,
                        format!("{addr} announced again at {t} (gratuitous ARP)."),
                    );
                }
            },
            "acquire_done" | "release_done" => self.close_run(Some(e)),
            "leftover" => {
                let g = e.str("group").unwrap_or("?");
                self.say(at, format!("Group {g} was still running here at {t}, from before (a crash?): released before joining."));
            }
            "reload" => {
                let what = e.msg.strip_prefix("reload: ").unwrap_or(&e.msg);
                self.say(at, format!("Configuration reloaded at {t}: {what}."));
            }
            "journal_dropped" => {
                let n = e.u64("count").unwrap_or(0);
                self.say(
                    at,
                    format!(
                        "{n} journal entries were lost at {t} (the journal writer fell behind)."
                    ),
                );
            }
            _ => {}
        }
        self.last_pid = Some(e.pid);
    }

    fn start(&mut self, i: usize, e: &Entry) {
        let t = self.t(e.wall_ms);
        if let Some(pid) = self.last_pid.filter(|p| *p != e.pid && !self.stopped) {
            self.say(
                e.wall_ms,
                format!("(the previous run, pid {pid}, ended without a clean stop: killed, crashed, or the power was lost.)"),
            );
        }
        self.stopped = false;
        self.run = None;
        self.dead_links.clear();
        self.alive.clear();
        if let Some(me) = e.str("node") {
            self.me = Some(me.to_owned());
        }
        self.auto_failback = e.str("auto_failback").map(str::to_owned);
        self.set_cause(i, "start-up");
        let mut facts = vec![format!("generation {}", e.gen), format!("pid {}", e.pid)];
        if let Some(d) = e.u64("deadtime_ms") {
            facts.push(format!("deadtime {d} ms"));
        }
        if let Some(a) = &self.auto_failback {
            facts.push(format!("auto_failback {a}"));
        }
        self.say(
            e.wall_ms,
            format!("{} started at {t} ({}).", self.me(), facts.join(", ")),
        );
    }

    /// Whether `node` is declared dead in the same tick as this entry (its
    /// links die just before it, in the same decision).
    fn node_dies_now(&self, i: usize, e: &Entry, node: &str) -> bool {
        self.entries[i + 1..]
            .iter()
            .take_while(|n| n.boot == e.boot && n.mono_ms.saturating_sub(e.mono_ms) <= SAME_TICK_MS)
            .any(|n| n.kind == "node_dead" && n.str("node") == Some(node))
    }

    fn node_dead(&mut self, e: &Entry) {
        let node = e.str("node").unwrap_or("?").to_owned();
        let at = e.wall_ms;
        let t = self.t(at);
        self.alive.insert(node.clone(), false);
        self.last_peer.insert(node.clone(), "dead");
        let silent = e.u64("silent_ms");
        let dt = e
            .u64("deadtime_ms")
            .map_or(String::new(), |d| format!(" (deadtime {d} ms)"));
        let mut live = Vec::new();
        let mut before = Vec::new();
        for part in e.str("links").unwrap_or("").split_whitespace() {
            let Some((link, _)) = part.rsplit_once('=') else {
                continue;
            };
            match self.dead_links.get(&(node.clone(), link.to_owned())) {
                Some(since) if at.saturating_sub(*since) > SAME_TICK_MS => {
                    before.push(format!("{link} already dead since {}", self.t(*since)));
                }
                _ => live.push(link.to_owned()),
            }
        }
        let on = if live.is_empty() {
            String::new()
        } else {
            format!(" on {}", live.join(" and "))
        };
        let mut why = match silent {
            Some(ms) => format!("no status{on} for {ms} ms{dt}"),
            None => format!("never heard from{on}{dt}"),
        };
        for b in before {
            why.push_str(", ");
            why.push_str(&b);
        }
        self.say(at, format!("{node} declared dead at {t}: {why}."));
    }

    fn decision(&mut self, i: usize, e: &Entry) {
        let msg = e.msg.as_str();
        let at = e.wall_ms;
        let t = self.t(at);
        let me = self.me();
        if let Some(peer) = msg
            .strip_prefix("Resources being acquired from ")
            .map(|p| p.trim_end_matches('.').to_owned())
        {
            let why = match self.last_peer.get(&peer).copied() {
                Some("dead") => format!("{peer} dead (takeover)"),
                Some("shutdown") => format!("{peer} shut down gracefully (takeover)"),
                Some("restart") => format!("{peer} restarted (takeover)"),
                _ => format!("takeover from {peer}"),
            };
            self.set_cause(i, why);
        } else if msg.contains(" restarted while holding the ") {
            let peer = msg.split_whitespace().next().unwrap_or("the other node");
            self.set_cause(i, format!("{peer} restarted while holding them"));
        } else if msg.starts_with("auto_failback on: giving") {
            self.set_cause(i, "auto_failback on");
        } else if msg.starts_with("The other node asks for our ") {
            self.set_cause(
                i,
                "the other node asked for them (heartbeat takeover there)",
            );
        } else if msg.starts_with("Giving up because we were told that we have less ping nodes") {
            self.set_cause(i, "ipfail: the other node sees more ping nodes");
            self.say(
                at,
                format!(
                    "ipfail at {t}: the other node sees more ping nodes; {me} gives its groups up."
                ),
            );
        } else if let Some(who) = msg
            .strip_suffix(']')
            .and_then(|m| m.split_once(" wants to go standby ["))
            .map(|(who, _)| who.to_owned())
        {
            if self.fresh_cause().is_none() {
                if who == me {
                    self.set_cause(i, "standby");
                } else {
                    self.set_cause(i, format!("{who} went standby"));
                }
            }
        } else if let Some(who) = msg
            .strip_prefix("standby: acquire [")
            .and_then(|m| m.split_once("] resources from "))
            .map(|(_, who)| who.to_owned())
        {
            let keep = self
                .fresh_cause()
                .is_some_and(|c| c.text.starts_with("heartbeat takeover"));
            if !keep {
                let why = if self.auto_failback.as_deref() == Some("on") {
                    format!("{who} gave them back (standby; auto_failback on)")
                } else {
                    format!("{who} went standby")
                };
                self.set_cause(i, why);
            }
        } else if msg.starts_with("The other node holds none of our resource groups") {
            self.set_cause(i, "start-up");
        } else if msg.starts_with("Both nodes hold the ") {
            self.set_cause(i, "partition healed: each group stays on its home node");
            self.say(at, format!("Partition healed at {t}: {msg}"));
        } else if msg.starts_with("Announcing the ")
            || msg.starts_with("our own heartbeat was delayed")
            || matches!(e.level.as_str(), "CRIT" | "ERROR")
        {
            self.say(at, format!("{me} at {t}: {msg}"));
        }
    }

    /// Ends the open run (with its done entry, if any) and says what it was.
    fn close_run(&mut self, done: Option<&Entry>) {
        let Some(run) = self.run.take() else {
            return;
        };
        if done.is_some_and(|d| d.str("group").is_some_and(|g| g != run.group)) {
            // A done entry of another group: not this run's end.
            self.run = Some(run);
            return;
        }
        let me = self.me();
        let t = self.t(run.at);
        let ok = done.and_then(|d| d.bool("ok"));
        let total = done
            .and_then(|d| d.u64("duration_ms"))
            .map(|ms| format!("{ms} ms in all"));
        let mut parts = Vec::new();
        if let Some(c) = &run.cause {
            parts.push(c.clone());
        }
        if !run.steps.is_empty() {
            parts.push(run.steps.join(", "));
        }
        if run.garp {
            parts.push("gratuitous ARP sent".into());
        }
        let head = match (run.acquire, ok) {
            (true, Some(true)) => format!("{me} acquired group {} at {t}", run.group),
            (true, _) => format!(
                "{me} could NOT acquire group {} at {t} (rolled back)",
                run.group
            ),
            (false, Some(true))
                if run.home != me && run.cause.as_deref() == Some("auto_failback on") =>
            {
                format!("Group {} returned to {} at {t}", run.group, run.home)
            }
            (false, Some(true)) => format!("{me} released group {} at {t}", run.group),
            (false, _) => format!(
                "{me} could NOT release group {} at {t}: it still runs here",
                run.group
            ),
        };
        if let Some(total) = total {
            parts.push(total);
        }
        let text = if parts.is_empty() {
            format!("{head}.")
        } else {
            format!("{head}: {}.", parts.join("; "))
        };
        self.say(run.at, text);
    }
}

/// `svc start 40 ms`, `svc start failed (exit 1) after 40 ms`.
fn script_step(e: &Entry) -> String {
    let name = e.str("script").unwrap_or("?");
    let op = e.str("op").unwrap_or("?");
    let ms = e.u64("duration_ms").unwrap_or(0);
    if e.bool("timed_out") == Some(true) {
        return format!("{name} {op} timed out after {ms} ms");
    }
    let exit = e.fields.get("exit").and_then(serde_json::Value::as_i64);
    match (exit, e.u64("signal")) {
        (Some(0), _) => format!("{name} {op} {ms} ms"),
        (_, Some(sig)) => format!("{name} {op} killed by signal {sig} after {ms} ms"),
        (Some(code), None) => format!("{name} {op} failed (exit {code}) after {ms} ms"),
        (None, None) => format!("{name} {op} {ms} ms"),
    }
}
