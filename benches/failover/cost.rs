//! What a daemon costs while nothing happens: CPU time of all its processes
//! over a window, and their memory (RSS, and PSS where the kernel has it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// CPU time used so far by each of `pids`, in nanoseconds.
///
/// Summed over the process's threads from `/proc/PID/task/TID/schedstat`
/// (nanoseconds), or from `utime + stime` in `/proc/PID/stat` (clock ticks,
/// 10 ms here) when the kernel has no schedstat.
pub fn cpu_ns(pids: &[i32]) -> HashMap<i32, u64> {
    pids.iter()
        .filter_map(|&pid| Some((pid, schedstat_ns(pid).or_else(|| stat_ns(pid))?)))
        .collect()
}

fn schedstat_ns(pid: i32) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let s = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
        any = true;
    }
    // A kernel without schedstat shows zeros for every task.
    (any && total > 0).then_some(total)
}

fn stat_ns(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = s.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), utime 14 and stime 15.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |v| v.max(1) as u64);
    Some(ticks * 1_000_000_000 / hz)
}

/// Memory of a set of processes, summed, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size.
    pub rss_kib: u64,
    /// Proportional set size (shared pages divided among their users), if
    /// `/proc/PID/smaps_rollup` exists.
    pub pss_kib: Option<u64>,
}

/// RSS and PSS of `pids`, summed.
pub fn memory(pids: &[i32]) -> Memory {
    let mut m = Memory {
        rss_kib: 0,
        pss_kib: Some(0),
    };
    for &pid in pids {
        let field = |text: &str, name: &str| -> Option<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        };
        match std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            Ok(t) => {
                m.rss_kib += field(&t, "Rss:").unwrap_or(0);
                m.pss_kib = m.pss_kib.zip(field(&t, "Pss:")).map(|(a, b)| a + b);
            }
            Err(_) => {
                let t = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                m.rss_kib += field(&t, "VmRSS:").unwrap_or(0);
                m.pss_kib = None;
            }
        }
    }
    m
}

/// The idle cost of one node's daemon over a window.
#[derive(Clone, Debug)]
pub struct Idle {
    /// How many processes the daemon had.
    pub processes: usize,
    /// CPU time over wall time, in percent of one core.
    pub cpu_percent: f64,
    /// Its memory at the end of the window.
    pub memory: Memory,
    /// Deaths or VRRP state changes it logged during the window (filled in
    /// by the caller): where this is not 0, the system does not sustain
    /// the setting.
    pub flaps: usize,
    /// Late-heartbeat warnings it logged during the window (filled in by the caller).
    pub late: usize,
}

/// Measures the processes that `pids` returns (called at the start and at the
/// end: a process present at only one end is left out of the CPU sum) for `window`.
pub fn idle(mut pids: impl FnMut() -> Vec<i32>, window: Duration) -> Idle {
    let before_pids = pids();
    let t0 = Instant::now();
    let before = cpu_ns(&before_pids);
    std::thread::sleep(window);
    let after_pids = pids();
    let after = cpu_ns(&after_pids);
    let wall = t0.elapsed();
    let used: u64 = after
        .iter()
        .filter_map(|(pid, a)| before.get(pid).map(|b| a.saturating_sub(*b)))
        .sum();
    Idle {
        processes: after_pids.len(),
        cpu_percent: used as f64 / wall.as_nanos() as f64 * 100.0,
        memory: memory(&after_pids),
        flaps: 0,
        late: 0,
    }
}

/// Busy loops on every CPU, at normal priority, until dropped: the CPU hog of
/// `--hog`, so an idle window shows whether a setting holds on a loaded host.
pub struct Hog {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Hog {
    /// One spinning thread per CPU.
    pub fn start() -> Hog {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..n)
            .map(|_| {
                let stop = std::sync::Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut spins = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        spins = std::hint::black_box(spins.wrapping_add(1));
                    }
                    spins
                })
            })
            .collect();
        Hog { stop, threads }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
