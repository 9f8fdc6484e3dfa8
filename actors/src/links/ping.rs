//! Ping media (`ping`, `ping6`, `ping_group`; spec §5.1): one actor per ping
//! node, which sends an ICMP echo request to each of its hosts every keepalive
//! from a raw socket (IPv4 or IPv6; CAP_NET_RAW, which root has), and tells the
//! node table about each reply that answers a request of ours
//! ([`hb_core::ping::Echo`] decides which do: identifier, an outstanding
//! sequence number younger than `deadping`, and a random per-host token in the
//! payload). Every host has its own token, so a reply names the host that
//! answered without trusting its source address.
//!
//! The node table (membership in `hb-core`) keeps the ping node's status and
//! declares it dead after `deadping`; this actor decides nothing.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::io::{self, Read as _};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;
use hb_core::ping::{Echo, Family};
use hb_core::ratelimit::LogLimiter;
use slog::{error, info, warn, Logger};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::Backoff;
use crate::messages::PingReplied;

/// Largest packet read (an echo reply of ours is 26 bytes plus an IP header).
const READ_BUF: usize = 1500;

/// What a ping medium pings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingSpec {
    /// Index of the ping node in the configuration (what the node table knows it by).
    pub ping: usize,
    /// Its name: the host as written, or the group name.
    pub name: String,
    /// Its hosts' addresses, in configuration order (all of one family).
    pub hosts: Vec<IpAddr>,
    /// Interval between requests (`keepalive`).
    pub interval: Duration,
    /// How long a request may be answered (`deadping`).
    pub deadping: Duration,
}

impl PingSpec {
    fn family(&self) -> Family {
        match self.hosts.first() {
            Some(IpAddr::V6(_)) => Family::V6,
            _ => Family::V4,
        }
    }
}

/// A random number from the standard library's randomly keyed hasher (no
/// extra dependency, and nothing here needs more than unpredictability).
fn random(salt: u64) -> u64 {
    RandomState::new().hash_one((salt, std::process::id()))
}

fn open(family: Family) -> io::Result<Socket> {
    let s = match family {
        Family::V4 => Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?,
        Family::V6 => Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?,
    };
    s.set_nonblocking(true)?;
    Ok(s)
}

type Packet = io::Result<Vec<u8>>;

/// One ping medium. Supervised: a socket error stops it, and it is restarted
/// after a growing delay.
pub struct PingLink {
    spec: PingSpec,
    family: Family,
    /// One echo state per host: its own token tells which host answered.
    echo: Vec<Echo>,
    /// Where authenticated replies go.
    table: Recipient<PingReplied>,
    /// The sending handle: `None` until opened, and again after a failure.
    socket: Option<Rc<AsyncFd<Socket>>>,
    backoff: Backoff,
    /// Bounds the log lines about send errors (a cable that is out).
    send_errors: LogLimiter,
    /// The timer that pings every host each interval.
    ticks: Option<SpawnHandle>,
    origin: actix::clock::Instant,
    log: Logger,
}

/// A reload changed the keepalive: ping every `interval` from now on.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct RetimePing {
    /// The new interval (the keepalive).
    pub interval: Duration,
}

impl PingLink {
    /// A medium for `spec`, reporting replies to `table`.
    pub fn new(spec: PingSpec, table: Recipient<PingReplied>, log: &Logger) -> PingLink {
        let log = log.new(slog::o!("actor" => "ping", "ping" => spec.name.clone()));
        let family = spec.family();
        let id = random(u64::MAX) as u16;
        let echo = (0..spec.hosts.len() as u64)
            .map(|i| Echo::new(id, random(i), spec.deadping))
            .collect();
        PingLink {
            spec,
            family,
            echo,
            table,
            socket: None,
            backoff: Backoff::default(),
            send_errors: LogLimiter::new(Duration::from_secs(10)),
            ticks: None,
            origin: actix::clock::Instant::now(),
            log,
        }
    }

    fn mono(&self) -> hb_core::time::Instant {
        super::mono_since(self.origin)
    }

    fn fail(&mut self, ctx: &mut Context<Self>, what: &str, e: &io::Error) {
        let delay = self.backoff.next_delay();
        error!(self.log, "{what} for ping node {}: {e}; retrying in {} ms", self.spec.name, delay.as_millis();
            "failures" => self.backoff.failures);
        self.socket = None;
        ctx.run_later(delay, |_, ctx| ctx.stop());
    }

    fn ping_all(&mut self) {
        let Some(socket) = self.socket.clone() else {
            return;
        };
        let now = self.mono();
        for (i, host) in self.spec.hosts.iter().enumerate() {
            let request = self.echo[i].request(now, self.family);
            let to = SockAddr::from(SocketAddr::new(*host, 0));
            if let Err(e) = socket.get_ref().send_to(&request, &to) {
                if e.kind() != io::ErrorKind::WouldBlock {
                    if let Some(suppressed) = self.send_errors.hit(now) {
                        warn!(
                            self.log,
                            "cannot ping {host}: {e} ({suppressed} more since the last report)"
                        );
                    }
                }
            }
        }
    }
}

impl Actor for PingLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let fd = match open(self.family).and_then(crate::sys::register_socket) {
            Ok(fd) => Rc::new(fd),
            Err(e) => return self.fail(ctx, "cannot open a raw ICMP socket", &e),
        };
        self.socket = Some(fd.clone());
        if self.backoff.failures > 0 {
            info!(self.log, "ping medium {} works again", self.spec.name);
        }
        self.backoff.reset();
        let stream =
            futures_util::stream::unfold((fd, vec![0u8; READ_BUF]), |(fd, mut buf)| async move {
                let r = loop {
                    let mut guard = match fd.readable().await {
                        Ok(g) => g,
                        Err(e) => break Err(e),
                    };
                    match guard.try_io(|s| s.get_ref().read(&mut buf)) {
                        Ok(r) => break r.map(|n| buf[..n].to_vec()),
                        Err(_would_block) => continue,
                    }
                };
                Some((r, (fd, buf)))
            });
        ctx.add_stream(stream);
        self.ping_all();
        self.ticks = Some(ctx.run_interval(self.spec.interval, |act, _| act.ping_all()));
    }
}

impl Handler<RetimePing> for PingLink {
    type Result = ();

    fn handle(&mut self, msg: RetimePing, ctx: &mut Context<Self>) {
        if msg.interval == self.spec.interval {
            return;
        }
        self.spec.interval = msg.interval;
        // Not started yet: `started` uses the new interval.
        if let Some(old) = self.ticks.take() {
            ctx.cancel_future(old);
            self.ticks = Some(ctx.run_interval(self.spec.interval, |act, _| act.ping_all()));
        }
        info!(
            self.log,
            "{}: pinged every {:?}", self.spec.name, self.spec.interval
        );
    }
}

impl Supervised for PingLink {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The struct is reused: `started` opens a new socket.
        self.socket = None;
    }
}

impl StreamHandler<Packet> for PingLink {
    fn handle(&mut self, item: Packet, ctx: &mut Context<Self>) {
        let packet = match item {
            Ok(p) => p,
            Err(e) => return self.fail(ctx, "receive failed", &e),
        };
        let now = self.mono();
        let family = self.family;
        let Some(member) = self
            .echo
            .iter_mut()
            .position(|e| e.accept(now, family, &packet))
        else {
            return;
        };
        let reply = PingReplied {
            ping: self.spec.ping,
            member,
        };
        // A full node table drops a reply; the next one follows a keepalive later.
        let _ = self.table.try_send(reply);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
