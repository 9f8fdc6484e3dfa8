//! Every message between actors, grouped by receiver. Commands are imperative,
//! facts are past tense.

use std::sync::Arc;

use actix::Message;
use hb_core::membership::LinkId;

// ---- to the node table ------------------------------------------------------------

/// A packet arrived on a link and passed authentication.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct PacketReceived {
    /// Which link (index into the node table's link names).
    pub link: LinkId,
    /// The decoded message.
    pub msg: hb_core::wire::Message,
}

/// An echo reply from a ping node authenticated by its ping medium (it answers
/// an outstanding request of ours, see `hb_core::ping`).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct PingReplied {
    /// Which ping node (index into the configured ping nodes).
    pub ping: usize,
    /// Which of its hosts answered (a `ping_group` has several).
    pub member: usize,
}

/// Leave the cluster: release the resource groups, then send the shutdown
/// notice. Answers once it has been handed to the links.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), StopFailed>")]
pub struct Shutdown;

/// New timing from a configuration reload: applied at once (a status with the
/// new dead time goes out, the next keepalive follows one new period later).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Retime {
    /// `keepalive`.
    pub keepalive: std::time::Duration,
    /// `deadtime`.
    pub deadtime: std::time::Duration,
    /// `warntime`.
    pub warntime: std::time::Duration,
}

/// The control socket's `status`: answered with the status snapshot.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::status::Snapshot")]
pub struct StatusQuery;

/// What the status reports from the configuration, replaced after a reload.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct SetStatusInfo(pub crate::status::StatusInfo);

/// A graceful stop could not release every resource group: the node stays in
/// the cluster and keeps them (the log says what to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopFailed;

/// Debug builds only: panic inside the node table (the tests of the panic
/// policy use it through `HB_DEBUG_PANIC_FILE`).
#[cfg(debug_assertions)]
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DebugPanic;

// ---- to links ---------------------------------------------------------------------

/// Send these bytes (already encoded and signed for this link's format).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct SendPacket {
    /// The encoded packet.
    pub bytes: Arc<[u8]>,
}

/// Answered once every message sent to the link before it has been handled
/// (mailboxes are FIFO): used at shutdown so the notice leaves before we exit.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Flush;
