//! Two nodes of one system on a bridge, with the client probing the service
//! address: the repetition of events that every sample comes from, and the
//! idle-cost window.
//!
//! One repetition, with the client probing throughout:
//!
//! 1. cold start: both daemons started together, until n1 answers;
//! 2. graceful switchover: n1's daemon stopped, until n2 answers;
//! 3. failback: n1's daemon started again, the longest gap in answers;
//! 4. hard failover: at a random point of the heartbeat cycle, power loss of
//!    n1 (every process SIGKILLed and both cables pulled at once), until n2 answers;
//! 5. failback: n1 "reboots" (its stale address gone, cables back, responder
//!    and daemon started), the longest gap in answers;
//! 6. both nodes powered off.
//!
//! Before each event the cluster is left to settle (the lines each system logs
//! when its resource exchange is done), so that no event lands in the middle
//! of the previous one.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sys::signal::Signal;

use crate::cost::{self, Idle};
use crate::harness::{must, Cluster, Node, Spawned, Topology};
use crate::probe::Probe;
use crate::systems::{self, Daemon, Setting, System, PORT, VIP};
use crate::Rng;

/// The nodes: n1 is the preferred owner.
const NAMES: [&str; 2] = ["n1", "n2"];
/// A daemon killed within its first 5 s is declared dead only after
/// deadtime + 2 s (3.0.6 announces that; ours copies it): the hard failover
/// waits until the owner has run this long.
const MIN_UPTIME: Duration = Duration::from_secs(6);
/// What ours and 3.0.6 log once a node's start-up resource exchange is done.
const STARTED: [&str; 2] = [
    "Initial resource acquisition complete",
    "remote resource transition completed.",
];
/// How long after the preferred node's first answer a failback is watched.
const FAILBACK_TAIL: Duration = Duration::from_secs(1);

/// The samples of one system at one setting, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    /// Start of both daemons to the first answer.
    pub cold: Vec<f64>,
    /// Power loss: last answer of n1 to first answer of n2.
    pub hard: Vec<f64>,
    /// Graceful stop: last answer of n1 to first answer of n2.
    pub graceful: Vec<f64>,
    /// Longest gap in answers while n1 returns.
    pub failback: Vec<f64>,
    /// Idle cost per node (n1 holding the address, n2 standing by).
    pub idle: Vec<(String, Idle)>,
    /// Measurements that could not be made, with why.
    pub failures: Vec<String>,
}

/// A cluster of two nodes running `system`, with responders and the probe.
pub struct Pair {
    system: System,
    setting: Setting,
    // Drop order: the probe, the daemons and responders, then the cluster.
    probe: Probe,
    daemons: [Option<Daemon>; 2],
    responders: [Option<Spawned>; 2],
    cluster: Cluster,
    verbose: bool,
}

impl Pair {
    /// Builds the cluster, writes the configuration, starts the responders and the probe.
    pub fn new(system: System, setting: &Setting, verbose: bool) -> Result<Pair> {
        system.check_installed()?;
        let cluster = Cluster::new(&NAMES, Topology::private_and_public().with_client());
        for node in cluster.nodes() {
            systems::install(system, node, setting, &NAMES, Some("n1"));
        }
        let vip: Ipv4Addr = VIP.parse().expect("VIP");
        let probe = Probe::start(cluster.client().netns(), SocketAddr::from((vip, PORT)))?;
        let mut pair = Pair {
            system,
            setting: setting.clone(),
            probe,
            daemons: [None, None],
            responders: [None, None],
            cluster,
            verbose,
        };
        for i in 0..2 {
            pair.start_responder(i)?;
        }
        Ok(pair)
    }

    fn node(&self, i: usize) -> &Node {
        &self.cluster.nodes()[i]
    }

    fn say(&self, what: impl AsRef<str>) {
        if self.verbose {
            eprintln!(
                "  [{} {}] {}",
                self.system.key(),
                self.setting.name,
                what.as_ref()
            );
        }
    }

    /// Starts node `i`'s responder (this executable, `--responder NAME PORT`).
    /// On a Debian host the group's service script starts it instead.
    fn start_responder(&mut self, i: usize) -> Result<()> {
        if self.setting.debian_host {
            return Ok(());
        }
        let exe = std::env::current_exe().context("this executable")?;
        let node = self.node(i);
        let guard = node.spawn(&[
            &exe.to_string_lossy(),
            "--responder",
            node.name(),
            &PORT.to_string(),
        ]);
        self.responders[i] = Some(guard);
        Ok(())
    }

    /// Forgets node `i`'s daemon and responder once their processes are gone
    /// (see [`systems::retire`]).
    fn retire(&mut self, i: usize) {
        systems::retire(self.daemons[i].take().map(|d| d.guard));
        systems::retire(self.responders[i].take());
    }

    fn log_len(&self, i: usize) -> usize {
        self.node(i).log_len(self.system.log())
    }

    /// Waits until every one of `needles` appears in node `i`'s log after byte `from`.
    fn wait_lines(&self, i: usize, from: usize, needles: &[&str], timeout: Duration) -> Result<()> {
        wait_lines(self.node(i), self.system.log(), from, needles, timeout)
    }

    /// Powers both nodes off (every process killed), removes the address
    /// everywhere, forgets the client's neighbour entry, and starts the
    /// responders again: the state before a cold start.
    pub fn power_off_all(&mut self) -> Result<()> {
        for i in 0..2 {
            self.node(i).kill_all();
            self.retire(i);
            flush_vip(self.node(i));
        }
        let client = self.cluster.client();
        client.exec(&["ip", "neigh", "flush", "to", VIP]);
        for i in 0..2 {
            self.start_responder(i)?;
        }
        Ok(())
    }

    /// One repetition (see the module documentation); adds its samples.
    pub fn repetition(&mut self, rng: &mut Rng, out: &mut Samples) -> Result<()> {
        let sys = self.system;
        let slow = slow_timeout(sys, &self.setting);

        // 1. Cold start.
        let cold = self.cold_start(slow)?;
        out.cold.push(ms(cold));
        self.say(format!("cold start: {cold:?}"));

        // 2. Graceful switchover.
        let marks = [self.log_len(0), self.log_len(1)];
        let t0 = Instant::now();
        let mut stopper = systems::stop(sys, self.node(0))?;
        let outage = self
            .outage(t0, "n1", "n2", slow)
            .context("graceful switchover")?;
        out.graceful.push(ms(outage));
        self.say(format!("graceful: {outage:?}"));
        systems::wait_stopped(sys, self.node(0), slow)?;
        if let Some(s) = stopper.as_mut() {
            s.wait_exit(slow);
        }
        systems::retire(self.daemons[0].take().map(|d| d.guard));
        self.settle_takeover(marks[1], true, slow)
            .context("settling after the graceful switchover")?;

        // 3. Failback after the graceful stop.
        let marks = [self.log_len(0), self.log_len(1)];
        let w0 = Instant::now();
        self.daemons[0] = Some(systems::start(sys, self.node(0)));
        let gap = self
            .failback_gap(w0, slow)
            .context("failback (after the stop)")?;
        out.failback.push(ms(gap));
        self.say(format!("failback: {gap:?}"));
        self.settle_failback(marks, slow)
            .context("settling after the failback")?;

        // 4. Hard failover at a random point of the heartbeat cycle.
        let up = self.daemons[0]
            .as_ref()
            .map_or(Instant::now(), |d| d.started);
        if let Some(wait) = MIN_UPTIME.checked_sub(up.elapsed()) {
            std::thread::sleep(wait);
        }
        std::thread::sleep(rng.below(self.setting.keepalive));
        let mark = self.log_len(1);
        let t0 = Instant::now();
        self.power_loss(0);
        self.retire(0);
        let outage = self.outage(t0, "n1", "n2", slow).context("hard failover")?;
        out.hard.push(ms(outage));
        self.say(format!("hard failover: {outage:?}"));
        self.settle_takeover(mark, false, slow)
            .context("settling after the hard failover")?;

        // 5. n1 reboots: failback.
        flush_vip(self.node(0));
        let marks = [self.log_len(0), self.log_len(1)];
        let w0 = Instant::now();
        for iface in ["eth0", "eth1"] {
            self.node(0).link_up(iface);
        }
        self.start_responder(0)?;
        self.daemons[0] = Some(systems::start(sys, self.node(0)));
        let gap = self
            .failback_gap(w0, slow)
            .context("failback (after the power loss)")?;
        out.failback.push(ms(gap));
        self.say(format!("failback after reboot: {gap:?}"));
        self.settle_failback(marks, slow)
            .context("settling after the failback")?;
        self.probe
            .forget_before(Instant::now() - Duration::from_secs(5));
        Ok(())
    }

    /// Starts both daemons together; returns the time until the service
    /// address first answered (n1 must answer) once both have settled.
    fn cold_start(&mut self, slow: Duration) -> Result<Duration> {
        let sys = self.system;
        let marks = [self.log_len(0), self.log_len(1)];
        let t0 = Instant::now();
        self.daemons[0] = Some(systems::start(sys, self.node(0)));
        self.daemons[1] = Some(systems::start(sys, self.node(1)));
        let first = self
            .probe
            .wait_answer("n1", t0, slow)
            .context("cold start")?;
        let anyone = self
            .probe
            .since(t0)?
            .into_iter()
            .find(|r| r.who.is_some())
            .map_or(first, |r| r.at);
        self.settle_start(marks, slow)
            .context("settling after the cold start")?;
        Ok(anyone - t0)
    }

    /// Starts both daemons, waits until they settle, stops probing and
    /// measures each node's daemon over `window`.
    pub fn idle(&mut self, window: Duration) -> Result<Vec<(String, Idle)>> {
        let sys = self.system;
        let slow = slow_timeout(sys, &self.setting);
        self.cold_start(slow)?;
        std::thread::sleep(Duration::from_secs(2));
        self.probe.set_active(false);
        let marks = [self.log_len(0), self.log_len(1)];
        // Both nodes over the same window, each on its own thread.
        let result = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let node = self.node(i);
                    s.spawn(move || {
                        let pids = || {
                            systems::processes(sys, node)
                                .into_iter()
                                .map(|p| p.pid)
                                .collect()
                        };
                        (node.name().to_owned(), cost::idle(pids, window))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("idle thread"))
                .collect::<Vec<_>>()
        });
        self.probe.set_active(true);
        let mut result = result;
        for (i, (_, idle)) in result.iter_mut().enumerate() {
            let log = self.node(i).read_file(sys.log());
            let window = log.get(marks[i]..).unwrap_or_default();
            idle.flaps = window
                .lines()
                .filter(|l| l.contains(": is dead") || l.contains("Entering "))
                .count();
            idle.late = window
                .lines()
                .filter(|l| l.contains("Late heartbeat"))
                .count();
        }
        for (name, idle) in &result {
            if idle.processes == 0 {
                bail!("no {} process on {name} to measure", sys.label());
            }
        }
        Ok(result)
    }

    /// Power loss of node `i`: SIGKILL to every process of the node and both
    /// cables pulled at the same instant (the cables by one `ip -batch` on
    /// another thread), then the kill repeated until nothing is left.
    fn power_loss(&self, i: usize) {
        let node = self.node(i);
        let mut batch = tempfile::NamedTempFile::new().expect("batch file");
        for iface in ["eth0", "eth1"] {
            writeln!(batch, "link set {}-{iface} down", node.name()).expect("batch file");
        }
        let switch = self.cluster.switch_netns().to_owned();
        let path = batch.path().to_string_lossy().into_owned();
        std::thread::scope(|s| {
            s.spawn(|| must(&["ip", "-n", &switch, "-batch", &path]));
            node.signal(Signal::SIGKILL, |_| true);
        });
        node.kill_all();
    }

    /// The client's outage around an event at `t0`: from the last answer of
    /// `old` to the first answer of `new` after `t0`.
    fn outage(&self, t0: Instant, old: &str, new: &str, timeout: Duration) -> Result<Duration> {
        let first_new = self.probe.wait_answer(new, t0, timeout)?;
        let recs = self.probe.since(t0 - Duration::from_secs(2))?;
        let last_old = recs
            .iter()
            .filter(|r| r.who.as_deref() == Some(old) && r.at < first_new)
            .map(|r| r.at)
            .max()
            .with_context(|| format!("{old} was not answering before the event"))?;
        if let Some(before) = t0.checked_duration_since(last_old) {
            if before > Duration::from_millis(500) {
                bail!("{old} had stopped answering {before:?} before the event");
            }
        }
        Ok(first_new - last_old)
    }

    /// The longest gap between two answers (whoever gave them) from shortly
    /// before `w0` until [`FAILBACK_TAIL`] after n1's first answer, which
    /// must also be the last one.
    fn failback_gap(&self, w0: Instant, timeout: Duration) -> Result<Duration> {
        let first = self.probe.wait_answer("n1", w0, timeout)?;
        let end = first + FAILBACK_TAIL;
        if let Some(rest) = end.checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        }
        let answers: Vec<_> = self
            .probe
            .since(w0 - Duration::from_millis(200))?
            .into_iter()
            .filter(|r| r.who.is_some() && r.at <= end)
            .collect();
        if answers.first().is_none_or(|r| r.at >= w0) {
            bail!("nobody answered just before n1 returned");
        }
        if answers.last().and_then(|r| r.who.as_deref()) != Some("n1") {
            bail!(
                "n1 answered, then {:?} again",
                answers.last().and_then(|r| r.who.clone())
            );
        }
        Ok(answers
            .windows(2)
            .map(|w| w[1].at - w[0].at)
            .max()
            .unwrap_or_default())
    }

    /// After both daemons started: each has done its start-up resource exchange
    /// (ours, 3.0.6), or n1 is VRRP master and n2 backup.
    fn settle_start(&self, marks: [usize; 2], timeout: Duration) -> Result<()> {
        match self.system {
            System::Ours | System::Hb306 => {
                for (i, &mark) in marks.iter().enumerate() {
                    self.wait_lines(i, mark, &STARTED, timeout)?;
                }
            }
            System::Keepalived => self.wait_vrrp_roles(marks, timeout)?,
        }
        self.quiet();
        Ok(())
    }

    /// keepalived: n1 entered the master state and n2 the backup state, each
    /// after byte `marks[i]` of its log.
    fn wait_vrrp_roles(&self, marks: [usize; 2], timeout: Duration) -> Result<()> {
        self.wait_lines(0, marks[0], &["Entering MASTER STATE"], timeout)?;
        self.wait_lines(1, marks[1], &["Entering BACKUP STATE"], timeout)
    }

    /// After n1 left (gracefully, or by power loss): n2 holds the address and
    /// has finished taking it over.
    fn settle_takeover(&self, mark: usize, graceful: bool, timeout: Duration) -> Result<()> {
        match (self.system, graceful) {
            (System::Ours | System::Hb306, true) => self.wait_lines(
                1,
                mark,
                &[
                    "Received shutdown notice from 'n1'",
                    "mach_down takeover complete",
                ],
                timeout,
            )?,
            (System::Ours | System::Hb306, false) => self.wait_lines(
                1,
                mark,
                &["node n1: is dead", "mach_down takeover complete"],
                timeout,
            )?,
            (System::Keepalived, _) => {
                self.wait_lines(1, mark, &["Entering MASTER STATE"], timeout)?
            }
        }
        self.quiet();
        Ok(())
    }

    /// After n1 returned: it has done its start-up exchange and n2 has given
    /// the group back (ours, 3.0.6), or n1 is master again and n2 backup.
    fn settle_failback(&self, marks: [usize; 2], timeout: Duration) -> Result<()> {
        match self.system {
            System::Ours | System::Hb306 => {
                self.wait_lines(0, marks[0], &STARTED, timeout)?;
                self.wait_lines(
                    1,
                    marks[1],
                    &["Other node completed standby takeover"],
                    timeout,
                )?;
            }
            System::Keepalived => self.wait_vrrp_roles(marks, timeout)?,
        }
        self.quiet();
        Ok(())
    }

    /// A short pause after a settle, so that nothing of the last event is
    /// still on the wire when the next one starts.
    fn quiet(&self) {
        std::thread::sleep(self.setting.keepalive * 3 + Duration::from_millis(200));
    }

    /// Copies both nodes' logs to `dir` as `SYSTEM-SETTING-NODE.log`.
    pub fn save_logs(&self, dir: &std::path::Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        for node in self.cluster.nodes() {
            let name = format!(
                "{}-{}-{}.log",
                self.system.key(),
                self.setting.name.replace(['/', ' '], "-"),
                node.name()
            );
            std::fs::write(dir.join(name), node.read_file(self.system.log()))?;
        }
        Ok(())
    }

    /// The last lines of both nodes' logs, for a failure report.
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for node in self.cluster.nodes() {
            let log = node.read_file(self.system.log());
            let all: Vec<&str> = log.lines().collect();
            out.push_str(&format!(
                "--- {} {} ---\n{}\n--- {} processes ---\n",
                node.name(),
                self.system.log(),
                all[all.len().saturating_sub(lines)..].join("\n"),
                node.name(),
            ));
            for p in node.processes() {
                out.push_str(&format!(
                    "{} (node pid {}): {}\n",
                    p.pid, p.node_pid, p.cmdline
                ));
            }
        }
        out
    }
}

/// A generous limit for anything the system does at `setting`: 3.0.6 needs
/// about 12 s to start serving whatever its timing.
fn slow_timeout(_system: System, setting: &Setting) -> Duration {
    Duration::from_secs(40) + setting.deadtime * 10
}

/// Removes the service address from the node's eth0 and the service
/// script's pid file (as a reboot would).
fn flush_vip(node: &Node) {
    let _ = std::fs::remove_file(node.path("/run/svc.pid"));
    node.exec(&[
        "ip",
        "addr",
        "flush",
        "dev",
        "eth0",
        "to",
        &format!("{VIP}/32"),
    ]);
}

/// Waits until every one of `needles` appears in `node`'s file `path` after byte `from`.
pub fn wait_lines(
    node: &Node,
    path: &str,
    from: usize,
    needles: &[&str],
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = node.read_file(path);
        let new = text.get(from..).unwrap_or_default();
        let missing: Vec<&&str> = needles.iter().filter(|n| !new.contains(**n)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not log {missing:?} in {path} within {timeout:?}",
                node.name()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
