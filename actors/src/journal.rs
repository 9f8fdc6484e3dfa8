//! The facts behind a log line, as structured key-values for the event
//! journal (the binary's `logging::journal` keeps every record that carries
//! a `kind`). Log calls add them after their message, which keeps heartbeat's
//! words: `warn!(log, "{e}"; facts)`.
//!
//! The kinds logged from here and from the resource manager are listed in
//! the README (Journal); `heartbeat explain` reads them.

use hb_core::membership::{Event, Membership};
use hb_core::time::Instant;
use slog::{Key, Record, Serializer, KV};

/// The key whose value names what happened.
pub const KIND: &str = "kind";

/// One value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// Text.
    Str(String),
    /// A count or milliseconds.
    U64(u64),
    /// A flag.
    Bool(bool),
}

/// Key-values for one record: a kind and its facts. Empty for a record that
/// is no journal entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `None`: not an entry.
    pub kind: Option<&'static str>,
    /// The facts, in order.
    pub pairs: Vec<(&'static str, Val)>,
}

impl Facts {
    /// An entry of this kind, without facts yet.
    pub fn kind(kind: &'static str) -> Facts {
        Facts {
            kind: Some(kind),
            pairs: Vec::new(),
        }
    }

    /// Adds a text fact.
    pub fn str(mut self, key: &'static str, val: impl Into<String>) -> Facts {
        self.pairs.push((key, Val::Str(val.into())));
        self
    }

    /// Adds a number.
    pub fn num(mut self, key: &'static str, val: u64) -> Facts {
        self.pairs.push((key, Val::U64(val)));
        self
    }

    /// Adds a flag.
    pub fn flag(mut self, key: &'static str, val: bool) -> Facts {
        self.pairs.push((key, Val::Bool(val)));
        self
    }

    /// The value of a fact (tests).
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl KV for Facts {
    fn serialize(&self, _: &Record<'_>, s: &mut dyn Serializer) -> slog::Result {
        let Some(kind) = self.kind else {
            return Ok(());
        };
        // Written in reverse: slog serializes a record's pairs last to first,
        // and this keeps the debug file's ` key=value` order as written.
        for (key, val) in self.pairs.iter().rev() {
            let key: Key = key;
            match val {
                Val::Str(v) => s.emit_str(key, v)?,
                Val::U64(v) => s.emit_u64(key, *v)?,
                Val::Bool(v) => s.emit_bool(key, *v)?,
            }
        }
        s.emit_str(KIND, kind)
    }
}

/// What the journal keeps of a membership event, with what it was decided
/// on: for a death, the silence since the last status, the dead time that
/// applied and each medium's silence (`links`: `NAME=MS` separated by blanks,
/// `NAME=never` for a medium the node was never heard on).
pub fn event(e: &Event, m: &Membership, now: Instant) -> Facts {
    let silence = |node: &str| m.silence(node, now);
    match e {
        Event::LocalStatus(s) => Facts::kind("local_status").str("status", s.as_str()),
        Event::CommUp => Facts::kind("comm_up"),
        Event::LinkUp { node, link } => Facts::kind("link_up").str("node", node).str("link", link),
        Event::LinkDead { node, link } => {
            let mut f = Facts::kind("link_dead").str("node", node).str("link", link);
            if let Some(s) = silence(node) {
                if let Some(ms) = s
                    .links
                    .iter()
                    .find(|l| l.link == *link)
                    .and_then(|l| l.silent_ms)
                {
                    f = f.num("silent_ms", ms);
                }
                f = f.num("deadtime_ms", s.limit_ms);
            }
            f
        }
        Event::NodeDead { node } => {
            let mut f = Facts::kind("node_dead").str("node", node);
            if let Some(s) = silence(node) {
                if let Some(ms) = s.status_ms {
                    f = f.num("silent_ms", ms);
                }
                let links: Vec<String> = s
                    .links
                    .iter()
                    .map(|l| match l.silent_ms {
                        Some(ms) => format!("{}={ms}", l.link),
                        None => format!("{}=never", l.link),
                    })
                    .collect();
                f = f
                    .num("deadtime_ms", s.limit_ms)
                    .str("links", links.join(" "));
            }
            f
        }
        Event::StatusUpdate { node, status } => Facts::kind("node_status")
            .str("node", node)
            .str("status", status),
        Event::LateHeartbeat {
            node,
            interval_ms,
            beyond_deadtime,
        } => {
            let mut f = Facts::kind("late")
                .str("node", node)
                .num("interval_ms", *interval_ms)
                .num("warntime_ms", ms(m.warntime()))
                .flag("beyond_deadtime", *beyond_deadtime);
            if let Some(s) = silence(node) {
                f = f.num("deadtime_ms", s.limit_ms);
            }
            f
        }
        Event::Restart { node } => Facts::kind("node_restart").str("node", node),
        Event::ShutdownNotice { node } => Facts::kind("shutdown_notice").str("node", node),
        Event::PartitionHealed { node } => Facts::kind("partition").str("node", node),
        Event::PingUp { node } => Facts::kind("ping_up").str("node", node),
        Event::PingDead { node } => Facts::kind("ping_dead")
            .str("node", node)
            .num("deadping_ms", ms(m.deadping())),
        Event::PingMember { group, member, up } => Facts::kind("ping_member")
            .str("node", group)
            .str("member", member)
            .flag("up", *up),
        // Packet-level trouble, not decisions.
        Event::Replay { .. }
        | Event::LostPackets { .. }
        | Event::TooManyLost { .. }
        | Event::BadNode { .. }
        | Event::Dropped(_)
        | Event::Delivered { .. }
        | Event::StatusInterval { .. }
        | Event::IrretrievablyLost { .. }
        | Event::RexmitTooHigh { .. } => Facts::default(),
    }
}

/// Milliseconds of a duration, saturating.
pub fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hb_core::membership::MembershipConfig;
    use hb_core::time::Now;
    use hb_core::wire::Message;

    use super::*;

    fn membership() -> Membership {
        let ms = Duration::from_millis;
        let cfg = MembershipConfig {
            me: "n2".into(),
            nodes: vec!["n1".into(), "n2".into()],
            ping: Vec::new(),
            deadping: ms(1000),
            links: vec!["eth1".into(), "/dev/ttyS0".into()],
            keepalive: ms(200),
            deadtime: ms(1000),
            warntime: ms(500),
            initdead: ms(10_000),
            max_rexmit_delay: ms(250),
            hopfudge: 1,
            uuid: [2; 16],
            generation: 5,
            seed: 1,
        };
        let mut m = Membership::new(cfg, Now::at_millis(0));
        m.start(Now::at_millis(0));
        let mut st = Message::with_type("status");
        st.push_str("st", "active");
        st.push_str("dt", "3e8");
        st.push_str("src", "n1");
        st.push_str("seq", "1");
        st.push_str("hg", "7");
        st.push_str("ts", "6b075b63");
        m.handle_message(Now::at_millis(100), 0, st);
        while m.poll_command().is_some() {}
        m
    }

    /// A death's entry says how long the node was silent, the dead time that
    /// applied, and each medium's silence.
    #[test]
    fn a_death_carries_its_silence_and_dead_time() {
        let mut m = membership();
        m.handle_timeout(Now::at_millis(1103));
        let e = Event::NodeDead { node: "n1".into() };
        let f = event(&e, &m, Instant::from_millis(1103));
        assert_eq!(f.kind, Some("node_dead"));
        assert_eq!(f.get("node"), Some(&Val::Str("n1".into())));
        assert_eq!(f.get("silent_ms"), Some(&Val::U64(1003)));
        assert_eq!(f.get("deadtime_ms"), Some(&Val::U64(1000)));
        assert_eq!(
            f.get("links"),
            Some(&Val::Str("eth1=1003 /dev/ttyS0=never".into()))
        );
        let l = Event::LinkDead {
            node: "n1".into(),
            link: "eth1".into(),
        };
        let f = event(&l, &m, Instant::from_millis(1103));
        assert_eq!(f.kind, Some("link_dead"));
        assert_eq!(f.get("silent_ms"), Some(&Val::U64(1003)));
        let late = Event::LateHeartbeat {
            node: "n1".into(),
            interval_ms: 700,
            beyond_deadtime: false,
        };
        let f = event(&late, &m, Instant::from_millis(1103));
        assert_eq!(f.get("warntime_ms"), Some(&Val::U64(500)));
        assert_eq!(f.get("interval_ms"), Some(&Val::U64(700)));
    }

    #[test]
    fn packet_trouble_is_not_an_entry() {
        let m = membership();
        let e = Event::TooManyLost { node: "n1".into() };
        assert_eq!(event(&e, &m, Instant::from_millis(0)), Facts::default());
    }
}
