//! Checks that depend on the machine the configuration is read on: is this node
//! listed, do the serial devices, interfaces, users, programs and resource scripts
//! exist. The daemon treats them as errors; `check-config` (which may run on
//! another machine) reports them as warnings unless told which node it is on.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostics, Loc, Severity};
use crate::haresources::IP_SCRIPTS;
use crate::model::Medium;
use crate::partial::Partial;

/// How strictly to check the host.
#[derive(Debug, Clone, Default)]
pub struct HostCheck {
    /// The node name to check for (`uname -n` lower-cased when the daemon runs).
    pub local_node: Option<String>,
    /// Report host problems as errors (the daemon) rather than warnings.
    pub strict: bool,
    /// Where to look for init scripts (`/etc/init.d`); overridable for tests.
    pub init_dir: Option<PathBuf>,
}

impl HostCheck {
    fn report(&self, diags: &mut Diagnostics, loc: &Loc, msg: String, hint: String) {
        match self.severity() {
            Severity::Error => diags.error_hint(loc, msg, hint),
            Severity::Warning => diags.warn_hint(loc, msg, hint),
        }
    }

    fn severity(&self) -> Severity {
        if self.strict {
            Severity::Error
        } else {
            Severity::Warning
        }
    }

    /// Runs every host check over what was read from `confdir`.
    pub(crate) fn run(&self, p: &Partial, confdir: Option<&Path>, diags: &mut Diagnostics) {
        let main = p
            .main_loc
            .clone()
            .unwrap_or_else(|| Loc::new(&crate::diag::shared_path("ha.cf"), 0));
        if let Some(me) = &self.local_node {
            if !p.nodes.is_empty() && !p.nodes.iter().any(|n| &n.value == me) {
                self.report(
                    diags,
                    &main,
                    format!("Current node [{me}] not in configuration!"),
                    "cluster nodes are named by `uname -n` (lower-cased) and must be declared with a `node` line".into(),
                );
            }
        }
        for m in &p.media {
            match &m.value {
                Medium::Serial { device, .. } => match std::fs::metadata(device) {
                    Err(_) => self.report(
                        diags,
                        &m.loc,
                        format!("Nonexistent serial port [{}]", device.display()),
                        "check the device name (ls -l /dev/ttyS*)".into(),
                    ),
                    Ok(meta) if !meta.file_type().is_char_device() => self.report(
                        diags,
                        &m.loc,
                        format!("Serial port [{}] not a char device", device.display()),
                        "name a serial device such as /dev/ttyS0".into(),
                    ),
                    Ok(_) => {}
                },
                Medium::Bcast { iface, .. }
                | Medium::Ucast { iface, .. }
                | Medium::Mcast { iface, .. } => {
                    if let Medium::Ucast { peer, .. } = &m.value {
                        if let Err(e) = resolve_ucast(peer) {
                            self.report(
                                diags,
                                &m.loc,
                                e,
                                format!("check the name (getent ahostsv4 {peer}) or write the peer's IPv4 address"),
                            );
                        }
                    }
                    // By index, not /sys/class/net: /sys may show another network namespace.
                    if nix::net::if_::if_nametoindex(iface.as_str()).is_err() {
                        self.report(
                            diags,
                            &m.loc,
                            format!("IP interface [{iface}] does not exist on this machine"),
                            "check the name with `ip link`".into(),
                        );
                    }
                }
            }
        }
        if let Some(addr) = p.metrics_listen {
            let ip = addr.ip();
            if !ip.is_unspecified() && !local_addresses().contains(&ip) {
                self.report(
                    diags,
                    &main,
                    format!(
                        "metrics_listen {addr}: no interface of this machine has the address {ip}"
                    ),
                    "give an address of this node, 127.0.0.1, or 0.0.0.0 for all of them".into(),
                );
            }
        }
        for n in &p.ping_nodes {
            if let Err(e) = resolve_ping_node(&n.value.name, &n.value.hosts) {
                self.report(
                    diags,
                    &n.loc,
                    e,
                    "check the names (getent ahosts NAME) or write the addresses".into(),
                );
            }
        }
        for a in &p.apiauth {
            for user in &a.value.uids {
                if nix::unistd::User::from_name(user).ok().flatten().is_none() {
                    self.report(
                        diags,
                        &a.loc,
                        format!("apiauth {}: Invalid user id name [{user}]", a.value.client),
                        format!("create the user, or name an existing one (getent passwd {user})"),
                    );
                }
            }
            for group in &a.value.gids {
                if nix::unistd::Group::from_name(group)
                    .ok()
                    .flatten()
                    .is_none()
                {
                    self.report(
                        diags,
                        &a.loc,
                        format!(
                            "apiauth {}: Invalid group id name [{group}]",
                            a.value.client
                        ),
                        format!("create the group, or name an existing one (getent group {group})"),
                    );
                }
            }
        }
        for r in &p.respawn {
            // ipfail is built in: its program is not run, its user not used.
            if !r.failfast && hb_core::respawn::is_ipfail(&r.argv[0]) {
                continue;
            }
            if nix::unistd::User::from_name(&r.user)
                .ok()
                .flatten()
                .is_none()
            {
                self.report(
                    diags,
                    &r.loc,
                    format!("Invalid uid [{}] specified for client child", r.user),
                    format!(
                        "create the user, or name an existing one (getent passwd {})",
                        r.user
                    ),
                );
            }
            if !is_executable(Path::new(&r.argv[0])) {
                self.report(
                    diags,
                    &r.loc,
                    format!("Client child command [{}] is not executable", r.argv[0]),
                    "check the path and its mode".into(),
                );
            }
        }
        let init_dir = self
            .init_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/init.d"));
        for g in &p.resources {
            for r in &g.resources {
                let found = script_path(confdir, &init_dir, &r.script);
                if found.is_some() || IP_SCRIPTS.contains(&r.script.as_str()) {
                    continue;
                }
                let rd = confdir.map_or_else(
                    || "resource.d".to_owned(),
                    |d| d.join("resource.d").display().to_string(),
                );
                // The first place that has something by that name, as 3.0.6 looks.
                let present = script_places(confdir, &init_dir, &r.script)
                    .find_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m.is_file())));
                let (msg, hint) = match present {
                    Some((path, true)) => (
                        format!("Resource script {} is not executable", path.display()),
                        format!("chmod +x {}", path.display()),
                    ),
                    Some((path, false)) => (
                        format!("Resource script {} is not a regular file", path.display()),
                        format!(
                            "put an executable file {} in {rd} or {}",
                            r.script,
                            init_dir.display()
                        ),
                    ),
                    None => (
                        format!("Cannot locate resource script {}", r.script),
                        format!(
                            "put an executable {} in {rd} or {}",
                            r.script,
                            init_dir.display()
                        ),
                    ),
                };
                self.report(diags, &g.loc, msg, hint);
            }
        }
    }
}

/// Where a resource script is found: `<confdir>/resource.d/NAME`, then `<init_dir>/NAME`.
pub fn script_path(confdir: Option<&Path>, init_dir: &Path, name: &str) -> Option<PathBuf> {
    script_places(confdir, init_dir, name).find(|p| is_executable(p))
}

/// The places a resource script is looked for, in order.
pub fn script_places<'a>(
    confdir: Option<&'a Path>,
    init_dir: &'a Path,
    name: &'a str,
) -> impl Iterator<Item = PathBuf> + 'a {
    confdir
        .map(|d| d.join("resource.d").join(name))
        .into_iter()
        .chain(std::iter::once(init_dir.join(name)))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// This machine's node name as heartbeat determines it: the first line of
/// `<confdir>/nodeinfo` if there is one (ending in a newline, as 3.0.6 requires),
/// else `uname -n`; lower-cased either way.
pub fn local_node_name(confdir: Option<&Path>) -> String {
    let from_file = confdir
        .and_then(|d| std::fs::read_to_string(d.join("nodeinfo")).ok())
        .and_then(|text| {
            text.split_once('\n')
                .map(|(first, _)| first.trim().to_owned())
        })
        .filter(|s| !s.is_empty());
    from_file
        .unwrap_or_else(|| {
            nix::sys::utsname::uname().map_or_else(
                |_| String::new(),
                |u| u.nodename().to_string_lossy().into_owned(),
            )
        })
        .to_ascii_lowercase()
}

/// A host's addresses: the address itself, or a name resolved now.
fn lookup(what: &str, host: &str) -> Result<Vec<std::net::IpAddr>, String> {
    use std::net::ToSocketAddrs as _;
    if let Ok(a) = host.parse() {
        return Ok(vec![a]);
    }
    (host, 0)
        .to_socket_addrs()
        .map(|it| it.map(|a| a.ip()).collect())
        .map_err(|e| format!("{what}: cannot resolve hostname {host}: {e}"))
}

/// A ucast peer: its first IPv4 address. The same function serves the
/// check (here) and the daemon's start, so they cannot disagree.
pub fn resolve_ucast(peer: &str) -> Result<std::net::Ipv4Addr, String> {
    lookup("ucast", peer)?
        .into_iter()
        .find_map(|a| match a {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .ok_or_else(|| format!("ucast: {peer} has no IPv4 address"))
}

/// A ping node's hosts (one for `ping`, several for `ping_group`), each
/// at its first address, all of one family.
pub fn resolve_ping_node(name: &str, hosts: &[String]) -> Result<Vec<std::net::IpAddr>, String> {
    let addrs = hosts
        .iter()
        .map(|h| {
            lookup("ping", h)?
                .into_iter()
                .next()
                .ok_or_else(|| format!("ping: {h} has no address"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if addrs.iter().any(|a| a.is_ipv4() != addrs[0].is_ipv4()) {
        return Err(format!(
            "ping_group {name}: its hosts mix IPv4 and IPv6 addresses; use one family per group"
        ));
    }
    Ok(addrs)
}

/// What runs a service address (`IPaddr::…`, `IPaddr2::…`, a bare address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpRunner {
    /// The built-in address. `unused`: the `resource.d/` script of that name,
    /// when there is one (Debian's package installs `IPaddr` and `IPaddr2`);
    /// it is not run.
    BuiltIn {
        /// The script left alone.
        unused: Option<PathBuf>,
    },
    /// The `IPaddr` or `IPaddr2` script of `resource.d/`, as 3.0.6 runs it
    /// (`ipaddr_scripts on`).
    Script(PathBuf),
}

/// Who runs a service address whose script name is `script` (`IPaddr` or
/// `IPaddr2`): the script of `<confdir>/resource.d/` with `ipaddr_scripts on`
/// when there is an executable one, else the built-in address. (`init.d` is
/// never looked at for these.)
pub fn ip_runner(ipaddr_scripts: bool, confdir: Option<&Path>, script: &str) -> IpRunner {
    let in_resource_d = confdir
        .map(|d| d.join("resource.d").join(script))
        .filter(|p| is_executable(p));
    match in_resource_d {
        Some(p) if ipaddr_scripts => IpRunner::Script(p),
        unused => IpRunner::BuiltIn { unused },
    }
}

/// One line per service address of the groups, saying what runs it (for
/// `check-config` and the start-up log).
pub fn ip_runner_lines(config: &crate::model::Config, confdir: Option<&Path>) -> Vec<String> {
    config
        .resources
        .iter()
        .flat_map(|g| &g.resources)
        .filter(|r| r.ip.is_some())
        .map(
            |r| match ip_runner(config.ipaddr_scripts, confdir, &r.script) {
                IpRunner::Script(p) => format!(
                    "service address {}: runs {} (ipaddr_scripts on)",
                    r.text,
                    p.display()
                ),
                IpRunner::BuiltIn { unused: Some(p) } => format!(
                    "service address {}: built in ({} is not run; `ipaddr_scripts on` would run it)",
                    r.text,
                    p.display()
                ),
                IpRunner::BuiltIn { unused: None } => {
                    format!("service address {}: built in", r.text)
                }
            },
        )
        .collect()
}

/// The addresses of this machine's interfaces (in this network namespace).
fn local_addresses() -> Vec<std::net::IpAddr> {
    nix::ifaddrs::getifaddrs()
        .map(|it| {
            it.filter_map(|a| {
                let a = a.address?;
                a.as_sockaddr_in()
                    .map(|s| std::net::IpAddr::V4(s.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|s| std::net::IpAddr::V6(s.ip())))
            })
            .collect()
        })
        .unwrap_or_default()
}
