//! UDP media: `bcast` and `ucast` on one interface and port share one socket
//! (bound to `0.0.0.0:udpport`, SO_BINDTODEVICE, SO_BROADCAST); `mcast` has its
//! own (bound to the group, joined on the interface's address).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::time::Duration;

use actix::prelude::*;
use actix_rt::net::UdpSocket;
use hb_core::membership::LinkId;
use hb_core::ratelimit::LogLimiter;
use hb_core::wire::{packet, MAX_MSG};
use slog::{error, info, trace, warn, Logger};
use socket2::{Domain, Protocol, Socket, Type};

use super::Backoff;
use crate::keys::SharedKeys;
use crate::messages::{Flush, PacketReceived, SendPacket};

/// What a UDP link sends to and listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpSpec {
    /// `bcast IF` and/or `ucast IF PEER` lines on one interface and port.
    Plain {
        /// Interface.
        iface: String,
        /// `udpport`.
        port: u16,
        /// Send to the interface's broadcast address.
        broadcast: bool,
        /// Unicast peers (our own addresses already left out).
        peers: Vec<Ipv4Addr>,
    },
    /// `mcast IF GROUP PORT TTL LOOP`.
    Mcast {
        /// Interface.
        iface: String,
        /// Group.
        group: Ipv4Addr,
        /// Port.
        port: u16,
        /// Multicast TTL.
        ttl: u8,
        /// Loop our own packets back.
        looped: bool,
    },
}

impl UdpSpec {
    /// The interface, which is also the link's name.
    pub fn iface(&self) -> &str {
        match self {
            UdpSpec::Plain { iface, .. } | UdpSpec::Mcast { iface, .. } => iface,
        }
    }
}

/// The IPv4 address and broadcast address of an interface.
fn iface_addrs(iface: &str) -> io::Result<(Ipv4Addr, Option<Ipv4Addr>)> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    for a in addrs.filter(|a| a.interface_name == iface) {
        if let Some(sin) = a.address.as_ref().and_then(|s| s.as_sockaddr_in()) {
            // An address added without `brd` has no broadcast address, and
            // getifaddrs then reports the address itself there (glibc fills
            // the broadcast/destination union from IFA_ADDRESS): sending
            // "broadcasts" to ourselves would reach no peer, silently.
            let bcast = a
                .broadcast
                .as_ref()
                .and_then(|s| s.as_sockaddr_in())
                .map(|b| b.ip())
                .filter(|b| *b != sin.ip() && !b.is_unspecified());
            return Ok((sin.ip(), bcast));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("interface {iface} does not exist or has no IPv4 address"),
    ))
}

/// An open link: the receiving side (registered with the runtime), a handle on the
/// same socket for sending, and the destinations.
struct Opened {
    recv: UdpSocket,
    /// Sends go straight to the kernel: a fresh tokio socket reports "would block"
    /// until the reactor has seen it writable, which would lose the first packets.
    send: std::net::UdpSocket,
    dests: Vec<SocketAddr>,
}

fn opened(s: Socket, dests: Vec<SocketAddr>) -> io::Result<Opened> {
    let send: std::net::UdpSocket = s.try_clone()?.into();
    Ok(Opened {
        recv: UdpSocket::from_std(s.into())?,
        send,
        dests,
    })
}

/// Opens the socket and works out where to send (run inside the actor's runtime).
fn open(spec: &UdpSpec) -> io::Result<Opened> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    match spec {
        UdpSpec::Plain {
            iface,
            port,
            broadcast,
            peers,
        } => {
            let (_, bcast) = iface_addrs(iface)?;
            s.set_reuse_port(true)?;
            s.bind_device(Some(iface.as_bytes()))?;
            s.set_broadcast(true)?;
            s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, *port)).into())?;
            let mut dests: Vec<SocketAddr> = peers
                .iter()
                .map(|p| SocketAddr::from((*p, *port)))
                .collect();
            if *broadcast {
                let b = bcast.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::AddrNotAvailable,
                        format!("interface {iface} has no broadcast address (give it one: ip addr add A/N brd + dev {iface})"),
                    )
                })?;
                dests.push(SocketAddr::from((b, *port)));
            }
            opened(s, dests)
        }
        UdpSpec::Mcast {
            iface,
            group,
            port,
            ttl,
            looped,
        } => {
            let (addr, _) = iface_addrs(iface)?;
            s.bind(&SocketAddr::from((*group, *port)).into())?;
            s.join_multicast_v4(group, &addr)?;
            s.set_multicast_if_v4(&addr)?;
            s.set_multicast_ttl_v4(u32::from(*ttl))?;
            s.set_multicast_loop_v4(*looped)?;
            opened(s, vec![SocketAddr::V4(SocketAddrV4::new(*group, *port))])
        }
    }
}

type Datagram = io::Result<(Vec<u8>, SocketAddr)>;

/// One UDP link. Supervised: an I/O error stops it and it is restarted after a
/// growing delay, re-opening its socket.
pub struct UdpLink {
    link: LinkId,
    spec: UdpSpec,
    keys: SharedKeys,
    /// Where authenticated packets go: a recipient, so tests can plug in a recorder.
    table: Recipient<PacketReceived>,
    /// The sending handle: `None` until opened, and again after a failure.
    socket: Option<std::net::UdpSocket>,
    dests: Vec<SocketAddr>,
    backoff: Backoff,
    /// Bounds the log lines about packets that fail authentication.
    bad_auth: LogLimiter,
    /// Bounds the log lines about send errors (an interface that is down).
    send_errors: LogLimiter,
    /// Packets dropped because the node table's mailbox was full.
    pub dropped_full: u64,
    /// Counts dropped packets by reason.
    metrics: crate::metrics::Metrics,
    origin: actix::clock::Instant,
    log: Logger,
}

impl UdpLink {
    /// A link for `spec`, reporting to `table` as link number `link`.
    pub fn new(
        link: LinkId,
        spec: UdpSpec,
        keys: impl Into<SharedKeys>,
        table: Recipient<PacketReceived>,
        log: &Logger,
    ) -> UdpLink {
        let log = log.new(slog::o!("actor" => "link", "link" => spec.iface().to_owned()));
        UdpLink {
            link,
            spec,
            keys: keys.into(),
            table,
            socket: None,
            dests: Vec::new(),
            backoff: Backoff::default(),
            bad_auth: LogLimiter::new(Duration::from_secs(10)),
            send_errors: LogLimiter::new(Duration::from_secs(10)),
            dropped_full: 0,
            metrics: crate::metrics::Metrics::default(),
            origin: actix::clock::Instant::now(),
            log,
        }
    }

    /// Counts the packets this link drops in `metrics` (status and `/metrics`).
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> UdpLink {
        self.metrics = metrics;
        self
    }

    fn mono(&self) -> hb_core::time::Instant {
        super::mono_since(self.origin)
    }

    fn fail(&mut self, ctx: &mut Context<Self>, what: &str, e: &io::Error) {
        let delay = self.backoff.next_delay();
        error!(self.log, "{what} on {}: {e}; retrying in {} ms", self.spec.iface(), delay.as_millis();
            "failures" => self.backoff.failures);
        self.socket = None;
        ctx.run_later(delay, |_, ctx| ctx.stop());
    }
}

impl Actor for UdpLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        match open(&self.spec) {
            Ok(o) => {
                let socket = Rc::new(o.recv);
                self.socket = Some(o.send);
                self.dests = o.dests;
                if self.backoff.failures > 0 {
                    info!(self.log, "link {} works again", self.spec.iface());
                }
                self.backoff.reset();
                let buf = vec![0u8; MAX_MSG];
                let stream =
                    futures_util::stream::unfold((socket, buf), |(s, mut buf)| async move {
                        let r = s
                            .recv_from(&mut buf)
                            .await
                            .map(|(n, from)| (buf[..n].to_vec(), from));
                        Some((r, (s, buf)))
                    });
                ctx.add_stream(stream);
            }
            Err(e) => self.fail(ctx, "cannot open the link", &e),
        }
    }
}

impl Supervised for UdpLink {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        // The struct is reused: forget the old socket; `started` opens a new one.
        self.socket = None;
        self.dests.clear();
    }
}

impl StreamHandler<Datagram> for UdpLink {
    fn handle(&mut self, item: Datagram, ctx: &mut Context<Self>) {
        let (bytes, from) = match item {
            Ok(d) => d,
            Err(e) => return self.fail(ctx, "receive failed", &e),
        };
        match packet::decode(&bytes, &self.keys.get()) {
            Ok(msg) => {
                trace!(self.log, "packet"; "from" => %from, "bytes" => bytes.len());
                let msg = PacketReceived {
                    link: self.link,
                    msg,
                };
                if self.table.try_send(msg).is_err() {
                    self.dropped_full += 1;
                    self.metrics.dropped("table_full");
                }
            }
            Err(e) => {
                self.metrics.dropped(super::drop_reason(&e));
                if let Some(suppressed) = self.bad_auth.hit(self.mono()) {
                    let more = if suppressed > 0 {
                        format!(" ({suppressed} more since the last report)")
                    } else {
                        String::new()
                    };
                    error!(
                        self.log,
                        "bad packet from {from} on {}: {e}{more}",
                        self.spec.iface()
                    );
                }
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The receive stream never ends by itself; if it does, reopen.
        ctx.stop();
    }
}

impl Handler<SendPacket> for UdpLink {
    type Result = ();

    fn handle(&mut self, msg: SendPacket, ctx: &mut Context<Self>) {
        let Some(socket) = &self.socket else { return };
        for dest in &self.dests {
            match socket.send_to(&msg.bytes, *dest) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => {
                    return self.fail(ctx, "send failed", &e);
                }
                Err(e) => {
                    if let Some(suppressed) = self.send_errors.hit(self.mono()) {
                        warn!(self.log, "cannot send to {dest} on {}: {e} ({suppressed} more since the last report)", self.spec.iface());
                    }
                }
            }
        }
    }
}

impl Handler<Flush> for UdpLink {
    type Result = ();

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {}
}
