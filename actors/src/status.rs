//! The status snapshot: what `heartbeat status` and `cl_status` show, answered
//! by the node table to the control socket's `status` request as one line of
//! JSON.
//!
//! [`snapshot`] is a pure function of the node's state machines, the static
//! [`StatusInfo`] from the configuration, and the time: it reads, and decides
//! nothing. Times are relative to the snapshot (`*_ms_ago`) so that readers
//! need no clock of the daemon's, plus wall-clock seconds where a date helps a
//! human (`since_unix`).

use std::collections::BTreeMap;

use hb_core::membership::{NodeStatus, PingStatus};
use hb_core::node::Node;
use hb_core::resources::moves::Owner;
use hb_core::resources::nice::Hold;
use hb_core::time::{Instant, Now};
use serde::{Deserialize, Serialize};

/// The version of the snapshot's format; a reader refuses others.
pub const FORMAT: u32 = 1;

/// The weight `cl_status nodeweight` reports: 3.0.6's default, and we have no
/// `weight` directive.
pub const NODE_WEIGHT: u32 = 100;

/// Our only API client: the built-in ipfail.
pub const IPFAIL_CLIENT: &str = "ipfail";

/// `hbversion`: the protocol version we speak, then ours.
pub fn hbversion() -> String {
    format!("3.0.6 (heartbeat-rs {})", env!("CARGO_PKG_VERSION"))
}

/// What the status needs from the configuration and does not change while
/// the daemon runs (except `params`, updated by a reload).
#[derive(Debug, Clone, Default)]
pub struct StatusInfo {
    /// The resource groups, in haresources order.
    pub groups: Vec<GroupInfo>,
    /// `auto_failback`: `on`, `off` or `legacy`.
    pub auto_failback: String,
    /// `cl_status hbparameter` values (`hbversion` is added by [`snapshot`]).
    pub params: BTreeMap<String, String>,
    /// Cluster and ping nodes in 3.0.6's node-table order.
    pub node_table: Vec<String>,
}

/// One haresources line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's key: its first resource as written.
    pub key: String,
    /// Its preferred node.
    pub preferred: String,
    /// Its resources as written.
    pub resources: Vec<String>,
}

impl StatusInfo {
    /// From a loaded configuration.
    pub fn new(loaded: &hb_conf::Loaded) -> StatusInfo {
        let config = &loaded.config;
        StatusInfo {
            groups: config
                .resources
                .iter()
                .map(|g| GroupInfo {
                    key: g.key().to_owned(),
                    preferred: g.node.clone(),
                    resources: g.resources.iter().map(|r| r.text.clone()).collect(),
                })
                .collect(),
            auto_failback: match config.auto_failback {
                hb_conf::model::AutoFailback::On => "on",
                hb_conf::model::AutoFailback::Off => "off",
                hb_conf::model::AutoFailback::Legacy => "legacy",
            }
            .to_owned(),
            params: loaded
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            node_table: loaded.node_table.clone(),
        }
    }
}

/// Everything `heartbeat status` and `cl_status` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`FORMAT`].
    pub format: u32,
    /// This node's name.
    pub node: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Our generation (`hg`).
    pub generation: u64,
    /// Since the daemon's node table started.
    pub uptime_ms: u64,
    /// The daemon's wall clock when it answered, in seconds since the epoch.
    pub now_unix: u64,
    /// The cluster nodes, ourselves included, in configuration order.
    pub nodes: Vec<NodeView>,
    /// The ping nodes (`ping`, `ping6`, `ping_group`), in configuration order.
    pub ping_nodes: Vec<PingView>,
    /// Cluster and ping node names in 3.0.6's node-table order (`cl_status
    /// listnodes` prints it backwards, as 3.0.6's client library does).
    pub node_table: Vec<String>,
    /// The resource groups, in haresources order.
    pub groups: Vec<GroupView>,
    /// `cl_status rscstatus`: `none`, `local`, `foreign`, `all`, or
    /// `transition` while resources move.
    pub rscstatus: String,
    /// The timing in force (as last reloaded) and `auto_failback`.
    pub timing: Timing,
    /// The built-in ipfail, when it runs.
    pub ipfail: Option<IpfailView>,
    /// `cl_status hbparameter` values, by name.
    pub params: BTreeMap<String, String>,
    /// Packets dropped since the daemon started, by reason (`bad_auth`,
    /// `malformed`, `oversized`, `table_full`, `unknown_node`, `replay`,
    /// `duplicate`; see [`crate::metrics::Metrics::dropped`]). Absent from
    /// an older daemon's answer.
    #[serde(default)]
    pub drops: BTreeMap<String, u64>,
}

/// One cluster node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Its name.
    pub name: String,
    /// This node.
    pub local: bool,
    /// `init`, `up`, `active` or `dead`.
    pub status: String,
    /// Its generation (`None` before anything was heard).
    pub generation: Option<u64>,
    /// Since its last packet, on any link (`None`: never heard).
    pub last_heard_ms_ago: Option<u64>,
    /// Its links to us (for ourselves: our own packets looped back).
    pub links: Vec<LinkView>,
}

/// One link of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// The medium's name (`eth1`, `/dev/ttyS0`).
    pub name: String,
    /// `up` or `dead`.
    pub status: String,
    /// Since the last packet on this link.
    pub last_heard_ms_ago: Option<u64>,
    /// The longest interval between two status messages on this link in the
    /// last minute.
    pub worst_interval_ms: Option<u64>,
}

/// One ping node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingView {
    /// The host as written, or the `ping_group` name.
    pub name: String,
    /// `ping` (answering), `dead`, or `init` before its first answer.
    pub status: String,
    /// The hosts pinged.
    pub members: Vec<String>,
    /// Since the newest answer of any member.
    pub last_heard_ms_ago: Option<u64>,
}

/// One resource group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// Its key (first resource).
    pub key: String,
    /// Its preferred node.
    pub preferred: String,
    /// Its resources as written.
    pub resources: Vec<String>,
    /// `us`, `peer` or `none`, as this node sees it.
    pub owner: String,
    /// The owner's name, if any.
    pub owner_node: Option<String>,
    /// `stable`, or `transition` while resources move.
    pub state: String,
    /// Since the owner last changed (or since the daemon started).
    pub since_ms_ago: u64,
    /// The same instant, in wall-clock seconds since the epoch.
    pub since_unix: u64,
    /// Why it last moved: `start`, `takeover_after_death`, `peer_stopped`,
    /// `peer_restarted`, `standby`, `peer_standby`, `takeover`,
    /// `peer_takeover`, `failback`, `partition_heal`, `ipfail`,
    /// `start_failed`, `release_failed`, `shutdown`; `None` before any move.
    pub reason: Option<String>,
}

/// The timing settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// `keepalive`.
    pub keepalive_ms: u64,
    /// `deadtime`.
    pub deadtime_ms: u64,
    /// `warntime`.
    pub warntime_ms: u64,
    /// `initdead`.
    pub initdead_ms: u64,
    /// `deadping`.
    pub deadping_ms: u64,
    /// `auto_failback`: `on`, `off` or `legacy`.
    pub auto_failback: String,
}

/// The built-in ipfail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpfailView {
    /// Ping nodes this node counts.
    pub ping_nodes_seen: usize,
    /// What the other node's ipfail last reported (`None`: it has not, or it
    /// left): its client counts as online while it reports.
    pub peer_sees: Option<usize>,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ago(now: Instant, t: Option<Instant>) -> Option<u64> {
    t.map(|t| millis(now.since(t)))
}

/// The snapshot of `node` at `now`.
pub fn snapshot(node: &Node, info: &StatusInfo, now: Now) -> Snapshot {
    let m = node.membership();
    let cfg = m.config();
    let mono = now.mono;
    let nodes = m
        .node_names()
        .map(|name| {
            let status = m.node_status(name).unwrap_or(NodeStatus::Init);
            NodeView {
                name: name.to_owned(),
                local: name == cfg.me,
                status: status.as_str().to_owned(),
                generation: m.generation_of(name),
                last_heard_ms_ago: ago(mono, m.last_heard(name)),
                links: cfg
                    .links
                    .iter()
                    .enumerate()
                    .map(|(l, link)| LinkView {
                        name: link.clone(),
                        status: if m.link_up(name, l) == Some(true) {
                            "up"
                        } else {
                            "dead"
                        }
                        .to_owned(),
                        last_heard_ms_ago: ago(mono, m.link_last_heard(name, l)),
                        worst_interval_ms: m.worst_interval(name, l, mono).map(millis),
                    })
                    .collect(),
            }
        })
        .collect();
    let ping_nodes = cfg
        .ping
        .iter()
        .map(|p| PingView {
            name: p.name.clone(),
            status: m
                .ping_status(&p.name)
                .unwrap_or(PingStatus::Init)
                .as_str()
                .to_owned(),
            members: p.members.clone(),
            last_heard_ms_ago: ago(mono, m.ping_last_reply(&p.name)),
        })
        .collect();
    let peer = m.peer_names().next().map(str::to_owned);
    let rscstatus = node
        .resources()
        .map_or("none", |n| n.rscstatus())
        .to_owned();
    let state = if rscstatus == "transition" {
        "transition"
    } else {
        "stable"
    };
    let groups = info
        .groups
        .iter()
        .map(|g| {
            let set = if g.preferred == cfg.me {
                Hold::LOCAL
            } else {
                Hold::FOREIGN
            };
            let mv = node.moves().of(set);
            let since_ago = mono.since(mv.since);
            GroupView {
                key: g.key.clone(),
                preferred: g.preferred.clone(),
                resources: g.resources.clone(),
                owner: mv.owner.as_str().to_owned(),
                owner_node: match mv.owner {
                    Owner::Us => Some(cfg.me.clone()),
                    Owner::Peer => peer.clone(),
                    Owner::Nobody => None,
                },
                state: state.to_owned(),
                since_ms_ago: millis(since_ago),
                since_unix: now.wall_secs.saturating_sub(since_ago.as_secs()),
                reason: mv.reason.map(|r| r.as_str().to_owned()),
            }
        })
        .collect();
    let mut params = info.params.clone();
    params.insert("hbversion".into(), hbversion());
    Snapshot {
        format: FORMAT,
        node: cfg.me.clone(),
        pid: std::process::id(),
        generation: cfg.generation,
        uptime_ms: millis(mono.since(m.started())),
        now_unix: now.wall_secs,
        nodes,
        ping_nodes,
        node_table: info.node_table.clone(),
        groups,
        rscstatus,
        timing: Timing {
            keepalive_ms: millis(cfg.keepalive),
            deadtime_ms: millis(cfg.deadtime),
            warntime_ms: millis(cfg.warntime),
            initdead_ms: millis(cfg.initdead),
            deadping_ms: millis(cfg.deadping),
            auto_failback: info.auto_failback.clone(),
        },
        ipfail: node.ipfail().map(|f| IpfailView {
            ping_nodes_seen: f.count(),
            peer_sees: f.peer_count(),
        }),
        params,
        drops: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_core::membership::{Membership, MembershipConfig, PingConfig};
    use hb_core::resources::nice::NiceFailback;
    use hb_core::wire::Message;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn status(seq: u64, st: &str) -> Message {
        let mut m = Message::with_type("status");
        m.push_str("st", st);
        m.push_str("dt", "3e8");
        m.push_str("protocol", "1");
        m.push_str("src", "n2");
        m.push_str("seq", format!("{seq:x}"));
        m.push_str("hg", "7");
        m.push_str("ts", "6b075b63");
        m
    }

    fn info() -> StatusInfo {
        StatusInfo {
            groups: vec![GroupInfo {
                key: "192.0.2.50/24/eth0".into(),
                preferred: "n1".into(),
                resources: vec!["192.0.2.50/24/eth0".into(), "svc".into()],
            }],
            auto_failback: "on".into(),
            params: [("keepalive".to_owned(), "200ms".to_owned())].into(),
            node_table: vec!["n1".into(), "n2".into(), "192.0.2.100".into()],
        }
    }

    /// n1 and n2 over eth1, one ping node that never answers: n1's view after
    /// n2's statuses at 0.2 s intervals, one of them 0.6 s late.
    #[test]
    fn the_snapshot_shows_nodes_links_ping_nodes_groups_and_timing() {
        let cfg = MembershipConfig {
            me: "n1".into(),
            nodes: vec!["n1".into(), "n2".into()],
            ping: vec![PingConfig {
                name: "192.0.2.100".into(),
                members: vec!["192.0.2.100".into()],
            }],
            deadping: ms(2000),
            links: vec!["eth1".into()],
            keepalive: ms(200),
            deadtime: ms(1000),
            warntime: ms(500),
            initdead: ms(10_000),
            max_rexmit_delay: ms(250),
            hopfudge: 1,
            uuid: [1; 16],
            generation: 42,
            seed: 1,
        };
        let mut node = Node::new(Membership::new(cfg, Now::at_millis(0)))
            .with_resources(NiceFailback::new(true).named("n1"));
        node.start(Now::at_millis(0));
        for (seq, at) in [(1, 0), (2, 200), (3, 800), (4, 1000)] {
            node.handle_message(Now::at_millis(at), 0, status(seq, "active"));
        }
        while node.poll_output().is_some() {}
        let s = snapshot(&node, &info(), Now::at_millis(1100));
        assert_eq!(s.format, FORMAT);
        assert_eq!((s.node.as_str(), s.generation), ("n1", 42));
        assert_eq!(s.uptime_ms, 1100);
        let n2 = &s.nodes[1];
        assert_eq!(
            (n2.name.as_str(), n2.local, n2.status.as_str()),
            ("n2", false, "active")
        );
        assert_eq!(n2.generation, Some(7));
        assert_eq!(n2.last_heard_ms_ago, Some(100));
        assert_eq!(
            n2.links,
            vec![LinkView {
                name: "eth1".into(),
                status: "up".into(),
                last_heard_ms_ago: Some(100),
                worst_interval_ms: Some(600),
            }]
        );
        assert!(s.nodes[0].local);
        assert_eq!(s.nodes[0].generation, Some(42));
        assert_eq!(s.ping_nodes[0].status, "init");
        assert_eq!(s.ping_nodes[0].last_heard_ms_ago, None);
        assert_eq!(s.node_table, ["n1", "n2", "192.0.2.100"]);
        // Nobody holds the group yet (communication is not up: the ping node
        // has not answered), since the start.
        let g = &s.groups[0];
        assert_eq!(
            (
                g.owner.as_str(),
                g.owner_node.as_deref(),
                g.reason.as_deref()
            ),
            ("none", None, None)
        );
        assert_eq!((g.since_ms_ago, g.since_unix), (1100, s.now_unix - 1));
        assert_eq!(s.rscstatus, "none");
        assert_eq!(
            s.timing,
            Timing {
                keepalive_ms: 200,
                deadtime_ms: 1000,
                warntime_ms: 500,
                initdead_ms: 10_000,
                deadping_ms: 2000,
                auto_failback: "on".into(),
            }
        );
        assert_eq!(s.ipfail, None);
        assert_eq!(s.params.get("keepalive").map(String::as_str), Some("200ms"));
        assert!(s.params["hbversion"].starts_with("3.0.6 ("));
        // One line of JSON, and back.
        let json = serde_json::to_string(&s).expect("serializes");
        assert!(!json.contains('\n'));
        assert_eq!(serde_json::from_str::<Snapshot>(&json).expect("parses"), s);
    }
}
