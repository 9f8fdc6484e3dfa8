//! Our daemon with N nodes on one bridge (keepalive 100 ms, deadtime 500 ms,
//! no resource groups and `auto_failback legacy`, so membership only): CPU per node while all are up, and how long after one
//! node's power loss every other node has logged it dead.
//!
//! Detection is timed with the benchmark's own clock: every survivor's log is
//! read every few milliseconds from where it was, and the time a survivor's
//! `node NAME: is dead` line first appears is when it noticed (the logs carry
//! only whole seconds).

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use nix::sys::signal::Signal;

use crate::cost;
use crate::harness::{must, Cluster, Node, Spawned, Topology};
use crate::pair::{ms, wait_lines};
use crate::systems::{self, Setting, System, BIN, HA_LOG};
use crate::Rng;

/// What one cluster size gave.
#[derive(Clone, Debug, Default)]
pub struct ScaleResult {
    /// The number of nodes.
    pub nodes: usize,
    /// CPU per node (percent of one core) over the window, one value per node.
    pub cpu: Vec<f64>,
    /// RSS per node, KiB.
    pub rss_kib: Vec<u64>,
    /// Per death: the time until the last survivor logged it, ms.
    pub detect_all: Vec<f64>,
    /// Per death and survivor: the time until that survivor logged it, ms.
    pub detect_each: Vec<f64>,
    /// Survivor x death pairs where the survivor logged the node dead but
    /// not its link (`Link NAME:eth1 dead.`); 3.0.6 logs both, always.
    pub link_dead_missing: usize,
    /// Measurements that could not be made, with why.
    pub failures: Vec<String>,
}

/// Incremental reader of one node's log.
struct Tail {
    file: Option<std::fs::File>,
    path: std::path::PathBuf,
    pos: u64,
    buf: String,
}

impl Tail {
    fn new(node: &Node) -> Tail {
        Tail {
            file: None,
            path: node.path(HA_LOG),
            pos: node.log_len(HA_LOG) as u64,
            buf: String::new(),
        }
    }

    /// Whether a line with `needle` has appeared since the tail was made.
    fn seen(&mut self, needle: &str) -> bool {
        if self.file.is_none() {
            self.file = std::fs::File::open(&self.path).ok();
        }
        if let Some(f) = self.file.as_mut() {
            let mut chunk = Vec::new();
            if f.seek(SeekFrom::Start(self.pos)).is_ok() && f.read_to_end(&mut chunk).is_ok() {
                self.pos += chunk.len() as u64;
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        }
        self.buf.contains(needle)
    }
}

/// Runs one cluster of `n` nodes: CPU over `window`, then `reps` deaths; at
/// the end every node's log is copied to `logs` as `scale-N-NODE.log`.
pub fn run(
    n: usize,
    reps: usize,
    window: Duration,
    rng: &mut Rng,
    verbose: bool,
    logs: &std::path::Path,
) -> Result<ScaleResult> {
    let setting = Setting::parse("100ms", System::Ours)?;
    let names: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cluster = Cluster::new(&refs, Topology::private());
    for node in cluster.nodes() {
        systems::install(System::Ours, node, &setting, &refs, None);
    }
    let mut result = ScaleResult {
        nodes: n,
        ..ScaleResult::default()
    };
    let timeout = Duration::from_secs(60) + Duration::from_secs(2) * n as u32;
    let mut daemons: Vec<Option<(Spawned, Instant)>> = Vec::new();
    let marks: Vec<usize> = cluster.nodes().iter().map(|n| n.log_len(HA_LOG)).collect();
    for node in cluster.nodes() {
        daemons.push(Some((node.spawn(&[BIN, "run"]), Instant::now())));
    }
    // Everyone sees everyone.
    for (i, node) in cluster.nodes().iter().enumerate() {
        let links: Vec<String> = names
            .iter()
            .filter(|p| *p != node.name())
            .map(|p| format!("Link {p}:eth1 up."))
            .collect();
        let needles: Vec<&str> = links.iter().map(String::as_str).collect();
        wait_lines(node, HA_LOG, marks[i], &needles, timeout)?;
    }
    if verbose {
        eprintln!("  [scale {n}] all nodes see each other");
    }
    std::thread::sleep(Duration::from_secs(6));

    // CPU per node, all nodes over the same window.
    let pids: Vec<Vec<i32>> = cluster.nodes().iter().map(ours_pids).collect();
    let all: Vec<i32> = pids.iter().flatten().copied().collect();
    let t0 = Instant::now();
    let before = cost::cpu_ns(&all);
    std::thread::sleep(window);
    let after = cost::cpu_ns(&all);
    let wall = t0.elapsed();
    for node_pids in &pids {
        let used: u64 = node_pids
            .iter()
            .filter_map(|p| Some(after.get(p)?.saturating_sub(*before.get(p)?)))
            .sum();
        result
            .cpu
            .push(used as f64 / wall.as_nanos() as f64 * 100.0);
        result.rss_kib.push(cost::memory(node_pids).rss_kib);
    }
    if verbose {
        eprintln!("  [scale {n}] CPU per node {:?}", result.cpu);
    }

    // Deaths of the last node, each at a random point of its heartbeat cycle.
    let victim = n - 1;
    let vname = names[victim].clone();
    for rep in 0..reps {
        match one_death(&cluster, &mut daemons, victim, &setting, rng, timeout) {
            Ok((each, missing)) => {
                result.link_dead_missing += missing;
                let all = each.iter().cloned().fold(0.0, f64::max);
                if verbose {
                    eprintln!("  [scale {n}] death {rep}: all survivors after {all:.0} ms");
                }
                result.detect_all.push(all);
                result.detect_each.extend(each);
            }
            Err(e) => {
                eprintln!("  [scale {n}] death {rep} of {vname}: FAILED: {e:#}");
                result
                    .failures
                    .push(format!("{n} nodes, death {rep}: {e:#}"));
                break;
            }
        }
    }
    std::fs::create_dir_all(logs)?;
    for node in cluster.nodes() {
        std::fs::write(
            logs.join(format!("scale-{n}-{}.log", node.name())),
            node.read_file(HA_LOG),
        )?;
    }
    Ok(result)
}

fn ours_pids(node: &Node) -> Vec<i32> {
    systems::processes(System::Ours, node)
        .into_iter()
        .map(|p| p.pid)
        .collect()
}

/// Kills node `victim` (power loss: processes and cable at once), times each
/// survivor's `is dead` line, then brings the node back and waits until
/// every survivor has it active again. Returns the detection times and how
/// many survivors did not log the victim's link dead.
fn one_death(
    cluster: &Cluster,
    daemons: &mut [Option<(Spawned, Instant)>],
    victim: usize,
    setting: &Setting,
    rng: &mut Rng,
    timeout: Duration,
) -> Result<(Vec<f64>, usize)> {
    let nodes = cluster.nodes();
    let vnode = &nodes[victim];
    if let Some((_, started)) = &daemons[victim] {
        if let Some(wait) = Duration::from_secs(6).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(rng.below(setting.keepalive));
    let mut tails: Vec<(usize, Tail)> = (0..nodes.len())
        .filter(|&i| i != victim)
        .map(|i| (i, Tail::new(&nodes[i])))
        .collect();
    let needle = format!("node {}: is dead", vnode.name());
    let kill_marks: Vec<usize> = nodes.iter().map(|n| n.log_len(HA_LOG)).collect();
    let mut batch = tempfile::NamedTempFile::new()?;
    writeln!(batch, "link set {}-eth1 down", vnode.name())?;
    let path = batch.path().to_string_lossy().into_owned();
    let switch = cluster.switch_netns().to_owned();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| must(&["ip", "-n", &switch, "-batch", &path]));
        vnode.signal(Signal::SIGKILL, |_| true);
    });
    let mut seen: Vec<Option<f64>> = vec![None; tails.len()];
    let deadline = t0 + timeout;
    while seen.iter().any(Option::is_none) {
        for (k, (_, tail)) in tails.iter_mut().enumerate() {
            if seen[k].is_none() && tail.seen(&needle) {
                seen[k] = Some(ms(t0.elapsed()));
            }
        }
        if Instant::now() > deadline {
            let missing: Vec<&str> = tails
                .iter()
                .zip(&seen)
                .filter(|(_, s)| s.is_none())
                .map(|((i, _), _)| nodes[*i].name())
                .collect();
            bail!("{missing:?} never logged {needle:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    vnode.kill_all();
    systems::retire(daemons[victim].take().map(|(guard, _)| guard));

    // Back: cable in, daemon started, every survivor has it active again.
    // (Not "Link NAME:eth1 up.": a survivor that never logged the link dead
    // does not log it up either.)
    let marks: Vec<usize> = nodes.iter().map(|n| n.log_len(HA_LOG)).collect();
    vnode.link_up("eth1");
    daemons[victim] = Some((vnode.spawn(&[BIN, "run"]), Instant::now()));
    let back = format!("Status update for node {}: status active", vnode.name());
    for (i, node) in nodes.iter().enumerate() {
        if i != victim {
            wait_lines(node, HA_LOG, marks[i], &[&back], timeout)?;
        }
    }
    let link_dead = format!("Link {}:eth1 dead.", vnode.name());
    let missing = nodes
        .iter()
        .enumerate()
        .filter(|(i, node)| {
            *i != victim
                && !node
                    .read_file(HA_LOG)
                    .get(kill_marks[*i]..marks[*i])
                    .unwrap_or_default()
                    .contains(&link_dead)
        })
        .count();
    Ok((seen.into_iter().flatten().collect(), missing))
}
