//! Process management: `run` and `start` (with the pid file), `stop`,
//! `status` and `reload`, with the exit codes an LSB init script expects.
//!
//! - `run` checks the configuration, takes the pid file and runs the daemon
//!   in the foreground. Under systemd (`NOTIFY_SOCKET` set) it sends
//!   `READY=1` once it is up.
//! - `start` checks the configuration and takes the pid file in the calling
//!   process, then detaches: fork, `setsid`, fork again (the daemon is no
//!   session leader, so opening a serial tty never gives it a controlling
//!   terminal), standard input and output on `/dev/null`, umask 022,
//!   working directory `/`. The daemon tells the waiting process over a pipe
//!   when it is up, or why it stopped; only then does `start` exit.
//! - `stop`, `status` and `reload` read the pid file without taking it.
//!
//! The daemon's own work is `crate::run`; this module only brackets it.

use std::cell::RefCell;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cli::DaemonArgs;
use crate::pidfile::{PidFile, Probe};

/// LSB: generic or unspecified error (also: configuration refused, already
/// running, did not stop in time).
const EXIT_FAILURE: u8 = 1;
/// LSB `status`: the program is dead and its pid file exists.
const STATUS_DEAD_PIDFILE: u8 = 1;
/// LSB `status`: the program is not running.
const STATUS_NOT_RUNNING: u8 = 3;
/// LSB `status`: the status is unknown.
const STATUS_UNKNOWN: u8 = 4;
/// LSB (actions other than `status`): the program is not running.
const EXIT_NOT_RUNNING: u8 = 7;

/// How often `stop` looks whether the daemon is gone.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The paths of `args`, made absolute: the daemon works from `/`.
fn absolute(args: &DaemonArgs) -> anyhow::Result<DaemonArgs> {
    let abs = |p: &Path| std::path::absolute(p);
    Ok(DaemonArgs {
        config: abs(&args.config)?,
        node_name: args.node_name.clone(),
        state_dir: abs(&args.state_dir)?,
        run_dir: abs(&args.run_dir)?,
        pid_file: abs(&args.pid_file)?,
        check_only: args.check_only,
    })
}

/// The configuration check of `run` (`crate::run::check`: strict, this
/// machine's devices, users and scripts, and the media planned, so an
/// unresolvable `ucast` host stops `start` here and not in the detached
/// daemon), done before the pid file is touched. Prints what is wrong as
/// `run` does.
fn config_ok(args: &DaemonArgs) -> bool {
    crate::run::validate(&args.config, args.node_name.clone()).is_some()
}

/// Takes the pid file, or says why not (and the caller exits 1).
fn take_pid_file(path: &Path) -> Option<PidFile> {
    match PidFile::acquire(path) {
        Ok((pid_file, note)) => {
            if let Some(note) = note {
                eprintln!("heartbeat: WARN: {note}");
            }
            Some(pid_file)
        }
        Err(e) => {
            eprintln!("heartbeat: ERROR: {e}");
            None
        }
    }
}

/// Tells whoever waits that the daemon is up: the `start` process (a pipe),
/// systemd (`NOTIFY_SOCKET`), or nobody.
struct Notifier {
    pipe: RefCell<Option<std::io::PipeWriter>>,
    systemd: Option<std::ffi::OsString>,
    ready: std::cell::Cell<bool>,
}

impl Notifier {
    /// Takes `NOTIFY_SOCKET` out of the environment, so that resource
    /// scripts and respawned programs do not see it. Call it while the
    /// process has one thread.
    fn new(pipe: Option<std::io::PipeWriter>) -> Notifier {
        let systemd = std::env::var_os("NOTIFY_SOCKET");
        if systemd.is_some() {
            std::env::remove_var("NOTIFY_SOCKET");
        }
        Notifier {
            pipe: RefCell::new(pipe),
            systemd,
            ready: std::cell::Cell::new(false),
        }
    }

    fn ready(&self) {
        if self.ready.replace(true) {
            return;
        }
        if let Some(mut pipe) = self.pipe.borrow_mut().take() {
            // The reader may be gone (the caller was killed): nothing to tell.
            let _ = writeln!(pipe, "ready {}", std::process::id());
        }
        if let Some(socket) = &self.systemd {
            if let Err(e) = sd_notify(socket, "READY=1") {
                eprintln!(
                    "heartbeat: cannot tell systemd that heartbeat is up ({}): {e}",
                    socket.to_string_lossy()
                );
            }
        }
    }

    /// Tells the `start` process why the daemon stopped before it was up.
    fn failed(&self, why: &str) {
        if let Some(mut pipe) = self.pipe.borrow_mut().take() {
            let _ = writeln!(pipe, "error {}", why.replace('\n', " "));
        }
    }
}

/// Sends `state` to systemd's notification socket (a path, or an abstract
/// name written `@name`), as `sd_notify(3)` does.
fn sd_notify(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt as _;
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = socket.as_bytes();
    let addr = match bytes.split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name)?,
        Some((b'/', _)) => SocketAddr::from_pathname(socket)?,
        _ => {
            return Err(std::io::Error::other(
                "NOTIFY_SOCKET is neither a path nor an abstract name",
            ))
        }
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// Runs the daemon in this process with the pid file held; it is removed
/// when the daemon returns.
fn serve(
    args: &DaemonArgs,
    mut pid_file: PidFile,
    notifier: &Notifier,
) -> anyhow::Result<ExitCode> {
    let ready = || notifier.ready();
    let opts = crate::run::RunOptions {
        config: &args.config,
        node_name: args.node_name.clone(),
        state_dir: &args.state_dir,
        run_dir: &args.run_dir,
        ready: &ready,
    };
    let result = match pid_file.write_pid(std::process::id()) {
        Ok(()) => crate::run::run(&opts),
        Err(e) => Err(anyhow::anyhow!(
            "writing the pid file {}: {e}",
            pid_file.path().display()
        )),
    };
    match &result {
        Err(e) => notifier.failed(&format!("{e:#}")),
        Ok(_) if !notifier.ready.get() => notifier.failed(
            "heartbeat stopped during start-up: the configuration was refused when the \
             daemon read it again (did it just change?), or it was told to stop; see its log",
        ),
        Ok(_) => {}
    }
    drop(pid_file);
    result
}

/// What `run` and `start` do first: check the configuration, then take the
/// pid file. `None` when either failed (and was reported): exit 1.
fn prepare(args: &DaemonArgs) -> anyhow::Result<Option<(DaemonArgs, PidFile)>> {
    if !config_ok(args) {
        return Ok(None);
    }
    let args = absolute(args)?;
    Ok(take_pid_file(&args.pid_file).map(|pid_file| (args, pid_file)))
}

/// `heartbeat run`: in the foreground, with the pid file.
pub fn run(args: &DaemonArgs) -> anyhow::Result<ExitCode> {
    if args.check_only {
        return Ok(check_only(args));
    }
    let Some((args, pid_file)) = prepare(args)? else {
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    let notifier = Notifier::new(None);
    serve(&args, pid_file, &notifier)
}

/// `--check-only` (hidden, for the tests): what `run` checks before it
/// starts anything, and nothing else (no pid file, log or state).
fn check_only(args: &DaemonArgs) -> ExitCode {
    match crate::run::validate(&args.config, args.node_name.clone()) {
        Some(_) => {
            eprintln!("configuration OK: heartbeat run would start");
            ExitCode::SUCCESS
        }
        None => ExitCode::from(EXIT_FAILURE),
    }
}

/// `heartbeat start`: check, take the pid file, detach, wait until the
/// daemon is up.
pub fn start(args: &DaemonArgs) -> anyhow::Result<ExitCode> {
    if args.check_only {
        return Ok(check_only(args));
    }
    let Some((args, pid_file)) = prepare(args)? else {
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    let (reader, writer) = std::io::pipe()?;
    match detach()? {
        Detached::Caller => {
            drop(writer);
            Ok(wait_until_up(reader, pid_file))
        }
        Detached::Daemon => {
            drop(reader);
            let notifier = Notifier::new(Some(writer));
            match serve(&args, pid_file, &notifier) {
                Ok(code) => Ok(code),
                // Already told to the caller; standard error is /dev/null.
                Err(_) => Ok(ExitCode::from(EXIT_FAILURE)),
            }
        }
    }
}

/// The caller's side of `start`: reads what the daemon says until it closes
/// the pipe (it is up, or it exited).
fn wait_until_up(mut reader: std::io::PipeReader, pid_file: PidFile) -> ExitCode {
    let mut said = String::new();
    let _ = reader.read_to_string(&mut said);
    let line = said.lines().next().unwrap_or_default();
    if let Some(pid) = line.strip_prefix("ready ") {
        println!("heartbeat started [pid {pid}]");
        // The daemon holds the lock with its own descriptor.
        pid_file.disown();
        return ExitCode::SUCCESS;
    }
    if let Some(why) = line.strip_prefix("error ") {
        eprintln!("heartbeat: {why}");
        eprintln!("heartbeat not started.");
        // The daemon removed the pid file itself.
        pid_file.disown();
    } else {
        eprintln!(
            "heartbeat: the daemon died during start-up without saying why; see its log \
             (logfile in ha.cf, /var/log/ha-log by default)"
        );
        eprintln!("heartbeat not started.");
        // Dropped: removed, as the daemon could not.
        drop(pid_file);
    }
    ExitCode::from(EXIT_FAILURE)
}

/// Which side of [`detach`] we are on.
enum Detached {
    /// The process that ran `heartbeat start`.
    Caller,
    /// The daemon: a grandchild, in a session of its own, detached from the
    /// terminal.
    Daemon,
}

/// Forks twice with a `setsid` between (the classic daemon start); in the
/// daemon, points standard input, output and error to `/dev/null`, sets the
/// umask to 022 and goes to `/`. The caller reaps the intermediate child.
#[allow(unsafe_code)]
fn detach() -> anyhow::Result<Detached> {
    use nix::unistd::{fork, setsid, ForkResult};
    // After a fork only the calling thread exists in the child: a second
    // thread would leave locks held forever. Nothing has started one yet.
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u32>().ok())
        });
    anyhow::ensure!(
        threads == Some(1),
        "internal error: cannot start the daemon from a process with {threads:?} threads"
    );
    // SAFETY: the process has a single thread (checked above), so the child
    // may do anything the parent could.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            let _ = nix::sys::wait::waitpid(child, None);
            return Ok(Detached::Caller);
        }
        ForkResult::Child => {}
    }
    // The intermediate child: a new session, then the daemon's own fork.
    let forked = setsid().map_err(anyhow::Error::from).and_then(|_| {
        // SAFETY: still a single thread.
        unsafe { fork() }.map_err(anyhow::Error::from)
    });
    match forked {
        Ok(ForkResult::Child) => {}
        Ok(ForkResult::Parent { .. }) | Err(_) => {
            // Leaves without running destructors or flushing the caller's
            // buffers a second time. With an error, the daemon never runs: the
            // pipe closes and the caller reports it.
            // SAFETY: _exit is always safe to call; nothing runs after it.
            unsafe { nix::libc::_exit(0) }
        }
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    std::env::set_current_dir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    nix::unistd::dup2_stderr(&null)?;
    Ok(Detached::Daemon)
}

/// `heartbeat stop`: SIGTERM, then wait for the daemon to go away.
pub fn stop(pid_file: &Path, timeout: Duration) -> anyhow::Result<ExitCode> {
    let pid = match probe_or_report(pid_file) {
        Err(code) => return Ok(code),
        Ok(Probe::Absent) => {
            println!(
                "heartbeat is not running (no pid file {}).",
                pid_file.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Ok(Probe::Stale(pid)) => {
            println!("heartbeat is not running ({}).", stale(pid_file, pid));
            return Ok(ExitCode::SUCCESS);
        }
        Ok(Probe::Starting) => {
            eprintln!(
                "heartbeat: a daemon holds {} but has not written its pid yet; try again",
                pid_file.display()
            );
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
        Ok(Probe::Running(pid)) => pid,
    };
    match kill(Pid::from_raw(pid), Signal::SIGTERM) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => {
            eprintln!("heartbeat: cannot signal heartbeat [pid {pid}]: {e}");
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
    }
    let start = Instant::now();
    loop {
        let gone = match crate::pidfile::probe(pid_file) {
            Ok(Probe::Running(p)) => p != pid,
            // Another daemon holds it now: ours is gone.
            Ok(Probe::Starting | Probe::Absent | Probe::Stale(_)) => true,
            Err(_) => !crate::pidfile::is_live_heartbeat(pid),
        };
        if gone {
            println!("heartbeat [pid {pid}] stopped.");
            return Ok(ExitCode::SUCCESS);
        }
        if start.elapsed() >= timeout {
            eprintln!(
                "heartbeat: heartbeat [pid {pid}] still runs {} s after SIGTERM. A graceful stop \
                 first releases every resource group; a group that cannot be released stays \
                 here, and heartbeat keeps running with it. Look in its log (logfile in ha.cf, \
                 /var/log/ha-log by default) for CRIT lines such as \"Resource STOP failure\", \
                 stop what still runs by hand, then run `heartbeat stop` again.",
                timeout.as_secs()
            );
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
        std::thread::sleep(STOP_POLL);
    }
}

/// What `heartbeat status` says first: one line and an LSB status code.
pub struct Lsb {
    /// 0 running, 1 dead with its pid file left, 3 not running, 4 unknown.
    pub code: u8,
    /// The line, in 3.0.6's words where 3.0.6 has them.
    pub line: String,
    /// A daemon holds the pid file (it may answer on its control socket).
    pub running: bool,
}

/// `heartbeat status`, as far as the pid file tells: one line, LSB status codes.
pub fn lsb_status(pid_file: &Path, config: &Path) -> Lsb {
    let lsb = |code: u8, line: String, running: bool| Lsb {
        code,
        line,
        running,
    };
    let probe = match crate::pidfile::probe(pid_file) {
        Ok(p) => p,
        Err(e) => {
            return lsb(
                STATUS_UNKNOWN,
                format!("heartbeat status unknown: {}: {e}", pid_file.display()),
                false,
            )
        }
    };
    match probe {
        Probe::Running(pid) => {
            let host = nix::sys::utsname::uname()
                .map(|u| u.nodename().to_string_lossy().into_owned())
                .unwrap_or_default();
            let confdir = if config.is_dir() {
                Some(config)
            } else {
                config.parent()
            };
            let node = hb_conf::host::local_node_name(confdir);
            // 3.0.6's words exactly (`heartbeat -s`).
            lsb(
                0,
                format!("heartbeat OK [pid {pid} et al] is running on {host} [{node}]..."),
                true,
            )
        }
        Probe::Starting => lsb(
            0,
            format!(
                "heartbeat is starting (it holds {} and has not written its pid yet)",
                pid_file.display()
            ),
            true,
        ),
        Probe::Stale(pid) => lsb(
            STATUS_DEAD_PIDFILE,
            format!(
                "heartbeat is stopped. No process ({})",
                stale(pid_file, pid)
            ),
            false,
        ),
        Probe::Absent => lsb(
            STATUS_NOT_RUNNING,
            "heartbeat is stopped. No process".to_owned(),
            false,
        ),
    }
}

/// `heartbeat reload`: SIGHUP to the daemon.
pub fn reload(pid_file: &Path) -> anyhow::Result<ExitCode> {
    let pid = match probe_or_report(pid_file) {
        Err(code) => return Ok(code),
        Ok(Probe::Running(pid)) => pid,
        Ok(Probe::Starting) => {
            eprintln!(
                "heartbeat: a daemon holds {} but has not written its pid yet; try again",
                pid_file.display()
            );
            return Ok(ExitCode::from(EXIT_FAILURE));
        }
        Ok(Probe::Absent) => {
            eprintln!(
                "heartbeat: heartbeat is not running (no pid file {}); nothing to reload",
                pid_file.display()
            );
            return Ok(ExitCode::from(EXIT_NOT_RUNNING));
        }
        Ok(Probe::Stale(pid)) => {
            eprintln!(
                "heartbeat: heartbeat is not running ({}); nothing to reload",
                stale(pid_file, pid)
            );
            return Ok(ExitCode::from(EXIT_NOT_RUNNING));
        }
    };
    match kill(Pid::from_raw(pid), Signal::SIGHUP) {
        Ok(()) => {
            println!(
                "heartbeat [pid {pid}] signalled (SIGHUP): it re-reads its configuration and reopens its log files"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(nix::errno::Errno::ESRCH) => {
            eprintln!("heartbeat: heartbeat [pid {pid}] exited just now; nothing to reload");
            Ok(ExitCode::from(EXIT_NOT_RUNNING))
        }
        Err(e) => {
            eprintln!("heartbeat: cannot signal heartbeat [pid {pid}]: {e}");
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// The pid file's state, or exit 1 after saying why it cannot be read.
fn probe_or_report(pid_file: &Path) -> Result<Probe, ExitCode> {
    crate::pidfile::probe(pid_file).map_err(|e| {
        eprintln!(
            "heartbeat: cannot read the pid file {}: {e}",
            pid_file.display()
        );
        ExitCode::from(EXIT_FAILURE)
    })
}

/// "stale pid file P names pid N, which is gone", for messages.
fn stale(pid_file: &Path, pid: Option<i32>) -> String {
    match pid {
        Some(pid) => format!("stale pid file {}: pid {pid} is gone", pid_file.display()),
        None => format!("stale pid file {}: it names no pid", pid_file.display()),
    }
}
