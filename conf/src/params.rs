//! The parameters 3.0.6 "records" (spec §12.1), as `cl_status hbparameter -p
//! NAME` and the API return them: from ha.cf, **the string as written**
//! (`keepalive 2` gives `2`, not `2000ms`); for a directive not written,
//! 3.0.6's default string (`1000ms`), and for the derived times the value it
//! computes, in milliseconds (`warntime` with deadtime 10: `5000ms`).
//!
//! A TOML configuration has no ha.cf strings: every value is given as ha.cf
//! would write it, times in milliseconds (`keepalive = "2s"` gives `2000ms`),
//! so that a script reading them with 3.0.6's rules gets the right value.

use std::collections::BTreeMap;

use crate::model::{AutoFailback, Compression, Config, GenMethod, Medium, MsgFmt};

/// The directives 3.0.6 records (those with `record_value` in its table),
/// then ours. Other names have no value (`hbparameter` exits 1).
pub const RECORDED: &[&str] = &[
    "cluster",
    "hopfudge",
    "keepalive",
    "deadtime",
    "deadping",
    "initdead",
    "warntime",
    "watchdog",
    "baud",
    "udpport",
    "logfacility",
    "logfile",
    "debugfile",
    "auto_failback",
    "rtprio",
    "hbgenmethod",
    "realtime",
    "debug",
    "msgfmt",
    "use_logd",
    "conn_logd_time",
    "log_badpack",
    "coredumps",
    "coreroot",
    "crm",
    "pacemaker",
    "autojoin",
    "uuidfrom",
    "compression",
    "compression_threshold",
    "traditional_compression",
    "max_rexmit_delay",
    "record_config_changes",
    "record_pengine_inputs",
    "enable_config_writes",
    "memreserve",
    "quorum_server",
    // Ours (3.0.6 refuses them): only what is written, in ha.cf.
    "script_timeout",
    "ipfail",
    "ipaddr_scripts",
];

/// Names whose value, in ha.cf, exists only when written: 3.0.6 has no
/// default for `logfile` (ours, `/var/log/ha-log`, is not "recorded"), and
/// does not know ours.
const ONLY_WRITTEN: &[&str] = &["logfile", "script_timeout", "ipfail", "ipaddr_scripts"];

/// The recorded parameters: name to value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// The value of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets (or replaces) a value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_owned(), value.into());
    }

    /// Every name and value, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The parameters of `config`. `written` holds ha.cf's strings as written
    /// (`None` for a TOML configuration).
    pub fn build(written: Option<&BTreeMap<&'static str, String>>, config: &Config) -> Params {
        let mut p = Params::default();
        for name in RECORDED {
            let value = match written {
                Some(w) => w.get(name).cloned().or_else(|| {
                    if ONLY_WRITTEN.contains(name) {
                        None
                    } else {
                        rendered(name, config)
                    }
                }),
                None => rendered(name, config),
            };
            if let Some(v) = value {
                p.set(name, v);
            }
        }
        p
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn truth(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

/// `name` as ha.cf would write the value in `config` (3.0.6's default
/// strings where the value is the default).
fn rendered(name: &str, c: &Config) -> Option<String> {
    let port = c.media.iter().find_map(|m| match m {
        Medium::Bcast { port, .. } | Medium::Ucast { port, .. } => Some(*port),
        _ => None,
    });
    let baud = c.media.iter().find_map(|m| match m {
        Medium::Serial { baud, .. } => Some(*baud),
        _ => None,
    });
    Some(match name {
        "cluster" => c.cluster.clone(),
        "hopfudge" => c.hopfudge.to_string(),
        "keepalive" => ms(c.timing.keepalive),
        "deadtime" => ms(c.timing.deadtime),
        "deadping" => ms(c.timing.deadping),
        "initdead" => ms(c.timing.initdead),
        "warntime" => ms(c.timing.warntime),
        "watchdog" => c.watchdog.as_ref()?.display().to_string(),
        "baud" => baud.unwrap_or(19200).to_string(),
        "udpport" => port.unwrap_or(694).to_string(),
        "logfacility" => c.logging.logfacility.clone()?,
        "logfile" => c.logging.logfile.as_ref()?.display().to_string(),
        "debugfile" => c.logging.debugfile.as_ref()?.display().to_string(),
        "auto_failback" => match c.auto_failback {
            AutoFailback::On => "on",
            AutoFailback::Off => "off",
            AutoFailback::Legacy => "legacy",
        }
        .to_owned(),
        "rtprio" => c.realtime.rtprio?.to_string(),
        "hbgenmethod" => match c.hbgenmethod {
            GenMethod::File => "file",
            GenMethod::Time => "time",
        }
        .to_owned(),
        "realtime" => truth(c.realtime.enabled),
        "debug" => c.logging.debug.to_string(),
        "msgfmt" => match c.msgfmt {
            MsgFmt::Classic => "classic",
            MsgFmt::Netstring => "netstring",
        }
        .to_owned(),
        "conn_logd_time" => "60".to_owned(),
        "log_badpack" => truth(c.logging.log_badpack),
        "coredumps" => truth(c.coredumps.enabled),
        "coreroot" => c.coredumps.coreroot.as_ref()?.display().to_string(),
        // One setting under two names (3.0.6 answers both).
        "crm" | "pacemaker" => "false".to_owned(),
        "autojoin" => "none".to_owned(),
        "uuidfrom" => "file".to_owned(),
        "compression" => match c.compression.algorithm {
            Compression::Zlib => "zlib",
            Compression::Bz2 => "bz2",
        }
        .to_owned(),
        "compression_threshold" => c.compression.threshold_kib.to_string(),
        "traditional_compression" => if c.compression.traditional {
            "yes"
        } else {
            "no"
        }
        .to_owned(),
        "max_rexmit_delay" => c.max_rexmit_delay.as_millis().to_string(),
        "record_config_changes" | "record_pengine_inputs" | "enable_config_writes" => {
            "on".to_owned()
        }
        "memreserve" => c.memreserve_kib.to_string(),
        "script_timeout" => ms(c.script_timeout),
        "ipfail" => if c.ipfail { "on" } else { "off" }.to_owned(),
        "ipaddr_scripts" => if c.ipaddr_scripts { "on" } else { "off" }.to_owned(),
        // use_logd, quorum_server: no value unless written.
        _ => return None,
    })
}
