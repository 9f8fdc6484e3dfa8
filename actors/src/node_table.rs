//! The node-status table: owns the sans-IO [`Node`] (membership and, with
//! resource management, the [`Protocol`] machine: nice_failback or legacy). It translates its
//! outputs into link sends, resource jobs and log lines. It decides nothing itself.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use hb_core::membership::{DropReason, Event, Level, Membership};
use hb_core::node::{Node, Output};
use hb_core::resources::protocol::Protocol;
use hb_core::time::{Instant, Now};
use hb_core::wire::packet::{self, EncodeOptions};
use hb_core::wire::Format;
use slog::{crit, debug, error, info, warn, Logger};

use crate::control::ControlRequest;
use crate::keys::SharedKeys;
use crate::messages::{
    PacketReceived, PingReplied, Retime, SendPacket, SetStatusInfo, Shutdown, StatusQuery,
    StopFailed,
};
use crate::resource_mgr::{GroupsDone, Reannounce, RunGroups};

/// Mailbox size: links use `try_send` and count what does not fit.
pub const MAILBOX: usize = 1024;

/// A link as the table sees it: where to send, and in which encoding.
pub struct LinkOut {
    /// The link actor.
    pub to: Recipient<SendPacket>,
    /// Netstring for UDP, text for serial.
    pub format: Format,
}

/// The node-status table actor.
pub struct NodeTable {
    core: Node,
    /// Runs the acquisitions and releases the node asks for.
    resources: Option<Recipient<RunGroups>>,
    /// Announces held service addresses again.
    reannounce: Option<Recipient<Reannounce>>,
    /// Answered once the shutdown notice has been handed to the links, or the
    /// stop failed.
    stop_waiters: Vec<tokio::sync::oneshot::Sender<Result<(), StopFailed>>>,
    keys: SharedKeys,
    links: Vec<LinkOut>,
    /// Whether packets carry the inner `auth=` field (`msgfmt classic`).
    inner_auth: bool,
    /// The next `handle_timeout` call; replaced whenever the deadline moves.
    timer: Option<SpawnHandle>,
    origin: actix::clock::Instant,
    /// Bounds the log lines about packets from unknown nodes.
    bad_node: hb_core::ratelimit::LogLimiter,
    /// Bounds the log lines about replayed packets (old generations).
    replays: hb_core::ratelimit::LogLimiter,
    /// The Prometheus counters (read only by the `metrics_listen` server).
    metrics: crate::metrics::Metrics,
    /// Some event may have changed a node's status: refresh `heartbeat_node_up`.
    statuses_moved: bool,
    /// What the status snapshot reports from the configuration.
    status: crate::status::StatusInfo,
    log: Logger,
}

impl NodeTable {
    /// A table around a membership state machine; `links` are the link actors.
    pub fn new(
        core: Membership,
        keys: impl Into<SharedKeys>,
        links: Vec<LinkOut>,
        inner_auth: bool,
        log: &Logger,
    ) -> NodeTable {
        NodeTable {
            core: Node::new(core),
            resources: None,
            reannounce: None,
            stop_waiters: Vec::new(),
            keys: keys.into(),
            links,
            inner_auth,
            timer: None,
            origin: actix::clock::Instant::now(),
            bad_node: hb_core::ratelimit::LogLimiter::new(Duration::from_secs(10)),
            replays: hb_core::ratelimit::LogLimiter::new(Duration::from_secs(10)),
            metrics: crate::metrics::Metrics::default(),
            statuses_moved: true,
            status: crate::status::StatusInfo::default(),
            log: log.new(slog::o!("actor" => "node_table")),
        }
    }

    /// Resource management: the protocol machine and the actor that runs groups.
    pub fn with_resources(
        mut self,
        nice: impl Into<Protocol>,
        resources: Recipient<RunGroups>,
        reannounce: Recipient<Reannounce>,
    ) -> NodeTable {
        self.core = self.core.with_resources(nice);
        self.resources = Some(resources);
        self.reannounce = Some(reannounce);
        self
    }

    /// ipfail (with resources): give the groups to the node that sees more ping nodes.
    pub fn with_ipfail(mut self, ipfail: hb_core::ipfail::Ipfail) -> NodeTable {
        self.core = self.core.with_ipfail(ipfail);
        self
    }

    /// Where the Prometheus counters go (`metrics_listen`).
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> NodeTable {
        self.metrics = metrics;
        self
    }

    /// What the status snapshot reports from the configuration.
    pub fn with_status_info(mut self, info: crate::status::StatusInfo) -> NodeTable {
        self.status = info;
        self
    }

    fn now(&self) -> Now {
        let mono = Instant::from_millis(
            u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        let wall_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Now { mono, wall_secs }
    }

    /// Carries out everything the node asked for, answers a finished graceful
    /// stop, then re-arms the timer.
    fn drain(&mut self, ctx: &mut Context<Self>) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Send(msg) => self.send(&msg),
                Output::Event(e) => self.log_event(&e),
                Output::Run { acquire, set } => self.run(RunGroups { acquire, set }),
                Output::Reannounce(set) => {
                    let sent = self
                        .reannounce
                        .as_ref()
                        .is_some_and(|r| r.try_send(Reannounce { set }).is_ok());
                    if !sent {
                        error!(self.log, "the resource manager is not taking work: {set} groups not announced again");
                    }
                }
                // The resource protocol's and ipfail's decisions, in their words.
                Output::Log(level, text) => match level {
                    Level::Crit => crit!(self.log, "{text}"; "kind" => "decision"),
                    Level::Error => error!(self.log, "{text}"; "kind" => "decision"),
                    Level::Warn => warn!(self.log, "{text}"; "kind" => "decision"),
                    Level::Info | Level::Notice => info!(self.log, "{text}"; "kind" => "decision"),
                    Level::Debug => debug!(self.log, "{text}"),
                },
                // The shutdown notice is in the links' mailboxes.
                Output::Left => {
                    for w in self.stop_waiters.drain(..) {
                        let _ = w.send(Ok(()));
                    }
                }
                Output::StopFailed => {
                    for w in self.stop_waiters.drain(..) {
                        let _ = w.send(Err(StopFailed));
                    }
                }
            }
        }
        if std::mem::take(&mut self.statuses_moved) {
            let m = self.core.membership();
            for node in m.node_names() {
                let up = matches!(
                    m.node_status(node),
                    Some(
                        hb_core::membership::NodeStatus::Up
                            | hb_core::membership::NodeStatus::Active
                    )
                );
                self.metrics.node_up(node, up);
            }
        }
        if let Some(h) = self.timer.take() {
            ctx.cancel_future(h);
        }
        if let Some(deadline) = self.core.poll_timeout() {
            let delay = deadline.since(self.now().mono);
            self.timer = Some(ctx.run_later(delay, |act, ctx| {
                act.timer = None;
                let now = act.now();
                act.core.handle_timeout(now);
                act.drain(ctx);
            }));
        }
    }

    fn run(&mut self, job: RunGroups) {
        let sent = self
            .resources
            .as_ref()
            .is_some_and(|r| r.try_send(job).is_ok());
        if !sent {
            error!(
                self.log,
                "the resource manager is not taking work: {} groups not handled", job.set
            );
        }
    }

    fn send(&mut self, msg: &hb_core::wire::Message) {
        let mut udp: Option<Arc<[u8]>> = None;
        let mut text: Option<Arc<[u8]>> = None;
        for link in &self.links {
            let (slot, opts) = match link.format {
                Format::Netstring => (
                    &mut udp,
                    EncodeOptions {
                        format: Format::Netstring,
                        inner_auth: self.inner_auth,
                    },
                ),
                Format::Text => (&mut text, EncodeOptions::SERIAL),
            };
            if slot.is_none() {
                match packet::encode(msg, &self.keys.get(), opts) {
                    Ok(b) => *slot = Some(Arc::from(b)),
                    Err(e) => {
                        error!(self.log, "cannot encode a message: {e}"; "t" => msg.get_str("t").unwrap_or("?"));
                        return;
                    }
                }
            }
            if let Some(bytes) = slot.clone() {
                // A full link mailbox means the link is stuck: dropping a heartbeat
                // is what a lossy medium does anyway, and the next one follows.
                let _ = link.to.try_send(SendPacket { bytes });
            }
        }
    }

    /// An operator's `heartbeat standby|takeover SET`, carried out and journaled.
    fn requested(
        &mut self,
        kind: &'static str,
        set: hb_core::resources::nice::Hold,
        run: impl FnOnce(&mut Node) -> Result<(), hb_core::node::Refused>,
    ) -> Result<(), hb_core::node::Refused> {
        let result = run(&mut self.core);
        let refused = result.as_ref().err().map(ToString::to_string);
        info!(self.log, "heartbeat {kind} {set} requested{}", refused.as_deref().map_or(String::new(), |r| format!(": refused, {r}"));
            "kind" => kind, "set" => set.as_str(), "refused" => refused.is_some());
        result
    }

    fn log_event(&mut self, e: &Event) {
        match e {
            Event::Dropped(reason) => {
                let label = match reason {
                    DropReason::Malformed => "malformed",
                    DropReason::UnknownNode => "unknown_node",
                    DropReason::Replay => "replay",
                    DropReason::Duplicate => "duplicate",
                    DropReason::Departed => "departed",
                };
                self.metrics.dropped(label);
                return;
            }
            Event::Delivered { .. } => return,
            Event::StatusInterval {
                node,
                link,
                interval,
            } => {
                self.metrics.status_interval(node, link, *interval);
                return;
            }
            Event::LateHeartbeat { node, .. } => self.metrics.late_heartbeat(node),
            Event::NodeDead { node } => {
                self.metrics.node_death(node);
                self.statuses_moved = true;
            }
            Event::LinkDead { node, link } => self.metrics.link_death(node, link),
            Event::LocalStatus(_)
            | Event::StatusUpdate { .. }
            | Event::Restart { .. }
            | Event::ShutdownNotice { .. }
            | Event::PartitionHealed { .. } => self.statuses_moved = true,
            Event::BadNode { .. } => {
                self.metrics.dropped("unknown_node");
                if self.bad_node.hit(self.now().mono).is_none() {
                    return;
                }
            }
            // A flood of replayed packets must not flood the log: one line per
            // 10 s, with the count of those not logged.
            Event::Replay { .. } => match self.replays.hit(self.now().mono) {
                None => return,
                Some(0) => {}
                Some(more) => {
                    error!(self.log, "{e} ({more} more since the last report)");
                    return;
                }
            },
            _ => {}
        }
        // What the journal keeps of it (see crate::journal).
        let facts = crate::journal::event(e, self.core.membership(), self.now().mono);
        match e.level() {
            Level::Crit => crit!(self.log, "{e}"; facts),
            Level::Error => error!(self.log, "{e}"; facts),
            Level::Warn => warn!(self.log, "{e}"; facts),
            Level::Info | Level::Notice => info!(self.log, "{e}"; facts),
            Level::Debug => debug!(self.log, "{e}"; facts),
        }
    }
}

impl Actor for NodeTable {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
        self.origin = actix::clock::Instant::now();
        let now = self.now();
        self.core.start(now);
        self.drain(ctx);
        // The `ld` field: the first line of /proc/loadavg, refreshed now and then
        // (a procfs read does not block).
        ctx.run_interval(Duration::from_secs(5), |act, _| {
            if let Some(line) = std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.lines().next().map(str::to_owned))
            {
                act.core.set_load(line);
            }
        });
    }
}

impl Handler<PacketReceived> for NodeTable {
    type Result = ();

    fn handle(&mut self, msg: PacketReceived, ctx: &mut Context<Self>) {
        let now = self.now();
        self.core.handle_message(now, msg.link, msg.msg);
        self.drain(ctx);
    }
}

impl Handler<PingReplied> for NodeTable {
    type Result = ();

    fn handle(&mut self, r: PingReplied, ctx: &mut Context<Self>) {
        let now = self.now();
        self.core.handle_ping_reply(now, r.ping, r.member);
        self.drain(ctx);
    }
}

impl Handler<Shutdown> for NodeTable {
    type Result = ResponseFuture<Result<(), StopFailed>>;

    /// Releases the groups, then sends the shutdown notice; answers once the
    /// notice is in the links' mailboxes, or with [`StopFailed`] when a group
    /// could not be released (the node then stays in the cluster and keeps it).
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.stop_waiters.push(tx);
        let now = self.now();
        self.core.shutdown(now);
        self.drain(ctx);
        Box::pin(async move { rx.await.unwrap_or(Ok(())) })
    }
}

#[cfg(debug_assertions)]
impl Handler<crate::messages::DebugPanic> for NodeTable {
    type Result = ();

    fn handle(&mut self, _: crate::messages::DebugPanic, _: &mut Context<Self>) {
        panic!("injected panic in the node table (HB_DEBUG_PANIC_FILE)");
    }
}

impl Handler<Retime> for NodeTable {
    type Result = ();

    fn handle(&mut self, t: Retime, ctx: &mut Context<Self>) {
        let now = self.now();
        self.core
            .set_timing(now, t.keepalive, t.deadtime, t.warntime);
        self.drain(ctx);
    }
}

impl Handler<GroupsDone> for NodeTable {
    type Result = ();

    fn handle(&mut self, done: GroupsDone, ctx: &mut Context<Self>) {
        let now = self.now();
        self.core.groups_done(now, done.ok);
        self.drain(ctx);
    }
}

impl Handler<ControlRequest> for NodeTable {
    type Result = Result<(), String>;

    fn handle(&mut self, req: ControlRequest, ctx: &mut Context<Self>) -> Result<(), String> {
        let now = self.now();
        let result = match req {
            ControlRequest::Standby(set) => self.requested("standby", set, |c| c.standby(now, set)),
            ControlRequest::Takeover(set) => {
                self.requested("takeover", set, |c| c.takeover(now, set))
            }
        };
        self.drain(ctx);
        result.map_err(|e| e.to_string())
    }
}

impl Handler<StatusQuery> for NodeTable {
    type Result = MessageResult<StatusQuery>;

    fn handle(&mut self, _: StatusQuery, _: &mut Context<Self>) -> Self::Result {
        let mut snapshot = crate::status::snapshot(&self.core, &self.status, self.now());
        snapshot.drops = self.metrics.drops();
        MessageResult(snapshot)
    }
}

impl Handler<SetStatusInfo> for NodeTable {
    type Result = ();

    fn handle(&mut self, info: SetStatusInfo, _: &mut Context<Self>) {
        self.status = info.0;
    }
}
