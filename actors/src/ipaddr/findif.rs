//! `findif`: which interface, prefix and broadcast a service address gets when
//! haresources leaves them out. Pure functions over a snapshot of the routing
//! table, so the rule is unit-tested without a network.
//!
//! The rule (getting-started "Selecting an Interface", protocol notes §9):
//! 1. Only IPv4 unicast routes of the main table that leave through a
//!    non-loopback interface count.
//! 2. Of those whose network contains the address, the most specific one (the
//!    longest prefix) wins; on equal prefixes the lowest metric; on equal
//!    metrics the first one the kernel lists.
//! 3. The default route (`0.0.0.0/0`) contains every address, so rule 2 makes
//!    it the least preferred, as the seed says. It is still used when nothing
//!    else matches, but only for the interface: a /0 "netmask" makes no sense
//!    for a service address, so the prefix must then be written in haresources.

use std::net::Ipv4Addr;

/// One route, as far as findif cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// Network address.
    pub dest: Ipv4Addr,
    /// Prefix length of the network.
    pub prefix: u8,
    /// `metric` (`RTA_PRIORITY`); 0 when absent, as the kernel shows it.
    pub metric: u32,
    /// Outgoing interface index.
    pub oif: u32,
}

/// The netmask of a prefix length, as a host-order integer.
pub(crate) fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// The network address of `addr/prefix`.
pub(crate) fn network(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) & mask(prefix))
}

/// The highest address of the subnet, which heartbeat uses as the broadcast
/// address when none is given. `/31` and `/32` have no broadcast address
/// (RFC 3021; the kernel would treat the address itself as a broadcast).
pub(crate) fn broadcast(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    (prefix < 31).then(|| Ipv4Addr::from(u32::from(addr) | !mask(prefix)))
}

/// Does `dest/prefix` contain `addr`?
pub(crate) fn contains(dest: Ipv4Addr, prefix: u8, addr: Ipv4Addr) -> bool {
    u32::from(dest) & mask(prefix) == u32::from(addr) & mask(prefix)
}

/// The route findif picks for `addr` (rules 2 and 3 of the module doc), among
/// `routes` in the kernel's order, optionally only those leaving through
/// interface `oif`.
pub(crate) fn best_route(addr: Ipv4Addr, routes: &[Route], oif: Option<u32>) -> Option<&Route> {
    let mut best: Option<&Route> = None;
    for r in routes {
        if oif.is_some_and(|i| i != r.oif) || !contains(r.dest, r.prefix, addr) {
            continue;
        }
        let better = match best {
            None => true,
            // Strictly better only: on a full tie the first one found stays.
            Some(b) => {
                (r.prefix, std::cmp::Reverse(r.metric)) > (b.prefix, std::cmp::Reverse(b.metric))
            }
        };
        if better {
            best = Some(r);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(dest: &str, prefix: u8, metric: u32, oif: u32) -> Route {
        Route {
            dest: dest.parse().unwrap(),
            prefix,
            metric,
            oif,
        }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// Seed example: `192.168.85.3/27` gets broadcast `192.168.85.31`.
    #[test]
    fn broadcast_is_the_highest_address_of_the_subnet() {
        assert_eq!(broadcast(ip("192.168.85.3"), 27), Some(ip("192.168.85.31")));
        assert_eq!(broadcast(ip("192.0.2.77"), 24), Some(ip("192.0.2.255")));
        assert_eq!(broadcast(ip("10.1.2.3"), 8), Some(ip("10.255.255.255")));
        assert_eq!(broadcast(ip("192.0.2.4"), 31), None);
        assert_eq!(broadcast(ip("192.0.2.4"), 32), None);
        assert_eq!(network(ip("198.51.100.40"), 27), ip("198.51.100.32"));
        assert_eq!(mask(0), 0);
        assert_eq!(mask(32), u32::MAX);
    }

    #[test]
    fn the_most_specific_route_wins_whatever_the_order_and_metric() {
        let routes = [
            r("0.0.0.0", 0, 0, 1),
            r("198.51.100.0", 24, 0, 2),
            r("198.51.100.0", 27, 500, 3),
            r("198.51.100.0", 26, 0, 4),
        ];
        assert_eq!(
            best_route(ip("198.51.100.5"), &routes, None).unwrap().oif,
            3
        );
        assert_eq!(
            best_route(ip("198.51.100.40"), &routes, None).unwrap().oif,
            4
        );
        assert_eq!(
            best_route(ip("198.51.100.200"), &routes, None).unwrap().oif,
            2
        );
    }

    #[test]
    fn equal_prefixes_take_the_lowest_metric_then_the_first_found() {
        let routes = [
            r("203.0.113.0", 24, 200, 1),
            r("203.0.113.0", 24, 100, 2),
            r("203.0.113.0", 24, 100, 3),
        ];
        assert_eq!(best_route(ip("203.0.113.9"), &routes, None).unwrap().oif, 2);
    }

    #[test]
    fn the_default_route_is_the_last_resort() {
        let routes = [r("0.0.0.0", 0, 0, 1), r("192.0.2.0", 24, 900, 2)];
        assert_eq!(best_route(ip("192.0.2.9"), &routes, None).unwrap().oif, 2);
        let last = best_route(ip("203.0.113.9"), &routes, None).unwrap();
        assert_eq!((last.oif, last.prefix), (1, 0));
        assert_eq!(best_route(ip("203.0.113.9"), &routes[1..], None), None);
    }

    #[test]
    fn an_interface_restricts_the_search_to_its_routes() {
        let routes = [r("192.0.2.0", 24, 0, 1), r("192.0.2.0", 16, 0, 2)];
        assert_eq!(
            best_route(ip("192.0.2.9"), &routes, Some(2))
                .unwrap()
                .prefix,
            16
        );
        assert_eq!(best_route(ip("192.0.2.9"), &routes, Some(3)), None);
    }
}
