//! Scripted journals (as the daemon writes them) and the timelines they
//! must give, and the `--since` forms.

use chrono::{TimeZone as _, Utc};
use serde_json::{json, Value};

use super::*;
use crate::logging::journal::Entry;

/// 2026-11-25 22:09:50.000 UTC.
const T0: u64 = 1_795_644_590_000;

/// A journal being scripted: entries of one daemon (pid, generation, boot).
struct Script {
    entries: Vec<Entry>,
    pid: u32,
    gen: u64,
}

impl Script {
    fn new() -> Script {
        Script {
            entries: Vec::new(),
            pid: 4242,
            gen: 12,
        }
    }

    /// An entry `ms` after T0 (the monotonic clock runs with the wall clock).
    fn at(&mut self, ms: u64, level: &str, kind: &str, msg: &str, fields: Value) -> &mut Script {
        let mut obj = json!({
            "wall_ms": T0 + ms, "mono_ms": 50_000_000 + ms, "boot": "3f2a9c1e",
            "pid": self.pid, "gen": self.gen, "level": level, "kind": kind, "msg": msg,
        });
        if let (Value::Object(o), Value::Object(f)) = (&mut obj, fields) {
            o.extend(f);
        }
        self.entries
            .push(Entry::parse(&obj.to_string()).expect("a valid entry"));
        self
    }

    fn decision(&mut self, ms: u64, msg: &str) -> &mut Script {
        self.at(ms, "info", "decision", msg, json!({}))
    }

    fn script(&mut self, ms: u64, name: &str, op: &str, exit: i64, took: u64) -> &mut Script {
        let msg = format!("{name} {op} done");
        self.at(
            ms,
            "debug",
            "script",
            &msg,
            json!({"script": name, "op": op, "exit": exit, "duration_ms": took}),
        )
    }

    fn start(&mut self, ms: u64, me: &str) -> &mut Script {
        let msg = format!("Heartbeat generation: {}", self.gen);
        self.at(
            ms,
            "info",
            "start",
            &msg,
            json!({"node": me, "deadtime_ms": 1000, "keepalive_ms": 200, "auto_failback": "on",
                   "groups": "192.0.2.50/24/eth0"}),
        )
    }

    fn lines(&self, since: Option<u64>) -> Vec<String> {
        timeline(&self.entries, since, &Utc)
    }
}

const GROUP: &str = "192.0.2.50/24/eth0";

/// n2's journal: n1 holds the group, loses its serial cable, then its power;
/// n2 takes the group over; n1 comes back and auto-failback returns it.
fn failover() -> Script {
    let mut s = Script::new();
    s.start(100, "n2")
        .at(1002, "info", "node_status", "Status update for node n1: status active", json!({"node": "n1", "status": "active"}))
        .at(1003, "info", "link_up", "Link n1:eth1 up.", json!({"node": "n1", "link": "eth1"}))
        .at(
            8120,
            "info",
            "link_dead",
            "Link n1:/dev/ttyS0 dead.",
            json!({"node": "n1", "link": "/dev/ttyS0", "silent_ms": 1000, "deadtime_ms": 1000}),
        )
        .at(
            15_412,
            "info",
            "link_dead",
            "Link n1:eth1 dead.",
            json!({"node": "n1", "link": "eth1", "silent_ms": 1003, "deadtime_ms": 1000}),
        )
        .at(
            15_412,
            "WARN",
            "node_dead",
            "node n1: is dead",
            json!({"node": "n1", "silent_ms": 1003, "deadtime_ms": 1000, "links": "eth1=1003 /dev/ttyS0=8295"}),
        )
        .at(15_413, "WARN", "decision", "No STONITH device configured.", json!({}))
        .decision(15_413, "Resources being acquired from n1.")
        .at(
            15_415,
            "info",
            "acquire_start",
            &format!("Acquiring resource group: n1 {GROUP} svc"),
            json!({"group": GROUP, "home": "n1", "set": "foreign"}),
        )
        .script(15_416, "IPaddr", "status", 1, 1)
        .script(15_428, "IPaddr", "start", 0, 12)
        .at(
            15_428,
            "info",
            "garp",
            "IPaddr 192.0.2.50/24 on eth0 (label eth0:0): up; sending gratuitous ARP",
            json!({"addr": "192.0.2.50", "iface": "eth0"}),
        )
        .script(15_430, "svc", "status", 0, 2)
        .script(15_470, "svc", "start", 0, 40)
        .at(
            15_470,
            "info",
            "acquire_done",
            &format!("Resource group {GROUP} acquired in 55 ms"),
            json!({"group": GROUP, "ok": true, "duration_ms": 55}),
        )
        .decision(15_471, "mach_down takeover complete.")
        .at(30_000, "info", "node_restart", "Heartbeat restart on node n1", json!({"node": "n1"}))
        .at(30_100, "info", "node_status", "Status update for node n1: status up", json!({"node": "n1", "status": "up"}))
        .decision(30_900, "remote resource transition completed.")
        .decision(30_900, "auto_failback on: giving the foreign resource groups back to their home node.")
        .decision(30_900, "n2 wants to go standby [foreign]")
        .decision(30_950, "standby: n1 can take our foreign resources")
        .decision(30_950, "give up foreign HA resources (standby).")
        .at(
            31_000,
            "info",
            "release_start",
            &format!("Releasing resource group: n1 {GROUP} svc"),
            json!({"group": GROUP, "home": "n1", "set": "foreign"}),
        )
        .script(31_020, "svc", "stop", 0, 20)
        .script(31_023, "IPaddr", "stop", 0, 3)
        .at(
            31_025,
            "info",
            "release_done",
            &format!("Resource group {GROUP} released in 25 ms"),
            json!({"group": GROUP, "ok": true, "duration_ms": 25}),
        )
        .decision(31_026, "Local standby process completed [foreign].");
    s
}

#[test]
fn a_scripted_failover_is_told_with_its_reasons() {
    let got = failover().lines(None);
    let want = [
        "2026-11-25",
        "  n2 started at 22:09:50.100 (generation 12, pid 4242, deadtime 1000 ms, auto_failback on).",
        "  n1 is up at 22:09:51.002 (status active).",
        "  Link n1:/dev/ttyS0 dead at 22:09:58.120: nothing heard on it for 1000 ms (deadtime 1000 ms); n1 is still heard on its other links.",
        "  n1 declared dead at 22:10:05.412: no status on eth1 for 1003 ms (deadtime 1000 ms), /dev/ttyS0 already dead since 22:09:58.120.",
        "  n2 acquired group 192.0.2.50/24/eth0 at 22:10:05.415: n1 dead (takeover); IPaddr start 12 ms, svc start 40 ms; gratuitous ARP sent; 55 ms in all.",
        "  n1 restarted at 22:10:20.000 (a new generation).",
        "  n1 is up at 22:10:20.100 (status up).",
        "  Group 192.0.2.50/24/eth0 returned to n1 at 22:10:21.000: auto_failback on; svc stop 20 ms, IPaddr stop 3 ms; 25 ms in all.",
    ];
    assert_eq!(got, want, "\n{}", got.join("\n"));
}

/// Entries before `since` are not shown, but still explain what follows.
#[test]
fn since_hides_the_past_but_keeps_what_explains_the_present() {
    let got = failover().lines(Some(T0 + 15_000));
    assert_eq!(got[0], "2026-11-25");
    assert!(
        got[1].starts_with("  n1 declared dead at 22:10:05.412: no status on eth1 for 1003 ms (deadtime 1000 ms), /dev/ttyS0 already dead since 22:09:58.120."),
        "{got:#?}"
    );
    assert!(!got.iter().any(|l| l.contains("n2 started at")), "{got:#?}");
}

#[test]
fn a_death_on_the_only_link_names_it() {
    let mut s = Script::new();
    s.start(0, "n2")
        .at(
            500,
            "info",
            "node_status",
            "",
            json!({"node": "n1", "status": "active"}),
        )
        .at(
            9000,
            "info",
            "link_dead",
            "",
            json!({"node": "n1", "link": "eth1", "silent_ms": 3001, "deadtime_ms": 3000}),
        )
        .at(
            9001,
            "WARN",
            "node_dead",
            "",
            json!({"node": "n1", "silent_ms": 3001, "deadtime_ms": 3000, "links": "eth1=3001"}),
        );
    let got = s.lines(None);
    assert_eq!(
        got.last().unwrap(),
        "  n1 declared dead at 22:09:59.001: no status on eth1 for 3001 ms (deadtime 3000 ms).",
        "{got:#?}"
    );
    assert!(
        !got.iter().any(|l| l.contains("Link n1:eth1 dead")),
        "the death tells it: {got:#?}"
    );
}

#[test]
fn a_graceful_stop_of_the_peer_is_a_takeover_without_a_death() {
    let mut s = Script::new();
    s.start(0, "n2")
        .at(
            500,
            "info",
            "node_status",
            "",
            json!({"node": "n1", "status": "active"}),
        )
        .at(
            5000,
            "info",
            "shutdown_notice",
            "Received shutdown notice from 'n1'.",
            json!({"node": "n1"}),
        )
        .decision(5001, "Resources being acquired from n1.")
        .at(
            5002,
            "info",
            "acquire_start",
            "",
            json!({"group": GROUP, "home": "n1", "set": "foreign"}),
        )
        .script(5010, "svc", "start", 0, 8)
        .at(
            5011,
            "info",
            "acquire_done",
            "",
            json!({"group": GROUP, "ok": true, "duration_ms": 9}),
        );
    let got = s.lines(None);
    assert_eq!(
        got[got.len() - 2..],
        [
            "  n1 announced a graceful shutdown at 22:09:55.000.",
            "  n2 acquired group 192.0.2.50/24/eth0 at 22:09:55.002: n1 shut down gracefully (takeover); svc start 8 ms; 9 ms in all.",
        ]
    );
}

#[test]
fn an_operators_standby_and_a_failed_start_are_told_as_such() {
    let mut s = Script::new();
    s.start(0, "n1")
        .decision(1000, "The other node holds none of our resource groups: acquiring them now.")
        .at(1001, "info", "acquire_start", "", json!({"group": GROUP, "home": "n1", "set": "local"}))
        .script(1002, "IPaddr", "start", 0, 1)
        .script(1100, "svc", "start", 1, 98)
        .script(1101, "IPaddr", "stop", 0, 1)
        .at(1102, "info", "acquire_done", "", json!({"group": GROUP, "ok": false, "duration_ms": 101}))
        .at(9000, "info", "standby", "heartbeat standby all requested", json!({"set": "all", "refused": false}))
        .decision(9000, "n1 wants to go standby [all]")
        .at(9100, "info", "release_start", "", json!({"group": GROUP, "home": "n1", "set": "all"}))
        .script(9120, "svc", "stop", 0, 20)
        .at(9121, "info", "release_done", "", json!({"group": GROUP, "ok": true, "duration_ms": 21}))
        .at(
            9500,
            "info",
            "takeover",
            "heartbeat takeover all requested: refused, a resource transition is in progress; try again when it has finished",
            json!({"set": "all", "refused": true}),
        );
    let got = s.lines(None);
    assert_eq!(
        got[2..],
        [
            "  n1 could NOT acquire group 192.0.2.50/24/eth0 at 22:09:51.001 (rolled back): start-up; IPaddr start 1 ms, svc start failed (exit 1) after 98 ms, IPaddr stop 1 ms; 101 ms in all.",
            "  heartbeat standby all requested at 22:09:59.000.",
            "  n1 released group 192.0.2.50/24/eth0 at 22:09:59.100: heartbeat standby all (operator); svc stop 20 ms; 21 ms in all.",
            "  heartbeat takeover all requested at 22:09:59.500: refused, a resource transition is in progress; try again when it has finished.",
        ],
        "{got:#?}"
    );
}

/// A daemon that died without its `stopped` entry (power loss, kill -9) is
/// named when the next one starts; late beats and reloads are told.
#[test]
fn a_restart_after_a_crash_late_beats_and_reloads() {
    let mut s = Script::new();
    s.start(0, "n1")
        .at(
            2000,
            "WARN",
            "late",
            "Late heartbeat: Node n2: interval 720 ms",
            json!({"node": "n2", "interval_ms": 720, "warntime_ms": 500, "deadtime_ms": 1000, "beyond_deadtime": false}),
        )
        .at(
            3000,
            "info",
            "reload",
            "reload: applied keepalive 200ms, deadtime 2s, warntime 1s",
            json!({"result": "applied"}),
        );
    s.pid = 5000;
    s.gen = 13;
    s.start(60_000, "n1");
    let got = s.lines(None);
    assert_eq!(
        got[2..],
        [
            "  Late heartbeat from n2 at 22:09:52.000: 720 ms after the previous one (warntime 500 ms, deadtime 1000 ms).",
            "  Configuration reloaded at 22:09:53.000: applied keepalive 200ms, deadtime 2s, warntime 1s.",
            "  (the previous run, pid 4242, ended without a clean stop: killed, crashed, or the power was lost.)",
            "  n1 started at 22:10:50.000 (generation 13, pid 5000, deadtime 1000 ms, auto_failback on).",
        ],
        "{got:#?}"
    );
}

#[test]
fn an_empty_journal_tells_nothing() {
    assert!(timeline(&[], None, &Utc).is_empty());
}

#[test]
fn since_takes_a_time_a_date_time_or_a_duration_ago() {
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 22, 30, 0).unwrap();
    let ms = |y, mo, d, h, mi, s| {
        u64::try_from(
            Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
                .unwrap()
                .timestamp_millis(),
        )
        .unwrap()
    };
    assert_eq!(parse_since("22:10", now), Ok(ms(2026, 11, 25, 22, 10, 0)));
    assert_eq!(
        parse_since("22:10:05", now),
        Ok(ms(2026, 11, 25, 22, 10, 5))
    );
    assert_eq!(
        parse_since("23:00", now),
        Ok(ms(2026, 11, 24, 23, 0, 0)),
        "a time still to come today means yesterday"
    );
    assert_eq!(
        parse_since("2026-11-20 08:00", now),
        Ok(ms(2026, 11, 20, 8, 0, 0))
    );
    assert_eq!(
        parse_since("2026-11-20T08:00:30", now),
        Ok(ms(2026, 11, 20, 8, 0, 30))
    );
    assert_eq!(
        parse_since("2026-11-20", now),
        Ok(ms(2026, 11, 20, 0, 0, 0))
    );
    assert_eq!(parse_since("10m", now), Ok(ms(2026, 11, 25, 22, 20, 0)));
    assert_eq!(parse_since("2h", now), Ok(ms(2026, 11, 25, 20, 30, 0)));
    assert_eq!(parse_since("1d", now), Ok(ms(2026, 11, 24, 22, 30, 0)));
    assert_eq!(parse_since("90s", now), Ok(ms(2026, 11, 25, 22, 28, 30)));
    for bad in ["", "yesterday", "10x", "25:00", "m10"] {
        assert!(parse_since(bad, now).is_err(), "{bad:?}");
    }
}
