//! `heartbeat status`: the LSB status line and exit code (from the pid file,
//! see `crate::daemon::lsb_status`), then, when the daemon answers on its
//! control socket, a table of the cluster as this node sees it: nodes, links,
//! ping nodes, resource groups and timing. `--json` prints all of it as one
//! JSON document instead.
//!
//! The first line stays 3.0.6's (`heartbeat OK [pid N et al] is running on
//! HOST [NODE]...`) and the exit code stays LSB's whatever the table says, so
//! init scripts and monitors that read the first line or the code are served
//! as before, and a human gets the table below it.
//!
//! Rendering is a pure function of a [`Snapshot`] ([`table`]); colours only
//! when standard output is a terminal (and `NO_COLOR` is unset).

use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use hb_actors::status::{Snapshot, FORMAT};

/// How long a query waits for the daemon's answer (3.0.6's cl_status gives up
/// after 5 s).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the daemon's status could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing listens on the control socket: the daemon is not running.
    Stopped(String),
    /// The daemon refuses this caller (not root).
    Refused(String),
    /// No answer within [`QUERY_TIMEOUT`].
    Timeout,
    /// Anything else (an answer we cannot read).
    Failed(String),
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreachable::Stopped(why) | Unreachable::Refused(why) | Unreachable::Failed(why) => {
                f.write_str(why)
            }
            Unreachable::Timeout => write!(
                f,
                "the daemon did not answer within {} s",
                QUERY_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Asks the daemon behind `run_dir/heartbeat.sock` for its status snapshot.
pub fn query(run_dir: &Path) -> Result<Snapshot, Unreachable> {
    let path = run_dir.join("heartbeat.sock");
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        let why = format!("cannot reach the daemon at {}: {e}", path.display());
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                Unreachable::Stopped(why)
            }
            std::io::ErrorKind::PermissionDenied => Unreachable::Refused(format!(
                "{why} (only root may ask the daemon for its status)"
            )),
            _ => Unreachable::Failed(why),
        }
    })?;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Unreachable::Timeout,
        _ => Unreachable::Failed(format!("talking to the daemon at {}: {e}", path.display())),
    };
    stream.set_read_timeout(Some(QUERY_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(QUERY_TIMEOUT)).map_err(io)?;
    stream.write_all(b"status\n").map_err(io)?;
    let mut answer = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(io)?;
    if let Some(error) = answer.trim().strip_prefix("error: ") {
        return Err(if error.starts_with("permission denied") {
            Unreachable::Refused(error.to_owned())
        } else {
            Unreachable::Failed(format!("the daemon says: {error}"))
        });
    }
    let snapshot: Snapshot = serde_json::from_str(&answer).map_err(|e| {
        Unreachable::Failed(format!(
            "the daemon's answer is not a status this program reads ({e}); is it another version?"
        ))
    })?;
    if snapshot.format != FORMAT {
        return Err(Unreachable::Failed(format!(
            "the daemon speaks status format {}, this program reads {FORMAT}",
            snapshot.format
        )));
    }
    Ok(snapshot)
}

/// `heartbeat status [--json]`.
pub fn run(pid_file: &Path, config: &Path, run_dir: &Path, json: bool) -> ExitCode {
    let lsb = crate::daemon::lsb_status(pid_file, config);
    let daemon = lsb.running.then(|| query(run_dir));
    if json {
        /// `heartbeat status --json`, fields in this order.
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            lsb_status: u8,
            message: &'a str,
            status: Option<&'a Snapshot>,
            error: Option<String>,
        }
        let doc = Doc {
            lsb_status: lsb.code,
            message: &lsb.line,
            status: daemon.as_ref().and_then(|d| d.as_ref().ok()),
            error: daemon
                .as_ref()
                .and_then(|d| d.as_ref().err())
                .map(ToString::to_string),
        };
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("heartbeat: cannot write the status as JSON: {e}"),
        }
        return ExitCode::from(lsb.code);
    }
    println!("{}", lsb.line);
    match daemon {
        Some(Ok(snapshot)) => {
            let style = Style {
                color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                clock: local_time,
            };
            println!();
            print!("{}", table(&snapshot, &style));
        }
        Some(Err(e)) => eprintln!("heartbeat: no status table: {e}"),
        None => {}
    }
    ExitCode::from(lsb.code)
}

/// How the table is drawn.
pub struct Style {
    /// ANSI colours for the status words.
    pub color: bool,
    /// Wall-clock seconds to a date for humans.
    pub clock: fn(u64) -> String,
}

/// The machine's local time, `2026-05-01 12:00:03`.
fn local_time(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// A duration for humans: `0.2s`, `45s`, `12m03s`, `2h03m`, `3d04h`.
pub fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=9 => format!("{}.{}s", s, (ms % 1000) / 100),
        10..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A time value as ha.cf would take it: `200ms`, `1s` shown as `1s`.
fn setting(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn ago(ms: Option<u64>) -> String {
    ms.map_or_else(|| "never".to_owned(), |ms| format!("{} ago", human(ms)))
}

/// The colour of a status word: green when all is well, red when dead,
/// yellow in between.
fn paint(word: &str) -> Option<&'static str> {
    match word {
        "active" | "ping" | "stable" | "online" => Some("32"),
        "dead" | "offline" => Some("31"),
        "init" | "up" | "transition" | "none" => Some("33"),
        _ => None,
    }
}

/// A cell: its text, and how to colour it.
struct Cell(String, Paint);

/// How a cell is coloured.
#[derive(Clone, Copy)]
enum Paint {
    No,
    /// A node, ping node or group status word ([`paint`]).
    Status,
    /// A link: up (green) or dead (red).
    Link,
}

fn plain(s: impl Into<String>) -> Cell {
    Cell(s.into(), Paint::No)
}

fn word(s: impl Into<String>) -> Cell {
    Cell(s.into(), Paint::Status)
}

fn link(s: impl Into<String>) -> Cell {
    Cell(s.into(), Paint::Link)
}

/// Aligned columns under a header; the last column is not padded.
fn columns(out: &mut String, header: &[&str], rows: Vec<Vec<Cell>>, style: &Style) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.0.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<(String, Option<&str>)>| {
        let n = cells.len();
        let mut text = String::new();
        for (i, ((s, colour), w)) in cells.into_iter().zip(&widths).enumerate() {
            let pad = w.saturating_sub(s.chars().count());
            match colour.filter(|_| style.color) {
                Some(code) => {
                    let _ = write!(text, "\x1b[{code}m{s}\x1b[0m");
                }
                None => text.push_str(&s),
            }
            if i + 1 < n {
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    let bold = if style.color { Some("1") } else { None };
    line(
        out,
        header.iter().map(|h| ((*h).to_owned(), bold)).collect(),
    );
    for row in rows {
        line(
            out,
            row.into_iter()
                .map(|Cell(s, how)| {
                    let c = match how {
                        Paint::No => None,
                        Paint::Status => paint(&s),
                        Paint::Link if s == "up" => Some("32"),
                        Paint::Link => Some("31"),
                    };
                    (s, c)
                })
                .collect(),
        );
    }
}

/// The status table of `s`.
pub fn table(s: &Snapshot, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {}, generation {}, daemon pid {}, up {}",
        s.node,
        s.generation,
        s.pid,
        human(s.uptime_ms)
    );
    out.push('\n');
    let nodes = s
        .nodes
        .iter()
        .map(|n| {
            vec![
                plain(if n.local {
                    format!("{} (this node)", n.name)
                } else {
                    n.name.clone()
                }),
                word(n.status.clone()),
                plain(
                    n.generation
                        .map_or_else(|| "-".to_owned(), |g| g.to_string()),
                ),
                plain(if n.local {
                    "-".to_owned()
                } else {
                    ago(n.last_heard_ms_ago)
                }),
            ]
        })
        .collect();
    columns(
        &mut out,
        &["NODE", "STATUS", "GENERATION", "LAST HEARD"],
        nodes,
        style,
    );
    out.push('\n');
    let links = s
        .nodes
        .iter()
        .flat_map(|n| {
            n.links.iter().map(move |l| {
                vec![
                    plain(format!("{}:{}", n.name, l.name)),
                    link(l.status.clone()),
                    plain(ago(l.last_heard_ms_ago)),
                    plain(l.worst_interval_ms.map_or_else(|| "-".to_owned(), human)),
                ]
            })
        })
        .collect();
    columns(
        &mut out,
        &[
            "LINK",
            "STATUS",
            "LAST HEARD",
            "WORST INTERVAL (LAST MINUTE)",
        ],
        links,
        style,
    );
    if !s.ping_nodes.is_empty() {
        out.push('\n');
        let pings = s
            .ping_nodes
            .iter()
            .map(|p| {
                vec![
                    plain(p.name.clone()),
                    word(p.status.clone()),
                    plain(ago(p.last_heard_ms_ago)),
                    plain(if p.members.len() == 1 && p.members[0] == p.name {
                        String::new()
                    } else {
                        p.members.join(" ")
                    }),
                ]
            })
            .collect();
        columns(
            &mut out,
            &["PING NODE", "STATUS", "LAST ANSWER", "HOSTS"],
            pings,
            style,
        );
    }
    out.push('\n');
    if s.groups.is_empty() {
        out.push_str("no resource groups (haresources is empty)\n");
    } else {
        let groups = s
            .groups
            .iter()
            .map(|g| {
                vec![
                    plain(g.key.clone()),
                    plain(g.preferred.clone()),
                    match &g.owner_node {
                        Some(node) => plain(format!("{node} ({})", g.owner)),
                        None => word("none"),
                    },
                    word(g.state.clone()),
                    plain(format!(
                        "{} ({} ago)",
                        (style.clock)(g.since_unix),
                        human(g.since_ms_ago)
                    )),
                    plain(g.reason.clone().unwrap_or_else(|| "-".to_owned())),
                ]
            })
            .collect();
        columns(
            &mut out,
            &["GROUP", "PREFERRED", "OWNER", "STATE", "SINCE", "LAST MOVE"],
            groups,
            style,
        );
        for g in &s.groups {
            if g.resources.len() > 1 {
                let _ = writeln!(out, "  {}: {}", g.key, g.resources.join(" "));
            }
        }
        if s.timing.auto_failback == "legacy" && s.rscstatus == "none" {
            // 3.0.6 does not track holdings in legacy mode, and cl_status
            // answers as it does: say what the table shows.
            let held = |local: bool| {
                s.groups
                    .iter()
                    .any(|g| g.owner == "us" && (g.preferred == s.node) == local)
            };
            let here = match (held(true), held(false)) {
                (true, true) => "all",
                (true, false) => "local",
                (false, true) => "foreign",
                (false, false) => "none",
            };
            let _ = writeln!(
                out,
                "resources held here: {here} (cl_status rscstatus says none, as 3.0.6 does with auto_failback legacy)"
            );
        } else {
            let _ = writeln!(out, "resources held here: {}", s.rscstatus);
        }
    }
    out.push('\n');
    let t = &s.timing;
    let _ = writeln!(
        out,
        "timing: keepalive {}, deadtime {}, warntime {}, initdead {}, deadping {}; auto_failback {}",
        setting(t.keepalive_ms),
        setting(t.deadtime_ms),
        setting(t.warntime_ms),
        setting(t.initdead_ms),
        setting(t.deadping_ms),
        t.auto_failback
    );
    if let Some(f) = &s.ipfail {
        let peer = f.peer_sees.map_or_else(
            || "no report from the other node".to_owned(),
            |n| format!("the other node sees {n}"),
        );
        let _ = writeln!(
            out,
            "ipfail: this node sees {} of {} ping node(s), {peer}",
            f.ping_nodes_seen,
            s.ping_nodes.len()
        );
    }
    let dropped: Vec<String> = s
        .drops
        .iter()
        // Duplicates are every copy after the first when there are several
        // media: normal, and left to --json and the metrics.
        .filter(|(reason, n)| **n > 0 && reason.as_str() != "duplicate")
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    if !dropped.is_empty() {
        let _ = writeln!(out, "dropped packets: {}", dropped.join(", "));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hb_actors::status::{GroupView, IpfailView, LinkView, NodeView, PingView, Timing};

    /// A two-node snapshot as n1 sees it: n2's serial link dead, one ping
    /// node, the group on n1 since the start.
    pub(crate) fn sample() -> Snapshot {
        let link = |name: &str, up: bool, ago: u64, worst: u64| LinkView {
            name: name.into(),
            status: if up { "up" } else { "dead" }.into(),
            last_heard_ms_ago: Some(ago),
            worst_interval_ms: Some(worst),
        };
        Snapshot {
            format: FORMAT,
            node: "n1".into(),
            pid: 4242,
            generation: 12,
            uptime_ms: 3_723_000,
            now_unix: 1_800_000_000,
            nodes: vec![
                NodeView {
                    name: "n1".into(),
                    local: true,
                    status: "active".into(),
                    generation: Some(12),
                    last_heard_ms_ago: Some(100),
                    links: vec![
                        link("eth1", true, 100, 1000),
                        link("/dev/ttyS0", false, 0, 0),
                    ],
                },
                NodeView {
                    name: "n2".into(),
                    local: false,
                    status: "active".into(),
                    generation: Some(7),
                    last_heard_ms_ago: Some(200),
                    links: vec![
                        link("eth1", true, 200, 1200),
                        LinkView {
                            name: "/dev/ttyS0".into(),
                            status: "dead".into(),
                            last_heard_ms_ago: None,
                            worst_interval_ms: None,
                        },
                    ],
                },
            ],
            ping_nodes: vec![PingView {
                name: "192.0.2.100".into(),
                status: "ping".into(),
                members: vec!["192.0.2.100".into()],
                last_heard_ms_ago: Some(300),
            }],
            node_table: vec!["n1".into(), "n2".into(), "192.0.2.100".into()],
            groups: vec![GroupView {
                key: "192.0.2.50/24/eth0".into(),
                preferred: "n1".into(),
                resources: vec!["192.0.2.50/24/eth0".into(), "svc".into()],
                owner: "us".into(),
                owner_node: Some("n1".into()),
                state: "stable".into(),
                since_ms_ago: 3_700_000,
                since_unix: 1_799_996_300,
                reason: Some("start".into()),
            }],
            rscstatus: "local".into(),
            timing: Timing {
                keepalive_ms: 200,
                deadtime_ms: 1000,
                warntime_ms: 500,
                initdead_ms: 10_000,
                deadping_ms: 2000,
                auto_failback: "on".into(),
            },
            ipfail: Some(IpfailView {
                ping_nodes_seen: 1,
                peer_sees: Some(1),
            }),
            params: [
                ("keepalive".to_owned(), "200ms".to_owned()),
                ("deadtime".to_owned(), "1".to_owned()),
                (
                    "hbversion".to_owned(),
                    "3.0.6 (heartbeat-rs 0.1.0)".to_owned(),
                ),
            ]
            .into(),
            drops: [("bad_auth".to_owned(), 12), ("duplicate".to_owned(), 0)].into(),
        }
    }

    fn utc(unix: u64) -> String {
        format!("@{unix}")
    }

    #[test]
    fn the_table_shows_nodes_links_ping_nodes_groups_and_timing() {
        let style = Style {
            color: false,
            clock: utc,
        };
        let expected = "\
node n1, generation 12, daemon pid 4242, up 1h02m

NODE            STATUS  GENERATION  LAST HEARD
n1 (this node)  active  12          -
n2              active  7           0.2s ago

LINK           STATUS  LAST HEARD  WORST INTERVAL (LAST MINUTE)
n1:eth1        up      0.1s ago    1.0s
n1:/dev/ttyS0  dead    0.0s ago    0.0s
n2:eth1        up      0.2s ago    1.2s
n2:/dev/ttyS0  dead    never       -

PING NODE    STATUS  LAST ANSWER  HOSTS
192.0.2.100  ping    0.3s ago

GROUP               PREFERRED  OWNER    STATE   SINCE                    LAST MOVE
192.0.2.50/24/eth0  n1         n1 (us)  stable  @1799996300 (1h01m ago)  start
  192.0.2.50/24/eth0: 192.0.2.50/24/eth0 svc
resources held here: local

timing: keepalive 200ms, deadtime 1s, warntime 500ms, initdead 10s, deadping 2s; auto_failback on
ipfail: this node sees 1 of 1 ping node(s), the other node sees 1
dropped packets: bad_auth 12
";
        assert_eq!(table(&sample(), &style), expected);
    }

    /// With auto_failback legacy, rscstatus (cl_status) says `none` as 3.0.6
    /// does; the table says what is held, from the groups.
    #[test]
    fn legacy_mode_says_what_is_held_beside_3_0_6s_none() {
        let style = Style {
            color: false,
            clock: utc,
        };
        let mut s = sample();
        s.rscstatus = "none".into();
        s.timing.auto_failback = "legacy".into();
        let text = table(&s, &style);
        assert!(
            text.contains("resources held here: local (cl_status rscstatus says none, as 3.0.6 does with auto_failback legacy)\n"),
            "{text}"
        );
        s.groups[0].owner = "peer".into();
        assert!(table(&s, &style).contains("resources held here: none (cl_status"));
        s.rscstatus = "transition".into();
        assert!(table(&s, &style).contains("resources held here: transition\n"));
    }

    #[test]
    fn colours_only_mark_status_words_and_keep_the_columns() {
        let style = Style {
            color: true,
            clock: utc,
        };
        let t = table(&sample(), &style);
        assert!(t.contains("\x1b[1mNODE\x1b[0m"), "{t}");
        assert!(
            t.contains("n2              \x1b[32mactive\x1b[0m  7"),
            "{t}"
        );
        assert!(
            t.contains("n2:eth1        \x1b[32mup\x1b[0m      0.2s"),
            "{t}"
        );
        assert!(
            t.contains("n2:/dev/ttyS0  \x1b[31mdead\x1b[0m    never"),
            "{t}"
        );
        let plain = Style {
            color: false,
            clock: utc,
        };
        let stripped = t
            .replace("\x1b[1m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[33m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, table(&sample(), &plain));
    }

    #[test]
    fn durations_read_as_humans_write_them() {
        assert_eq!(human(0), "0.0s");
        assert_eq!(human(1250), "1.2s");
        assert_eq!(human(45_000), "45s");
        assert_eq!(human(723_000), "12m03s");
        assert_eq!(human(7_380_000), "2h03m");
        assert_eq!(human(3 * 86_400_000 + 4 * 3_600_000), "3d04h");
        assert_eq!(setting(1000), "1s");
        assert_eq!(setting(1500), "1500ms");
    }
}
