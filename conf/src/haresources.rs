//! `haresources` (spec §8.1): one resource group per line.
//!
//! ```text
//! # node      resources, started left to right, stopped right to left
//! linuxha1    192.0.2.3 httpd smb maid::vacuum
//! linuxha2    IPaddr::198.51.100.3/27/eth0 \
//!             datadisk::drbd0
//! ```
//!
//! `#` starts a comment, a line ending in `\` continues on the next one, runs of
//! blanks collapse. The first word is the preferred node; each resource is
//! `script` or `script::arg1::arg2`; a word like `a.b.c.d...` is the IP
//! shorthand for `IPaddr::IP[/BITS[/IFACE[:LABEL]][/BROADCAST]]`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use crate::diag::{Diagnostics, Loc};
use crate::hacf::valid_iface;
use crate::model::{IpSpec, Resource, ResourceGroup};

/// Scripts whose argument is an IP specification.
pub const IP_SCRIPTS: [&str; 2] = ["IPaddr", "IPaddr2"];

/// Reads haresources text into groups.
pub(crate) fn parse(path: &Path, text: &str, diags: &mut Diagnostics) -> Vec<ResourceGroup> {
    let file: Arc<Path> = Arc::from(path);
    let mut groups: Vec<ResourceGroup> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw
            .split('#')
            .next()
            .unwrap_or_default()
            .trim_end_matches('\r');
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        let (start, mut logical) = pending.take().unwrap_or((n, String::new()));
        logical.push(' ');
        logical.push_str(body);
        if continues {
            pending = Some((start, logical));
            continue;
        }
        if let Some(g) = group(&Loc::new(&file, start), &logical, diags) {
            if let Some(prev) = groups.iter().find(|p| p.key() == g.key()) {
                let line = prev.loc.line;
                diags.error_hint(
                    &g.loc,
                    format!(
                        "resource group {} is defined twice (first on line {line})",
                        g.key()
                    ),
                    "the first resource of a line names its group and must be unique",
                );
            } else {
                groups.push(g);
            }
        }
    }
    if let Some((start, _)) = pending {
        diags.error_hint(
            &Loc::new(&file, start),
            "the last line ends with `\\` but no line follows",
            "remove the trailing backslash",
        );
    }
    check_shared_addresses(&groups, diags);
    groups
}

fn group(loc: &Loc, logical: &str, diags: &mut Diagnostics) -> Option<ResourceGroup> {
    let mut words = logical.split_whitespace();
    let node = words.next()?;
    let resources: Vec<&str> = words.collect();
    if resources.is_empty() {
        diags.error_hint(
            loc,
            format!("node {node} has no resources on its line"),
            "write NODE RESOURCE [RESOURCE...], e.g. `linuxha1 192.0.2.3 httpd`",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for r in resources {
        match resource(r) {
            Ok(res) => out.push(res),
            Err((msg, hint)) => {
                diags.error_hint(loc, msg, hint);
                ok = false;
            }
        }
    }
    ok.then(|| ResourceGroup {
        node: node.to_ascii_lowercase(),
        resources: out,
        loc: loc.clone(),
    })
}

/// Parses one resource word.
pub(crate) fn resource(text: &str) -> Result<Resource, (String, String)> {
    // ResourceManager's test: the glob [0-9]*.[0-9]*.[0-9]*.[0-9]*
    let ip_shorthand =
        text.starts_with(|c: char| c.is_ascii_digit()) && text.matches('.').count() >= 3;
    let (script, args): (&str, Vec<&str>) = if ip_shorthand {
        ("IPaddr", vec![text])
    } else {
        let mut parts = text.split("::");
        let script = parts.next().unwrap_or_default();
        (script, parts.collect())
    };
    let name_ok = !script.is_empty()
        && script != "."
        && script != ".."
        && !script.starts_with('-')
        && script
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\');
    if !name_ok {
        return Err((
            format!("resource {text:?}: {script:?} is not a script name"),
            "a resource is SCRIPT or SCRIPT::ARG::ARG, with SCRIPT a file name in resource.d or init.d (no '/')".into(),
        ));
    }
    if args.iter().any(|a| a.is_empty()) {
        return Err((
            format!("resource {text:?} has an empty argument"),
            "arguments are separated by `::` and cannot be empty".into(),
        ));
    }
    let ip = if IP_SCRIPTS.contains(&script) {
        let [arg] = args.as_slice() else {
            return Err((
                format!("resource {text:?}: {script} takes exactly one argument, IP[/BITS[/IFACE][/BROADCAST]]"),
                format!("e.g. {script}::192.0.2.3/24/eth0"),
            ));
        };
        Some(ip_spec(arg).map_err(|why| {
            (
                format!("resource {text:?}: {why}"),
                "the address form is IP[/BITS[/IFACE[:LABEL]][/BROADCAST]], e.g. 192.0.2.3/27/eth0:1/192.0.2.31".to_owned(),
            )
        })?)
    } else {
        None
    };
    Ok(Resource {
        text: text.to_owned(),
        script: script.to_owned(),
        args: args.into_iter().map(str::to_owned).collect(),
        ip,
    })
}

/// `IP[/BITS[/IFACE[:LABEL]][/BROADCAST]]`, read as Debian's `IPaddr` and
/// `IPaddr2` wrappers split it: a run of slashes counts as one
/// (`10.0.30.15//8/eth0:10`), a third part starting with a digit is the
/// broadcast, `BITS` may be a dotted-quad netmask (`255.255.255.0`, converted to
/// its prefix as findif does), and `IFACE:LABEL` names the address label
/// (`eth0:1`), which must fit in 15 characters as IPaddr2 requires.
pub fn ip_spec(text: &str) -> Result<IpSpec, String> {
    let (ip, rest) = text.split_once('/').unwrap_or((text, ""));
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() > 3 {
        return Err(format!("too many '/' parts in {text:?}"));
    }
    let addr: Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not a valid IPv4 address"))?;
    if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() || addr.is_loopback() {
        return Err(format!("{addr} cannot be a service address"));
    }
    let prefix = parts.first().map(|m| netmask(m)).transpose()?;
    let mut iface = None;
    let mut label = None;
    let mut broadcast = None;
    let rest = parts.get(1..).unwrap_or_default();
    for (i, part) in rest.iter().enumerate() {
        let is_last = i + 1 == rest.len();
        if part.starts_with(|c: char| c.is_ascii_digit()) && is_last {
            broadcast = Some(
                part.parse::<Ipv4Addr>()
                    .map_err(|_| format!("bad broadcast address {part:?}"))?,
            );
            continue;
        }
        let (name, tag) = match part.split_once(':') {
            Some((name, tag)) => (name, Some(tag)),
            None => (*part, None),
        };
        if i != 0 || !valid_iface(name) {
            return Err(format!(
                "{part:?} is neither an interface name (IFACE or IFACE:LABEL) nor a broadcast address"
            ));
        }
        iface = Some(name.to_owned());
        // `eth0:` is the interface without a label, as IPaddr2 reads it.
        if tag.is_some_and(|t| !t.is_empty()) {
            if part.len() > MAX_LABEL {
                return Err(format!(
                    "address label {part:?} is longer than {MAX_LABEL} characters"
                ));
            }
            label = Some((*part).to_owned());
        }
    }
    if let (Some(b), Some(p)) = (broadcast, prefix) {
        let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
        if u32::from(b) & mask != u32::from(addr) & mask {
            return Err(format!("broadcast {b} is outside {addr}/{p}"));
        }
    }
    Ok(IpSpec {
        addr: IpAddr::V4(addr),
        prefix,
        iface,
        label,
        broadcast,
    })
}

/// Longest address label the kernel keeps (IFNAMSIZ - 1), as IPaddr2 checks it.
pub const MAX_LABEL: usize = 15;

/// A prefix length (`24`) or a contiguous dotted-quad netmask (`255.255.255.0`).
fn netmask(m: &str) -> Result<u8, String> {
    if m.contains('.') {
        let mask: Ipv4Addr = m.parse().map_err(|_| {
            format!(
                "bad netmask {m:?}: expected a prefix length from 1 to 32 or a dotted-quad netmask"
            )
        })?;
        let bits = u32::from(mask);
        let prefix = bits.leading_ones();
        if bits.checked_shl(prefix).unwrap_or(0) != 0 {
            return Err(format!(
                "netmask {m} is not contiguous (its one bits must all come first, as in 255.255.255.0)"
            ));
        }
        if prefix == 0 {
            return Err(format!(
                "netmask {m} is /0: a service address needs a prefix from 1 to 32"
            ));
        }
        return Ok(u8::try_from(prefix).unwrap_or(32));
    }
    m.parse::<u8>()
        .ok()
        .filter(|b| (1..=32).contains(b) && !m.starts_with('+'))
        .ok_or_else(|| {
            format!("bad cidr netmask {m:?}: expected a prefix length from 1 to 32 or a dotted-quad netmask")
        })
}

/// One service address in two groups would be brought up twice.
fn check_shared_addresses(groups: &[ResourceGroup], diags: &mut Diagnostics) {
    let mut seen: Vec<(IpAddr, &ResourceGroup)> = Vec::new();
    for g in groups {
        for ip in g.resources.iter().filter_map(|r| r.ip.as_ref()) {
            if let Some((_, first)) = seen.iter().find(|(a, _)| *a == ip.addr) {
                diags.error(
                    &g.loc,
                    format!(
                        "service address {} is also in group {} (line {})",
                        ip.addr,
                        first.key(),
                        first.loc.line
                    ),
                );
            } else {
                seen.push((ip.addr, g));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().expect("address")
    }

    #[test]
    fn ip_forms_from_the_seed() {
        let spec = ip_spec("192.0.2.3").expect("plain");
        assert_eq!(
            (spec.prefix, spec.iface, spec.broadcast),
            (None, None, None)
        );
        let spec = ip_spec("192.0.2.3/27").expect("cidr");
        assert_eq!(spec.prefix, Some(27));
        let spec = ip_spec("192.0.2.3/27/192.0.2.16").expect("broadcast third");
        assert_eq!((spec.iface, spec.broadcast), (None, Some(v4("192.0.2.16"))));
        let spec = ip_spec("192.0.2.3/27/eth0/192.0.2.31").expect("all four");
        assert_eq!(
            (spec.iface.as_deref(), spec.broadcast),
            (Some("eth0"), Some(v4("192.0.2.31")))
        );
        let spec = ip_spec("192.0.2.3/24/eth0").expect("iface");
        assert_eq!(spec.iface.as_deref(), Some("eth0"));
    }

    /// Issue 14, items 1-3: the tutorial forms of Debian's IPaddr/IPaddr2.
    #[test]
    fn labels_dotted_netmasks_and_runs_of_slashes_as_debian_reads_them() {
        let spec = ip_spec("10.0.0.50/24/eth0:1").expect("label");
        assert_eq!(
            (spec.prefix, spec.iface.as_deref(), spec.label.as_deref()),
            (Some(24), Some("eth0"), Some("eth0:1"))
        );
        let spec = ip_spec("192.168.0.100/24/ens33:0/192.168.0.255").expect("label and broadcast");
        assert_eq!(
            (spec.iface.as_deref(), spec.label.as_deref(), spec.broadcast),
            (Some("ens33"), Some("ens33:0"), Some(v4("192.168.0.255")))
        );
        let spec = ip_spec("192.0.2.3/24/eth0:").expect("empty label");
        assert_eq!((spec.iface.as_deref(), spec.label), (Some("eth0"), None));
        assert_eq!(
            ip_spec("192.168.88.140/255.255.255.0")
                .expect("dotted")
                .prefix,
            Some(24)
        );
        assert_eq!(
            ip_spec("192.0.2.3/255.255.255.255")
                .expect("dotted /32")
                .prefix,
            Some(32)
        );
        assert_eq!(
            ip_spec("192.0.2.3/128.0.0.0").expect("dotted /1").prefix,
            Some(1)
        );
        let e = ip_spec("192.0.2.3/255.0.255.0").expect_err("non-contiguous");
        assert!(
            e.contains("255.0.255.0") && e.contains("not contiguous"),
            "{e}"
        );
        assert!(ip_spec("192.0.2.3/0.0.0.0").is_err());
        assert!(ip_spec("192.0.2.3/255.255.256.0").is_err());
        let spec = ip_spec("10.0.30.15//8/eth0:10").expect("double slash");
        assert_eq!(
            (spec.prefix, spec.iface.as_deref(), spec.label.as_deref()),
            (Some(8), Some("eth0"), Some("eth0:10"))
        );
        assert_eq!(
            ip_spec("10.0.30.15/8//eth0//10.255.255.255/")
                .expect("runs")
                .broadcast,
            Some(v4("10.255.255.255"))
        );
        assert_eq!(ip_spec("10.0.30.15/8/").expect("trailing").iface, None);
        // As in the wrapper, the run after the address is skipped: the netmask
        // comes first whatever the number of slashes.
        assert!(ip_spec("192.0.2.3//eth0").is_err());
        let e = ip_spec("192.0.2.3/24/enp0s31f6:vip123").expect_err("label too long");
        assert!(
            e.contains("\"enp0s31f6:vip123\"") && e.contains("15"),
            "{e}"
        );
    }

    #[test]
    fn bad_ip_forms() {
        assert!(ip_spec("192.0.2.300").is_err());
        assert!(ip_spec("192.0.2.3/33").is_err());
        assert!(ip_spec("192.0.2.3/0").is_err());
        assert!(ip_spec("192.0.2.3/x").is_err());
        assert!(ip_spec("192.0.2.3/24/eth0/eth1").is_err());
        assert!(ip_spec("192.0.2.3/24/192.0.2.255/eth0").is_err());
        assert!(ip_spec("192.0.2.3/27/192.0.2.200").is_err());
        assert!(ip_spec("127.0.0.1").is_err());
    }

    #[test]
    fn scripts_with_arguments() {
        let r = resource("maid::vacuum").expect("parses");
        assert_eq!(
            (r.script.as_str(), r.args.clone()),
            ("maid", vec!["vacuum".to_owned()])
        );
        let r = resource("Delay::1::0").expect("parses");
        assert_eq!(r.args, vec!["1", "0"]);
        let r = resource("IPaddr2::192.0.2.9/24/eth1").expect("parses");
        assert_eq!(r.ip.and_then(|i| i.iface), Some("eth1".into()));
        assert!(resource("../../bin/sh").is_err());
        assert!(resource("maid::").is_err());
        assert!(resource("IPaddr::192.0.2.3::x").is_err());
    }
}
