//! The validated configuration: one typed model behind both front ends
//! (`/etc/ha.d` files and the TOML file). Every value here has passed the same
//! checks the real 3.0.6 daemon applies, and defaults are filled in.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use hb_core::auth::KeyTable;

use crate::diag::Loc;

/// `script_timeout` when none is given: how long a resource script may run.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest `script_timeout` accepted.
pub const MAX_SCRIPT_TIMEOUT: Duration = Duration::from_secs(3600);

/// A complete, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `cluster` (default `linux-ha`).
    pub cluster: String,
    /// `node`: cluster member names, lower-cased, in file order.
    pub nodes: Vec<String>,
    /// `keepalive`, `deadtime`, `warntime`, `initdead`, `deadping`.
    pub timing: Timing,
    /// Heartbeat media, in file order (ping nodes are in [`Config::ping_nodes`]).
    pub media: Vec<Medium>,
    /// `ping` / `ping6` / `ping_group` pseudo-nodes.
    pub ping_nodes: Vec<PingNode>,
    /// `hopfudge` (default 1): only written into `ttl`.
    pub hopfudge: u8,
    /// `watchdog` device, if any.
    pub watchdog: Option<PathBuf>,
    /// `auto_failback` (default `legacy`, as 3.0.6).
    pub auto_failback: AutoFailback,
    /// Where and how to log.
    pub logging: Logging,
    /// `respawn` and `failfast` programs, in file order.
    pub respawn: Vec<Respawn>,
    /// `apiauth` lines.
    pub apiauth: Vec<ApiAuth>,
    /// `env NAME=value`: exported as `HA_NAME` to children. One entry per
    /// name (the last value given wins, as with 3.0.6's setenv), sorted by name.
    pub env: Vec<(String, String)>,
    /// `msgfmt`: whether packets carry the inner `auth=` field.
    pub msgfmt: MsgFmt,
    /// `hbgenmethod`.
    pub hbgenmethod: GenMethod,
    /// `realtime` (default on) and `rtprio`.
    pub realtime: Realtime,
    /// `coredumps` (default on) and `coreroot`.
    pub coredumps: Coredumps,
    /// `memreserve` in KiB (default 6500).
    pub memreserve_kib: u32,
    /// `compression`, `compression_threshold`, `traditional_compression`.
    pub compression: CompressionSettings,
    /// `max_rexmit_delay` (default 250 ms).
    pub max_rexmit_delay: Duration,
    /// `script_timeout` (ours, not 3.0.6's; default [`DEFAULT_SCRIPT_TIMEOUT`]):
    /// how long a resource script may run before its process group is killed.
    pub script_timeout: Duration,
    /// `ipfail on` (ours, and `ipfail = true` in TOML). ipfail also runs for a
    /// `respawn` line naming ipfail: see [`Config::ipfail_enabled`].
    pub ipfail: bool,
    /// `ipaddr_scripts on` (ours, and `ipaddr_scripts = true` in TOML): service
    /// addresses (`IPaddr::`, `IPaddr2::`, a bare address) run the `IPaddr` or
    /// `IPaddr2` script of `resource.d/` when it holds one. Off (the default):
    /// always the built-in address, whatever `resource.d/` holds (Debian's
    /// heartbeat package installs both scripts).
    pub ipaddr_scripts: bool,
    /// `metrics_listen ADDR:PORT` (ours, and `metrics_listen = "..."` in TOML):
    /// where the Prometheus text endpoint listens; none (the default) means no endpoint.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `haresources` groups, in file order.
    pub resources: Vec<ResourceGroup>,
    /// `authkeys`.
    pub authkeys: KeyTable,
}

impl Config {
    /// True when both configurations say the same thing, wherever it was written
    /// (locations are ignored).
    pub fn same_settings(&self, other: &Config) -> bool {
        fn strip(c: &Config) -> Config {
            let mut c = c.clone();
            let nowhere = Loc {
                file: std::sync::Arc::from(std::path::Path::new("")),
                line: 0,
            };
            c.resources.iter_mut().for_each(|g| g.loc = nowhere.clone());
            c.respawn.iter_mut().for_each(|r| r.loc = nowhere.clone());
            c
        }
        strip(self) == strip(other)
    }

    /// Whether the built-in ipfail runs: `ipfail on`, or a `respawn` line for
    /// ipfail as 3.0.6 configures it (`respawn hacluster /usr/lib/heartbeat/ipfail`).
    pub fn ipfail_enabled(&self) -> bool {
        self.ipfail
            || self
                .respawn
                .iter()
                .any(|r| !r.failfast && hb_core::respawn::is_ipfail(&r.argv[0]))
    }

    /// The resource groups whose preferred owner is `node`.
    pub fn groups_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a ResourceGroup> + 'a {
        self.resources.iter().filter(move |g| g.node == node)
    }
}

/// The timing directives (spec §6), defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Period of status heartbeats.
    pub keepalive: Duration,
    /// Silence after which a node is dead.
    pub deadtime: Duration,
    /// Interval after which a late heartbeat is logged.
    pub warntime: Duration,
    /// Dead time used until every node has been heard from, at start.
    pub initdead: Duration,
    /// Silence after which a ping node is dead.
    pub deadping: Duration,
}

/// One heartbeat medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// `bcast IF`: UDP broadcast on the interface.
    Bcast {
        /// Interface.
        iface: String,
        /// UDP port (`udpport`).
        port: u16,
    },
    /// `ucast IF PEER`: UDP unicast to a peer address or host name.
    Ucast {
        /// Interface.
        iface: String,
        /// Peer address or name (names are resolved when the link starts).
        peer: String,
        /// UDP port (`udpport`).
        port: u16,
    },
    /// `mcast IF GROUP PORT TTL LOOP`.
    Mcast {
        /// Interface.
        iface: String,
        /// IPv4 multicast group.
        group: Ipv4Addr,
        /// UDP port.
        port: u16,
        /// Multicast TTL (0-4).
        ttl: u8,
        /// Whether our own packets loop back.
        looped: bool,
    },
    /// `serial DEV`: a serial line.
    Serial {
        /// Full device path.
        device: PathBuf,
        /// Line speed (`baud`).
        baud: u32,
    },
}

impl Medium {
    /// The link name heartbeat logs (`Link n2:eth1 up.`): the interface, or the device path.
    pub fn link_name(&self) -> String {
        match self {
            Medium::Bcast { iface, .. }
            | Medium::Ucast { iface, .. }
            | Medium::Mcast { iface, .. } => iface.clone(),
            Medium::Serial { device, .. } => device.display().to_string(),
        }
    }
}

/// A ping pseudo-node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingNode {
    /// Its name in the node table: the host as written (`ping`) or the group name (`ping_group`).
    pub name: String,
    /// Hosts pinged; the node is up while any of them answers.
    pub hosts: Vec<String>,
    /// `ping_group` rather than `ping`/`ping6`.
    pub group: bool,
}

/// `auto_failback` (spec §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoFailback {
    /// Groups go back to their preferred node when it returns.
    On,
    /// Groups stay where they are.
    Off,
    /// The pre-nice_failback protocol; 3.0.6's default, deprecated.
    Legacy,
}

/// Where to log (spec §12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    /// `logfile`: everything but debug.
    pub logfile: Option<PathBuf>,
    /// `debugfile`: everything.
    pub debugfile: Option<PathBuf>,
    /// `logfacility`: syslog facility, `None` for `none` or unset.
    pub logfacility: Option<String>,
    /// `syslogmsgfmt` (default true): the file line format.
    pub syslogmsgfmt: bool,
    /// `debug` level 0-255.
    pub debug: u8,
    /// `log_badpack` (default true).
    pub log_badpack: bool,
}

/// A `respawn` or `failfast` program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respawn {
    /// User to run as.
    pub user: String,
    /// Program (absolute path) and its arguments.
    pub argv: Vec<String>,
    /// `failfast`: the machine reboots if it dies outside shutdown.
    pub failfast: bool,
    /// Where it was configured.
    pub loc: Loc,
}

/// An `apiauth` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAuth {
    /// Client name.
    pub client: String,
    /// Allowed user names.
    pub uids: Vec<String>,
    /// Allowed group names.
    pub gids: Vec<String>,
}

/// `msgfmt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgFmt {
    /// Default: packets also carry the inner `auth=` field.
    Classic,
    /// No inner `auth=` field.
    Netstring,
}

/// `hbgenmethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenMethod {
    /// Generation kept in the state directory, incremented at each start.
    File,
    /// Generation = start time in seconds.
    Time,
}

/// `realtime` and `rtprio`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Realtime {
    /// Lock memory and use a real-time scheduling class where permitted.
    pub enabled: bool,
    /// SCHED_FIFO priority, if set.
    pub rtprio: Option<u8>,
}

/// `coredumps` and `coreroot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coredumps {
    /// Allow core dumps.
    pub enabled: bool,
    /// Directory for them.
    pub coreroot: Option<PathBuf>,
}

/// Compression settings (only used for messages over the size limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionSettings {
    /// `compression`: zlib (default) or bz2.
    pub algorithm: Compression,
    /// `compression_threshold` in KiB (default 2).
    pub threshold_kib: u32,
    /// `traditional_compression` (default off).
    pub traditional: bool,
}

/// `compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zlib.
    Zlib,
    /// bzip2.
    Bz2,
}

/// One `haresources` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    /// Preferred owner (lower-cased).
    pub node: String,
    /// Resources, started left to right, stopped right to left.
    pub resources: Vec<Resource>,
    /// Where the line is.
    pub loc: Loc,
}

impl ResourceGroup {
    /// The group key: the first resource as written (ResourceManager's key).
    pub fn key(&self) -> &str {
        self.resources.first().map_or("", |r| r.text.as_str())
    }
}

/// One resource of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// As written (`192.0.2.3/27`, `maid::vacuum`).
    pub text: String,
    /// Script name (`IPaddr` for the address shorthand).
    pub script: String,
    /// Arguments, passed as separate argv entries before `start|stop|status`.
    pub args: Vec<String>,
    /// For `IPaddr`/`IPaddr2` (and the shorthand): the parsed address.
    pub ip: Option<IpSpec>,
}

/// `IP[/BITS[/IFACE[:LABEL]][/BROADCAST]]` (spec §8.1, §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSpec {
    /// The service address.
    pub addr: IpAddr,
    /// Prefix length; `None` = take it from the route. A dotted-quad
    /// netmask is converted, as Debian's findif does.
    pub prefix: Option<u8>,
    /// Interface; `None` = take it from the route.
    pub iface: Option<String>,
    /// The address label as written (`eth0:1` of `.../eth0:1`), used as is
    /// (as IPaddr2 does); `None` = the first free `IFACE:N`.
    pub label: Option<String>,
    /// Broadcast; `None` = highest address of the subnet.
    pub broadcast: Option<Ipv4Addr>,
}
