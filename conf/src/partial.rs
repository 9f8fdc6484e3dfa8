//! The configuration as written, before defaults and cross-checks: every value
//! optional and tagged with its location. Both front ends (ha.cf files, TOML) fill
//! a [`Partial`]; [`Partial::finish`] applies 3.0.6's defaults and checks and
//! yields the total [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use hb_core::auth::KeyTable;

use crate::diag::{At, Diagnostics, Loc};
use crate::model::{
    ApiAuth, AutoFailback, Compression, CompressionSettings, Config, Coredumps, GenMethod, Logging,
    Medium, MsgFmt, PingNode, Realtime, ResourceGroup, Respawn, Timing, DEFAULT_SCRIPT_TIMEOUT,
    MAX_SCRIPT_TIMEOUT,
};
use crate::time::display as t;

/// Where logs go when ha.cf names no destination (the seed's `/var/log/ha-log`).
pub const DEFAULT_LOGFILE: &str = "/var/log/ha-log";

/// Everything the operator wrote, with locations.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    pub cluster: Option<String>,
    pub nodes: Vec<At<String>>,
    pub keepalive: Option<At<Duration>>,
    pub deadtime: Option<At<Duration>>,
    pub warntime: Option<At<Duration>>,
    pub initdead: Option<At<Duration>>,
    pub deadping: Option<At<Duration>>,
    pub media: Vec<At<Medium>>,
    pub ping_nodes: Vec<At<PingNode>>,
    pub hopfudge: Option<u8>,
    pub watchdog: Option<PathBuf>,
    pub auto_failback: Option<At<AutoFailback>>,
    pub logfile: Option<PathBuf>,
    pub debugfile: Option<PathBuf>,
    pub logfacility: Option<Option<String>>,
    pub syslogmsgfmt: Option<bool>,
    pub debug: Option<u8>,
    pub log_badpack: Option<bool>,
    pub respawn: Vec<Respawn>,
    pub apiauth: Vec<At<ApiAuth>>,
    pub env: Vec<(String, String)>,
    pub msgfmt: Option<MsgFmt>,
    pub hbgenmethod: Option<GenMethod>,
    pub realtime: Option<bool>,
    pub rtprio: Option<u8>,
    pub coredumps: Option<bool>,
    pub coreroot: Option<PathBuf>,
    pub memreserve_kib: Option<u32>,
    pub compression: Option<Compression>,
    pub compression_threshold_kib: Option<u32>,
    pub traditional_compression: Option<bool>,
    pub max_rexmit_delay: Option<Duration>,
    pub script_timeout: Option<At<Duration>>,
    /// `ipfail on|off` (ours; 3.0.6 starts ipfail with a `respawn` line).
    pub ipfail: Option<At<bool>>,
    /// `metrics_listen ADDR:PORT` (ours): the Prometheus endpoint.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `ipaddr_scripts on|off` (ours): service addresses run resource.d's scripts.
    pub ipaddr_scripts: Option<bool>,
    pub resources: Vec<ResourceGroup>,
    pub authkeys: Option<KeyTable>,
    /// `use_logd on|off`: with off and no log destination, 3.0.6 refuses to start.
    pub use_logd: Option<At<bool>>,
    /// Directives with a refused line: no later check builds on them.
    pub refused: Vec<String>,
    /// Directives read without error (for warnings given once).
    pub directives_seen: Vec<String>,
    /// The main configuration file, for diagnostics about the whole configuration.
    pub main_loc: Option<Loc>,
    /// ha.cf only: the recorded directives' values as written, the last one
    /// winning (`cl_status hbparameter`; see `crate::params`).
    pub written: Option<std::collections::BTreeMap<&'static str, String>>,
}

/// Largest number of nodes (MAXNODE), ping nodes included.
pub const MAX_NODES: usize = 100;
/// Largest number of media (MAXMEDIA), ping media included.
pub const MAX_MEDIA: usize = 64;

impl Partial {
    /// ipfail (an `ipfail on` line, or a `respawn` line running ipfail) needs
    /// what 3.0.6's ipfail needs: two nodes and `auto_failback on` or `off`;
    /// without ping nodes it has nothing to compare (a warning, as 3.0.6's
    /// ipfail runs then too).
    fn check_ipfail(
        &self,
        main: &Loc,
        nodes: &[String],
        auto_failback: AutoFailback,
        diags: &mut Diagnostics,
    ) {
        let loc = match &self.ipfail {
            Some(a) if a.value => a.loc.clone(),
            Some(_) => return,
            None => match self
                .respawn
                .iter()
                .find(|r| !r.failfast && hb_core::respawn::is_ipfail(&r.argv[0]))
            {
                Some(r) => r.loc.clone(),
                None => return,
            },
        };
        // A refused auto_failback line has its own error.
        let refused = self.refused.iter().any(|r| r == "auto_failback");
        if auto_failback == AutoFailback::Legacy && !refused {
            let at = self
                .auto_failback
                .as_ref()
                .map_or_else(|| main.clone(), |a| a.loc.clone());
            diags.error_hint(
                &at,
                "ipfail needs auto_failback on or off, and auto_failback is legacy (the default)",
                "write `auto_failback on` (groups go back to their home node) or `auto_failback off` in ha.cf, as the getting-started guide says for ipfail",
            );
        }
        if nodes.len() != 2 {
            diags.error_hint(
                &loc,
                format!("ipfail needs a two-node cluster, and {} nodes are configured", nodes.len()),
                "ipfail compares the ping nodes two nodes see: leave it out of clusters of other sizes",
            );
        }
        if self.ping_nodes.is_empty() {
            diags.warn(
                &loc,
                "ipfail is on, but no ping nodes are configured: it has nothing to compare (add `ping HOST` or `ping_group NAME HOST...`)",
            );
        }
    }

    /// Applies defaults and the cross-checks of 3.0.6 (`init_config`, spec §6).
    /// Returns `None` when an error was recorded.
    pub fn finish(self, diags: &mut Diagnostics) -> Option<Config> {
        let main = self
            .main_loc
            .clone()
            .unwrap_or_else(|| Loc::new(&crate::diag::shared_path("ha.cf"), 0));
        let timing = self.timing(&main, diags);

        let comm_media = self.media.len();
        let refused = |names: &[&str]| self.refused.iter().any(|r| names.contains(&r.as_str()));
        // A refused media or node line has its own error: no follow-on one.
        if comm_media == 0 && !refused(crate::hacf::MEDIA_DIRECTIVES) {
            diags.error_hint(
                &main,
                "No heartbeat media defined",
                "add at least one of bcast, ucast, mcast or serial (ping nodes do not carry heartbeats)",
            );
        }
        if comm_media + self.ping_nodes.len() > MAX_MEDIA {
            diags.error(&main, format!("Too many media specified (> {MAX_MEDIA})"));
        }
        if self.nodes.is_empty() && !refused(&["node", "autojoin"]) {
            diags.error_hint(
                &main,
                "no nodes defined",
                "add a `node NAME` line for every cluster member (as `uname -n` prints it)",
            );
        }
        let mut nodes: Vec<String> = Vec::new();
        for n in &self.nodes {
            if nodes.contains(&n.value) {
                diags.warn(
                    &n.loc,
                    format!(
                        "node {} is listed twice; the second listing is ignored",
                        n.value
                    ),
                );
            } else {
                nodes.push(n.value.clone());
            }
        }
        let mut ping_names: Vec<&str> = Vec::new();
        for p in &self.ping_nodes {
            if nodes.contains(&p.value.name) {
                diags.error_hint(
                    &p.loc,
                    format!("ping node {} is also a cluster node", p.value.name),
                    "ping nodes must be third parties such as routers or switches, never a cluster member",
                );
            } else if ping_names.contains(&p.value.name.as_str()) {
                diags.error(
                    &p.loc,
                    format!("ping node {} is defined twice", p.value.name),
                );
            }
            ping_names.push(&p.value.name);
        }
        if nodes.len() + self.ping_nodes.len() > MAX_NODES {
            diags.error(
                &main,
                format!("too many nodes: at most {MAX_NODES}, ping nodes included"),
            );
        }

        if !self.resources.is_empty() && nodes.len() > 2 {
            let third = &nodes[2];
            let loc = self
                .nodes
                .iter()
                .find(|n| &n.value == third)
                .map_or_else(|| main.clone(), |n| n.loc.clone());
            diags.error_hint(
                &loc,
                format!("resource groups need a two-node cluster, and node {third} is a third node"),
                "haresources failover (local and foreign groups, as in heartbeat 3.0.6) is defined for two nodes: split the cluster into pairs, or leave haresources empty for membership only",
            );
        }
        let nodes_refused = refused(&["node", "autojoin"]);
        for group in &self.resources {
            if !nodes.contains(&group.node) && !nodes_refused {
                diags.error_hint(
                    &group.loc,
                    format!("node {} is not a `node` in ha.cf", group.node),
                    format!(
                        "every haresources line must start with a cluster node: one of {}",
                        nodes.join(", ")
                    ),
                );
            }
        }

        let auto_failback = match &self.auto_failback {
            Some(a) => {
                if a.value == AutoFailback::Legacy && !self.resources.is_empty() {
                    legacy_warning(&a.loc, diags);
                }
                a.value
            }
            None => {
                if !self.resources.is_empty() {
                    legacy_warning(&main, diags);
                }
                AutoFailback::Legacy
            }
        };

        let ipfail = self.ipfail.as_ref().is_some_and(|a| a.value);
        self.check_ipfail(&main, &nodes, auto_failback, diags);

        let mut logging = Logging {
            logfile: self.logfile,
            debugfile: self.debugfile,
            logfacility: self.logfacility.flatten(),
            syslogmsgfmt: self.syslogmsgfmt.unwrap_or(true),
            debug: self.debug.unwrap_or(0),
            log_badpack: self.log_badpack.unwrap_or(true),
        };
        if logging.logfile.is_none() && logging.debugfile.is_none() && logging.logfacility.is_none()
        {
            match &self.use_logd {
                // 3.0.6's check_logd_usage: nowhere to log at all.
                Some(u) if !u.value => diags.error_hint(
                    &u.loc,
                    "No log entry found in ha.cf and use_logd is set to off",
                    "name where to log: `logfile /var/log/ha-log`, `debugfile /var/log/ha-debug` or `logfacility local0` (heartbeat 3.0.6 refuses this file too)",
                ),
                _ => logging.logfile = Some(PathBuf::from(DEFAULT_LOGFILE)),
            }
        }

        let script_timeout = match &self.script_timeout {
            Some(s) if s.value.is_zero() => {
                diags.error_hint(
                    &s.loc,
                    "script_timeout must be greater than 0",
                    "give the longest time a resource script may run, e.g. `script_timeout 120` (seconds)",
                );
                None
            }
            Some(s) if s.value > MAX_SCRIPT_TIMEOUT => {
                diags.error_hint(
                    &s.loc,
                    format!(
                        "script_timeout [{}] is longer than {}",
                        t(s.value),
                        t(MAX_SCRIPT_TIMEOUT)
                    ),
                    "a resource script that runs longer than an hour is hung; give at most 3600 (seconds)",
                );
                None
            }
            Some(s) => Some(s.value),
            None => Some(DEFAULT_SCRIPT_TIMEOUT),
        };

        let authkeys = self.authkeys;
        if diags.has_errors() {
            return None;
        }
        Some(Config {
            cluster: self.cluster.unwrap_or_else(|| "linux-ha".to_owned()),
            nodes,
            timing: timing?,
            media: self.media.into_iter().map(|m| m.value).collect(),
            ping_nodes: self.ping_nodes.into_iter().map(|p| p.value).collect(),
            hopfudge: self.hopfudge.unwrap_or(1),
            watchdog: self.watchdog,
            auto_failback,
            logging,
            respawn: self.respawn,
            apiauth: self.apiauth.into_iter().map(|a| a.value).collect(),
            env: {
                // One entry per name (hacf keeps the last), in name order: the
                // order of `env` lines means nothing, and the TOML form cannot keep it.
                let mut env = self.env;
                env.sort();
                env
            },
            msgfmt: self.msgfmt.unwrap_or(MsgFmt::Classic),
            hbgenmethod: self.hbgenmethod.unwrap_or(GenMethod::File),
            realtime: Realtime {
                enabled: self.realtime.unwrap_or(true),
                rtprio: self.rtprio,
            },
            coredumps: Coredumps {
                enabled: self.coredumps.unwrap_or(true),
                coreroot: self.coreroot,
            },
            memreserve_kib: self.memreserve_kib.unwrap_or(6500),
            compression: CompressionSettings {
                algorithm: self.compression.unwrap_or(Compression::Zlib),
                threshold_kib: self.compression_threshold_kib.unwrap_or(2),
                traditional: self.traditional_compression.unwrap_or(false),
            },
            max_rexmit_delay: self.max_rexmit_delay.unwrap_or(Duration::from_millis(250)),
            script_timeout: script_timeout?,
            ipfail,
            metrics_listen: self.metrics_listen,
            ipaddr_scripts: self.ipaddr_scripts.unwrap_or(false),
            resources: self.resources,
            authkeys: authkeys?,
        })
    }

    /// Timing defaults and checks, exactly as `init_config` orders them.
    fn timing(&self, main: &Loc, diags: &mut Diagnostics) -> Option<Timing> {
        // A refused time has its own error: no cross-check uses a value in its place.
        let bad = |name: &str| self.refused.iter().any(|r| r == name);
        let get = |v: &Option<At<Duration>>| v.as_ref().map(|a| (a.value, a.loc.clone()));
        let (keepalive, k_loc) =
            get(&self.keepalive).unwrap_or((Duration::from_millis(1000), main.clone()));
        let (deadtime, d_loc) =
            get(&self.deadtime).unwrap_or((Duration::from_millis(30_000), main.clone()));
        let mut ok = !["keepalive", "deadtime", "warntime", "initdead", "deadping"]
            .iter()
            .any(|n| bad(n));
        if keepalive.is_zero() {
            diags.error(&k_loc, "keepalive must be greater than 0");
            ok = false;
        }
        if deadtime <= keepalive * 2 && !bad("keepalive") && !bad("deadtime") {
            let loc = if self.deadtime.is_some() {
                &d_loc
            } else {
                &k_loc
            };
            diags.error_hint(
                loc,
                format!(
                    "Dead time [{}] is too small compared to keepalive [{}]",
                    t(deadtime),
                    t(keepalive)
                ),
                format!(
                    "deadtime must be more than 2 x keepalive (more than {})",
                    t(keepalive * 2)
                ),
            );
            ok = false;
        }
        let warntime = match get(&self.warntime) {
            Some((w, loc)) => {
                if w.is_zero() {
                    diags.error(&loc, "warntime must be greater than 0");
                    ok = false;
                } else if w >= deadtime && !bad("deadtime") {
                    diags.warn_hint(
                        &loc,
                        format!("warntime {} is not less than deadtime {}: no late-heartbeat warning can come before a death", t(w), t(deadtime)),
                        "set warntime between keepalive and deadtime",
                    );
                }
                w
            }
            // Whole milliseconds, as 3.0.6 divides deadtime_ms (and as every
            // written time is): half of 2001ms is 1000ms, not 1000.5ms.
            None => Duration::from_millis(ms(deadtime) / 2),
        };
        let initdead = match get(&self.initdead) {
            Some((i, loc)) => {
                if i < deadtime && !bad("deadtime") {
                    diags.error_hint(
                        &loc,
                        format!(
                            "Initial dead time [{}] is smaller than deadtime [{}]",
                            t(i),
                            t(deadtime)
                        ),
                        "initdead must be at least deadtime (and should be at least 10 seconds, for slow network start-up)",
                    );
                    ok = false;
                } else if i < Duration::from_secs(10) {
                    diags.warn_hint(
                        &loc,
                        format!("Initial dead time [{}] may be too small!", t(i)),
                        "initdead accounts for slow network start-up: it should be >= deadtime and >= 10 seconds",
                    );
                }
                i
            }
            None if deadtime > Duration::from_secs(10) => deadtime,
            None if deadtime < Duration::from_secs(6) => Duration::from_secs(12),
            None => deadtime * 2,
        };
        let deadping = match get(&self.deadping) {
            Some((p, loc)) => {
                if p <= keepalive * 2 && !bad("keepalive") {
                    diags.error_hint(
                        &loc,
                        format!(
                            "Ping dead time [{}] is too small compared to keepalive [{}]",
                            t(p),
                            t(keepalive)
                        ),
                        format!(
                            "deadping must be more than 2 x keepalive (more than {})",
                            t(keepalive * 2)
                        ),
                    );
                    ok = false;
                }
                p
            }
            None => deadtime,
        };
        ok.then_some(Timing {
            keepalive,
            deadtime,
            warntime,
            initdead,
            deadping,
        })
    }
}

/// A duration in whole milliseconds (every time in a configuration is one).
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn legacy_warning(loc: &Loc, diags: &mut Diagnostics) {
    diags.warn_hint(
        loc,
        "Deprecated 'legacy' auto_failback option selected.",
        "write `auto_failback on` (groups return to their home node) or `auto_failback off` (groups stay put)",
    );
}
