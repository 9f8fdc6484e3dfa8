//! SIGHUP: read the configuration again and apply what can change while the
//! daemon runs. 3.0.6 restarts itself when its configuration changed; we apply
//! timing and keys live and keep running, and refuse everything else with a
//! line that says what needs a restart.
//!
//! * An invalid configuration is refused as a whole: the running one stays, and
//!   the log names each error with its file and line.
//! * `keepalive`, `deadtime`, `warntime`: applied at once (a status with the new
//!   dead time goes out first, so peers never judge us by the old one).
//! * `authkeys`: the new table replaces the old one for signing and verifying.
//!   To rotate a key without a gap: add the new key on every node (reload), then
//!   switch `auth` to it on every node (reload), then remove the old one.
//! * `logfile`, `debugfile`: reopened (logrotate) whether or not they changed.
//! * Anything else (nodes, media, resource groups, `auto_failback`, ...): not
//!   applied; the log lists it, and it takes effect at the next start.

use hb_conf::{Config, HostCheck};

/// What a reload changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// New `keepalive`, `deadtime`, `warntime`.
    pub timing: Option<(
        std::time::Duration,
        std::time::Duration,
        std::time::Duration,
    )>,
    /// A new key table.
    pub keys: bool,
    /// Settings that changed but only take effect at the next start.
    pub needs_restart: Vec<&'static str>,
}

/// Compares the running configuration with the one just read.
pub fn plan(running: &Config, new: &Config) -> Plan {
    let mut p = Plan::default();
    let (a, b) = (&running.timing, &new.timing);
    if (a.keepalive, a.deadtime, a.warntime) != (b.keepalive, b.deadtime, b.warntime) {
        p.timing = Some((b.keepalive, b.deadtime, b.warntime));
    }
    p.keys = running.authkeys != new.authkeys;
    let mut later = |name, changed: bool| {
        if changed {
            p.needs_restart.push(name);
        }
    };
    later("initdead", a.initdead != b.initdead);
    later("deadping", a.deadping != b.deadping);
    later("cluster", running.cluster != new.cluster);
    later("node", running.nodes != new.nodes);
    later(
        "media (bcast, ucast, mcast, serial)",
        running.media != new.media,
    );
    later("ping, ping_group", running.ping_nodes != new.ping_nodes);
    later("ipfail", running.ipfail_enabled() != new.ipfail_enabled());
    later("hopfudge", running.hopfudge != new.hopfudge);
    later("watchdog", running.watchdog != new.watchdog);
    later("auto_failback", running.auto_failback != new.auto_failback);
    later(
        "logfacility",
        running.logging.logfacility != new.logging.logfacility,
    );
    later(
        "logfile, debugfile",
        running.logging.logfile != new.logging.logfile
            || running.logging.debugfile != new.logging.debugfile,
    );
    later("respawn, failfast", running.respawn != new.respawn);
    later("apiauth", running.apiauth != new.apiauth);
    later("env", running.env != new.env);
    later("msgfmt", running.msgfmt != new.msgfmt);
    later("hbgenmethod", running.hbgenmethod != new.hbgenmethod);
    later("realtime, rtprio", running.realtime != new.realtime);
    // coredumps, coreroot, memreserve and the compression settings have no
    // effect at all (their lines draw a warning): nothing to apply later.
    later(
        "max_rexmit_delay",
        running.max_rexmit_delay != new.max_rexmit_delay,
    );
    later(
        "script_timeout",
        running.script_timeout != new.script_timeout,
    );
    later(
        "metrics_listen",
        running.metrics_listen != new.metrics_listen,
    );
    later(
        "ipaddr_scripts",
        running.ipaddr_scripts != new.ipaddr_scripts,
    );
    later("haresources", running.resources != new.resources);
    p
}

/// Reads the configuration again, exactly as at start.
pub fn read(
    path: &std::path::Path,
    host: &HostCheck,
) -> Result<hb_conf::Loaded, hb_conf::ConfigError> {
    hb_conf::load(path, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn seed() -> Config {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in [
            (
                "ha.cf",
                "keepalive 1\ndeadtime 10\nbcast eth1\nauto_failback on\nnode n1 n2\n",
            ),
            ("haresources", "n1 192.0.2.10 svc\n"),
            ("authkeys", "auth 1\n1 sha1 reload-test-key\n"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        hb_conf::load_dir(dir.path(), &HostCheck::default())
            .expect("the configuration loads")
            .config
    }

    #[test]
    fn nothing_changed_means_nothing_to_do() {
        let c = seed();
        assert_eq!(plan(&c, &c.clone()), Plan::default());
    }

    #[test]
    fn timing_and_keys_apply_live_and_the_rest_waits_for_a_restart() {
        let old = seed();
        let mut new = old.clone();
        new.timing.keepalive = Duration::from_millis(500);
        new.timing.initdead = Duration::from_secs(99);
        new.authkeys = hb_core::auth::KeyTable::single(7, hb_core::auth::AuthMethod::Crc);
        new.nodes.push("n9".into());
        new.metrics_listen = Some("127.0.0.1:9100".parse().expect("an address"));
        let p = plan(&old, &new);
        assert_eq!(
            p.timing,
            Some((
                Duration::from_millis(500),
                old.timing.deadtime,
                old.timing.warntime
            ))
        );
        assert!(p.keys);
        assert_eq!(p.needs_restart, vec!["initdead", "node", "metrics_listen"]);
    }
}
