//! `heartbeat run`: start order of the daemon, in one place.
//!
//! configuration -> logger -> state (generation, UUID) -> media plan ->
//! SIGHUP handler -> node table with its link actors -> respawn clients ->
//! watchdog -> stop signals -> graceful stop (clients, node table, links,
//! watchdog magic close).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use anyhow::Context as _;
use hb_actors::keys::SharedKeys;
use hb_actors::links::ping::{PingLink, PingSpec};
use hb_actors::links::serial::SerialLink;
use hb_actors::links::udp::{UdpLink, UdpSpec};
use hb_actors::messages::{Flush, Retime, SendPacket, Shutdown, StopFailed};
use hb_actors::node_table::{LinkOut, NodeTable};
use hb_actors::resource_mgr::{ResourceManager, ScriptDirs};
use hb_actors::respawn::{RespawnClient, StopClient};
use hb_actors::watchdog::{MagicClose, WatchdogFeeder};
use hb_conf::model::{AutoFailback, GenMethod, Medium, MsgFmt};
use hb_conf::{Config, HostCheck};
use hb_core::ipfail::{Ipfail, IpfailConfig};
use hb_core::membership::{Membership, MembershipConfig, PingConfig};
use hb_core::resources::legacy::Legacy;
use hb_core::resources::nice::NiceFailback;
use hb_core::resources::protocol::Protocol;
use hb_core::respawn::Policy;
use hb_core::time::Now;
use hb_core::wire::Format;
use slog::{crit, error, info, o, warn, Logger};

/// Options of `heartbeat run`.
pub struct RunOptions<'a> {
    /// Configuration directory or TOML file.
    pub config: &'a Path,
    /// Our node name (default: `uname -n`).
    pub node_name: Option<String>,
    /// State directory (`hb_generation`, `hb_uuid`).
    pub state_dir: &'a Path,
    /// Where the control socket lives.
    pub run_dir: &'a Path,
    /// Called once, when the daemon is up: its links have opened their sockets,
    /// the control socket listens, and SIGTERM is handled (`heartbeat start`
    /// and systemd wait for this; see `crate::daemon`).
    pub ready: &'a dyn Fn(),
}

/// The UDP links to start: one per interface and port (bcast and ucast lines on
/// the same interface share a socket), one per mcast line. Link names are the
/// interface names; several media on one interface are one link, as an operator
/// reading `Link n2:eth1 up.` expects.
fn udp_plan(config: &Config, own: &[Ipv4Addr]) -> anyhow::Result<Vec<UdpSpec>> {
    let mut plain: BTreeMap<(String, u16), (bool, Vec<Ipv4Addr>)> = BTreeMap::new();
    let mut specs = Vec::new();
    for m in &config.media {
        match m {
            Medium::Bcast { iface, port } => {
                plain.entry((iface.clone(), *port)).or_default().0 = true
            }
            Medium::Ucast { iface, peer, port } => {
                let addr = hb_conf::host::resolve_ucast(peer).map_err(anyhow::Error::msg)?;
                let entry = plain.entry((iface.clone(), *port)).or_default();
                // The same ha.cf on every node lists our own address too: skip it.
                if !own.contains(&addr) && !entry.1.contains(&addr) {
                    entry.1.push(addr);
                }
            }
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                looped,
            } => specs.push(UdpSpec::Mcast {
                iface: iface.clone(),
                group: *group,
                port: *port,
                ttl: *ttl,
                looped: *looped,
            }),
            Medium::Serial { .. } => {}
        }
    }
    let mut out: Vec<UdpSpec> = plain
        .into_iter()
        .map(|((iface, port), (broadcast, peers))| UdpSpec::Plain {
            iface,
            port,
            broadcast,
            peers,
        })
        .collect();
    out.extend(specs);
    Ok(out)
}

/// The directory whose `resource.d/` holds resource scripts.
fn confdir_of(config: &Path) -> std::path::PathBuf {
    if config.is_dir() {
        config.to_path_buf()
    } else {
        config
            .parent()
            .map_or_else(|| std::path::PathBuf::from("."), Path::to_path_buf)
    }
}

/// The ping media: one per ping node, its hosts resolved.
fn ping_plan(config: &Config) -> anyhow::Result<Vec<PingSpec>> {
    config
        .ping_nodes
        .iter()
        .enumerate()
        .map(|(ping, p)| {
            let hosts =
                hb_conf::host::resolve_ping_node(&p.name, &p.hosts).map_err(anyhow::Error::msg)?;
            Ok(PingSpec {
                ping,
                name: p.name.clone(),
                hosts,
                interval: config.timing.keepalive,
                deadping: config.timing.deadping,
            })
        })
        .collect()
}

fn own_addresses() -> Vec<Ipv4Addr> {
    nix::ifaddrs::getifaddrs()
        .map(|it| {
            it.filter_map(|a| {
                a.address
                    .and_then(|s| s.as_sockaddr_in().map(|sin| sin.ip()))
            })
            .collect()
        })
        .unwrap_or_default()
}

/// What `validate` found: this node's name and the media to start, planned
/// from the configuration before anything starts.
pub struct Prepared {
    me: String,
    udp: Vec<UdpSpec>,
    ping: Vec<PingSpec>,
}

/// Why [`check`] refused a configuration.
pub enum Refusal {
    /// The files themselves (parsed as `check-config --strict` does).
    Config(hb_conf::ConfigError),
    /// The media could not be planned (e.g. an unresolvable `ucast` or `ping` host).
    Media(anyhow::Error),
}

/// The one rule for "would `run` start with this configuration?" (issue 14,
/// item 8): the configuration loaded strictly as this node (`crate::load`),
/// then the media planned from it. `check-config --strict`, `run`, `start`
/// and `run --check-only` all call this, and nothing else, to decide.
pub fn check(
    config: &Path,
    node_name: Option<String>,
) -> Result<(hb_conf::Loaded, Prepared), Refusal> {
    let confdir = if config.is_dir() {
        Some(config)
    } else {
        config.parent()
    };
    let me = node_name.map_or_else(
        || hb_conf::host::local_node_name(confdir),
        |n| n.to_ascii_lowercase(),
    );
    let loaded = crate::load(config, Some(me.clone()), true).map_err(Refusal::Config)?;
    let plan = plan_media(&loaded.config, me).map_err(Refusal::Media)?;
    Ok((loaded, plan))
}

/// What `run` checks before it starts anything ([`check`]), with what is
/// wrong printed as `run` prints it. `run --check-only` stops here.
pub fn validate(config: &Path, node_name: Option<String>) -> Option<(hb_conf::Loaded, Prepared)> {
    match check(config, node_name) {
        Ok(ok) => Some(ok),
        Err(Refusal::Config(e)) => {
            for d in &e.diagnostics {
                eprintln!("{d}");
            }
            eprintln!("Configuration error, heartbeat not started.");
            None
        }
        Err(Refusal::Media(e)) => {
            eprintln!("heartbeat: {e:#}");
            eprintln!("Configuration error, heartbeat not started.");
            None
        }
    }
}

/// The media `run` would start.
fn plan_media(config: &Config, me: String) -> anyhow::Result<Prepared> {
    Ok(Prepared {
        me,
        udp: udp_plan(config, &own_addresses())?,
        ping: ping_plan(config)?,
    })
}

/// Runs the daemon in the foreground until SIGTERM or SIGINT.
pub fn run(opts: &RunOptions<'_>) -> anyhow::Result<std::process::ExitCode> {
    let Some((loaded, prepared)) = validate(opts.config, opts.node_name.clone()) else {
        return Ok(std::process::ExitCode::from(crate::EXIT_INVALID));
    };
    let status = hb_actors::status::StatusInfo::new(&loaded);
    let config = loaded.config;
    let journal = opts.state_dir.join(crate::logging::journal::FILE_NAME);
    let me = prepared.me.clone();
    let logging = crate::logging::root(&me, &config.logging, Some(journal))
        .context("starting the log writer thread")?;
    let log = logging.log.clone();
    crate::panic::install(me.clone(), config.logging.logfile.clone());
    let result = run_with(
        opts,
        prepared,
        &config,
        &loaded.warnings,
        status,
        &logging,
        &log,
    );
    if let Err(e) = &result {
        error!(log, "heartbeat not started: {e:#}");
    }
    // Bounded: a log file on a hung mount must not keep the daemon from exiting.
    if !logging.handle.flush(LOG_FLUSH_AT_EXIT) {
        eprintln!("heartbeat: the last log lines were not written within {LOG_FLUSH_AT_EXIT:?}");
    }
    result
}

/// Milliseconds, for the journal's fields.
fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How long the end of `run` waits for the log writer.
const LOG_FLUSH_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(5);

fn run_with(
    opts: &RunOptions<'_>,
    prepared: Prepared,
    config: &Config,
    warnings: &[hb_conf::Diagnostic],
    status: hb_actors::status::StatusInfo,
    logging: &crate::logging::Root,
    log: &Logger,
) -> anyhow::Result<std::process::ExitCode> {
    let Prepared {
        me,
        udp: specs,
        ping: pings,
    } = prepared;
    let me = me.as_str();
    for p in &logging.problems {
        warn!(log, "{p}");
    }
    for w in warnings {
        warn!(log, "{}", w.to_string().replace('\n', " "));
    }
    info!(log, "**************************");
    info!(
        log,
        "Configuration validated. Starting heartbeat {}",
        env!("CARGO_PKG_VERSION")
    );
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::fs::create_dir_all(opts.state_dir)
        .with_context(|| format!("creating {}", opts.state_dir.display()))?;
    let (generation, note) = crate::state::next_generation(
        opts.state_dir,
        now_secs,
        config.hbgenmethod == GenMethod::Time,
    )?;
    if let Some(note) = note {
        warn!(log, "{note}");
    }
    logging.handle.set_generation(generation);
    info!(log, "Heartbeat generation: {generation}";
        "kind" => "start",
        "node" => me,
        "keepalive_ms" => ms(config.timing.keepalive),
        "deadtime_ms" => ms(config.timing.deadtime),
        "warntime_ms" => ms(config.timing.warntime),
        "initdead_ms" => ms(config.timing.initdead),
        "auto_failback" => format!("{:?}", config.auto_failback).to_ascii_lowercase(),
        "groups" => config.resources.iter().map(|g| g.key()).collect::<Vec<_>>().join(" "));
    let uuid = crate::state::node_uuid(opts.state_dir)?;

    let serials: Vec<(std::path::PathBuf, u32)> = config
        .media
        .iter()
        .filter_map(|m| match m {
            Medium::Serial { device, baud } => Some((device.clone(), *baud)),
            _ => None,
        })
        .collect();
    let mut link_names: Vec<String> = Vec::new();
    let mut link_id = |name: String| {
        link_names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| {
                link_names.push(name);
                link_names.len() - 1
            })
    };
    // Link numbers follow the media lines, as 3.0.6 numbers them (cl_status
    // lists a node's links in that order, backwards).
    for m in &config.media {
        link_id(m.link_name());
    }
    let link_of: Vec<usize> = specs
        .iter()
        .map(|s| link_id(s.iface().to_owned()))
        .collect();
    let serial_of: Vec<usize> = serials
        .iter()
        .map(|(d, _)| link_id(d.display().to_string()))
        .collect();
    let mcfg = MembershipConfig {
        me: me.to_owned(),
        nodes: config.nodes.clone(),
        ping: config
            .ping_nodes
            .iter()
            .map(|p| PingConfig {
                name: p.name.clone(),
                members: p.hosts.clone(),
            })
            .collect(),
        deadping: config.timing.deadping,
        links: link_names,
        keepalive: config.timing.keepalive,
        deadtime: config.timing.deadtime,
        warntime: config.timing.warntime,
        initdead: config.timing.initdead,
        max_rexmit_delay: config.max_rexmit_delay,
        hopfudge: config.hopfudge,
        uuid,
        generation,
        seed: generation ^ u64::from(std::process::id()),
    };
    let ipfail = config.ipfail_enabled().then(|| {
        let peer = config
            .nodes
            .iter()
            .find(|n| *n != me)
            .cloned()
            .unwrap_or_default();
        info!(
            log,
            "ipfail: built in, watching {} ping node(s); the other node is {peer}",
            config.ping_nodes.len()
        );
        Ipfail::new(IpfailConfig {
            peer,
            auto_failback: config.auto_failback == AutoFailback::On,
            keepalive: config.timing.keepalive,
            hold: hb_core::ipfail::hold_time(config.timing.deadping),
            ping_nodes: config.ping_nodes.iter().map(|p| p.name.clone()).collect(),
        })
    });
    let keys = SharedKeys::new(config.authkeys.clone());
    let inner_auth = config.msgfmt == MsgFmt::Classic;
    // `auto_failback on|off`: the nice_failback protocol; `legacy` (3.0.6's
    // default): ip-request / ip-request-resp. Without resource groups neither
    // sends anything.
    // Membership only (no groups): the protocol answers peers and says
    // nothing about groups.
    let nice = |auto_failback: bool| {
        let nice = NiceFailback::new(auto_failback).named(me);
        if config.resources.is_empty() {
            nice.without_groups()
        } else {
            nice
        }
    };
    let protocol: Protocol = match config.auto_failback {
        AutoFailback::On => nice(true).into(),
        AutoFailback::Off => nice(false).into(),
        AutoFailback::Legacy if config.resources.is_empty() => nice(false).into(),
        AutoFailback::Legacy => {
            let (ours, theirs): (Vec<_>, Vec<_>) =
                config.resources.iter().partition(|g| g.node == me);
            let keys = |gs: Vec<&hb_conf::model::ResourceGroup>| {
                gs.iter().map(|g| g.key().to_owned()).collect::<Vec<_>>()
            };
            info!(
                log,
                "auto_failback legacy: resource groups are asked for with ip-request, as heartbeat 3.0.6 does; standby and takeover need auto_failback on or off"
            );
            Legacy::new(me, keys(ours), keys(theirs)).into()
        }
    };
    let dirs = ScriptDirs {
        confdir: confdir_of(opts.config),
        init_dir: std::path::PathBuf::from("/etc/init.d"),
    };
    for line in hb_conf::host::ip_runner_lines(config, Some(&dirs.confdir)) {
        info!(log, "{line}"; "kind" => "ip_runner");
    }
    let groups = config.resources.clone();
    let sock_path = opts.run_dir.join("heartbeat.sock");
    let control = hb_actors::control::bind(&sock_path)
        .with_context(|| format!("binding the control socket {}", sock_path.display()))?;

    let metrics = hb_actors::metrics::Metrics::default();
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            hb_actors::metrics::bind(addr)
                .with_context(|| format!("binding metrics_listen {addr}"))?,
        ),
        None => None,
    };
    let clients = hb_actors::respawn::plan(&config.respawn, &config.env, log);
    let watchdog = config.watchdog.clone();
    let (keepalive, deadtime) = (config.timing.keepalive, config.timing.deadtime);

    if config.realtime.enabled {
        let prio = config
            .realtime
            .rtprio
            .unwrap_or(hb_actors::realtime::DEFAULT_PRIORITY);
        hb_actors::realtime::make_realtime(prio, log);
    } else {
        info!(log, "realtime off: memory not locked, normal scheduling");
    }
    let system = System::new();
    let log2 = log.clone();
    let hup = crate::signals::Handles {
        log: log.clone(),
        logs: logging.handle.clone(),
    };
    // The node table and the resource manager log every takeover, acquire,
    // release and script run: those lines are never dropped (see logging).
    let decisions = log.new(o!(crate::logging::IMPORTANT => true));
    let status2 = status.clone();
    let metrics2 = metrics.clone();
    let code = system.block_on(async move {
        crate::signals::install(hup);
        let (specs, link_of, serials, serial_of) = (specs, link_of, serials, serial_of);
        let core = Membership::new(mcfg, Now::at_millis(0));
        let mut flushers: Vec<Recipient<Flush>> = Vec::new();
        let mut ping_links = Vec::new();
        let table = NodeTable::create(|ctx| {
            let mut outs = Vec::new();
            for (spec, link) in specs.iter().zip(link_of.iter().copied()) {
                describe(&log2, spec);
                let (spec, keys, table, log, metrics) = (
                    spec.clone(),
                    keys.clone(),
                    ctx.address().recipient(),
                    log2.clone(),
                    metrics2.clone(),
                );
                let addr = Supervisor::start(move |_| {
                    UdpLink::new(link, spec, keys, table, &log).with_metrics(metrics)
                });
                outs.push(LinkOut {
                    to: addr.clone().recipient::<SendPacket>(),
                    format: Format::Netstring,
                });
                flushers.push(addr.recipient());
            }
            for ((device, baud), link) in serials.iter().zip(serial_of.iter().copied()) {
                info!(
                    log2,
                    "Starting serial heartbeat on tty {} ({baud} baud)",
                    device.display()
                );
                let (device, baud, keys, table, log, metrics) = (
                    device.clone(),
                    *baud,
                    keys.clone(),
                    ctx.address().recipient(),
                    log2.clone(),
                    metrics2.clone(),
                );
                let addr = Supervisor::start(move |_| {
                    SerialLink::new(link, device, baud, keys, table, &log).with_metrics(metrics)
                });
                outs.push(LinkOut {
                    to: addr.clone().recipient::<SendPacket>(),
                    format: Format::Text,
                });
                flushers.push(addr.recipient());
            }
            for spec in &pings {
                info!(
                    log2,
                    "ping heartbeat started: {} ({})",
                    spec.name,
                    spec.hosts
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                let (spec, table, log) = (spec.clone(), ctx.address().recipient(), log2.clone());
                ping_links.push(Supervisor::start(move |_| PingLink::new(spec, table, &log)));
            }
            let rm = ResourceManager::new(me, groups, dirs, ctx.address().recipient(), &decisions)
                .with_script_timeout(config.script_timeout)
                .with_ipaddr_scripts(config.ipaddr_scripts)
                .with_metrics(metrics2.clone())
                .start();
            // First job, before anything the protocol asks: nothing of ours may
            // run from before when we join.
            rm.do_send(hb_actors::resource_mgr::ReleaseLeftovers);
            let table = NodeTable::new(core, keys.clone(), outs, inner_auth, &decisions)
                .with_resources(
                    protocol,
                    rm.clone().recipient(),
                    rm.recipient(),
                )
                .with_status_info(status2)
                .with_metrics(metrics2);
            match ipfail {
                Some(f) => table.with_ipfail(f),
                None => table,
            }
        });
        let _control = hb_actors::control::ControlSocket::new(
            control,
            sock_path,
            table.clone().recipient(),
            &log2,
        )
        .with_status(table.clone().recipient())
        .start();
        if let Some(listener) = metrics_listener {
            let addr = listener.local_addr().ok();
            match hb_actors::metrics::spawn(listener, metrics, &log2) {
                Ok(()) => info!(log2, "metrics: serving GET /metrics on {}", addr.map_or_else(String::new, |a| a.to_string())),
                Err(e) => error!(log2, "metrics: cannot serve: {e}"),
            }
        }
        // respawn programs start when the node table starts (3.0.6: at comm up).
        let clients: Vec<_> = clients
            .into_iter()
            .map(|c| RespawnClient::new(c, Policy::HEARTBEAT, &log2).start())
            .collect();
        // Opened last, so that no start-up failure can leave it armed.
        let feeder = watchdog.and_then(|path| {
            let dev = hb_actors::watchdog::open(&path, deadtime, &log2)?;
            let table = table.clone().recipient();
            Some(WatchdogFeeder::new(dev, &path, table, keepalive, &log2).start())
        });
        // Up: signals are handled from here on (none is lost), and once a link
        // answers a message its `started` has run, so its socket is open.
        let mut signals = match Signals::install() {
            Ok(s) => Some(s),
            Err(e) => {
                error!(log2, "cannot install signal handlers ({e}); stop with SIGKILL");
                None
            }
        };
        for f in &flushers {
            let _ = f.send(Flush).await;
        }
        (opts.ready)();
        let mut clients_stopped = false;
        let mut reloadable = Reloadable {
            path: opts.config,
            host: HostCheck {
                local_node: Some(me.to_owned()),
                strict: true,
                init_dir: None,
            },
            running: config.clone(),
            status,
            keys: keys.clone(),
            table: table.clone(),
            watchdog: feeder.clone(),
            ping_links,
        };
        #[cfg(debug_assertions)]
        debug_panic_trigger(&table);
        loop {
            match signals.as_mut() {
                Some(s) => {
                    if let Sig::Reload = s.next().await {
                        reloadable.reload(&log2);
                        continue;
                    }
                }
                None => std::future::pending::<()>().await,
            }
            info!(
                log2,
                "Heartbeat shutdown in progress. ({})",
                std::process::id();
                "kind" => "shutdown"
            );
            // As 3.0.6: the clients first, in reverse order, one after another.
            if !std::mem::replace(&mut clients_stopped, true) {
                for c in clients.iter().rev() {
                    let _ = c.send(StopClient).await;
                }
            }
            match table.send(Shutdown).await {
                Ok(Err(StopFailed)) => crit!(
                    log2,
                    "Heartbeat shutdown cancelled: resources still run here (see above); heartbeat keeps running"
                ),
                Ok(Ok(())) | Err(_) => break,
            }
        }
        // Mailboxes are FIFO: once a link answers a later message, it has sent the notice.
        for f in &flushers {
            let _ = f.send(Flush).await;
        }
        // Last: the node table has done its work, the device may be disarmed.
        if let Some(feeder) = &feeder {
            let _ = feeder.send(MagicClose).await;
        }
        info!(log2, "{} Heartbeat shutdown complete.", std::process::id(); "kind" => "stopped");
        std::process::ExitCode::SUCCESS
    });
    Ok(code)
}

fn describe(log: &Logger, spec: &UdpSpec) {
    match spec {
        UdpSpec::Plain {
            iface,
            port,
            broadcast,
            peers,
        } => {
            if *broadcast {
                info!(
                    log,
                    "UDP Broadcast heartbeat started on port {port} ({port}) interface {iface}"
                );
            }
            for p in peers {
                info!(log, "UDP unicast heartbeat started on port {port} ({port}) interface {iface} to {p}");
            }
        }
        UdpSpec::Mcast {
            iface, group, port, ..
        } => {
            info!(
                log,
                "UDP multicast heartbeat started for group {group} port {port} interface {iface}"
            );
        }
    }
}

/// Debug builds only: when the file named by `HB_DEBUG_PANIC_FILE` appears, the
/// node table panics (tests of the panic policy).
#[cfg(debug_assertions)]
fn debug_panic_trigger(table: &Addr<NodeTable>) {
    let Some(path) = std::env::var_os("HB_DEBUG_PANIC_FILE") else {
        return;
    };
    let table = table.clone();
    actix::spawn(async move {
        let path = std::path::PathBuf::from(path);
        loop {
            actix::clock::sleep(std::time::Duration::from_millis(100)).await;
            if path.exists() {
                table.do_send(hb_actors::messages::DebugPanic);
                return;
            }
        }
    });
}

/// What a signal asks for.
enum Sig {
    /// SIGTERM, SIGINT: graceful stop.
    Stop,
    /// SIGHUP: read the configuration again.
    Reload,
}

/// The daemon's signal handlers, installed once so that no signal between two
/// waits is lost.
struct Signals {
    term: actix_rt::signal::unix::Signal,
    int: actix_rt::signal::unix::Signal,
    hup: actix_rt::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use actix_rt::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Sig {
        use futures_util::future::{select, Either};
        let stop = select(Box::pin(self.term.recv()), Box::pin(self.int.recv()));
        match select(stop, Box::pin(self.hup.recv())).await {
            Either::Left(_) => Sig::Stop,
            Either::Right(_) => Sig::Reload,
        }
    }
}

/// What runs, as far as a reload can change it.
struct Reloadable<'a> {
    path: &'a Path,
    host: HostCheck,
    running: Config,
    /// What the status reports from the running configuration.
    status: hb_actors::status::StatusInfo,
    keys: SharedKeys,
    table: Addr<NodeTable>,
    /// The watchdog feeder, when a watchdog is in use.
    watchdog: Option<Addr<WatchdogFeeder>>,
    /// The ping media: they ping every keepalive.
    ping_links: Vec<Addr<PingLink>>,
}

impl Reloadable<'_> {
    /// SIGHUP: reads the configuration again and applies what can change live
    /// (see `crate::reload`).
    fn reload(&mut self, log: &Logger) {
        info!(log, "Received SIGHUP: reading the configuration again");
        let loaded = match crate::reload::read(self.path, &self.host) {
            Ok(l) => l,
            Err(e) => {
                error!(
                    log,
                    "reload: configuration refused, the running configuration stays: {} error(s)",
                    e.diagnostics
                        .iter()
                        .filter(|d| d.severity == hb_conf::Severity::Error)
                        .count();
                    "kind" => "reload", "result" => "refused"
                );
                for d in &e.diagnostics {
                    error!(log, "reload: {}", d.to_string().replace('\n', " "));
                }
                return;
            }
        };
        let new = loaded.config;
        let params = loaded.params;
        let plan = crate::reload::plan(&self.running, &new);
        if let Some((keepalive, deadtime, warntime)) = plan.timing {
            self.table.do_send(Retime {
                keepalive,
                deadtime,
                warntime,
            });
            info!(
                log,
                "reload: applied keepalive {keepalive:?}, deadtime {deadtime:?}, warntime {warntime:?}";
                "kind" => "reload", "result" => "applied",
                "keepalive_ms" => ms(keepalive), "deadtime_ms" => ms(deadtime), "warntime_ms" => ms(warntime)
            );
            for p in &self.ping_links {
                p.do_send(hb_actors::links::ping::RetimePing {
                    interval: keepalive,
                });
            }
            if let Some(w) = &self.watchdog {
                w.do_send(hb_actors::watchdog::RetimeWatchdog {
                    keepalive,
                    deadtime,
                });
            }
            self.running.timing.keepalive = keepalive;
            self.running.timing.deadtime = deadtime;
            self.running.timing.warntime = warntime;
            // cl_status hbparameter: the strings of what was applied.
            for name in ["keepalive", "deadtime", "warntime"] {
                match params.get(name) {
                    Some(v) => self.status.params.insert(name.to_owned(), v.to_owned()),
                    None => self.status.params.remove(name),
                };
            }
            self.table
                .do_send(hb_actors::messages::SetStatusInfo(self.status.clone()));
        }
        if plan.keys {
            self.keys.set(new.authkeys.clone());
            self.running.authkeys = new.authkeys;
            info!(log, "reload: applied the new authkeys"; "kind" => "reload", "result" => "applied", "authkeys" => true);
        }
        if !plan.needs_restart.is_empty() {
            warn!(
                log,
                "reload: not applied, takes effect at the next start: {}",
                plan.needs_restart.join("; ");
                "kind" => "reload", "result" => "not_applied"
            );
        }
        if plan.timing.is_none() && !plan.keys && plan.needs_restart.is_empty() {
            info!(log, "reload: the configuration is unchanged"; "kind" => "reload", "result" => "unchanged");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, item 6: a `udpport` after the bcast line does not reach
    /// bcast (3.0.6's peers listen on the earlier port), but reaches a later
    /// ucast: the links are opened on each medium's own port.
    #[test]
    fn udp_links_use_each_mediums_own_port() {
        let loaded = hb_conf::parse_texts(
            "bcast eth1\nudpport 7000\nucast eth1 192.0.2.2\nnode n1 n2\nauto_failback on\n",
            "",
            "auth 1\n1 sha1 abcdefgh12345678\n",
            &HostCheck::default(),
        )
        .expect("accepted");
        let plan = udp_plan(&loaded.config, &[]).expect("planned");
        assert_eq!(
            plan,
            vec![
                UdpSpec::Plain {
                    iface: "eth1".into(),
                    port: 694,
                    broadcast: true,
                    peers: vec![]
                },
                UdpSpec::Plain {
                    iface: "eth1".into(),
                    port: 7000,
                    broadcast: false,
                    peers: vec!["192.0.2.2".parse().expect("address")]
                },
            ]
        );
    }
}
