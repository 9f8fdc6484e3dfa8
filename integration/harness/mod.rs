//! A multi-node test bench on one machine: every node is a set of Linux
//! namespaces, and the nodes are cabled to bridges in a separate "switch"
//! namespace. Tests build a [`Cluster`], write each node's `/etc/ha.d`, start
//! daemons inside the nodes, cut cables and kill processes, and poll the
//! nodes' logs until an expected line appears or a generous deadline passes.
//!
//! # Layout
//!
//! - `mod.rs`: [`require_root`], [`wait_until`], [`Net`], [`Topology`] and
//!   [`Cluster`], which builds the switch and the nodes and tears them down.
//! - `node.rs`: [`Node`], one machine: its namespaces, private directories,
//!   commands run inside it, its processes and its cables.
//! - `process.rs`: [`Spawned`] (a process group killed on drop) and a
//!   command runner with a timeout.
//! - `ours.rs`: every start of our daemon is checked against `check-config
//!   --strict` (issue 14, item 8: they accept exactly the same configurations).
//! - `serial.rs`: [`SerialPair`], two ptys joined by `socat` (a null-modem cable).
//! - `real.rs`: Debian's heartbeat 3.0.6 as a peer: its paths, a config
//!   writer, start, graceful stop and hard kill.
//!
//! # What a cluster is made of
//!
//! With the prefix `hbt-<test pid>-<counter>-` (unique per cluster, so tests
//! run in parallel):
//!
//! - a named network namespace `PREFIX-sw` holding one Linux bridge per
//!   [`Net`]: `br-priv` for [`Net::Private`] (203.0.113.0/24, `eth1` on the
//!   nodes) and `br-pub` for [`Net::Public`] (192.0.2.0/24, `eth0` on the
//!   nodes). 198.51.100.0/24 is never assigned here: tests may use it for
//!   service addresses;
//! - per node, a named network namespace `PREFIX-NAME`, cabled to the switch
//!   by veth pairs: the node's end is `eth0`/`eth1`, the switch's end is
//!   `NAME-eth0`/`NAME-eth1` (so node names are at most 10 characters, as
//!   interface names are at most 15). Node number i (1-based, in the order
//!   given) gets `.10+i` on every net, with a broadcast address: heartbeat's
//!   `bcast` medium silently sends nothing without one;
//! - optionally a `client` node with 192.0.2.100 on the public net;
//! - per node, a holder: `setpriv --pdeathsig KILL nsenter --net=NETNS
//!   unshare --uts --ipc --mount --pid --fork --kill-child --mount-proc
//!   --propagation private tini -- sleep infinity`. `tini` is PID 1 of the
//!   node's PID namespace: it reaps orphans (a daemonized process whose parent
//!   exits is re-parented to it), which matters because this machine's PID 1
//!   (a VM agent, not an init) leaves zombies for a long time, and
//!   `heartbeat -k` waits with `kill(pid, 0)` for the daemon to disappear,
//!   which a zombie never does. Killing `tini` kills
//!   every process of the node at once; the `pdeathsig`/`--kill-child` chain
//!   does that even when the test process itself is killed.
//! - per node, a temporary directory (`/tmp/hbt-...`) with private copies of
//!   `/etc/ha.d`, `/var/lib/heartbeat`, `/run` (so also `/var/run`, a
//!   symbolic link to it on Debian 12) and `/var/log`, bind-mounted over those
//!   paths inside the node's mount namespace. [`Node::path`] gives the test
//!   process the real location of a node's file. The hostname (`uname -n`,
//!   which heartbeat uses as its node name) is the node's name.
//!
//! Commands run in a node with `nsenter -t TINI -p -n -m -u -i`. Nothing in
//! the root namespaces (interfaces, addresses, mounts, hostname) is changed,
//! apart from the named namespaces under `/run/netns`.
//!
//! # Clean-up
//!
//! Everything is owned by guards dropped in order, also while a failed test
//! unwinds: [`Spawned`] processes kill their own process group; a [`Node`]
//! kills its `tini` (and with it every process of the node) and waits for the
//! holder, then deletes its namespace and its directory; the [`Cluster`] drops
//! the nodes, then deletes the switch namespace, which removes the bridges
//! and the switch ends of the cables. No process is ever looked up by name.
//!
//! If the test process itself is killed (SIGKILL, so no destructor runs),
//! the kernel still kills every node (the holder's `pdeathsig` chain) and
//! `socat` (its own `pdeathsig`); the next [`Cluster::new`] in any later test
//! process deletes the namespaces and directories named after a PID that no
//! longer exists.
//!
//! # Debian's heartbeat 3.0.6 inside a node (what it needs, measured)
//!
//! - Package `heartbeat` (installed by `.ci/setup` without recommends, which
//!   would pull pacemaker): the daemon is `/usr/libexec/heartbeat/heartbeat`.
//!   It has no foreground option: it always forks, the parent exits 0, the
//!   child calls `setsid()` and writes its PID to `/run/heartbeat.pid` (the
//!   node-local PID, as the daemon lives in the node's PID namespace;
//!   [`Node::host_pid`] translates). `heartbeat -k` sends SIGTERM to that PID
//!   and waits until it is gone. With `bcast` only and `crm off` it runs
//!   4 processes, all with the same executable: master control, FIFO reader,
//!   bcast writer, bcast reader.
//! - `/etc/ha.d` must also hold the package's `harc`, `rc.d/`, `resource.d/`
//!   and `shellfuncs`: the node's copy starts as a copy of the machine's
//!   `/etc/ha.d` without `ha.cf`, `haresources`, `authkeys` and `nodeinfo`.
//!   `authkeys` must be mode 600 or heartbeat refuses to start.
//! - `/var/lib/heartbeat` starts as the package's directory skeleton (the
//!   directories with their owners and modes, e.g. `cores/root`,
//!   `cores/hacluster`, `cores/nobody`, `ccm`, `crm` owned by `hacluster`),
//!   without files. heartbeat creates `hb_uuid` (a fresh UUID, hence one per
//!   node), `hb_generation`, `hostcache`, `delhostcache` and the FIFO `fifo`
//!   there at its first start.
//! - `/run` starts with the skeleton of the machine's `/run/heartbeat`
//!   (`ccm`, `crm`, `dopd`, owned `hacluster:haclient`, mode 750),
//!   `/run/resource-agents` and `/run/lock`; heartbeat adds `heartbeat.pid`,
//!   its API socket `heartbeat/register` and `heartbeat/rsctmp`.
//! - The `hacluster` user and `haclient` group come from the machine's
//!   `/etc/passwd` and `/etc/group` (created by the `cluster-glue` package;
//!   `/etc` itself is shared, only `/etc/ha.d` is private).
//! - `logfile /var/log/ha-log` with `use_logd no` puts its log in the node's
//!   private `/var/log`. Expected noise there: "Cannot lock ourselves into
//!   memory" (small RLIMIT_MEMLOCK; it runs anyway) and warnings about logd
//!   and core dumps.
//! - Timeline with [`real::basic_ha_cf`] (keepalive 1, deadtime 5,
//!   initdead 10), both nodes started together: "Link PEER:eth1 up." and
//!   "Status update for node PEER: status active" about 1 s after start,
//!   the start-up resource exchange settles about 11 s later
//!   ([`real::wait_settled`]; crash a peer before that and the survivor's
//!   `heartbeat -k` hangs), "node PEER: is dead" about 5.5 s after a crash,
//!   and `heartbeat -k` takes about 3 s.
//!
//! # Requirements
//!
//! Root, `iproute2`, `util-linux` (`unshare`, `nsenter`, `setpriv`), `tini`,
//! `socat` for [`SerialPair`], and `heartbeat` for [`real`]: `.ci/setup`
//! installs them. [`require_root`] (called by [`Cluster::new`]) panics with an
//! explanation when any of this is missing: these tests fail, they never skip.
//! Never load `softdog` or open `/dev/watchdog` from a test.

// The harness is an API for the whole test binary: not every function is used
// by every test yet.
#![allow(dead_code)]

mod node;
pub(crate) mod ours;
mod process;
pub mod real;
mod serial;

pub use node::{Node, NodeProcess};
pub use ours::Settled;
pub use process::{run_with_timeout, Spawned};
pub use serial::SerialPair;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `PATH` given to every command the harness runs, so that `/usr/sbin`
/// tools are found whatever the caller's environment.
pub(crate) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The reaping PID 1 of every node (Debian package `tini`).
pub(crate) const TINI: &str = "/usr/bin/tini";

/// How long any single set-up command may take before the harness gives up.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A command with the harness's `PATH`.
pub(crate) fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("PATH", PATH);
    cmd
}

/// Runs a set-up command on the machine and panics, with its output, unless
/// it succeeds. Returns its standard output.
pub(crate) fn must(args: &[&str]) -> String {
    let mut cmd = command(args[0]);
    cmd.args(&args[1..]);
    let out = run_with_timeout(cmd, COMMAND_TIMEOUT);
    assert!(
        out.status.success(),
        "harness: `{}` failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panics unless this process can build clusters: it runs as root, and
/// `ip netns`, `unshare`, `nsenter`, `setpriv` and `tini` exist and work.
///
/// The check runs once per test process; every later call repeats its verdict.
/// CI runs the tests as root, so a failure here is a broken machine or a
/// missing package, and must fail the run instead of skipping the test.
pub fn require_root() {
    static VERDICT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(why) = VERDICT.get_or_init(check_machine) {
        panic!(
            "integration harness: this machine cannot run the namespace tests: {why}\n\
             These tests need root (CAP_SYS_ADMIN, CAP_NET_ADMIN), iproute2, util-linux \
             (unshare, nsenter, setpriv) and tini; `bash .ci/setup` installs them. \
             They fail instead of skipping on purpose."
        );
    }
}

fn check_machine() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(format!(
            "not running as root (euid {})",
            nix::unistd::geteuid()
        ));
    }
    for tool in ["ip", "unshare", "nsenter", "setpriv"] {
        let found = PATH
            .split(':')
            .any(|dir| Path::new(dir).join(tool).exists());
        if !found {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    if !Path::new(TINI).exists() {
        return Err(format!("{TINI} is missing (Debian package tini)"));
    }
    let try_run = |args: &[&str]| -> Result<(), String> {
        let mut cmd = command(args[0]);
        cmd.args(&args[1..]);
        let out = run_with_timeout(cmd, COMMAND_TIMEOUT);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let probe = format!("hbt-{}-probe", std::process::id());
    try_run(&["ip", "netns", "add", &probe])?;
    let joined = try_run(&["nsenter", &format!("--net=/run/netns/{probe}"), "true"]);
    let deleted = try_run(&["ip", "netns", "del", &probe]);
    joined.and(deleted)?;
    try_run(&[
        "unshare",
        "--uts",
        "--ipc",
        "--mount",
        "--pid",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        TINI,
        "--",
        "true",
    ])?;
    let me = std::process::id().to_string();
    try_run(&["nsenter", "-t", &me, "-n", "-m", "-u", "true"])?;
    Ok(())
}

/// Removes what test processes that were killed outright (SIGKILL, so no
/// destructor ran) left behind: network namespaces `hbt-PID-...` and
/// directories `/tmp/hbt-PID-...` whose PID no longer exists. Their processes
/// are already gone (see the holder's `pdeathsig`). Runs once per test process.
fn sweep_stale() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let dead = |name: &str| -> bool {
            let Some(pid) = name
                .strip_prefix("hbt-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                return false;
            };
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        };
        if let Ok(entries) = std::fs::read_dir("/run/netns") {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if dead(&name) {
                    eprintln!("harness: deleting stale netns {name}");
                    drop(Netns { name });
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if dead(&name) && e.file_type().is_ok_and(|t| t.is_dir()) {
                    eprintln!("harness: removing stale {}", e.path().display());
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    });
}

/// Calls `probe` every 20 ms until it returns `Some`, and returns that value.
/// Panics after `timeout`, naming `what` was awaited.
///
/// This is the only way tests wait: for an event, with a generous deadline,
/// never a fixed sleep.
pub fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One of the cluster's Ethernet segments (a bridge in the switch namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// The heartbeat network: 203.0.113.0/24 on `eth1`, bridge `br-priv`.
    Private,
    /// The service network: 192.0.2.0/24 on `eth0`, bridge `br-pub`. The client sits here.
    Public,
}

impl Net {
    /// The node-side interface name.
    pub fn iface(self) -> &'static str {
        match self {
            Net::Private => "eth1",
            Net::Public => "eth0",
        }
    }

    /// The bridge's name inside the switch namespace.
    pub fn bridge(self) -> &'static str {
        match self {
            Net::Private => "br-priv",
            Net::Public => "br-pub",
        }
    }

    /// The /24 network's first three octets.
    pub fn prefix(self) -> [u8; 3] {
        match self {
            Net::Private => [203, 0, 113],
            Net::Public => [192, 0, 2],
        }
    }

    /// The address `.host` on this net.
    pub fn addr(self, host: u8) -> std::net::Ipv4Addr {
        let [a, b, c] = self.prefix();
        std::net::Ipv4Addr::new(a, b, c, host)
    }
}

/// Which nets the cluster has and whether it has a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// The nets every node is cabled to.
    pub nets: Vec<Net>,
    /// Adds a node `client` with 192.0.2.100 on the public net (which must be in `nets`).
    pub client: bool,
}

impl Topology {
    /// Only the heartbeat network: `eth1`, 203.0.113.0/24.
    pub fn private() -> Self {
        Topology {
            nets: vec![Net::Private],
            client: false,
        }
    }

    /// Both networks: `eth0` on 192.0.2.0/24 and `eth1` on 203.0.113.0/24.
    pub fn private_and_public() -> Self {
        Topology {
            nets: vec![Net::Public, Net::Private],
            client: false,
        }
    }

    /// The same with a client on the public net.
    pub fn with_client(mut self) -> Self {
        if !self.nets.contains(&Net::Public) {
            self.nets.push(Net::Public);
        }
        self.client = true;
        self
    }
}

/// A named network namespace, deleted on drop.
pub(crate) struct Netns {
    pub(crate) name: String,
}

impl Netns {
    pub(crate) fn create(name: &str) -> Netns {
        must(&["ip", "netns", "add", name]);
        let ns = Netns { name: name.into() };
        must(&["ip", "-n", name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let mut cmd = command("ip");
        cmd.args(["netns", "del", &self.name]);
        let out = run_with_timeout(cmd, COMMAND_TIMEOUT);
        if !out.status.success() {
            eprintln!(
                "harness: could not delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A switch namespace with its bridges, the nodes cabled to it, and maybe a
/// client. Everything is torn down on drop, also during a panic.
pub struct Cluster {
    // Drop order matters: processes and nodes first, the switch last.
    client: Option<Node>,
    nodes: Vec<Node>,
    switch: Netns,
    prefix: String,
    topology: Topology,
}

impl Cluster {
    /// Builds the switch and one node per name (1-based index i gives
    /// address `.10+i` on every net), each with its hostname, private
    /// directories and configured interfaces, all links up.
    ///
    /// Panics (after cleaning up what was built) if anything fails, starting
    /// with [`require_root`].
    pub fn new(names: &[&str], topology: Topology) -> Cluster {
        require_root();
        sweep_stale();
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        assert!(!names.is_empty(), "a cluster needs nodes");
        assert!(
            !topology.client || topology.nets.contains(&Net::Public),
            "the client sits on the public net"
        );
        let prefix = format!(
            "hbt-{}-{}-",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let switch = Netns::create(&format!("{prefix}sw"));
        for net in &topology.nets {
            must(&[
                "ip",
                "-n",
                &switch.name,
                "link",
                "add",
                net.bridge(),
                "type",
                "bridge",
            ]);
            must(&["ip", "-n", &switch.name, "link", "set", net.bridge(), "up"]);
        }
        let mut cluster = Cluster {
            client: None,
            nodes: Vec::new(),
            switch,
            prefix,
            topology,
        };
        for (i, name) in names.iter().enumerate() {
            assert!(
                *name != "client" && *name != "sw",
                "node name {name:?} is reserved"
            );
            let host = u8::try_from(11 + i).expect("at most 244 nodes");
            let nets = cluster.topology.nets.clone();
            let node = Node::new(&cluster.prefix, &cluster.switch.name, name, host, &nets);
            cluster.nodes.push(node);
        }
        if cluster.topology.client {
            let client = Node::new(
                &cluster.prefix,
                &cluster.switch.name,
                "client",
                100,
                &[Net::Public],
            );
            cluster.client = Some(client);
        }
        cluster
    }

    /// The node called `name`; panics if there is none.
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .unwrap_or_else(|| panic!("no node {name:?} in this cluster"))
    }

    /// All nodes, in the order given to [`Cluster::new`] (the client excluded).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The client (192.0.2.100 on the public net); panics if the topology has none.
    pub fn client(&self) -> &Node {
        self.client.as_ref().expect("this topology has no client")
    }

    /// The switch's network namespace name, for `ip -n NAME ...`.
    pub fn switch_netns(&self) -> &str {
        &self.switch.name
    }

    /// The unique `hbt-<pid>-<n>-` prefix of this cluster's namespaces.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}
