//! `respawn USER CMD [ARGS]` (spec §11): one [`RespawnClient`] actor per
//! configured line keeps its program running. The restart rules are decided in
//! [`hb_core::respawn`]; this actor starts the program, waits for it, logs, and
//! stops it at shutdown.
//!
//! * **When**: the actors are started right after the node table, so the
//!   programs start when the node table starts, not at "comm up" as in 3.0.6
//!   (the node table offers no comm-up hook to other actors yet).
//! * **How**: no shell; argv exactly as configured; working directory `/`;
//!   stdin `/dev/null`, stdout and stderr inherited from the daemon; the
//!   environment is `PATH`, `HOME`, `USER`, `LOGNAME` and one `HA_NAME` per
//!   `env NAME=value` directive. The child drops to the user's uid, gid and
//!   supplementary groups (`getgrouplist`, as `initgroups` would set them)
//!   before `exec`, and runs in its own process group.
//! * **Stop** ([`StopClient`]): no more restarts; SIGTERM to the program's
//!   process group, SIGKILL after [`STOP_GRACE`]; answers once the program has
//!   exited (or, should even SIGKILL not end it, after [`KILL_WAIT`] more).
//! * `ipfail` is not run as a program (see [`plan`]): the built-in ipfail
//!   (`hb_core::ipfail`) runs instead. `failfast` lines are not run at all yet.
//!   Both are said once in the log at start.
//!
//! ```text
//!  started ──> start() ──spawn──> program ──exit──> Respawner::ended ──> Decision
//!                 ^   (fails: SpawnFailed)                               │
//!                 └──── at once, or run_later(pause) <── Restart ────────┘
//! ```

use std::ffi::CString;
use std::io;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::{select, Either};
use hb_core::membership::Level;
use hb_core::respawn::{self, Decision, Ending, Policy, Respawner};
use hb_core::time::Instant;
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{Gid, Pid, Uid, User};
use slog::{crit, debug, error, info, warn, Logger};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// From SIGTERM to SIGKILL when a client is stopped.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// After SIGKILL, how long a stop still waits for the exit before it answers anyway.
pub const KILL_WAIT: Duration = Duration::from_secs(5);

/// A program to keep running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    /// The user it runs as (uid, gid and supplementary groups).
    pub user: String,
    /// The program (an absolute path) and its arguments.
    pub argv: Vec<String>,
    /// Extra environment (`HA_*` from `env` directives).
    pub env: Vec<(String, String)>,
}

/// The clients to run for the configured `respawn`/`failfast` lines, in file
/// order, with `env NAME=value` given to each as `HA_NAME`. Logs a warning,
/// once per line, for each line that is not run: `ipfail` (built in) and
/// `failfast` (not supported yet).
pub fn plan(
    lines: &[hb_conf::model::Respawn],
    env: &[(String, String)],
    log: &Logger,
) -> Vec<ClientSpec> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (format!("HA_{k}"), v.clone()))
        .collect();
    let mut out = Vec::new();
    for line in lines {
        let cmd = respawn::command_line(&line.argv);
        if line.failfast {
            warn!(
                log,
                "failfast {} {cmd}: failfast is not supported yet; the program is not started",
                line.user
            );
        } else if respawn::is_ipfail(&line.argv[0]) {
            info!(
                log,
                "respawn {} {cmd}: ipfail is built into this heartbeat; the program is not started, the built-in ipfail runs instead",
                line.user
            );
        } else {
            out.push(ClientSpec {
                user: line.user.clone(),
                argv: line.argv.clone(),
                env: env.clone(),
            });
        }
    }
    out
}

/// Stop the client for good: answers once its program has exited.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct StopClient;

/// Why a program could not be started. Nothing runs; the policy treats it as
/// a run that ended at once.
#[derive(Debug, Error)]
pub enum SpawnError {
    /// The user is not in the user database (any more).
    #[error("user {0} does not exist")]
    NoSuchUser(String),
    /// The user database could not be read.
    #[error("cannot look up user {user}: {errno}")]
    UserLookup {
        /// The configured user.
        user: String,
        /// The error.
        errno: Errno,
    },
    /// The user's groups could not be listed.
    #[error("cannot list the groups of user {user}: {errno}")]
    Groups {
        /// The configured user.
        user: String,
        /// The error.
        errno: Errno,
    },
    /// `fork`, the credentials change or `exec` failed.
    #[error("{0}")]
    Spawn(io::Error),
}

/// The running program, as the actor sees it.
struct Running {
    /// Which start this is: a late exit report of an earlier run is ignored.
    run: u64,
    pid: u32,
    /// To the task that owns the child: it signals the child only while the
    /// child is not reaped, so a PID that was reused is never signalled.
    /// Bounded: at most SIGTERM and SIGKILL are ever sent per stop.
    signals: mpsc::Sender<Signal>,
}

/// Keeps one `respawn` program running.
pub struct RespawnClient {
    spec: ClientSpec,
    /// The command line as logged (argv joined by blanks).
    cmd: String,
    policy: Respawner,
    child: Option<Running>,
    runs: u64,
    /// A pending restart after a short run; cancelled by a stop.
    restart: Option<SpawnHandle>,
    /// Answered when the program has exited after a stop.
    stop_waiters: Vec<oneshot::Sender<()>>,
    grace: Duration,
    origin: actix::clock::Instant,
    log: Logger,
}

impl RespawnClient {
    /// A client for `spec` under `policy` ([`Policy::HEARTBEAT`] in the daemon).
    pub fn new(spec: ClientSpec, policy: Policy, log: &Logger) -> RespawnClient {
        let cmd = respawn::command_line(&spec.argv);
        RespawnClient {
            log: log.new(slog::o!("actor" => "respawn", "client" => cmd.clone())),
            cmd,
            spec,
            policy: Respawner::new(policy),
            child: None,
            runs: 0,
            restart: None,
            stop_waiters: Vec::new(),
            grace: STOP_GRACE,
            origin: actix::clock::Instant::now(),
        }
    }

    /// Another SIGTERM-to-SIGKILL grace than [`STOP_GRACE`] (tests).
    pub fn with_stop_grace(mut self, grace: Duration) -> RespawnClient {
        self.grace = grace;
        self
    }

    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn say(&self, (level, text): (Level, String)) {
        match level {
            Level::Crit => crit!(self.log, "{text}"),
            Level::Error => error!(self.log, "{text}"),
            Level::Warn => warn!(self.log, "{text}"),
            Level::Info | Level::Notice => info!(self.log, "{text}"),
            Level::Debug => debug!(self.log, "{text}"),
        }
    }

    fn start(&mut self, ctx: &mut Context<Self>) {
        if self.policy.is_finished() {
            return;
        }
        let now = self.now();
        self.policy.started(now);
        self.runs += 1;
        let run = self.runs;
        match spawn(&self.spec) {
            Ok((child, uid, gid)) => {
                let pid = child.id().unwrap_or_default();
                info!(
                    self.log,
                    "Starting \"{}\" as uid {uid}  gid {gid} (pid {pid})", self.cmd
                );
                let (tx, rx) = mpsc::channel(4);
                self.child = Some(Running {
                    run,
                    pid,
                    signals: tx,
                });
                ctx.spawn(
                    watch(child, rx)
                        .into_actor(self)
                        .map(move |status, act, ctx| act.exited(run, status, ctx)),
                );
            }
            Err(e) => {
                error!(self.log, "Cannot start client \"{}\": {e}", self.cmd);
                self.decide(Ending::SpawnFailed, ctx);
            }
        }
    }

    fn exited(&mut self, run: u64, status: io::Result<ExitStatus>, ctx: &mut Context<Self>) {
        if self.child.as_ref().map(|c| c.run) != Some(run) {
            return;
        }
        self.child = None;
        let how = match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Killed(sig),
                (None, None) => Ending::Exited(-1),
            },
            Err(e) => {
                error!(self.log, "cannot wait for client \"{}\": {e}", self.cmd);
                Ending::Exited(-1)
            }
        };
        if self.policy.is_stopping() {
            info!(self.log, "Client \"{}\" stopped ({how:?}).", self.cmd);
        } else if let Some(line) = respawn::ending_line(&self.cmd, how) {
            self.say(line);
        }
        self.decide(how, ctx);
    }

    fn decide(&mut self, how: Ending, ctx: &mut Context<Self>) {
        let now = self.now();
        let decision = self.policy.ended(now, how);
        if let Some(line) = respawn::decision_line(&self.cmd, decision) {
            self.say(line);
        }
        match decision {
            Decision::Restart { after } if after.is_zero() => self.start(ctx),
            Decision::Restart { after } => {
                self.restart = Some(ctx.run_later(after, |act, ctx| {
                    act.restart = None;
                    act.start(ctx);
                }));
            }
            Decision::Declined | Decision::TooFast | Decision::Stopped => {
                for w in self.stop_waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        }
    }

    fn signal(&self, sig: Signal) {
        if let Some(c) = &self.child {
            if c.signals.try_send(sig).is_err() {
                warn!(self.log, "cannot signal client \"{}\" ({sig}): it is exiting", self.cmd; "pid" => c.pid);
            }
        }
    }
}

impl Actor for RespawnClient {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.origin = actix::clock::Instant::now();
        self.start(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if !self.policy.is_stopping() {
            error!(
                self.log,
                "the supervisor of client \"{}\" stopped unexpectedly: the program is no longer respawned",
                self.cmd
            );
        }
    }
}

impl Handler<StopClient> for RespawnClient {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopClient, ctx: &mut Context<Self>) -> ResponseFuture<()> {
        self.policy.stop();
        if let Some(h) = self.restart.take() {
            ctx.cancel_future(h);
        }
        let Some(run) = self.child.as_ref().map(|c| c.run) else {
            return Box::pin(async {});
        };
        info!(self.log, "Stopping client \"{}\" (SIGTERM)", self.cmd);
        self.signal(Signal::SIGTERM);
        ctx.run_later(self.grace, move |act, _| {
            if act.child.as_ref().map(|c| c.run) == Some(run) {
                warn!(
                    act.log,
                    "Client \"{}\" still runs {:?} after SIGTERM: SIGKILL", act.cmd, act.grace
                );
                act.signal(Signal::SIGKILL);
            }
        });
        let (tx, rx) = oneshot::channel();
        self.stop_waiters.push(tx);
        let (log, cmd, bound) = (self.log.clone(), self.cmd.clone(), self.grace + KILL_WAIT);
        Box::pin(async move {
            if actix::clock::timeout(bound, rx).await.is_err() {
                error!(
                    log,
                    "Client \"{cmd}\" has not exited {bound:?} after SIGTERM, even with SIGKILL; not waiting for it"
                );
            }
        })
    }
}

/// Starts the program as the user. Returns the child and its uid and gid.
fn spawn(spec: &ClientSpec) -> Result<(tokio::process::Child, Uid, Gid), SpawnError> {
    let user = User::from_name(&spec.user)
        .map_err(|errno| SpawnError::UserLookup {
            user: spec.user.clone(),
            errno,
        })?
        .ok_or_else(|| SpawnError::NoSuchUser(spec.user.clone()))?;
    let name = CString::new(spec.user.as_bytes()).map_err(|_| SpawnError::Groups {
        user: spec.user.clone(),
        errno: Errno::EINVAL,
    })?;
    let groups =
        nix::unistd::getgrouplist(&name, user.gid).map_err(|errno| SpawnError::Groups {
            user: spec.user.clone(),
            errno,
        })?;
    let mut cmd = tokio::process::Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .env("PATH", crate::scripts::DEFAULT_PATH)
        .env("HOME", &user.dir)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .process_group(0);
    let me = nix::unistd::geteuid();
    // Unprivileged (tests): running as ourselves needs no change, and could not make one.
    if me.is_root() || me != user.uid {
        crate::sys::run_as(&mut cmd, user.uid, user.gid, groups);
    }
    let child = cmd.spawn().map_err(SpawnError::Spawn)?;
    Ok((child, user.uid, user.gid))
}

/// Waits for the child, and signals its process group when asked. Owning the
/// child here means it is signalled only while it is not reaped.
async fn watch(
    mut child: tokio::process::Child,
    mut signals: mpsc::Receiver<Signal>,
) -> io::Result<ExitStatus> {
    loop {
        let asked = {
            let wait = std::pin::pin!(child.wait());
            let recv = std::pin::pin!(signals.recv());
            match select(wait, recv).await {
                Either::Left((status, _)) => return status,
                Either::Right((sig, _)) => sig,
            }
        };
        let Some(sig) = asked else {
            // The actor is gone: nobody will ask again.
            return child.wait().await;
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            let pid = Pid::from_raw(pid);
            // Its own group, unless it left it (setsid): then the process alone.
            if killpg(pid, sig) == Err(Errno::ESRCH) {
                let _ = kill(pid, sig);
            }
        }
    }
}
