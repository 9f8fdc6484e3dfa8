//! The three systems compared, and how each is configured, started, stopped
//! and recognised inside a node. They all move one service address,
//! [`VIP`] on `eth0`, preferring node `n1`, and talk over `eth1`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::Signal;

use crate::harness::{real, Node, NodeProcess, Spawned};

/// Our daemon (the build under test: release under `cargo bench`, debug under `cargo test`).
pub const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
/// Debian's keepalived.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";
/// The service address, on the public net (eth0).
pub const VIP: &str = "192.0.2.50";
/// The responders' port.
pub const PORT: u16 = 7000;
/// Where ours and 3.0.6 log (`logfile`), inside the node.
pub const HA_LOG: &str = "/var/log/ha-log";
/// Where keepalived's console log goes, inside the node.
pub const KA_LOG: &str = "/var/log/keepalived.log";
/// keepalived's configuration, in the node's private /etc/ha.d.
pub const KA_CONF: &str = "/etc/ha.d/keepalived.conf";
/// keepalived's pid file (the parent process), in the node's private /run.
pub const KA_PID: &str = "/run/keepalived.pid";

/// A system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// This repository's daemon, with its built-in service address.
    Ours,
    /// Debian's heartbeat 3.0.6 with its IPaddr script.
    Hb306,
    /// Debian's keepalived 2.2.7, VRRPv3.
    Keepalived,
}

impl System {
    /// All of them, in table order.
    pub const ALL: [System; 3] = [System::Ours, System::Hb306, System::Keepalived];

    /// The name used on the command line and in the CSV.
    pub fn key(self) -> &'static str {
        match self {
            System::Ours => "ours",
            System::Hb306 => "hb306",
            System::Keepalived => "keepalived",
        }
    }

    /// The name used in tables and plots.
    pub fn label(self) -> &'static str {
        match self {
            System::Ours => "ours",
            System::Hb306 => "heartbeat 3.0.6",
            System::Keepalived => "keepalived 2.2.7",
        }
    }

    /// Parses [`System::key`].
    pub fn parse(s: &str) -> Result<System> {
        System::ALL
            .into_iter()
            .find(|sys| sys.key() == s)
            .with_context(|| format!("unknown system {s:?} (ours, hb306, keepalived)"))
    }

    /// The fastest timing each sustains on this machine (see BENCHMARKS.md for
    /// how these were found): keepalive and deadtime (keepalived has no
    /// deadtime: its backup waits 3 adverts plus a skew).
    pub fn fastest(self) -> (Duration, Duration) {
        let ms = Duration::from_millis;
        match self {
            System::Ours => (ms(10), ms(30)),
            System::Hb306 => (ms(10), ms(40)),
            System::Keepalived => (ms(10), ms(40)),
        }
    }

    /// The log to read for this system's lines.
    pub fn log(self) -> &'static str {
        match self {
            System::Ours | System::Hb306 => HA_LOG,
            System::Keepalived => KA_LOG,
        }
    }

    /// The executable all of its processes run.
    fn exe(self) -> PathBuf {
        let path = match self {
            System::Ours => BIN,
            System::Hb306 => real::DAEMON,
            System::Keepalived => KEEPALIVED,
        };
        std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path))
    }

    /// Checks that the system is installed.
    pub fn check_installed(self) -> Result<()> {
        let path = match self {
            System::Ours => BIN,
            System::Hb306 => real::DAEMON,
            System::Keepalived => KEEPALIVED,
        };
        if !std::path::Path::new(path).exists() {
            bail!(
                "{path} is missing: `bash .ci/setup` installs {}",
                self.label()
            );
        }
        Ok(())
    }
}

/// A timing setting: keepalive (advert interval for keepalived) and deadtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// `1s`, `100ms`, `fast` or `K/D`.
    pub name: String,
    /// heartbeat's keepalive, keepalived's `advert_int`.
    pub keepalive: Duration,
    /// heartbeat's deadtime (keepalived has none).
    pub deadtime: Duration,
    /// Lines added to ha.cf (ours and 3.0.6), for experiments such as
    /// `realtime off`; part of [`Setting::name`] when not empty.
    pub ha_cf_extra: String,
    /// The `debian` setting: a host where Debian's heartbeat package is
    /// installed, as a migrating user has it. Its resource.d (IPaddr, IPaddr2,
    /// ...) is left in place for ours too, the group is the tutorials'
    /// `n1 IPaddr::192.0.2.50/24/eth0 svc`, and the service is not always on:
    /// [`SVC`], a resource script, starts the responder as a daemon with the
    /// group and stops it with the group (keepalived: its notify scripts).
    pub debian_host: bool,
}

impl Setting {
    /// Parses a setting name for `system`: `1s` (1 s / 3 s), `100ms`
    /// (100 ms / 500 ms), `fast` (the system's [`System::fastest`]) or
    /// `K/D` with times such as `20ms/100ms`; `debian` is 100 ms / 500 ms on
    /// a Debian host ([`Setting::debian_host`]), and `debian:T` the timing `T`
    /// there (`debian:1s`).
    pub fn parse(s: &str, system: System) -> Result<Setting> {
        if let Some(rest) = s.strip_prefix("debian") {
            let timing = match rest {
                "" => "100ms",
                _ => rest
                    .strip_prefix(':')
                    .with_context(|| format!("setting {s:?}: debian or debian:TIMING"))?,
            };
            if timing.starts_with("debian") {
                bail!("setting {s:?}: debian or debian:TIMING");
            }
            let mut set = Setting::parse(timing, system)?;
            set.name = s.to_owned();
            set.debian_host = true;
            return Ok(set);
        }
        let ms = Duration::from_millis;
        let (k, d) = match s {
            "1s" => (ms(1000), ms(3000)),
            "100ms" => (ms(100), ms(500)),
            "fast" => system.fastest(),
            other => {
                let (k, d) = other
                    .split_once('/')
                    .with_context(|| format!("setting {other:?}: 1s, 100ms, fast or K/D"))?;
                (parse_time(k)?, parse_time(d)?)
            }
        };
        if d <= k * 2 {
            bail!("setting {s}: deadtime must be more than twice keepalive");
        }
        Ok(Setting {
            name: s.to_owned(),
            keepalive: k,
            deadtime: d,
            ha_cf_extra: String::new(),
            debian_host: false,
        })
    }

    /// The same with `lines` added to ha.cf, and named so (`100ms+realtime off`).
    pub fn with_ha_cf_extra(mut self, lines: &str) -> Setting {
        if !lines.is_empty() {
            self.name = format!("{}+{}", self.name, lines.replace('\n', "+"));
            self.ha_cf_extra = format!("{lines}\n");
        }
        self
    }

    /// `100 ms / 500 ms`, or `advert 100 ms` for keepalived; `, Debian host`
    /// added for the `debian` settings.
    pub fn describe(&self, system: System) -> String {
        let timing = match system {
            System::Keepalived => format!("advert {}", human(self.keepalive)),
            _ => format!("{} / {}", human(self.keepalive), human(self.deadtime)),
        };
        if self.debian_host {
            format!("{timing}, Debian host")
        } else {
            timing
        }
    }
}

fn parse_time(s: &str) -> Result<Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().with_context(|| format!("time {s:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        _ => bail!("time {s:?}: use ms or s"),
    })
}

/// `1 s`, `100 ms`.
pub fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A time as ha.cf writes it: `1`, `100ms`.
fn ha_time(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        d.as_secs().to_string()
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The ha.cf shared by ours and 3.0.6: bcast on eth1, initdead twice
/// deadtime (the least 3.0.6 allows is deadtime), and `auto_failback on`
/// where there are resource groups (`legacy` otherwise: membership only, no
/// resource protocol, which is for two nodes).
pub fn ha_cf(setting: &Setting, nodes: &[&str], groups: bool) -> String {
    format!(
        "logfile {HA_LOG}\n\
         use_logd no\n\
         keepalive {}\n\
         deadtime {}\n\
         initdead {}\n\
         udpport 694\n\
         bcast eth1\n\
         auto_failback {}\n\
         node {}\n\
         crm off\n\
         {}",
        ha_time(setting.keepalive),
        ha_time(setting.deadtime),
        ha_time(setting.deadtime * 2),
        if groups { "on" } else { "legacy" },
        nodes.join(" "),
        setting.ha_cf_extra,
    )
}

/// The service of the `debian` setting: an LSB-style resource script that
/// starts the benchmark's responder (`@EXE@`) as a daemon in its own session
/// and returns, as hand-written init scripts do: the daemon keeps the script's
/// standard output and error (nothing redirects them), as Debian's IPaddr
/// leaves `send_arp` holding them. `stop` kills it, `status` says
/// `running`/`stopped`. Its pid file is in the node's /run (gone at a reboot).
pub const SVC: &str = r#"#!/bin/sh
# svc: the failover benchmark's service (Debian host setting).
PIDFILE=/run/svc.pid
DAEMON='@EXE@'
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
  start)
    if running; then echo "svc: already running"; exit 0; fi
    setsid "$DAEMON" --responder "$(uname -n)" 7000 &
    echo $! > "$PIDFILE"
    echo "svc: started"
    ;;
  stop)
    if running; then kill "$(cat "$PIDFILE")"; fi
    rm -f "$PIDFILE"
    ;;
  status)
    if running; then echo running; else echo stopped; fi
    ;;
  *) echo "usage: $0 {start|stop|status}"; exit 1 ;;
esac
exit 0
"#;

/// Where [`SVC`] is installed in a node.
pub const SVC_PATH: &str = "/etc/ha.d/resource.d/svc";

/// keepalived's configuration: VRRPv3 over eth1 (multicast), the address on
/// eth0, priority 150 on the preferred node and 100 elsewhere, preemption on
/// (keepalived's default), advert interval = keepalive. On a Debian host the
/// service follows the address through the notify scripts ([`SVC`]).
pub fn keepalived_conf(setting: &Setting, node: &str, preferred: bool) -> String {
    let notify = if setting.debian_host {
        format!(
            "\x20   notify_master \"{SVC_PATH} start\"\n\
             \x20   notify_backup \"{SVC_PATH} stop\"\n\
             \x20   notify_fault \"{SVC_PATH} stop\"\n\
             \x20   notify_stop \"{SVC_PATH} stop\"\n"
        )
    } else {
        String::new()
    };
    format!(
        "global_defs {{\n\
         \x20   router_id {node}\n\
         \x20   vrrp_version 3\n\
         \x20   script_user root\n\
         }}\n\
         vrrp_instance VI_1 {{\n\
         \x20   state {}\n\
         \x20   interface eth1\n\
         \x20   virtual_router_id 51\n\
         \x20   priority {}\n\
         \x20   advert_int {}\n\
         \x20   virtual_ipaddress {{\n\
         \x20       {VIP}/24 dev eth0\n\
         \x20   }}\n\
         {notify}\
         }}\n",
        if preferred { "MASTER" } else { "BACKUP" },
        if preferred { 150 } else { 100 },
        setting.keepalive.as_secs_f64(),
    )
}

/// Writes `system`'s configuration into `node`: over `nodes`, one group (or
/// VRRP instance) holding [`VIP`]/24 on eth0 preferred on `preferred`, or no
/// group at all (membership only) if `preferred` is `None`.
pub fn install(
    system: System,
    node: &Node,
    setting: &Setting,
    nodes: &[&str],
    preferred: Option<&str>,
) {
    match system {
        System::Ours | System::Hb306 => {
            node.write_file(
                "/etc/ha.d/ha.cf",
                &ha_cf(setting, nodes, preferred.is_some()),
                0o644,
            );
            let haresources = match preferred {
                None => String::new(),
                Some(p) if setting.debian_host => format!("{p} IPaddr::{VIP}/24/eth0 svc\n"),
                Some(p) => format!("{p} {VIP}/24/eth0\n"),
            };
            node.write_file("/etc/ha.d/haresources", &haresources, 0o644);
            node.write_file(
                "/etc/ha.d/authkeys",
                "auth 1\n1 sha1 failover-benchmark-key\n",
                0o600,
            );
            if system == System::Ours && !setting.debian_host {
                // The package's IPaddr scripts would run as scripts: without
                // them ours uses its built-in service address.
                for s in ["IPaddr", "IPaddr2"] {
                    let _ = std::fs::remove_file(node.path(format!("/etc/ha.d/resource.d/{s}")));
                }
            }
        }
        System::Keepalived => node.write_file(
            KA_CONF,
            &keepalived_conf(setting, node.name(), Some(node.name()) == preferred),
            0o644,
        ),
    }
    if setting.debian_host {
        let exe = std::env::current_exe().unwrap_or_default();
        node.write_file(
            SVC_PATH,
            &SVC.replace("@EXE@", &exe.to_string_lossy()),
            0o755,
        );
    }
}

/// A daemon started in a node.
pub struct Daemon {
    /// The process started (ours and keepalived run in the foreground; for
    /// 3.0.6 this is the parent that forks the daemon and exits at once).
    /// Give it to [`retire`] once the daemon is gone.
    pub guard: Spawned,
    /// When it was started.
    pub started: Instant,
}

/// Drops the guard of a process started in a node once the node-side
/// process is gone, after letting `nsenter` (the guard's process) reap it.
///
/// `nsenter -p` forks: the node-side process is the child of an `nsenter`
/// outside the node. Killing that `nsenter` first (which dropping the guard
/// does) would leave its child to this machine's PID 1, which reaps slowly: a
/// zombie that keeps its PID, so keepalived, seeing its pid file's PID still
/// there, refuses to start ("daemon is already running").
pub fn retire(guard: Option<Spawned>) {
    if let Some(mut g) = guard {
        let deadline = Instant::now() + Duration::from_secs(5);
        while g.try_wait().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Starts `system` in `node` without waiting for it to be up, so that two
/// nodes can be started together.
pub fn start(system: System, node: &Node) -> Daemon {
    let started = Instant::now();
    let guard = match system {
        System::Ours => node.spawn(&[BIN, "run"]),
        System::Hb306 => node.spawn(&[real::DAEMON]),
        System::Keepalived => node.spawn(&[
            "sh",
            "-c",
            &format!(
                "exec {KEEPALIVED} --dont-fork --log-console --log-detail --no-syslog --vrrp \
                 --use-file {KA_CONF} --pid {KA_PID} --vrrp_pid /run/keepalived-vrrp.pid \
                 >>{KA_LOG} 2>&1"
            ),
        ]),
    };
    Daemon { guard, started }
}

/// The system's live processes in `node`.
pub fn processes(system: System, node: &Node) -> Vec<NodeProcess> {
    let exe = system.exe();
    node.processes()
        .into_iter()
        .filter(|p| p.exe == exe)
        .collect()
}

/// Starts a graceful stop: SIGTERM to our daemon and to keepalived's parent,
/// `heartbeat -k` for 3.0.6. Returns at once; see [`wait_stopped`].
pub fn stop(system: System, node: &Node) -> Result<Option<Spawned>> {
    match system {
        System::Ours => {
            let hit = node.signal(Signal::SIGTERM, |p| {
                p.exe == system.exe() && p.cmdline.contains(" run")
            });
            if hit.is_empty() {
                bail!("our daemon is not running on {}", node.name());
            }
            Ok(None)
        }
        System::Keepalived => {
            let pid: i32 = node
                .read_file(KA_PID)
                .trim()
                .parse()
                .with_context(|| format!("keepalived's pid file on {}", node.name()))?;
            let hit = node.signal(Signal::SIGTERM, |p| {
                p.node_pid == pid && p.exe == system.exe()
            });
            if hit.is_empty() {
                bail!("keepalived (pid {pid}) is not running on {}", node.name());
            }
            Ok(None)
        }
        System::Hb306 => Ok(Some(node.spawn(&[real::DAEMON, "-k"]))),
    }
}

/// Waits until none of the system's processes is left in `node`.
pub fn wait_stopped(system: System, node: &Node, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !processes(system, node).is_empty() {
        if Instant::now() > deadline {
            bail!(
                "{} on {} did not stop within {timeout:?}",
                system.label(),
                node.name()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
