//! The resource manager: runs the acquisitions and releases the node table asks
//! for, each group step by step as [`GroupRun`] says. It decides nothing about
//! *who* holds what.
//!
//! Groups are independent unless they share a resource (the same resource as
//! written, or the same service address): such groups form a *chain*, whose
//! groups run one after another in haresources order. Every chain has its own
//! queue of work and runs it in order, so a slow script (a `status` at start
//! that takes seconds, Debian's `Delay`) delays only its own chain; the other
//! chains' checks and acquisitions go on meanwhile. A job of the node table is
//! reported done ([`GroupsDone`]) once every chain has done its part, and jobs
//! are reported in the order they came.

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

/// One chain's part of a job.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// Its groups of the node table's job `id`.
    Run {
        id: u64,
        acquire: bool,
        set: Hold,
    },
    Leftovers,
    Reannounce(Hold),
}

/// Groups that share a resource, in haresources order, and the work waiting for them.
struct Chain {
    groups: Vec<ResourceGroup>,
    /// Waiting work, in the order it came; bounded by the protocol (a handful at a time).
    queue: VecDeque<Work>,
    /// A piece of work runs (its future is spawned on the actor).
    busy: bool,
}

/// A job of the node table that some chain has not finished yet.
struct Pending {
    id: u64,
    /// Chains still at work on it.
    left: usize,
    ok: bool,
}

/// Splits the groups into chains: two groups that share a resource (as
/// written, or a service address) are in the same chain. Each chain keeps
/// haresources order; chains are ordered by their first group.
fn chains_of(groups: &[ResourceGroup]) -> Vec<Vec<ResourceGroup>> {
    let shares = |a: &ResourceGroup, b: &ResourceGroup| {
        a.resources.iter().any(|x| {
            b.resources.iter().any(|y| {
                x.text == y.text || matches!((&x.ip, &y.ip), (Some(p), Some(q)) if p.addr == q.addr)
            })
        })
    };
    // Union-find over group indices, by the smallest index of each chain.
    let mut root: Vec<usize> = (0..groups.len()).collect();
    fn find(root: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while root[r] != r {
            r = root[r];
        }
        root[i] = r;
        r
    }
    for i in 0..groups.len() {
        for j in i + 1..groups.len() {
            if shares(&groups[i], &groups[j]) {
                let (a, b) = (find(&mut root, i), find(&mut root, j));
                root[a.max(b)] = a.min(b);
            }
        }
    }
    let mut chains: Vec<(usize, Vec<ResourceGroup>)> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let r = find(&mut root, i);
        match chains.iter_mut().find(|(k, _)| *k == r) {
            Some((_, c)) => c.push(g.clone()),
            None => chains.push((r, vec![g.clone()])),
        }
    }
    chains.into_iter().map(|(_, c)| c).collect()
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
    /// The groups, by chain (see the module documentation).
    chains: Vec<Chain>,
    dirs: ScriptDirs,
    /// Where finished jobs are reported (the node table).
    table: Recipient<GroupsDone>,
    /// The node table's jobs not yet reported, in the order they came.
    pending: VecDeque<Pending>,
    next_id: u64,
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
        let chains = chains_of(&groups)
            .into_iter()
            .map(|groups| Chain {
                groups,
                queue: VecDeque::new(),
                busy: false,
            })
            .collect();
        ResourceManager {
            me: me.to_owned(),
            chains,
            dirs,
            table,
            pending: VecDeque::new(),
            next_id: 0,
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

    /// The groups of chain `c` in `set`.
    fn selected(&self, c: usize, set: Hold) -> Vec<ResourceGroup> {
        self.chains[c]
            .groups
            .iter()
            .filter(|g| {
                let ours = g.node == self.me;
                (ours && set.has(Hold::LOCAL)) || (!ours && set.has(Hold::FOREIGN))
            })
            .cloned()
            .collect()
    }

    /// Queues `work` on every chain that has a group in `set` (every chain
    /// for `None`); returns how many. [`ResourceManager::start_work`] starts it.
    fn queue(&mut self, work: Work, set: Option<Hold>) -> usize {
        let mut n = 0;
        for c in 0..self.chains.len() {
            if set.is_none_or(|set| !self.selected(c, set).is_empty()) {
                self.chains[c].queue.push_back(work);
                n += 1;
            }
        }
        n
    }

    /// Starts the next piece of work of every idle chain.
    fn start_work(&mut self, ctx: &mut Context<Self>) {
        for c in 0..self.chains.len() {
            self.next_work(c, ctx);
        }
    }

    /// Starts chain `c`'s next piece of work, unless it is busy.
    fn next_work(&mut self, c: usize, ctx: &mut Context<Self>) {
        if self.chains[c].busy {
            return;
        }
        let Some(work) = self.chains[c].queue.pop_front() else {
            return;
        };
        self.chains[c].busy = true;
        let env = self.for_task();
        let fut: std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> = match work {
            Work::Run { acquire, set, .. } => {
                Box::pin(run_groups(self.selected(c, set), acquire, set, env))
            }
            Work::Leftovers => Box::pin(release_leftovers(self.chains[c].groups.clone(), env)),
            Work::Reannounce(set) => Box::pin(reannounce(self.selected(c, set), env)),
        };
        ctx.spawn(fut.into_actor(self).map(move |ok, act, ctx| {
            act.chains[c].busy = false;
            if let Work::Run { id, .. } = work {
                if let Some(p) = act.pending.iter_mut().find(|p| p.id == id) {
                    p.left -= 1;
                    p.ok &= ok;
                }
                act.report();
            }
            act.next_work(c, ctx);
        }));
    }

    /// Reports the finished jobs at the front, in the order they came.
    fn report(&mut self) {
        while self.pending.front().is_some_and(|p| p.left == 0) {
            let Some(p) = self.pending.pop_front() else {
                return;
            };
            if self.table.try_send(GroupsDone { ok: p.ok }).is_err() {
                error!(
                    self.log,
                    "cannot report finished resource work to the node table"
                );
            }
        }
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
}

/// Asks every group whether it runs here, and releases those that do (a
/// `status` that times out counts as running: release rather than assume).
async fn release_leftovers(groups: Vec<ResourceGroup>, env: OpEnv) -> bool {
    let log = &env.log;
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
        if let Err(e) = run_group(GroupRun::release(g.resources.len()), &g.resources, &env).await {
            crit!(
                log,
                "cannot release group {} left from before ({e:?}): stop it by hand",
                g.key()
            );
        }
    }
    true
}

/// Starts the built-in service addresses of the groups again: an address that
/// is present is left as it is and announced again. A service address run by
/// an `IPaddr` script from `resource.d` is the script's business.
async fn reannounce(groups: Vec<ResourceGroup>, env: OpEnv) -> bool {
    for r in groups.iter().flat_map(|g| &g.resources) {
        if let Some(spec) = r.ip.as_ref().filter(|_| builtin(r, &env)) {
            info!(env.log, "Announcing {} again", spec.addr;
                "kind" => "reannounce", "addr" => spec.addr.to_string());
            builtin_ip(spec, Op::Start, &env.ip, &env.log).await;
        }
    }
    true
}

/// Acquires or releases the groups, one after another; false if any failed.
async fn run_groups(groups: Vec<ResourceGroup>, acquire: bool, set: Hold, env: OpEnv) -> bool {
    let log = &env.log;
    let mut all_ok = true;
    for g in &groups {
        let words: Vec<&str> = g.resources.iter().map(|r| r.text.as_str()).collect();
        let what = format!("{} {}", g.node, words.join(" "));
        // The journal's acquire_start/acquire_done (release_*) pair
        // brackets the group's script runs.
        let (verb, start_kind, done_kind) = if acquire {
            ("acquired", "acquire_start", "acquire_done")
        } else {
            ("released", "release_start", "release_done")
        };
        let run = if acquire {
            info!(log, "Acquiring resource group: {what}";
                "kind" => start_kind, "group" => g.key(), "home" => &g.node, "set" => set.as_str());
            GroupRun::acquire(g.resources.len())
        } else {
            info!(log, "Releasing resource group: {what}";
                "kind" => start_kind, "group" => g.key(), "home" => &g.node, "set" => set.as_str());
            GroupRun::release(g.resources.len())
        };
        let started = actix::clock::Instant::now();
        let result = run_group(run, &g.resources, &env).await;
        let took = started.elapsed();
        let ms = crate::journal::ms(took);
        if acquire && result.is_ok() {
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
        self.queue(Work::Leftovers, None);
        self.start_work(ctx);
    }
}

impl Handler<Reannounce> for ResourceManager {
    type Result = ();

    fn handle(&mut self, msg: Reannounce, ctx: &mut Context<Self>) {
        self.queue(Work::Reannounce(msg.set), Some(msg.set));
        self.start_work(ctx);
    }
}

impl Handler<RunGroups> for ResourceManager {
    type Result = ();

    fn handle(&mut self, job: RunGroups, ctx: &mut Context<Self>) {
        let id = self.next_id;
        self.next_id += 1;
        let work = Work::Run {
            id,
            acquire: job.acquire,
            set: job.set,
        };
        let left = self.queue(work, Some(job.set));
        self.pending.push_back(Pending { id, left, ok: true });
        // A job without groups here is done at once (in its turn).
        self.report();
        self.start_work(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_conf::diag::Loc;
    use std::path::Path;
    use std::sync::Arc;

    fn group(node: &str, texts: &[&str]) -> ResourceGroup {
        let file: Arc<Path> = Arc::from(Path::new("haresources"));
        ResourceGroup {
            node: node.to_owned(),
            resources: texts
                .iter()
                .map(|t| {
                    let ip = hb_conf::ip_spec(t).ok();
                    Resource {
                        text: (*t).to_owned(),
                        script: if ip.is_some() { "IPaddr" } else { t }.to_owned(),
                        args: Vec::new(),
                        ip,
                    }
                })
                .collect(),
            loc: Loc::new(&file, 1),
        }
    }

    fn keys(chains: &[Vec<ResourceGroup>]) -> Vec<Vec<&str>> {
        chains
            .iter()
            .map(|c| c.iter().map(ResourceGroup::key).collect())
            .collect()
    }

    /// Groups sharing a resource (as written, or a service address written
    /// two ways) form one chain in haresources order; the others stand alone.
    #[test]
    fn groups_that_share_a_resource_are_chained_in_file_order() {
        let groups = [
            group("n1", &["a", "shared"]),
            group("n1", &["b"]),
            group("n2", &["192.0.2.9/24", "c"]),
            group("n2", &["shared", "d"]),
            group("n1", &["e", "192.0.2.9"]),
        ];
        assert_eq!(
            keys(&chains_of(&groups)),
            [vec!["a", "shared"], vec!["b"], vec!["192.0.2.9/24", "e"]]
        );
    }
}
