//! `heartbeat demo`: a two-node cluster on this machine, in network
//! namespaces, running this very binary; a tiny web service as its resource;
//! the owner's power cut; the outage a client sees, measured; the survivor's
//! `heartbeat explain`. Then everything is removed, also after an error or
//! Ctrl-C.
//!
//! # What it builds (all named `hbdemo-PID-*`)
//!
//! ```text
//!            hbdemo-PID-sw: br-pub (192.0.2.0/24)      br-priv (203.0.113.0/24)
//!                             |      |       |            |        |
//!   hbdemo-PID-client  192.0.2.100   |       |            |        |
//!   hbdemo-PID-n1          eth0 192.0.2.11   |  eth1 203.0.113.11  |
//!   hbdemo-PID-n2                  eth0 192.0.2.12        eth1 203.0.113.12
//! ```
//!
//! The group `n1 192.0.2.50/24/eth0 web`: the built-in service address, and
//! `web`, a `resource.d` script that runs `socat` on port 80 answering
//! `HTTP/1.0 200 OK` and the node's name. Each node has its own configuration,
//! state, run directory, pid file and log under a temporary directory
//! (`/tmp/hbdemo-PID`, mode 0700). The daemons run `heartbeat run` in their
//! namespace (`ip netns exec`), under `setpriv --pdeathsig KILL`, so they die
//! with the demo even if it is killed outright.
//!
//! Every veth pair is created inside the namespaces (`ip -n NODE link add ...
//! peer ... netns SWITCH`): nothing is added to, or changed in, the root
//! namespace. Only 192.0.2.0/24 and 203.0.113.0/24 (documentation ranges) are used.
//!
//! # The measurement
//!
//! A probe thread enters the client's namespace (`setns`) and, every 10 ms,
//! starts a connection to 192.0.2.50:80 (each in its own short-lived thread,
//! so a probe that waits does not delay the next). The outage is the time
//! from the last answer by n1 to the first answer by n2, as the client got
//! them; it is measured, not computed from the configuration.
//!
//! # Clean-up
//!
//! [`Demo`]'s `Drop` kills every process in the demo's namespaces (`ip netns
//! pids`) and the processes it started, deletes the namespaces (which removes
//! the veth pairs and bridges) and the temporary directory. SIGINT, SIGTERM and
//! SIGHUP are taken by a thread of their own (they are blocked elsewhere), so
//! Ctrl-C makes the current step fail and the clean-up run. A demo killed with
//! SIGKILL leaves namespaces and a directory named after a PID that no longer
//! runs: the next demo removes them first.

mod probe;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use probe::{Probe, Reply};

/// The service address and port.
const VIP: &str = "192.0.2.50";
const PORT: u16 = 80;

/// The `PATH` for the tools the demo runs.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long any step may take before the demo gives up.
const STEP: Duration = Duration::from_secs(30);

/// Set by the signal thread: every wait checks it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const HA_CF: &str = "\
# heartbeat demo: keepalive 200 ms, a node is dead after 1 s of silence.
logfile @WORK@/ha-log
keepalive 200ms
warntime 500ms
deadtime 1
initdead 10
bcast eth1
auto_failback on
node n1 n2
";

/// The web service: `socat` answers every connection on port 80 with the
/// node's name. Started and stopped like any haresources script.
const WEB: &str = r#"#!/bin/sh
# heartbeat demo: a tiny web service (socat) as a resource.
pidfile=@WORK@/web.pid
for op; do :; done
case "$op" in
start)
    socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo HTTP/1.0 200 OK; echo; echo @NODE@' </dev/null >/dev/null 2>&1 &
    echo $! > "$pidfile"
    ;;
stop)
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"; fi
    ;;
status)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo running; else echo stopped; fi
    ;;
esac
exit 0
"#;

/// `heartbeat demo`.
pub fn run() -> anyhow::Result<ExitCode> {
    let bin = std::env::current_exe().context("finding this program's path")?;
    if !nix::unistd::geteuid().is_root() {
        bail!("the demo must run as root: it creates network namespaces");
    }
    for tool in ["ip", "setpriv", "socat"] {
        if !PATH.split(':').any(|d| Path::new(d).join(tool).exists()) {
            bail!("`{tool}` is not installed (bash .ci/setup installs it)");
        }
    }
    catch_signals()?;
    sweep_stale();
    let mut demo = Demo::new()?;
    let result = demo.show(&bin);
    if result.is_err() && !INTERRUPTED.load(Ordering::SeqCst) {
        demo.dump_logs();
    }
    say("cleaning up (processes, namespaces, temporary files)");
    drop(demo);
    result?;
    say("demo complete");
    Ok(ExitCode::SUCCESS)
}

fn say(what: &str) {
    println!("\n== {what}");
    let _ = std::io::stdout().flush();
}

/// SIGINT, SIGTERM and SIGHUP are blocked in every thread (threads inherit
/// the mask) and taken by one thread that sets [`INTERRUPTED`]. Children get
/// an empty mask (the standard library resets it).
fn catch_signals() -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block().context("blocking signals")?;
    std::thread::Builder::new()
        .name("demo-signals".into())
        .spawn(move || loop {
            if let Ok(sig) = set.wait() {
                eprintln!("\nheartbeat demo: {sig} received: stopping and cleaning up");
                INTERRUPTED.store(true, Ordering::SeqCst);
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

fn check_interrupted() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted");
    }
    Ok(())
}

fn command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env("PATH", PATH);
    c
}

/// Runs a set-up command; its failure is an error with its output.
fn must(args: &[&str]) -> anyhow::Result<String> {
    check_interrupted()?;
    let out = command(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", args[0]))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Processes in a network namespace (`ip netns pids`).
fn pids_in(ns: &str) -> Vec<i32> {
    command("ip")
        .args(["netns", "pids", ns])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn kill_all_in(ns: &str) {
    for pid in pids_in(ns) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Removes what a demo killed outright left: namespaces and directories
/// named `hbdemo-PID-...` whose PID no longer runs.
fn sweep_stale() {
    let dead = |name: &str| -> bool {
        name.strip_prefix("hbdemo-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|pid| {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            })
    };
    for e in fs::read_dir("/run/netns").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if dead(&name) {
            eprintln!("heartbeat demo: removing namespace {name} left by an earlier demo");
            kill_all_in(&name);
            let _ = command("ip").args(["netns", "del", &name]).status();
        }
    }
    for e in fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if dead(&name) && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Everything the demo made; `Drop` removes it.
struct Demo {
    tag: String,
    work: PathBuf,
    /// Namespaces created, switch first.
    namespaces: Vec<String>,
    /// The daemons, by node number (1, 2).
    daemons: Vec<(u8, Child)>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            kill_all_in(ns);
        }
        for (_, c) in &mut self.daemons {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = command("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = fs::remove_dir_all(&self.work);
    }
}

impl Demo {
    fn new() -> anyhow::Result<Demo> {
        let tag = format!("hbdemo-{}", std::process::id());
        let work = std::env::temp_dir().join(&tag);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&work)
            .with_context(|| format!("creating {}", work.display()))?;
        Ok(Demo {
            tag,
            work,
            namespaces: Vec::new(),
            daemons: Vec::new(),
        })
    }

    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.tag)
    }

    fn node_dir(&self, i: u8) -> PathBuf {
        self.work.join(format!("n{i}"))
    }

    fn add_ns(&mut self, name: &str) -> anyhow::Result<String> {
        let ns = self.ns(name);
        must(&["ip", "netns", "add", &ns])?;
        self.namespaces.push(ns.clone());
        must(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A cable from `iface` in `ns` to `bridge` in the switch, made inside
    /// the namespaces.
    fn cable(
        &self,
        ns: &str,
        port: &str,
        iface: &str,
        bridge: &str,
        addr: &str,
    ) -> anyhow::Result<()> {
        let sw = self.ns("sw");
        must(&[
            "ip", "-n", ns, "link", "add", iface, "type", "veth", "peer", "name", port, "netns",
            &sw,
        ])?;
        must(&["ip", "-n", &sw, "link", "set", port, "master", bridge])?;
        must(&["ip", "-n", &sw, "link", "set", port, "up"])?;
        must(&[
            "ip", "-n", ns, "addr", "add", addr, "brd", "+", "dev", iface,
        ])?;
        must(&["ip", "-n", ns, "link", "set", iface, "up"])?;
        Ok(())
    }

    fn build_network(&mut self) -> anyhow::Result<()> {
        let sw = self.add_ns("sw")?;
        for br in ["br-pub", "br-priv"] {
            must(&["ip", "-n", &sw, "link", "add", br, "type", "bridge"])?;
            must(&["ip", "-n", &sw, "link", "set", br, "up"])?;
        }
        for i in 1..=2u8 {
            let ns = self.add_ns(&format!("n{i}"))?;
            self.cable(
                &ns,
                &format!("n{i}-eth0"),
                "eth0",
                "br-pub",
                &format!("192.0.2.1{i}/24"),
            )?;
            self.cable(
                &ns,
                &format!("n{i}-eth1"),
                "eth1",
                "br-priv",
                &format!("203.0.113.1{i}/24"),
            )?;
        }
        let client = self.add_ns("client")?;
        self.cable(&client, "client-eth0", "eth0", "br-pub", "192.0.2.100/24")?;
        Ok(())
    }

    fn write_config(&self, i: u8, key: &str) -> anyhow::Result<()> {
        let dir = self.node_dir(i);
        let etc = dir.join("etc");
        fs::create_dir_all(etc.join("resource.d"))?;
        fs::create_dir_all(dir.join("state"))?;
        fs::create_dir_all(dir.join("run"))?;
        let work = dir.display().to_string();
        let node = format!("n{i}");
        let write = |name: &str, text: &str, mode: u32| -> anyhow::Result<()> {
            let path = etc.join(name);
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            Ok(())
        };
        write("ha.cf", &HA_CF.replace("@WORK@", &work), 0o644)?;
        write("haresources", &format!("n1 {VIP}/24/eth0 web\n"), 0o644)?;
        write("authkeys", &format!("auth 1\n1 sha1 {key}\n"), 0o600)?;
        write("nodeinfo", &format!("{node}\n"), 0o644)?;
        write(
            "resource.d/web",
            &WEB.replace("@WORK@", &work).replace("@NODE@", &node),
            0o755,
        )?;
        Ok(())
    }

    fn start(&mut self, bin: &Path, i: u8) -> anyhow::Result<()> {
        let dir = self.node_dir(i);
        let out = fs::File::create(dir.join("stderr"))?;
        let (etc, state, run, pid) = (
            dir.join("etc"),
            dir.join("state"),
            dir.join("run"),
            dir.join("heartbeat.pid"),
        );
        let child = command("setpriv")
            .args(["--pdeathsig", "KILL", "--", "ip", "netns", "exec"])
            .arg(self.ns(&format!("n{i}")))
            .arg(bin)
            .arg("run")
            .args(["-c".as_ref(), etc.as_os_str()])
            .args(["--node-name", &format!("n{i}")])
            .args(["--state-dir".as_ref(), state.as_os_str()])
            .args(["--run-dir".as_ref(), run.as_os_str()])
            .args(["--pid-file".as_ref(), pid.as_os_str()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Out of the terminal's process group: Ctrl-C reaches the demo,
            // which then stops the daemons itself.
            .process_group(0)
            .spawn()
            .context("starting heartbeat run")?;
        self.daemons.push((i, child));
        Ok(())
    }

    /// A daemon that stopped by itself is an error, with its output.
    fn check_daemons(&mut self) -> anyhow::Result<()> {
        for (i, c) in &mut self.daemons {
            if let Ok(Some(status)) = c.try_wait() {
                let err =
                    fs::read_to_string(self.work.join(format!("n{i}/stderr"))).unwrap_or_default();
                bail!("the heartbeat daemon of n{i} stopped ({status}):\n{err}");
            }
        }
        Ok(())
    }

    /// Polls `probe` every 20 ms until it gives a value, for at most [`STEP`].
    fn wait<T>(
        &mut self,
        what: &str,
        mut probe: impl FnMut(&mut Demo) -> Option<T>,
    ) -> anyhow::Result<T> {
        let start = Instant::now();
        loop {
            check_interrupted()?;
            if let Some(v) = probe(self) {
                return Ok(v);
            }
            if start.elapsed() > STEP {
                bail!("timed out after {STEP:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn status(&self, bin: &Path, i: u8) -> String {
        let dir = self.node_dir(i);
        let base = |extra: bool| {
            let mut c = Command::new(bin);
            c.arg("status").arg("-c").arg(dir.join("etc"));
            c.arg("--pid-file").arg(dir.join("heartbeat.pid"));
            if extra {
                c.arg("--run-dir").arg(dir.join("run"));
            }
            c.stdin(Stdio::null()).output()
        };
        // A richer status talks to the control socket (--run-dir); an older
        // one only knows the pid file.
        let out = match base(true) {
            Ok(o)
                if o.status.code() == Some(2)
                    && String::from_utf8_lossy(&o.stderr).contains("--run-dir") =>
            {
                base(false)
            }
            other => other,
        };
        match out {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines().map(|l| format!("   {l}\n")).collect()
            }
            Err(e) => format!("   (heartbeat status failed: {e})\n"),
        }
    }

    fn show_status(&self, bin: &Path) {
        for i in 1..=2 {
            print!("n{i}$ heartbeat status\n{}", self.status(bin, i));
        }
        let _ = std::io::stdout().flush();
    }

    fn show(&mut self, bin: &Path) -> anyhow::Result<()> {
        say(&format!(
            "building two nodes and a client in network namespaces {}-* (192.0.2.0/24 public, 203.0.113.0/24 heartbeat)",
            self.tag
        ));
        self.build_network()?;
        let key = format!(
            "demo-{:x}",
            nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
                .map_or(0, |t| t.tv_nsec())
        );
        for i in 1..=2 {
            self.write_config(i, &key)?;
        }
        println!("   group: n1 {VIP}/24/eth0 web   (web: socat on port 80 answering with the node's name)");
        println!("   keepalive 200 ms, deadtime 1 s, auto_failback on");

        say("starting heartbeat on n1 and n2");
        self.start(bin, 1)?;
        let n1_started = Instant::now();
        self.start(bin, 2)?;
        let client_ns = self.ns("client");
        let first = self.wait("n1 to serve http://192.0.2.50/", |d| {
            if d.check_daemons().is_err() {
                return Some(None);
            }
            probe::once(&client_ns, VIP, PORT)
                .ok()
                .flatten()
                .filter(|n| n == "n1")
                .map(Some)
        })?;
        if first.is_none() {
            self.check_daemons()?;
        }
        println!("   client$ curl http://{VIP}/   ->  n1");
        self.show_status(bin);

        say("a client probes http://192.0.2.50/ every 10 ms");
        let probe = Probe::start(&client_ns, VIP, PORT)?;
        // Past n1's first 5 s (it advertises 2 s more dead time until then),
        // with the service answering steadily.
        self.wait("the service to answer steadily", |d| {
            let _ = d.check_daemons();
            (n1_started.elapsed() > Duration::from_secs(6) && probe.answers_from("n1") >= 50)
                .then_some(())
        })?;
        self.check_daemons()?;

        say("power loss on n1: every process killed, both cables cut");
        let n1 = self.ns("n1");
        kill_all_in(&n1);
        must(&["ip", "-n", &n1, "link", "set", "eth0", "down"])?;
        must(&["ip", "-n", &n1, "link", "set", "eth1", "down"])?;
        let cut = Instant::now();
        if let Some((_, c)) = self.daemons.iter_mut().find(|(i, _)| *i == 1) {
            let _ = c.wait();
        }
        self.daemons.retain(|(i, _)| *i != 1);
        self.wait("n2 to serve http://192.0.2.50/", |d| {
            let _ = d.check_daemons();
            (probe.answers_from("n2") >= 20).then_some(())
        })?;
        let replies = probe.stop();
        let outage = outage(&replies, cut)?;
        println!(
            "   client-visible outage: {} ms (measured: {} probes; last answer from n1 {} ms before the power cut, first from n2 {} ms after it; {} probes failed in between)",
            outage.gap.as_millis(),
            replies.len(),
            outage.last_before.as_millis(),
            outage.first_after.as_millis(),
            outage.failed
        );
        self.check_daemons()?;

        say("n2 now");
        print!("n2$ heartbeat status\n{}", self.status(bin, 2));

        say("n2$ heartbeat explain");
        let state = self.node_dir(2).join("state");
        let text = self.wait("n2's journal to tell the takeover", |_| {
            let out = Command::new(bin)
                .arg("explain")
                .arg("--state-dir")
                .arg(&state)
                .stdin(Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("n2 acquired group").then_some(text)
        })?;
        print!("{text}");
        Ok(())
    }

    fn dump_logs(&self) {
        for i in 1..=2 {
            let log = fs::read_to_string(self.node_dir(i).join("ha-log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- n{i}'s log (last lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// What the client saw around the power cut.
#[derive(Debug, PartialEq, Eq)]
struct Outage {
    /// From n1's last answer to n2's first.
    gap: Duration,
    last_before: Duration,
    first_after: Duration,
    failed: usize,
}

/// The outage in the client's replies: from the last answer by n1 to the
/// first answer by n2 (completion times), around `cut`.
fn outage(replies: &[Reply], cut: Instant) -> anyhow::Result<Outage> {
    let last_n1 = replies
        .iter()
        .filter(|r| r.from.as_deref() == Some("n1"))
        .map(|r| r.done)
        .max()
        .context("the client never got an answer from n1")?;
    let first_n2 = replies
        .iter()
        .filter(|r| r.from.as_deref() == Some("n2"))
        .map(|r| r.done)
        .min()
        .context("the client never got an answer from n2")?;
    let failed = replies
        .iter()
        .filter(|r| r.from.is_none() && r.done > last_n1 && r.done < first_n2)
        .count();
    Ok(Outage {
        gap: first_n2.saturating_duration_since(last_n1),
        last_before: cut.saturating_duration_since(last_n1),
        first_after: first_n2.saturating_duration_since(cut),
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outage_runs_from_the_last_answer_of_the_owner_to_the_first_of_the_survivor() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let reply = |start: u64, done: u64, from: Option<&str>| Reply {
            start: at(start),
            done: at(done),
            from: from.map(str::to_owned),
        };
        let replies = vec![
            reply(0, 1, Some("n1")),
            reply(10, 11, Some("n1")),
            // A probe started before the cut, answered after it by n1 still.
            reply(20, 22, Some("n1")),
            reply(30, 330, None),
            reply(40, 340, None),
            reply(1200, 1201, Some("n2")),
            reply(1210, 1211, Some("n2")),
        ];
        let o = outage(&replies, at(21)).unwrap();
        assert_eq!(
            o,
            Outage {
                gap: Duration::from_millis(1179),
                last_before: Duration::ZERO,
                first_after: Duration::from_millis(1180),
                failed: 2,
            }
        );
        assert!(outage(&replies[..3], at(21)).is_err(), "n2 never answered");
    }
}
