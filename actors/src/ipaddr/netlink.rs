//! rtnetlink requests, turned into the plain snapshots the rest of the module
//! reasons about. Every public operation opens its own connection and drops it
//! when done: a failed socket cannot wedge later operations, and the
//! connection task ends by itself once its handle is dropped.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteType};
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use super::findif::Route;
use super::IpError;

/// An interface, as far as this module cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub index: u32,
    pub name: String,
    /// The Ethernet address, if the link has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    pub loopback: bool,
    /// `IFF_NOARP`: the link does not speak ARP (tunnels, some point-to-point).
    pub noarp: bool,
    pub up: bool,
}

/// One configured IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addr {
    pub index: u32,
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub label: Option<String>,
    /// The message as the kernel sent it, to delete exactly this address.
    pub message: AddressMessage,
}

/// A netlink connection for one operation on `addr` (named in errors).
pub(crate) struct Netlink {
    handle: Handle,
    addr: Ipv4Addr,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace and spawns
    /// its connection task on the current tokio runtime.
    pub fn open(addr: Ipv4Addr) -> Result<Netlink, IpError> {
        let (conn, handle, _unsolicited) =
            rtnetlink::new_connection().map_err(|e| IpError::Socket {
                addr,
                kind: e.kind(),
                message: e.to_string(),
            })?;
        tokio::spawn(conn);
        Ok(Netlink { handle, addr })
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rtnetlink::Error) -> IpError {
        let addr = self.addr;
        move |source| IpError::Netlink { addr, op, source }
    }

    /// Every interface.
    pub async fn links(&self) -> Result<Vec<Link>, IpError> {
        let msgs: Vec<_> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(self.err("listing interfaces"))?;
        Ok(msgs
            .into_iter()
            .map(|m| {
                let mut link = Link {
                    index: m.header.index,
                    name: String::new(),
                    mac: None,
                    loopback: m.header.flags.contains(LinkFlags::Loopback),
                    noarp: m.header.flags.contains(LinkFlags::Noarp),
                    up: m.header.flags.contains(LinkFlags::Up),
                };
                for a in m.attributes {
                    match a {
                        LinkAttribute::IfName(n) => link.name = n,
                        LinkAttribute::Address(mac) => link.mac = mac.try_into().ok(),
                        _ => {}
                    }
                }
                link
            })
            .collect())
    }

    /// The IPv4 unicast routes of the main table, in the kernel's order, one
    /// entry per next hop of a multipath route.
    pub async fn main_routes(&self) -> Result<Vec<Route>, IpError> {
        let msgs: Vec<_> = self
            .handle
            .route()
            .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
            .execute()
            .try_collect()
            .await
            .map_err(self.err("listing routes"))?;
        let mut routes = Vec::new();
        for m in msgs {
            if m.header.address_family != AddressFamily::Inet || m.header.kind != RouteType::Unicast
            {
                continue;
            }
            let mut table = u32::from(m.header.table);
            let mut dest = Ipv4Addr::UNSPECIFIED;
            let mut metric = 0;
            let mut oifs = Vec::new();
            for a in m.attributes {
                match a {
                    RouteAttribute::Table(t) => table = t,
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => dest = d,
                    RouteAttribute::Priority(p) => metric = p,
                    RouteAttribute::Oif(i) => oifs.push(i),
                    RouteAttribute::MultiPath(hops) => {
                        oifs.extend(hops.iter().map(|h| h.interface_index))
                    }
                    _ => {}
                }
            }
            if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
                continue;
            }
            let prefix = m.header.destination_prefix_length;
            routes.extend(oifs.into_iter().map(|oif| Route {
                dest,
                prefix,
                metric,
                oif,
            }));
        }
        Ok(routes)
    }

    /// Every IPv4 address on every interface.
    pub async fn addrs(&self) -> Result<Vec<Addr>, IpError> {
        let msgs: Vec<_> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(self.err("listing addresses"))?;
        Ok(msgs
            .into_iter()
            .filter(|m| m.header.family == AddressFamily::Inet)
            .filter_map(|m| {
                let mut local = None;
                let mut address = None;
                let mut label = None;
                for a in &m.attributes {
                    match a {
                        AddressAttribute::Local(IpAddr::V4(v)) => local = Some(*v),
                        AddressAttribute::Address(IpAddr::V4(v)) => address = Some(*v),
                        AddressAttribute::Label(l) => label = Some(l.clone()),
                        _ => {}
                    }
                }
                // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
                // peer on point-to-point links and equal to it elsewhere.
                Some(Addr {
                    index: m.header.index,
                    addr: local.or(address)?,
                    prefix: m.header.prefix_len,
                    label,
                    message: m,
                })
            })
            .collect())
    }

    /// `ip addr add ADDR/PREFIX [brd BRD] label LABEL dev INDEX`.
    pub async fn add_addr(
        &self,
        index: u32,
        prefix: u8,
        broadcast: Option<Ipv4Addr>,
        label: &str,
    ) -> Result<(), IpError> {
        let mut req = self
            .handle
            .address()
            .add(index, IpAddr::V4(self.addr), prefix);
        let attrs = &mut req.message_mut().attributes;
        // The builder computes a broadcast address itself; ours (maybe given
        // in haresources) replaces it.
        attrs.retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(b) = broadcast {
            attrs.push(AddressAttribute::Broadcast(b));
        }
        attrs.push(AddressAttribute::Label(label.to_owned()));
        req.execute().await.map_err(self.err("adding the address"))
    }

    /// `ip addr del` of an address exactly as listed.
    pub async fn del_addr(&self, a: &Addr) -> Result<(), IpError> {
        self.handle
            .address()
            .del(a.message.clone())
            .execute()
            .await
            .map_err(self.err("removing the address"))
    }

    /// `ip link set INDEX up`.
    pub async fn set_up(&self, index: u32) -> Result<(), IpError> {
        let msg = LinkMessageBuilder::<LinkUnspec>::new()
            .index(index)
            .up()
            .build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(self.err("bringing the interface up"))
    }
}

/// The errno of a netlink error answer, if it is one.
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}
