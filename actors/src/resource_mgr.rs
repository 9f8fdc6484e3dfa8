//! The resource manager: runs the acquisitions and releases the node table asks
//! for, one job at a time, group by group in haresources order, each group step by
//! step as [`GroupRun`] says. It decides nothing about *who* holds what.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;
use hb_conf::model::{Resource, ResourceGroup};
use hb_core::resources::group::{GroupFailure, GroupRun, Next, Op, Outcome};
use hb_core::resources::nice::Hold;
use slog::{crit, debug, error, info, warn, Logger};

use crate::ipaddr::{IpAddrAgent, IpStatus};
use crate::scripts::{self, ScriptError};

/// Acquire or release a set of groups (as the node table's protocol names them).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct RunGroups {
    /// Acquire (true) or release.
    pub acquire: bool,
    /// Which groups: ours (local), the others (foreign), or all.
    pub set: Hold,
}

/// A [`RunGroups`] finished: `ok` is false if any group failed.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct GroupsDone {
    /// Every group of the job succeeded.
    pub ok: bool,
}

/// Before the node joins: release whatever of the groups runs here already (left
/// by a crash of an earlier run). Not reported to the node table.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct ReleaseLeftovers;

/// Announce the service addresses of these held groups again (gratuitous ARP),
/// after a partition in which the other node held them too. Not reported back.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Reannounce {
    /// Which groups.
    pub set: Hold,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Run(RunGroups),
    Leftovers,
    Reannounce(Hold),
}

/// Where resource scripts are found.
#[derive(Debug, Clone)]
pub struct ScriptDirs {
    /// `/etc/ha.d` (its `resource.d/` is searched first).
    pub confdir: PathBuf,
    /// `/etc/init.d`.
    pub init_dir: PathBuf,
}

/// The resource manager actor.
pub struct ResourceManager {
    me: String,
    groups: Vec<ResourceGroup>,
    dirs: ScriptDirs,
    /// Where finished jobs are reported (the node table).
    table: Recipient<GroupsDone>,
    /// Jobs waiting; bounded by the protocol (a handful at a time).
    queue: VecDeque<Job>,
    busy: bool,
    /// The built-in service-address resource (it keeps the running ARP announcements).
    ip: IpAddrAgent,
    /// Longest a resource script may run before its process group is killed
    /// (`script_timeout`).
    script_timeout: Duration,
    /// `ipaddr_scripts`: service addresses run resource.d's `IPaddr`/`IPaddr2`
    /// when present, instead of the built-in address.
    ipaddr_scripts: bool,
    /// Acquisition and script times, for the Prometheus endpoint.
    metrics: crate::metrics::Metrics,
    log: Logger,
}

/// What a spawned job needs to run resource operations, owned by the job.
#[derive(Clone)]
struct OpEnv {
    dirs: ScriptDirs,
    me: String,
    ip: IpAddrAgent,
    script_timeout: Duration,
    ipaddr_scripts: bool,
    metrics: crate::metrics::Metrics,
    log: Logger,
}

impl ResourceManager {
    /// A manager for node `me` and the haresources groups, with the default
    /// script timeout ([`hb_conf::model::DEFAULT_SCRIPT_TIMEOUT`]).
    pub fn new(
        me: &str,
        groups: Vec<ResourceGroup>,
        dirs: ScriptDirs,
        table: Recipient<GroupsDone>,
        log: &Logger,
    ) -> ResourceManager {
        ResourceManager {
            me: me.to_owned(),
            groups,
            dirs,
            table,
            queue: VecDeque::new(),
            busy: false,
            ip: IpAddrAgent::new(log),
            script_timeout: hb_conf::model::DEFAULT_SCRIPT_TIMEOUT,
            ipaddr_scripts: false,
            metrics: crate::metrics::Metrics::default(),
            log: log.new(slog::o!("actor" => "resource_mgr")),
        }
    }

    /// Sets how long a resource script may run (`script_timeout`).
    pub fn with_script_timeout(mut self, timeout: Duration) -> ResourceManager {
        self.script_timeout = timeout;
        self
    }

    /// Service addresses run resource.d's `IPaddr`/`IPaddr2` scripts when
    /// present (`ipaddr_scripts on`); by default they run built in.
    pub fn with_ipaddr_scripts(mut self, on: bool) -> ResourceManager {
        self.ipaddr_scripts = on;
        self
    }

    /// Where acquisition and script times go (`metrics_listen`).
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> ResourceManager {
        self.metrics = metrics;
        self
    }

    fn selected(&self, set: Hold) -> Vec<ResourceGroup> {
        self.groups
            .iter()
            .filter(|g| {
                let ours = g.node == self.me;
                (ours && set.has(Hold::LOCAL)) || (!ours && set.has(Hold::FOREIGN))
            })
            .cloned()
            .collect()
    }

    /// What a spawned job needs, owned.
    fn for_task(&self) -> OpEnv {
        OpEnv {
            dirs: self.dirs.clone(),
            me: self.me.clone(),
            ip: self.ip.clone(),
            script_timeout: self.script_timeout,
            ipaddr_scripts: self.ipaddr_scripts,
            metrics: self.metrics.clone(),
            log: self.log.clone(),
        }
    }

    /// Asks every group whether it runs here, and releases those that do (a
    /// `status` that times out counts as running: release rather than assume).
    fn release_leftovers(&mut self, ctx: &mut Context<Self>) {
        let groups = self.groups.clone();
        let env = self.for_task();
        let log = env.log.clone();
        let fut = async move {
            for g in &groups {
                let mut running = false;
                for r in &g.resources {
                    running |= run_op(r, Op::Status, &env).await != Outcome::Failed;
                }
                if !running {
                    continue;
                }
                warn!(log, "resource group {} runs here from before (a crash?): releasing it before joining", g.key();
                    "kind" => "leftover", "group" => g.key());
                if let Err(e) =
                    run_group(GroupRun::release(g.resources.len()), &g.resources, &env).await
                {
                    crit!(
                        log,
                        "cannot release group {} left from before ({e:?}): stop it by hand",
                        g.key()
                    );
                }
            }
        };
        ctx.spawn(fut.into_actor(self).map(|(), act, ctx| {
            act.busy = false;
            act.next_job(ctx);
        }));
    }

    /// Starts the built-in service addresses of the groups again: an address that
    /// is present is left as it is and announced again. A service address run by
    /// an `IPaddr` script from `resource.d` is the script's business.
    fn reannounce(&mut self, set: Hold, ctx: &mut Context<Self>) {
        let groups = self.selected(set);
        let env = self.for_task();
        let fut = async move {
            for r in groups.iter().flat_map(|g| &g.resources) {
                if let Some(spec) = r.ip.as_ref().filter(|_| builtin(r, &env)) {
                    info!(env.log, "Announcing {} again", spec.addr;
                        "kind" => "reannounce", "addr" => spec.addr.to_string());
                    builtin_ip(spec, Op::Start, &env.ip, &env.log).await;
                }
            }
        };
        ctx.spawn(fut.into_actor(self).map(|(), act, ctx| {
            act.busy = false;
            act.next_job(ctx);
        }));
    }

    fn next_job(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        let Some(job) = self.queue.pop_front() else {
            return;
        };
        self.busy = true;
        let job = match job {
            Job::Run(job) => job,
            Job::Leftovers => return self.release_leftovers(ctx),
            Job::Reannounce(set) => return self.reannounce(set, ctx),
        };
        let groups = self.selected(job.set);
        let env = self.for_task();
        let log = env.log.clone();
        let fut = async move {
            let mut all_ok = true;
            for g in &groups {
                let words: Vec<&str> = g.resources.iter().map(|r| r.text.as_str()).collect();
                let what = format!("{} {}", g.node, words.join(" "));
                // The journal's acquire_start/acquire_done (release_*) pair
                // brackets the group's script runs.
                let (verb, start_kind, done_kind) = if job.acquire {
                    ("acquired", "acquire_start", "acquire_done")
                } else {
                    ("released", "release_start", "release_done")
                };
                let run = if job.acquire {
                    info!(log, "Acquiring resource group: {what}";
                        "kind" => start_kind, "group" => g.key(), "home" => &g.node, "set" => job.set.as_str());
                    GroupRun::acquire(g.resources.len())
                } else {
                    info!(log, "Releasing resource group: {what}";
                        "kind" => start_kind, "group" => g.key(), "home" => &g.node, "set" => job.set.as_str());
                    GroupRun::release(g.resources.len())
                };
                let started = actix::clock::Instant::now();
                let result = run_group(run, &g.resources, &env).await;
                let took = started.elapsed();
                let ms = crate::journal::ms(took);
                if job.acquire && result.is_ok() {
                    env.metrics.takeover(took);
                }
                match &result {
                    Ok(()) => info!(log, "Resource group {} {verb} in {ms} ms", g.key();
                        "kind" => done_kind, "group" => g.key(), "ok" => true, "duration_ms" => ms),
                    Err(_) => error!(log, "Resource group {}: not {verb} ({ms} ms)", g.key();
                        "kind" => done_kind, "group" => g.key(), "ok" => false, "duration_ms" => ms),
                }
                match result {
                    Ok(()) => {}
                    Err(GroupFailure::StartFailed {
                        resource,
                        rollback_clean,
                    }) => {
                        all_ok = false;
                        crit!(
                            log,
                            "Giving up resources due to failure of {}",
                            g.resources[resource].text
                        );
                        if !rollback_clean {
                            crit!(
                                log,
                                "Resource STOP failure while giving up group {}: stop it by hand",
                                g.key()
                            );
                        }
                    }
                    Err(GroupFailure::StopFailed { resource }) => {
                        all_ok = false;
                        crit!(
                            log,
                            "Resource STOP failure. {} still runs: group {} is NOT released; stop it by hand before another node takes it",
                            g.resources[resource].text,
                            g.key()
                        );
                    }
                }
            }
            all_ok
        };
        ctx.spawn(fut.into_actor(self).map(|ok, act, ctx| {
            act.busy = false;
            if act.table.try_send(GroupsDone { ok }).is_err() {
                error!(
                    act.log,
                    "cannot report finished resource work to the node table"
                );
            }
            act.next_job(ctx);
        }));
    }
}

/// Drives one group to the end.
async fn run_group(
    mut run: GroupRun,
    resources: &[Resource],
    env: &OpEnv,
) -> Result<(), GroupFailure> {
    loop {
        match run.next_step() {
            Next::Run { resource, op } => {
                let outcome = run_op(&resources[resource], op, env).await;
                run.report(outcome);
            }
            Next::Wait(d) => actix::clock::sleep(d).await,
            Next::Done(r) => return r,
        }
    }
}

/// One operation on one resource (see [`Outcome`]: for `status`, `Ok` means
/// running). A script that outlives the timeout is `TimedOut`. A service address (`IPaddr`/`IPaddr2`, or the bare
/// address) uses the built-in resource, unless `ipaddr_scripts` is on and
/// `resource.d` holds an executable script of that name, which then runs as 3.0.6
/// would run it; anything else is a script from `resource.d`, then `init.d`.
async fn run_op(r: &Resource, op: Op, env: &OpEnv) -> Outcome {
    let (dirs, log) = (&env.dirs, &env.log);
    if let Some(spec) = r.ip.as_ref().filter(|_| builtin(r, env)) {
        let started = actix::clock::Instant::now();
        let ok = builtin_ip(spec, op, &env.ip, log).await;
        let took = started.elapsed();
        let ms = crate::journal::ms(took);
        // A status that finds the address absent is an answer, not a failure.
        env.metrics
            .script("IPaddr", op_word(op), took, !ok && op != Op::Status);
        // Journaled as a script run, as a resource.d/IPaddr run would be.
        debug!(log, "IPaddr {} {} (built in): {}", spec.addr, op_word(op), if ok { "done" } else { "failed" };
            "kind" => "script", "script" => "IPaddr", "op" => op_word(op), "builtin" => true,
            "exit" => i64::from(!ok), "duration_ms" => ms);
        return Outcome::ended(ok);
    }
    let script = match scripts::find_script(Some(&dirs.confdir), &dirs.init_dir, &r.script) {
        Ok(p) => p,
        Err(e) => {
            error!(log, "{e}");
            return Outcome::Failed;
        }
    };
    let sop = match op {
        Op::Start => scripts::Op::Start,
        Op::Stop => scripts::Op::Stop,
        Op::Status => scripts::Op::Status,
    };
    let vars = [
        ("HA_CURHOST".to_owned(), env.me.clone()),
        ("HA_NICEFAILBACK".to_owned(), "yes".to_owned()),
    ];
    let started = actix::clock::Instant::now();
    let result = scripts::run(&script, &r.args, sop, &vars, env.script_timeout, log).await;
    // A status that says "not running" is an answer, not a failure.
    let failed = match &result {
        Ok(outcome) => op != Op::Status && !outcome.status.success(),
        Err(_) => true,
    };
    env.metrics
        .script(&r.script, op_word(op), started.elapsed(), failed);
    match result {
        Ok(outcome) => Outcome::ended(match op {
            Op::Status => scripts::is_running(&outcome),
            _ => outcome.status.success(),
        }),
        Err(e @ ScriptError::TimedOut { .. }) => {
            error!(log, "{e}");
            Outcome::TimedOut
        }
        Err(e) => {
            error!(log, "{e}");
            Outcome::Failed
        }
    }
}

/// The operation's word, as passed to a script.
fn op_word(op: Op) -> &'static str {
    match op {
        Op::Start => "start",
        Op::Stop => "stop",
        Op::Status => "status",
    }
}

/// Whether a service address runs built in (see [`hb_conf::host::ip_runner`]).
fn builtin(r: &Resource, env: &OpEnv) -> bool {
    r.ip.is_some()
        && matches!(
            hb_conf::host::ip_runner(env.ipaddr_scripts, Some(&env.dirs.confdir), &r.script),
            hb_conf::host::IpRunner::BuiltIn { .. }
        )
}

/// The built-in service-address resource.
async fn builtin_ip(spec: &hb_conf::model::IpSpec, op: Op, ip: &IpAddrAgent, log: &Logger) -> bool {
    let plan = match ip.plan(spec).await {
        Ok(p) => p,
        Err(e) => {
            error!(log, "IPaddr {}: {e}", spec.addr);
            return false;
        }
    };
    match op {
        Op::Start => match ip.start(&plan).await {
            Ok(started) => {
                info!(
                    log,
                    "IPaddr {}/{} on {} (label {}): up; sending gratuitous ARP",
                    plan.addr,
                    plan.prefix,
                    plan.iface,
                    started.label;
                    "kind" => "garp", "addr" => plan.addr.to_string(), "iface" => &plan.iface
                );
                true
            }
            Err(e) => {
                error!(log, "IPaddr {}: {e}", spec.addr);
                false
            }
        },
        Op::Stop => match ip.stop(&plan).await {
            Ok(_) => {
                info!(log, "IPaddr {}: removed", plan.addr);
                true
            }
            Err(e) => {
                error!(log, "IPaddr {}: {e}", spec.addr);
                false
            }
        },
        Op::Status => matches!(ip.status(&plan).await, Ok(IpStatus::Running)),
    }
}

impl Actor for ResourceManager {
    type Context = Context<Self>;
}

impl Handler<ReleaseLeftovers> for ResourceManager {
    type Result = ();

    fn handle(&mut self, _: ReleaseLeftovers, ctx: &mut Context<Self>) {
        self.queue.push_back(Job::Leftovers);
        self.next_job(ctx);
    }
}

impl Handler<Reannounce> for ResourceManager {
    type Result = ();

    fn handle(&mut self, msg: Reannounce, ctx: &mut Context<Self>) {
        self.queue.push_back(Job::Reannounce(msg.set));
        self.next_job(ctx);
    }
}

impl Handler<RunGroups> for ResourceManager {
    type Result = ();

    fn handle(&mut self, job: RunGroups, ctx: &mut Context<Self>) {
        self.queue.push_back(Job::Run(job));
        self.next_job(ctx);
    }
}
