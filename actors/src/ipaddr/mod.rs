//! The built-in service-address resource: what haresources' `IPaddr` and
//! `IPaddr2` do (protocol notes §9), without running a script.
//!
//! ```text
//!  IpSpec ──plan()──▶ Plan ──start()──▶ address up (IFACE:N) ──▶ Started
//!   (haresources)       │                 + 1st ARP pair now        └─ ArpAnnouncement
//!                       │                 + the rest in a task         (cancel on stop)
//!                       ├──status()──▶ Running | Stopped
//!                       └──stop()────▶ ARP cancelled, address removed
//! ```
//!
//! Every operation is async and never blocks its thread: netlink goes through
//! `rtnetlink` on the tokio runtime (actix's current-thread one included), and
//! the ARP frames are written to non-blocking packet sockets. Sockets are
//! opened in the network namespace of the thread that runs the future.
//!
//! # Layout
//! * `findif`: the route that decides interface and prefix (pure, unit-tested).
//! * `netlink`: snapshots of links, routes and addresses; adding and removing.
//! * `arp`: gratuitous ARP frames and their schedule.
//!
//! # From an actor
//! [`IpAddrAgent`] is cheap to clone, and its futures own what they use:
//! ```text
//! let agent = self.ipaddr.clone();
//! let work = async move { agent.start(&agent.plan(&spec).await?).await };
//! ctx.spawn(work.into_actor(self).map(|res, act, _ctx| act.started(res)));
//! ```
//!
//! Operations on one address are not meant to overlap: the resource manager
//! runs a group's resources one at a time.
//!
//! Removing an address that is the primary of its subnet also removes the
//! secondaries behind it unless `net.ipv4.conf.IFACE.promote_secondaries` is 1,
//! exactly as with `IPaddr2`; a base address in the subnet avoids that.

mod arp;
mod findif;
mod netlink;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use hb_conf::model::IpSpec;
use slog::{info, Logger};
use tokio::task::AbortHandle;

pub use arp::{ArpAnnouncement, ArpReport, ArpSchedule};
use findif::Route;
use netlink::{errno, Addr, Link, Netlink};

/// Longest interface label the kernel keeps (`IFNAMSIZ` - 1).
pub const MAX_LABEL: usize = 15;

/// Why a service address cannot be planned, started, stopped or checked.
/// Every variant names the address. Nothing is left half-done by an error
/// from `plan` or `status`; `start` and `stop` say in their docs what an error
/// leaves behind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    /// IPaddr handles IPv4 only (IPv6 has its own agent in heartbeat).
    #[error("{addr}: IPaddr handles IPv4 addresses only")]
    NotIpv4 {
        /// The address.
        addr: IpAddr,
    },
    /// The prefix length is not 1..=32.
    #[error("{addr}/{prefix}: the netmask must be a prefix length from 1 to 32")]
    BadPrefix {
        /// The address.
        addr: Ipv4Addr,
        /// The prefix given.
        prefix: u8,
    },
    /// No interface given, and no route in the main table contains the address.
    #[error("{addr}: no route in the main routing table reaches this address, so no interface can be chosen; name one, as in {addr}/BITS/IFACE")]
    NoRoute {
        /// The address.
        addr: Ipv4Addr,
    },
    /// The named interface does not exist.
    #[error("{addr}: interface {iface} does not exist")]
    InterfaceMissing {
        /// The address.
        addr: Ipv4Addr,
        /// The interface.
        iface: String,
    },
    /// No netmask given, and only the default route (or no route at all on
    /// the named interface) contains the address, which gives none.
    #[error("{addr}: no route on {iface} gives this address a netmask (only a default route, or none, contains it); write it as {addr}/BITS")]
    NoNetmask {
        /// The address.
        addr: Ipv4Addr,
        /// The interface chosen or given.
        iface: String,
    },
    /// The broadcast given is not in the subnet (whose prefix came from a route).
    #[error("{addr}: broadcast {broadcast} is outside {addr}/{prefix}")]
    BroadcastOutsideSubnet {
        /// The address.
        addr: Ipv4Addr,
        /// Its prefix.
        prefix: u8,
        /// The broadcast given.
        broadcast: Ipv4Addr,
    },
    /// The address is already on the interface with another prefix.
    #[error("{addr}: already configured on {iface} as {addr}/{configured}, not /{planned}")]
    PrefixMismatch {
        /// The address.
        addr: Ipv4Addr,
        /// The interface.
        iface: String,
        /// The prefix it has.
        configured: u8,
        /// The prefix planned.
        planned: u8,
    },
    /// The address is already configured, on another interface than planned.
    #[error("{addr}: already configured on {iface}, not on {planned}")]
    ConfiguredElsewhere {
        /// The address.
        addr: Ipv4Addr,
        /// Where it is.
        iface: String,
        /// Where it was planned.
        planned: String,
    },
    /// `IFACE:N` would be longer than [`MAX_LABEL`] characters.
    #[error("{addr}: label {label} is longer than 15 characters")]
    LabelTooLong {
        /// The address.
        addr: Ipv4Addr,
        /// The label.
        label: String,
    },
    /// The netlink socket could not be opened.
    #[error("{addr}: cannot open a netlink socket: {message}")]
    Socket {
        /// The address.
        addr: Ipv4Addr,
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The I/O error.
        message: String,
    },
    /// The kernel refused a request.
    #[error("{addr}: {op} failed: {source}")]
    Netlink {
        /// The address.
        addr: Ipv4Addr,
        /// What was being done.
        op: &'static str,
        /// The kernel's answer.
        #[source]
        source: rtnetlink::Error,
    },
}

/// The route that decided the interface and/or the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenRoute {
    /// The route's network.
    pub network: Ipv4Addr,
    /// The route's prefix length (0: the default route).
    pub prefix: u8,
    /// The route's metric.
    pub metric: u32,
}

/// Everything [`IpAddrAgent::start`] needs, resolved as heartbeat's findif does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The service address.
    pub addr: Ipv4Addr,
    /// Its prefix length: as given, else the route's.
    pub prefix: u8,
    /// As given, else the highest address of the subnet; none for /31 and /32.
    pub broadcast: Option<Ipv4Addr>,
    /// The interface: as given, else the route's. Looked up by name at each
    /// operation, so a re-created interface is still found.
    pub iface: String,
    /// Labels are `LABEL_BASE:N`; the interface name unless changed with
    /// [`Plan::with_label_base`].
    pub label_base: String,
    /// The label haresources gave (`eth0:1` of `IPaddr::IP/24/eth0:1`):
    /// used as is, as IPaddr2 uses it, instead of the first free
    /// `LABEL_BASE:N`.
    pub label: Option<String>,
    /// The route used, if one was needed.
    pub route: Option<ChosenRoute>,
}

impl Plan {
    /// Labels the address `BASE:N` instead of `IFACE:N` (for example a
    /// shorter name when `IFACE:N` would not fit in 15 characters).
    pub fn with_label_base(mut self, base: impl Into<String>) -> Result<Plan, IpError> {
        self.label_base = base.into();
        check_label(self.addr, &label(&self.label_base, 0))?;
        Ok(self)
    }
}

/// What `status` says, in ResourceManager's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpStatus {
    /// The address is on a non-loopback interface.
    Running,
    /// It is not.
    Stopped,
}

/// A started address.
#[derive(Debug)]
pub struct Started {
    /// Its label: the one it got, or the one it already had.
    pub label: String,
    /// False when it was already configured on the planned interface, in
    /// which case nothing was changed.
    pub added: bool,
    /// The rest of the gratuitous ARP; `None` when the interface does no ARP
    /// (`NOARP`, or no Ethernet address).
    pub arp: Option<ArpAnnouncement>,
}

/// What `stop` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    /// The interfaces the address was removed from; empty when it was absent.
    pub removed_from: Vec<String>,
}

/// The IPaddr resource agent. Clones share the running announcements.
#[derive(Debug, Clone)]
pub struct IpAddrAgent {
    log: Logger,
    schedule: ArpSchedule,
    /// The announcement running for each address, so `stop` (or a new
    /// `start`) can cancel it. `stop` removes an entry, `start` replaces it and
    /// prunes finished ones: at most one entry per service address. Never
    /// held across an await.
    announcing: Arc<Mutex<HashMap<Ipv4Addr, AbortHandle>>>,
}

impl IpAddrAgent {
    /// An agent with heartbeat's ARP schedule.
    pub fn new(log: &Logger) -> IpAddrAgent {
        IpAddrAgent {
            log: log.new(slog::o!("resource" => "IPaddr")),
            schedule: ArpSchedule::default(),
            announcing: Arc::default(),
        }
    }

    /// The same agent with another ARP schedule.
    pub fn with_arp_schedule(mut self, schedule: ArpSchedule) -> IpAddrAgent {
        self.schedule = schedule;
        self
    }

    /// Resolves interface, prefix and broadcast as heartbeat's findif does,
    /// from the IPv4 unicast routes of the main table:
    ///
    /// * The interface, when given, must exist and wins. Otherwise it is the one
    ///   of the best route containing the address: the most specific, then the
    ///   lowest metric, then the first listed. The default route is the least
    ///   specific, hence "least preferred" (getting-started, "Selecting an
    ///   Interface"); it still gives the interface when nothing else matches.
    ///   Routes through loopback interfaces do not count.
    /// * The prefix, when not given, is that of the best route on the interface,
    ///   which must not be the default route (no /0 service addresses).
    /// * The broadcast, when not given, is the highest address of the subnet
    ///   (the seed's `192.168.85.3/27` gets `192.168.85.31`).
    pub async fn plan(&self, spec: &IpSpec) -> Result<Plan, IpError> {
        let addr = match spec.addr {
            IpAddr::V4(a) => a,
            v6 => return Err(IpError::NotIpv4 { addr: v6 }),
        };
        let nl = Netlink::open(addr)?;
        let links = nl.links().await?;
        let routes = nl.main_routes().await?;
        let plan = resolve(addr, spec, &links, &routes)?;
        if let Some(r) = &plan.route {
            info!(self.log, "{}: using route {}/{} (metric {}): {}/{} on {}",
                addr, r.network, r.prefix, r.metric, addr, plan.prefix, plan.iface;
                "addr" => %addr, "iface" => &plan.iface);
        }
        Ok(plan)
    }

    /// Adds the address as `LABEL_BASE:N` (the first free N), or with the
    /// label haresources gave (`eth0:1`), brings the
    /// interface up if it is down (as IPaddr2 does), and announces it with
    /// gratuitous ARP: the first request/reply pair before returning, the
    /// rest in a background task.
    ///
    /// Already on the planned interface with the same prefix: nothing is
    /// changed, but it is announced again. An error leaves the address as it
    /// was, except when bringing the interface up fails after the add.
    pub async fn start(&self, plan: &Plan) -> Result<Started, IpError> {
        let addr = plan.addr;
        let nl = Netlink::open(addr)?;
        let links = nl.links().await?;
        let link = links.iter().find(|l| l.name == plan.iface).ok_or_else(|| {
            IpError::InterfaceMissing {
                addr,
                iface: plan.iface.clone(),
            }
        })?;
        let addrs = nl.addrs().await?;
        let (label, added) = match present(&addrs, &links, plan, link)? {
            Some(label) => {
                info!(self.log, "{} is already configured on {}", addr, plan.iface;
                    "addr" => %addr, "iface" => &plan.iface);
                (label, false)
            }
            None => {
                let label = match &plan.label {
                    Some(given) => given.clone(),
                    None => free_label(&addrs, link.index, &plan.label_base),
                };
                check_label(addr, &label)?;
                info!(self.log, "Adding inet address {}/{} with broadcast address {} to device {} (label {})",
                    addr, plan.prefix, plan.broadcast.map_or("none".to_owned(), |b| b.to_string()),
                    plan.iface, label;
                    "addr" => %addr, "iface" => &plan.iface);
                match nl
                    .add_addr(link.index, plan.prefix, plan.broadcast, &label)
                    .await
                {
                    Ok(()) => (label, true),
                    // Added meanwhile by someone else: judge what is there now.
                    Err(IpError::Netlink { source, .. })
                        if errno(&source) == Some(nix::libc::EEXIST) =>
                    {
                        let now = nl.addrs().await?;
                        let label = present(&now, &links, plan, link)?.unwrap_or(label);
                        (label, false)
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if !link.up {
            info!(self.log, "Bringing device {} up", plan.iface; "iface" => &plan.iface);
            nl.set_up(link.index).await?;
        }
        drop(nl);
        let arp = match link.mac {
            Some(mac) if !link.noarp => {
                let announcer = arp::Announcer::new(
                    link.index,
                    plan.iface.clone(),
                    mac,
                    addr,
                    self.schedule,
                    self.log.clone(),
                );
                let (ann, first_pair_sent) = announcer.spawn();
                {
                    // Registered before the first frame, so a `stop` from now
                    // on cancels it.
                    let mut running = self.announcing.lock().unwrap_or_else(|p| p.into_inner());
                    running.retain(|_, h| !h.is_finished());
                    if let Some(old) = running.insert(addr, ann.abort_handle()) {
                        old.abort();
                    }
                }
                // An error means a `stop` cancelled it first: nothing to wait for.
                let _ = first_pair_sent.await;
                Some(ann)
            }
            _ => {
                info!(self.log, "{} does no ARP: {} is not announced", plan.iface, addr;
                    "addr" => %addr, "iface" => &plan.iface);
                None
            }
        };
        Ok(Started { label, added, arp })
    }

    /// Cancels the address's announcement, then removes the address from
    /// every non-loopback interface that has it (as IPaddr does, so that
    /// `status` then says `Stopped`). Absent is success. On an error, the
    /// interfaces listed before it have been cleaned.
    pub async fn stop(&self, plan: &Plan) -> Result<StopReport, IpError> {
        let addr = plan.addr;
        if let Some(h) = self
            .announcing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&addr)
        {
            h.abort();
        }
        let nl = Netlink::open(addr)?;
        let links = nl.links().await?;
        let addrs = nl.addrs().await?;
        let mut removed_from = Vec::new();
        for a in addrs.iter().filter(|a| a.addr == addr) {
            let Some(link) = links.iter().find(|l| l.index == a.index && !l.loopback) else {
                continue;
            };
            info!(self.log, "Removing inet address {}/{} from device {}", addr, a.prefix, link.name;
                "addr" => %addr, "iface" => &link.name);
            match nl.del_addr(a).await {
                Ok(()) => removed_from.push(link.name.clone()),
                // Gone meanwhile (or with its primary): that is what we want.
                Err(IpError::Netlink { source, .. })
                    if errno(&source) == Some(nix::libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(StopReport { removed_from })
    }

    /// `Running` if the address is on any non-loopback interface.
    pub async fn status(&self, plan: &Plan) -> Result<IpStatus, IpError> {
        let nl = Netlink::open(plan.addr)?;
        let links = nl.links().await?;
        let addrs = nl.addrs().await?;
        let up = addrs.iter().any(|a| {
            a.addr == plan.addr && links.iter().any(|l| l.index == a.index && !l.loopback)
        });
        Ok(if up {
            IpStatus::Running
        } else {
            IpStatus::Stopped
        })
    }
}

fn label(base: &str, n: u32) -> String {
    format!("{base}:{n}")
}

fn check_label(addr: Ipv4Addr, label: &str) -> Result<(), IpError> {
    if label.len() > MAX_LABEL {
        return Err(IpError::LabelTooLong {
            addr,
            label: label.to_owned(),
        });
    }
    Ok(())
}

/// `BASE:N` with the smallest N no address on interface `index` uses.
fn free_label(addrs: &[Addr], index: u32, base: &str) -> String {
    (0..)
        .map(|n| label(base, n))
        .find(|l| {
            !addrs
                .iter()
                .any(|a| a.index == index && a.label.as_deref() == Some(l))
        })
        .expect("fewer addresses than labels")
}

/// Is the planned address already configured? `Some(label)` if on the planned
/// interface with the planned prefix; an error if with another prefix or on
/// another non-loopback interface; `None` if absent.
fn present(
    addrs: &[Addr],
    links: &[Link],
    plan: &Plan,
    link: &Link,
) -> Result<Option<String>, IpError> {
    let addr = plan.addr;
    if let Some(a) = addrs
        .iter()
        .find(|a| a.addr == addr && a.index == link.index)
    {
        if a.prefix != plan.prefix {
            return Err(IpError::PrefixMismatch {
                addr,
                iface: link.name.clone(),
                configured: a.prefix,
                planned: plan.prefix,
            });
        }
        return Ok(Some(a.label.clone().unwrap_or_else(|| link.name.clone())));
    }
    for a in addrs.iter().filter(|a| a.addr == addr) {
        if let Some(other) = links.iter().find(|l| l.index == a.index && !l.loopback) {
            return Err(IpError::ConfiguredElsewhere {
                addr,
                iface: other.name.clone(),
                planned: link.name.clone(),
            });
        }
    }
    Ok(None)
}

/// heartbeat's findif over a snapshot of the links and main-table routes
/// (the rule is in [`IpAddrAgent::plan`]).
fn resolve(
    addr: Ipv4Addr,
    spec: &IpSpec,
    links: &[Link],
    routes: &[Route],
) -> Result<Plan, IpError> {
    if let Some(p) = spec.prefix {
        if !(1..=32).contains(&p) {
            return Err(IpError::BadPrefix { addr, prefix: p });
        }
    }
    let usable: Vec<Route> = routes
        .iter()
        .filter(|r| links.iter().any(|l| l.index == r.oif && !l.loopback))
        .cloned()
        .collect();
    let (link, route) = match &spec.iface {
        Some(name) => {
            let link = links.iter().find(|l| &l.name == name).ok_or_else(|| {
                IpError::InterfaceMissing {
                    addr,
                    iface: name.clone(),
                }
            })?;
            (link, findif::best_route(addr, &usable, Some(link.index)))
        }
        None => {
            let route = findif::best_route(addr, &usable, None).ok_or(IpError::NoRoute { addr })?;
            let link = links
                .iter()
                .find(|l| l.index == route.oif)
                .ok_or(IpError::NoRoute { addr })?;
            (link, Some(route))
        }
    };
    let prefix = match (spec.prefix, route) {
        (Some(p), _) => p,
        (None, Some(r)) if r.prefix > 0 => r.prefix,
        (None, _) => {
            return Err(IpError::NoNetmask {
                addr,
                iface: link.name.clone(),
            })
        }
    };
    if let Some(b) = spec.broadcast {
        if !findif::contains(addr, prefix, b) {
            return Err(IpError::BroadcastOutsideSubnet {
                addr,
                prefix,
                broadcast: b,
            });
        }
    }
    let route_used = spec.iface.is_none() || spec.prefix.is_none();
    let plan = Plan {
        addr,
        prefix,
        broadcast: spec.broadcast.or_else(|| findif::broadcast(addr, prefix)),
        iface: link.name.clone(),
        label_base: link.name.clone(),
        label: spec.label.clone(),
        route: route.filter(|_| route_used).map(|r| ChosenRoute {
            network: findif::network(r.dest, r.prefix),
            prefix: r.prefix,
            metric: r.metric,
        }),
    };
    match &plan.label {
        Some(given) => check_label(addr, given)?,
        None => check_label(addr, &label(&plan.label_base, 0))?,
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, loopback: bool) -> Link {
        Link {
            index,
            name: name.to_owned(),
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            loopback,
            noarp: loopback,
            up: true,
        }
    }

    fn links() -> Vec<Link> {
        vec![
            link(1, "lo", true),
            link(2, "eth0", false),
            link(3, "eth1", false),
        ]
    }

    fn route(dest: &str, prefix: u8, metric: u32, oif: u32) -> Route {
        Route {
            dest: dest.parse().unwrap(),
            prefix,
            metric,
            oif,
        }
    }

    fn routes() -> Vec<Route> {
        vec![
            route("0.0.0.0", 0, 0, 2),
            route("192.0.2.0", 24, 0, 2),
            route("198.51.100.0", 24, 0, 2),
            route("198.51.100.0", 27, 0, 3),
            route("203.0.113.0", 24, 0, 1),
        ]
    }

    /// `ADDR[/BITS][/IFACE][/BCAST]`, each part optional (the TOML form
    /// allows an interface without a prefix).
    fn spec(text: &str) -> IpSpec {
        let mut parts = text.split('/');
        let mut s = IpSpec {
            addr: parts.next().unwrap().parse().unwrap(),
            prefix: None,
            iface: None,
            label: None,
            broadcast: None,
        };
        for part in parts {
            if let Ok(bits) = part.parse() {
                s.prefix = Some(bits);
            } else if let Ok(b) = part.parse() {
                s.broadcast = Some(b);
            } else {
                s.iface = Some(part.to_owned());
            }
        }
        s
    }

    fn plan(text: &str) -> Result<Plan, IpError> {
        let s = spec(text);
        let IpAddr::V4(a) = s.addr else {
            unreachable!()
        };
        resolve(a, &s, &links(), &routes())
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn route_gives_interface_prefix_and_broadcast() {
        let p = plan("198.51.100.3").unwrap();
        assert_eq!(
            (p.iface.as_str(), p.prefix, p.broadcast),
            ("eth1", 27, Some(ip("198.51.100.31")))
        );
        assert_eq!(p.label_base, "eth1");
        assert_eq!(
            p.route,
            Some(ChosenRoute {
                network: ip("198.51.100.0"),
                prefix: 27,
                metric: 0
            })
        );
        let p = plan("198.51.100.40").unwrap();
        assert_eq!((p.iface.as_str(), p.prefix), ("eth0", 24));
    }

    #[test]
    fn given_parts_win_over_the_route() {
        let p = plan("198.51.100.3/26/eth0/198.51.100.50").unwrap();
        assert_eq!(
            (p.iface.as_str(), p.prefix, p.broadcast),
            ("eth0", 26, Some(ip("198.51.100.50")))
        );
        assert_eq!(p.route, None);
        // Interface given, prefix from that interface's best route.
        let p = plan("198.51.100.3/eth0").unwrap();
        assert_eq!((p.iface.as_str(), p.prefix), ("eth0", 24));
    }

    #[test]
    fn default_route_alone_gives_an_interface_but_no_netmask() {
        let addr = ip("100.64.0.1");
        assert_eq!(
            plan("100.64.0.1"),
            Err(IpError::NoNetmask {
                addr,
                iface: "eth0".into()
            })
        );
        let p = plan("100.64.0.1/10").unwrap();
        assert_eq!((p.iface.as_str(), p.prefix), ("eth0", 10));
        assert_eq!(p.route.map(|r| r.prefix), Some(0));
    }

    #[test]
    fn unreachable_addresses_missing_interfaces_and_loopback_routes_are_errors() {
        let s = spec("100.64.0.1");
        let r = routes()[1..].to_vec();
        assert_eq!(
            resolve(ip("100.64.0.1"), &s, &links(), &r),
            Err(IpError::NoRoute {
                addr: ip("100.64.0.1")
            })
        );
        // 203.0.113.0/24 only leaves through lo.
        assert_eq!(plan("203.0.113.5/24").map(|p| p.iface), Ok("eth0".into()));
        assert_eq!(
            plan("192.0.2.5/eth7"),
            Err(IpError::InterfaceMissing {
                addr: ip("192.0.2.5"),
                iface: "eth7".into()
            })
        );
        assert_eq!(
            plan("192.0.2.5/eth1"),
            Err(IpError::NoNetmask {
                addr: ip("192.0.2.5"),
                iface: "eth1".into()
            })
        );
    }

    #[test]
    fn broadcast_outside_a_route_given_subnet_is_an_error() {
        assert_eq!(
            plan("198.51.100.3/eth1/198.51.100.63"),
            Err(IpError::BroadcastOutsideSubnet {
                addr: ip("198.51.100.3"),
                prefix: 27,
                broadcast: ip("198.51.100.63")
            })
        );
    }

    #[test]
    fn labels_take_the_first_free_number_and_fit_in_15_characters() {
        let mk = |index, label: &str| Addr {
            index,
            addr: ip("192.0.2.1"),
            prefix: 24,
            label: Some(label.to_owned()),
            message: Default::default(),
        };
        let addrs = [
            mk(2, "eth0"),
            mk(2, "eth0:0"),
            mk(2, "eth0:2"),
            mk(3, "eth0:1"),
        ];
        assert_eq!(free_label(&addrs, 2, "eth0"), "eth0:1");
        assert_eq!(free_label(&addrs, 3, "eth0"), "eth0:0");
        let p = plan("192.0.2.5").unwrap();
        assert!(p.clone().with_label_base("vip").is_ok());
        assert_eq!(
            p.with_label_base("a-very-long-nam"),
            Err(IpError::LabelTooLong {
                addr: ip("192.0.2.5"),
                label: "a-very-long-nam:0".into()
            })
        );
    }
}
