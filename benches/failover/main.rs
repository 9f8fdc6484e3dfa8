//! Failover benchmark (issue 8): ours, Debian's heartbeat 3.0.6 and Debian's
//! keepalived 2.2.7 on the same network-namespace topology, measured from a
//! client's point of view.
//!
//! Two nodes on a bridge (`eth1` heartbeat/VRRP network, `eth0` service
//! network), a client namespace on the service network opening a new TCP
//! connection to the service address every 10 ms, and a tiny responder on
//! each node answering with the node's name. For each system and timing
//! setting, repeated: cold start, graceful switchover, failback, hard
//! failover (power loss at a random point of the heartbeat cycle), failback
//! after the reboot; then the idle cost of each node's daemon. Then ours alone
//! with N nodes on one bridge: CPU per node and time to detect one death.
//!
//! ```text
//! cargo bench --bench failover -- [--reps N] [--systems ours,hb306,keepalived]
//!     [--settings 1s,100ms,fast,debian,K/D,debian:K/D] [--idle SECS] [--scale 2,8,16,32|none]
//!     [--scale-reps N] [--scale-window SECS] [--out DIR] [--seed N] [--smoke] [--quiet]
//!     [--ha-cf-extra LINE] [--hog]
//! ```
//!
//! Without cargo's `--bench` flag (that is, under `cargo test`) it runs in
//! smoke mode: one repetition of every measurement for every system at
//! 100 ms / 500 ms, plain and on a Debian host (`debian`: the package's
//! resource.d in place, the service started by a resource script that leaves
//! its daemon running), a short idle window and a 3-node scale run, to prove that
//! everything can be measured. Any measurement that cannot be made makes the
//! program exit non-zero, in both modes. Timing goals are not asserted.
//!
//! Needs root and the packages `.ci/setup` installs (heartbeat, keepalived,
//! tini, iproute2, util-linux, fonts-dejavu-core).
//!
//! # Layout
//!
//! - `probe`: the client's connection loop, and the responder.
//! - `systems`: configuring, starting and stopping each system in a node.
//! - `pair`: the two-node events and the idle window.
//! - `scale`: N of our nodes, CPU and death detection.
//! - `cost`: CPU time and memory of a set of processes, and the CPU hog of
//!   `--hog` (busy loops on every CPU during the idle windows).
//! - `stats`: min / median / p90 / max.
//! - `report`: markdown tables, CSV, PNG.

// The namespace harness of the integration tests; not all of it is used here.
#[path = "../../integration/harness/mod.rs"]
#[allow(unused_imports)]
mod harness;

mod cost;
mod pair;
mod probe;
mod report;
mod scale;
mod stats;
mod systems;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::pair::{Pair, Samples};
use crate::report::Results;
use crate::systems::{Setting, System};

/// A small seeded generator (xorshift64*) for the random kill times; the seed
/// is printed so a run can be repeated.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniformly random duration in `[0, d)`.
    pub fn below(&mut self, d: Duration) -> Duration {
        let ns = d.as_nanos().max(1) as u64;
        Duration::from_nanos(self.next() % ns)
    }
}

/// What to run.
#[derive(Debug)]
struct Options {
    smoke: bool,
    reps: usize,
    systems: Vec<System>,
    settings: Vec<String>,
    idle: Duration,
    scale: Vec<usize>,
    scale_reps: usize,
    scale_window: Duration,
    out: PathBuf,
    seed: u64,
    verbose: bool,
    /// Lines added to every ha.cf (an experiment, e.g. `realtime off`).
    ha_cf_extra: String,
    /// Busy loops on every CPU during the idle windows.
    hog: bool,
    /// Measure nothing: read these `samples.csv` files, merge, and report.
    from_csv: Vec<PathBuf>,
}

impl Options {
    fn full() -> Options {
        Options {
            smoke: false,
            reps: 10,
            systems: System::ALL.to_vec(),
            settings: vec!["1s".into(), "100ms".into(), "fast".into(), "debian".into()],
            idle: Duration::from_secs(60),
            scale: vec![2, 8, 16, 32],
            scale_reps: 10,
            scale_window: Duration::from_secs(30),
            out: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("failover"),
            seed: seed_from_clock(),
            verbose: true,
            ha_cf_extra: String::new(),
            hog: false,
            from_csv: Vec::new(),
        }
    }

    /// One repetition of everything at 100 ms / 500 ms, plain and on a
    /// Debian host, short windows.
    fn smoke(mut self) -> Options {
        self.smoke = true;
        self.reps = 1;
        self.settings = vec!["100ms".into(), "debian".into()];
        self.idle = Duration::from_secs(3);
        self.scale = vec![3];
        self.scale_reps = 1;
        self.scale_window = Duration::from_secs(3);
        self.out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("failover-smoke");
        self
    }

    fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options::full();
        let mut smoke = false;
        let mut scale_reps = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .with_context(|| format!("{a} needs a value"))
            };
            match a.as_str() {
                "--bench" => {}
                "--smoke" => smoke = true,
                "--quiet" => o.verbose = false,
                "--reps" => o.reps = value()?.parse().context("--reps")?,
                "--systems" => {
                    o.systems = list(&value()?)
                        .iter()
                        .map(|s| System::parse(s))
                        .collect::<Result<_>>()?;
                }
                "--settings" => o.settings = list(&value()?),
                "--idle" => o.idle = Duration::from_secs(value()?.parse().context("--idle")?),
                "--scale" => {
                    let v = value()?;
                    o.scale = if v == "none" {
                        Vec::new()
                    } else {
                        list(&v)
                            .iter()
                            .map(|n| n.parse().context("--scale"))
                            .collect::<Result<_>>()?
                    };
                }
                "--scale-reps" => scale_reps = Some(value()?.parse().context("--scale-reps")?),
                "--scale-window" => {
                    o.scale_window =
                        Duration::from_secs(value()?.parse().context("--scale-window")?);
                }
                "--out" => o.out = PathBuf::from(value()?),
                "--seed" => o.seed = value()?.parse().context("--seed")?,
                "--ha-cf-extra" => o.ha_cf_extra = value()?,
                "--hog" => o.hog = true,
                "--from-csv" => {
                    o.from_csv = list(&value()?).into_iter().map(PathBuf::from).collect()
                }
                "-h" | "--help" => {
                    println!("{}", usage());
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{}", usage()),
            }
        }
        o.scale_reps = scale_reps.unwrap_or(o.reps);
        for n in &o.scale {
            if !(2..=244).contains(n) {
                bail!("--scale: {n} nodes (2 to 244)");
            }
        }
        if smoke {
            let out = o.out.clone();
            let mut s = o.smoke();
            if args.iter().any(|a| a == "--out") {
                s.out = out;
            }
            return Ok(s);
        }
        Ok(o)
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "none")
        .map(str::to_owned)
        .collect()
}

fn usage() -> &'static str {
    "usage: cargo bench --bench failover -- [--reps N] [--systems ours,hb306,keepalived|none] \
     [--settings 1s,100ms,fast,debian,K/D,debian:K/D] [--idle SECS] [--scale 2,8,16,32|none] \
     [--scale-reps N] [--scale-window SECS] [--out DIR] [--seed N] [--smoke] [--quiet] \
     [--ha-cf-extra LINE] [--hog]\n\
     or: cargo bench --bench failover -- --from-csv A.csv,B.csv --out DIR   (merge runs, report only)\n\
     \n\
     settings (default 1s,100ms,fast,debian; smoke mode: 100ms,debian):\n\
     \x20 1s         keepalive 1 s, deadtime 3 s (keepalived: advert 1 s)\n\
     \x20 100ms      keepalive 100 ms, deadtime 500 ms (keepalived: advert 100 ms)\n\
     \x20 fast       the fastest timing each system sustains here\n\
     \x20 K/D        keepalive K, deadtime D, e.g. 20ms/100ms\n\
     \x20 debian     100 ms / 500 ms on a Debian host: the heartbeat package's\n\
     \x20            /etc/ha.d/resource.d (IPaddr, IPaddr2, ...) stays in place for ours too,\n\
     \x20            haresources `n1 IPaddr::192.0.2.50/24/eth0 svc`, and the service is\n\
     \x20            resource.d/svc, an init-style script that starts the responder as a\n\
     \x20            daemon holding the script's output and returns (keepalived: the same\n\
     \x20            script from notify_master / notify_backup / notify_fault / notify_stop)\n\
     \x20 debian:T   the same at timing T (debian:1s, debian:20ms/100ms)"
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Started by ourselves inside a node as its responder.
    if args.first().map(String::as_str) == Some("--responder") {
        let (Some(name), Some(port)) = (args.get(1), args.get(2).and_then(|p| p.parse().ok()))
        else {
            eprintln!("usage: --responder NAME PORT");
            return ExitCode::FAILURE;
        };
        return match probe::responder(name, port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("responder: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let options = if args.iter().any(|a| a == "--bench") {
        match Options::parse(&args) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("failover: {e:#}");
                return ExitCode::from(2);
            }
        }
    } else {
        // Under `cargo test`: behave enough like a test binary for its flags.
        if args.iter().any(|a| a == "--list") {
            println!("failover_smoke: test");
            return ExitCode::SUCCESS;
        }
        let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        if !filters.is_empty()
            && !filters
                .iter()
                .any(|f| "failover_smoke".contains(f.as_str()))
        {
            println!("failover smoke benchmark: filtered out");
            return ExitCode::SUCCESS;
        }
        Options::full().smoke()
    };
    match run(&options) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("failover: {n} measurement(s) could not be made (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("failover: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything `o` asks for (or reads it back with `--from-csv`), prints
/// and writes the results; returns how many measurements failed.
fn run(o: &Options) -> Result<usize> {
    let mut results = if o.from_csv.is_empty() {
        measure(o)?
    } else {
        report::read_csv(&o.from_csv)?
    };
    // Slowest setting first, then ours, 3.0.6, keepalived within a setting.
    // The Debian-host settings after the plain ones.
    results.pairs.sort_by_key(|(sys, set, _)| {
        (
            set.debian_host,
            std::cmp::Reverse(set.keepalive),
            System::ALL.iter().position(|s| s == sys),
        )
    });
    results.scale.sort_by_key(|s| s.nodes);
    let md = report::markdown(&results);
    println!("{md}");
    std::fs::create_dir_all(&o.out).with_context(|| format!("create {}", o.out.display()))?;
    std::fs::write(o.out.join("results.md"), &md)?;
    std::fs::write(o.out.join("samples.csv"), report::csv(&results))?;
    let png = o.out.join("failover-outages.png");
    if !results.pairs.is_empty() {
        report::plot(&results, &png).context("the plot")?;
    }
    eprintln!(
        "wrote {}/results.md, samples.csv{}",
        o.out.display(),
        if results.pairs.is_empty() {
            ""
        } else {
            " and failover-outages.png"
        }
    );
    let mut failures = results.failures().len();
    if o.smoke {
        // Every kind of measurement must have been made at least once.
        for (sys, set, s) in &results.pairs {
            for (kind, n) in [
                ("cold start", s.cold.len()),
                ("hard failover", s.hard.len()),
                ("graceful switchover", s.graceful.len()),
                ("failback", s.failback.len()),
                ("idle", s.idle.len()),
            ] {
                if n == 0 {
                    eprintln!("smoke: no {kind} sample for {} {}", sys.key(), set.name);
                    failures += 1;
                }
            }
        }
        for s in &results.scale {
            if s.detect_all.is_empty() || s.cpu.is_empty() {
                eprintln!("smoke: no scale sample for {} nodes", s.nodes);
                failures += 1;
            }
        }
    }
    Ok(failures)
}

/// Measures everything `o` asks for.
fn measure(o: &Options) -> Result<Results> {
    harness::require_root();
    let started = Instant::now();
    let mut rng = Rng::new(o.seed);
    let load_before = loadavg();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!(
        "failover benchmark ({} mode, {profile} build): seed {}, load average before: {load_before}",
        if o.smoke { "smoke" } else { "full" },
        o.seed
    );
    let mut results = Results {
        header: Vec::new(),
        pairs: Vec::new(),
        scale: Vec::new(),
    };
    for name in &o.settings {
        for &system in &o.systems {
            let mut setting = Setting::parse(name, system)?.with_ha_cf_extra(&o.ha_cf_extra);
            if o.hog {
                setting.name.push_str("+cpu hog");
            }
            eprintln!(
                "== {} at {} ({}), {} repetition(s); load average {}",
                system.label(),
                setting.name,
                setting.describe(system),
                o.reps,
                loadavg()
            );
            let samples = run_pair(system, &setting, o, &mut rng)?;
            results.pairs.push((system, setting, samples));
        }
    }
    for &n in &o.scale {
        eprintln!(
            "== scale: ours with {n} nodes, {} death(s); load average {}",
            o.scale_reps,
            loadavg()
        );
        results.scale.push(scale::run(
            n,
            o.scale_reps,
            o.scale_window,
            &mut rng,
            o.verbose,
            &o.out.join("logs"),
        )?);
    }
    let load_after = loadavg();
    results.header = vec![
        format!(
            "Finished {} ({} mode, {profile} build of ours), {:.0} min, seed {}.",
            chrono::Local::now().format("%Y-%m-%d %H:%M %Z"),
            if o.smoke { "smoke" } else { "full" },
            started.elapsed().as_secs_f64() / 60.0,
            o.seed
        ),
        format!(
            "Command: `{}`.",
            if o.smoke && !std::env::args().any(|a| a == "--bench") {
                "cargo test (smoke mode)".to_owned()
            } else {
                std::env::args().skip(1).collect::<Vec<_>>().join(" ")
            }
        ),
        format!(
            "Machine: {} CPUs, kernel {}; /proc/loadavg before: `{load_before}`, after: `{load_after}`.",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
        ),
    ];
    Ok(results)
}

/// All repetitions and the idle window of one system at one setting.
fn run_pair(system: System, setting: &Setting, o: &Options, rng: &mut Rng) -> Result<Samples> {
    let mut samples = Samples::default();
    let mut pair = Pair::new(system, setting, o.verbose)?;
    for rep in 0..o.reps {
        if let Err(e) = pair.repetition(rng, &mut samples) {
            eprintln!("  repetition {rep} FAILED: {e:#}\n{}", pair.logs_tail(30));
            samples.failures.push(format!("repetition {rep}: {e:#}"));
        }
        pair.power_off_all()?;
    }
    let hog = o.hog.then(cost::Hog::start);
    let idle = pair.idle(o.idle);
    drop(hog);
    match idle {
        Ok(idle) => {
            for (node, i) in &idle {
                eprintln!(
                    "  idle {node}: {} processes, {:.3} % CPU, RSS {} KiB, PSS {:?} KiB, \
                     {} deaths or state changes, {} late heartbeats",
                    i.processes, i.cpu_percent, i.memory.rss_kib, i.memory.pss_kib, i.flaps, i.late
                );
            }
            samples.idle = idle;
        }
        Err(e) => {
            eprintln!("  idle FAILED: {e:#}\n{}", pair.logs_tail(30));
            samples.failures.push(format!("idle: {e:#}"));
        }
    }
    pair.power_off_all()?;
    pair.save_logs(&o.out.join("logs"))?;
    Ok(samples)
}
