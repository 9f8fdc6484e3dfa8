//! What the membership state machine tells the world, and the words heartbeat
//! 3.0.6 uses for it in its log (spec §12), so an operator's grep habits keep working.

use std::fmt;

use super::NodeStatus;

/// Log priority, with heartbeat's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `notice`
    Notice,
    /// `WARN`
    Warn,
    /// `ERROR`
    Error,
    /// `CRIT`
    Crit,
}

impl Level {
    /// The word heartbeat prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Notice => "notice",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Crit => "CRIT",
        }
    }
}

/// Why a message was dropped before it reached the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// `src`, `t` or `ts` missing, `ts` not hex or zero, or `seq` missing on a sequenced type.
    Malformed,
    /// `src` names no configured node.
    UnknownNode,
    /// An older generation than the sender's current one.
    Replay,
    /// Already seen (the same packet on another medium, or a retransmission).
    Duplicate,
    /// From a node's generation that sent its shutdown notice (still in
    /// flight when the notice arrived, or a copy of the notice).
    Departed,
}

/// A fact worth logging or acting on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Our own status changed.
    LocalStatus(NodeStatus),
    /// Every node has been heard from or declared dead.
    CommUp,
    /// A packet arrived on a link of a node that was silent on it.
    LinkUp {
        /// The node.
        node: String,
        /// Our medium's name (interface or device).
        link: String,
    },
    /// Nothing arrived on a link of a node for its dead time.
    LinkDead {
        /// The node.
        node: String,
        /// Our medium's name.
        link: String,
    },
    /// A node's status changed (copied from its status message).
    StatusUpdate {
        /// The node.
        node: String,
        /// Its new status as it sent it.
        status: String,
    },
    /// A node was silent for its dead time.
    NodeDead {
        /// The node.
        node: String,
    },
    /// A status arrived later than warntime (or deadtime) after the previous one.
    LateHeartbeat {
        /// The node.
        node: String,
        /// Interval since its previous status.
        interval_ms: u64,
        /// Longer than deadtime.
        beyond_deadtime: bool,
    },
    /// A node came back with a higher generation: it restarted.
    Restart {
        /// The node.
        node: String,
    },
    /// A packet from an older generation of a node: dropped.
    Replay {
        /// The node.
        node: String,
        /// Generation in the packet.
        gen: u64,
        /// Current generation of the node.
        curgen: u64,
    },
    /// A gap in a node's sequence numbers.
    LostPackets {
        /// The node.
        node: String,
        /// How many are missing.
        count: u64,
        /// Last sequence number before the gap.
        last: u64,
        /// Sequence number after the gap.
        seq: u64,
    },
    /// A gap too large to repair: tracking restarts.
    TooManyLost {
        /// The node.
        node: String,
    },
    /// A packet from a node that is not configured.
    BadNode {
        /// The name in `src`.
        name: String,
    },
    /// A dropped message, for counters.
    Dropped(DropReason),
    /// A status message from a node arrived on a link, `interval` after its
    /// previous one on that link (for the metrics; it decides nothing).
    StatusInterval {
        /// The node.
        node: String,
        /// Our medium's name.
        link: String,
        /// Since the previous status on this link.
        interval: std::time::Duration,
    },
    /// A node announced a graceful shutdown.
    ShutdownNotice {
        /// The node.
        node: String,
    },
    /// A node that was dead spoke again with the same generation (it did not restart).
    PartitionHealed {
        /// The node.
        node: String,
    },
    /// A message for a higher layer (resources, standby, ...), accepted and for us.
    Delivered {
        /// The sender.
        from: String,
        /// The message.
        msg: crate::wire::Message,
    },
    /// A ping node answered after being silent (or for the first time): its
    /// status is now `ping`.
    PingUp {
        /// The ping node (host as written, or group name).
        node: String,
    },
    /// A ping node was silent for `deadping`.
    PingDead {
        /// The ping node.
        node: String,
    },
    /// A member of a ping group stopped or started answering (the group lives
    /// while any member answers).
    PingMember {
        /// The group.
        group: String,
        /// The member host.
        member: String,
        /// Answering again (true) or silent for `deadping` (false).
        up: bool,
    },
    /// A retransmission we asked for cannot be had.
    IrretrievablyLost {
        /// The node.
        node: String,
        /// The sequence number.
        seq: u64,
    },
    /// A node asked for a retransmission of a sequence number we never sent.
    RexmitTooHigh {
        /// The sequence number asked for.
        seq: u64,
        /// Our highest.
        max: u64,
    },
}

impl Event {
    /// The priority heartbeat logs this with.
    pub fn level(&self) -> Level {
        match self {
            Event::NodeDead { .. } | Event::PingDead { .. } | Event::LostPackets { .. } => {
                Level::Warn
            }
            Event::LateHeartbeat {
                beyond_deadtime, ..
            } => {
                if *beyond_deadtime {
                    Level::Crit
                } else {
                    Level::Warn
                }
            }
            Event::Replay { .. }
            | Event::TooManyLost { .. }
            | Event::BadNode { .. }
            | Event::IrretrievablyLost { .. }
            | Event::RexmitTooHigh { .. } => Level::Error,
            Event::PartitionHealed { .. } => Level::Crit,
            Event::Dropped(_) | Event::Delivered { .. } | Event::StatusInterval { .. } => {
                Level::Debug
            }
            _ => Level::Info,
        }
    }
}

impl fmt::Display for Event {
    /// heartbeat 3.0.6's wording.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::LocalStatus(s) => write!(f, "Local status now set to: '{s}'"),
            Event::CommUp => f.write_str("Comm_now_up(): updating status to active"),
            Event::LinkUp { node, link } => write!(f, "Link {node}:{link} up."),
            Event::LinkDead { node, link } => write!(f, "Link {node}:{link} dead."),
            Event::StatusUpdate { node, status } => write!(f, "Status update for node {node}: status {status}"),
            Event::NodeDead { node } | Event::PingDead { node } => write!(f, "node {node}: is dead"),
            Event::PingUp { node } => write!(f, "Status update for node {node}: status ping"),
            Event::PingMember { group, member, up: true } => {
                write!(f, "ping group {group}: member {member} answers")
            }
            Event::PingMember { group, member, up: false } => write!(
                f,
                "ping group {group}: member {member} does not answer (the group is up while any member answers)"
            ),
            Event::LateHeartbeat {
                node,
                interval_ms,
                beyond_deadtime,
            } => {
                write!(f, "Late heartbeat: Node {node}: interval {interval_ms} ms")?;
                if *beyond_deadtime {
                    f.write_str(" (> deadtime)")?;
                }
                Ok(())
            }
            Event::Restart { node } => write!(f, "Heartbeat restart on node {node}"),
            Event::Replay { node, gen, curgen } => write!(
                f,
                "should_drop_message: attempted replay attack [{node}]? [gen = {gen}, curgen = {curgen}]"
            ),
            Event::LostPackets { node, count, last, seq } => {
                write!(f, "{count} lost packet(s) for [{node}] [{last}:{seq}]")
            }
            Event::TooManyLost { node } => write!(f, "lost a lot of packets! (node {node})"),
            Event::BadNode { name } => write!(f, "process_status_message: bad node [{name}] in message"),
            Event::Dropped(reason) => write!(f, "dropped a message: {reason:?}"),
            Event::StatusInterval { node, link, interval } => {
                write!(f, "status from {node} on {link} after {} ms", interval.as_millis())
            }
            Event::Delivered { from, msg } => {
                write!(f, "message {} from {from}", msg.get_str("t").unwrap_or("?"))
            }
            Event::ShutdownNotice { node } => write!(f, "Received shutdown notice from '{node}'."),
            Event::PartitionHealed { node } => write!(f, "Cluster node {node} returning after partition."),
            Event::IrretrievablyLost { node, seq } => write!(f, "Irretrievably lost packet: node {node} seq {seq}"),
            Event::RexmitTooHigh { seq, max } => write!(f, "Rexmit of seq {seq} requested. {max} is max."),
        }
    }
}
