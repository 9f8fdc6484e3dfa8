//! Our configuration reader against the real one (issue 14, "Test against
//! the real parser"), and `check-config --strict` against `run` (item 8).
//!
//! Debian's heartbeat 3.0.6 judges a configuration without starting: with a
//! stopped stand-in process whose pid is in `/run/heartbeat.pid`,
//! `heartbeat -r` parses ha.cf, authkeys and haresources, then either signals
//! the stand-in (exit 0) or says `Config errors: ... NOT restarted` (exit 1).
//! Each configuration of the corpus below is judged so, inside one node of the
//! namespace harness (its own interfaces eth0, eth1 and the extra ones of
//! [`DUMMIES`]), each in a private mount namespace of its own (tmpfs over
//! /run, /var/lib/heartbeat and /var/log; the configuration bind-mounted on
//! /etc/ha.d with a `nodeinfo`; a fixed /etc/hosts), and then by ours:
//! `heartbeat check-config --strict` and `heartbeat run --check-only`, both as
//! node n1 (the first node of the examples).
//!
//! The rule: ours accepts exactly what 3.0.6 accepts, and `check-config
//! --strict` exactly what `run` accepts. Every deliberate difference with
//! 3.0.6 is a [`Verdict::Differ`] entry naming its reason; the test checks
//! that the difference is still there (so the list stays true).
//!
//! The corpus: every form the heartbeat documentation (Debian's annotated
//! ha.cf, haresources and authkeys, the ha.cf(5) man page), the seed document
//! and our shipped examples show, the tutorial forms issue 14 collected, and
//! generated variants of each directive's values. Cases run four at a time.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::harness::{require_root, Cluster, Topology};

/// Extra interfaces of the judging node (one end of a veth pair each, with
/// an address and a broadcast address), named as tutorials name them.
const DUMMIES: [(&str, &str); 3] = [
    ("eth2", "198.51.100.1/24"),
    ("ens33", "198.51.100.129/25"),
    ("bond0", "192.0.2.129/25"),
];

/// /etc/hosts while judging: names resolve the same way for both parsers.
const HOSTS: &str = "127.0.0.1 localhost\n192.0.2.12 n2.example\n192.0.2.1 router.example\n";

const HACF: &str =
    "logfile /var/log/ha-log\nkeepalive 1\ndeadtime 10\nbcast eth1\nnode n1 n2\nauto_failback on\n";
const HARES: &str = "n1 192.0.2.50 svc\n";
const KEYS: &str = "auth 1\n1 sha1 abcdefgh12345678\n";

/// What the two parsers must say.
#[derive(Clone, Copy, Debug)]
enum Verdict {
    /// Both accept (`true`) or both refuse (`false`).
    Agree(bool),
    /// A deliberate difference: ours accepts (`true`) or refuses, 3.0.6 the
    /// opposite, for this reason.
    Differ(bool, &'static str),
}
use Verdict::{Agree, Differ};

struct Case {
    name: String,
    hacf: String,
    hares: String,
    keys: String,
    /// `ha-ext.cf` (ours only: 3.0.6 never reads it).
    ext: Option<String>,
    verdict: Verdict,
}

fn case(name: &str, hacf: &str, hares: &str, keys: &str, verdict: Verdict) -> Case {
    Case {
        name: name.to_owned(),
        hacf: hacf.to_owned(),
        hares: hares.to_owned(),
        keys: keys.to_owned(),
        ext: None,
        verdict,
    }
}

/// The base files and a `ha-ext.cf`.
fn ext(name: &str, text: &str, verdict: Verdict) -> Case {
    Case {
        ext: Some(text.to_owned()),
        ..case(name, HACF, HARES, KEYS, verdict)
    }
}

/// The base ha.cf with `extra` lines after it.
fn cf(name: &str, extra: &str, verdict: Verdict) -> Case {
    case(name, &format!("{HACF}{extra}\n"), HARES, KEYS, verdict)
}

/// The base ha.cf with its line starting with `key` replaced (or removed when `with` is empty).
fn cf_replace(name: &str, key: &str, with: &str, verdict: Verdict) -> Case {
    let mut text = String::new();
    for line in HACF.lines() {
        if line.split_whitespace().next() == Some(key) {
            if !with.is_empty() {
                text.push_str(with);
                text.push('\n');
            }
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    case(name, &text, HARES, KEYS, verdict)
}

fn hares(name: &str, text: &str, verdict: Verdict) -> Case {
    case(name, HACF, text, KEYS, verdict)
}

fn keys(name: &str, text: &str, verdict: Verdict) -> Case {
    case(name, HACF, HARES, text, verdict)
}

const PACEMAKER: &str = "pacemaker (crm) mode is not supported: this heartbeat manages haresources groups; 3.0.6 starts the CRM";
const IPFAIL: &str = "ipfail is built in: a `respawn` line for ipfail needs no program at that path (the guide's /usr/lib/heartbeat/ipfail is /usr/libexec/heartbeat/ipfail on Debian)";
const RESOURCES_CHECKED: &str = "ours checks service addresses at start; 3.0.6 -r checks only the node names of haresources (the address fails at takeover)";

/// Debian's annotated ha.cf (/usr/share/doc/heartbeat/ha.cf.gz): each
/// commented example directive, uncommented on its own after the base.
fn debian_sample_lines() -> Vec<Case> {
    let verdict = |line: &str| -> Verdict {
        let word = line.split_whitespace().next().unwrap_or_default();
        match word {
            "debugfile"
            | "keepalive"
            | "warntime"
            | "mcast"
            | "ucast"
            | "ping"
            | "ping_group"
            | "hopfudge"
            | "hbgenmethod"
            | "realtime"
            | "debug"
            | "conn_logd_time"
            | "compression_threshold" => Agree(true),
            "deadtime" => Agree(true),
            "initdead" => Agree(true),
            "deadping" => Agree(true),
            // The others are Solaris and FreeBSD devices.
            "serial" if line.contains("/dev/ttyS0") => Agree(tty("ttyS0")),
            "serial" => Agree(false),
            // The interfaces of other systems: none here.
            "bcast" if line.contains("le0") || line.contains("le1") => Agree(false),
            // Its configuration file does not exist (3.0.6 opens it).
            "stonith" => Agree(false),
            "stonith_host" => Differ(false, "STONITH devices are not supported"),
            // The plugin is not installed: Illegal directive in both.
            "hbaping" => Agree(false),
            // `userid` is no user, `/path/name/to/run` no program.
            "respawn" if line.contains("userid") => Agree(false),
            "respawn" if line.contains("/usr/lib/heartbeat/ipfail") => Differ(true, IPFAIL),
            "respawn" => Agree(true),
            // Users and groups that do not exist here (gidlist, alanr).
            "apiauth" if line.contains("gidlist") || line.contains("alanr") => Agree(false),
            "apiauth" => Agree(true),
            // `classic/netstring` is the sample's way of listing the values.
            "msgfmt" => Agree(false),
            _ => Agree(true),
        }
    };
    let text = std::process::Command::new("zcat")
        .arg("/usr/share/doc/heartbeat/ha.cf.gz")
        .output()
        .expect("zcat Debian's sample ha.cf");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(body) = line.strip_prefix('#') else {
            continue;
        };
        let word = body.split_whitespace().next().unwrap_or_default();
        let known = body.starts_with(|c: char| c.is_ascii_lowercase())
            && body.contains(' ')
            && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        // Never a watchdog here (the tests never open one), and no lines
        // that only name a placeholder node.
        if !known
            || word == "watchdog"
            || word == "node"
            || word == "logfacility" && body.contains("local0\t")
        {
            continue;
        }
        let body = body.split('#').next().unwrap_or_default().trim();
        out.push(cf(&format!("debian sample: {body}"), body, verdict(body)));
    }
    assert!(
        out.len() >= 25,
        "Debian's sample ha.cf gave only {} lines",
        out.len()
    );
    out
}

/// The concrete examples of the ha.cf(5) man page (Debian's), each after
/// the base (the placeholders such as `ucast dev peer-ip-address` left out).
fn man_page_lines() -> Vec<Case> {
    let unsupported = "the IPv6 media ucast6 and mcast6 are not supported";
    [
        ("apiauth attrd uid=hacluster", Agree(true)),
        ("apiauth pingd uid=root", Agree(true)),
        ("bcast eth0 eth1  # on Linux systems", Agree(true)),
        ("bcast le0        # for Solaris systems", Agree(false)),
        ("compression bz2", Agree(true)),
        ("compression_threshold 20", Agree(true)),
        ("conn_logd_time 60 #60 seconds", Agree(true)),
        ("crmd_spawns_pengine off", Agree(true)),
        (
            "crm_daemon_dir /usr/libexec/pacemaker",
            Differ(true, "Debian's 3.0.6 refuses crm_daemon_dir whatever its value, without saying why; ours accepts it with a warning that it has no effect (it is for pacemaker)"),
        ),
        ("debug 1 # or more", Agree(true)),
        ("deadtime  10", Agree(true)),
        ("env logpriority=debug", Agree(true)),
        ("initdead 30", Agree(true)),
        ("keepalive  1", Agree(true)),
        ("logfacility local7", Agree(true)),
        ("logfacility none", Agree(true)),
        ("mcast eth0 239.0.0.1 694 1 0", Agree(true)),
        ("mcast eth0 239.192.0.42 694 1 0", Agree(true)),
        (
            "mcast6 eth0 ff12::1:2:3:4 694 1 0",
            Differ(false, unsupported),
        ),
        // Pacemaker is not installed: 3.0.6 cannot add its children either.
        ("pacemaker respawn", Agree(false)),
        ("respawn hacluster       ccm", Agree(false)),
        ("rtprio 5", Agree(true)),
        (
            "serial /dev/ttyS0 /dev/ttyS1     # Linux",
            Agree(tty("ttyS0") && tty("ttyS1")),
        ),
        ("traditional_compression on", Agree(true)),
        ("ucast eth0 10.10.10.133", Agree(true)),
        ("ucast eth1 10.0.0.7", Agree(true)),
        (
            "ucast6  eth1 fe80::5054:ff:fe29:3949",
            Differ(false, unsupported),
        ),
        ("udpport 694", Agree(true)),
        ("uuidfrom file", Agree(true)),
        ("warntime   6", Agree(true)),
        ("warntime 10    # 10 seconds", Agree(true)),
    ]
    .into_iter()
    .map(|(line, verdict)| cf(&format!("ha.cf(5): {line}"), line, verdict))
    .collect()
}

/// The shipped examples (the seed document's configuration among them), as
/// node linuxha1 or n1; their watchdog line is left out.
fn examples() -> Vec<(String, String, String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/examples");
    let mut out = Vec::new();
    for name in ["seed", "seed-crc", "seed-md5", "two-node"] {
        let read = |f: &str| std::fs::read_to_string(dir.join(name).join(f)).expect("example file");
        let hacf: String = read("ha.cf")
            .lines()
            .filter(|l| !l.starts_with("watchdog"))
            .map(|l| format!("{l}\n"))
            .collect();
        let me = hacf
            .lines()
            .find_map(|l| l.strip_prefix("node "))
            .and_then(|n| n.split_whitespace().next())
            .expect("a node line")
            .to_owned();
        out.push((
            format!("example {name}"),
            me,
            hacf,
            read("haresources"),
            read("authkeys"),
        ));
    }
    out
}

fn corpus() -> Vec<Case> {
    let mut c = vec![
        // The base, and what a sysadmin removes or gets wrong first.
        cf("base", "", Agree(true)),
        cf_replace("no node line", "node", "", Agree(false)),
        cf_replace("no media", "bcast", "", Agree(false)),
        cf_replace("this node not listed", "node", "node n2 n3", Agree(false)),
        cf_replace("node names in capitals", "node", "node N1 N2", Agree(true)),
        cf_replace("one node per line", "node", "node n1\nnode n2", Agree(true)),
        cf("unknown directive", "keepalve 2", Agree(false)),
        cf("directive in capitals", "Keepalive 2", Agree(false)),
        cf("directive without a value", "warntime", Differ(false, "3.0.6 silently ignores a directive without a value; ours says so")),
        // Times.
        cf_replace("keepalive in ms", "keepalive", "keepalive 500ms", Agree(true)),
        cf_replace("keepalive with a unit s", "keepalive", "keepalive 1s", Agree(false)),
        cf_replace("deadtime not above 2 x keepalive", "deadtime", "deadtime 2", Agree(false)),
        cf_replace("deadtime with decimals", "deadtime", "deadtime 10.5", Agree(true)),
        cf("warntime above deadtime", "warntime 20", Agree(true)),
        cf("initdead below deadtime", "initdead 5", Agree(false)),
        cf("initdead long", "initdead 120", Agree(true)),
        cf("deadping too small", "deadping 1", Agree(false)),
        // udpport and media (item 6: after a medium, 3.0.6 keeps the earlier port).
        case("udpport before media", &format!("udpport 695\n{HACF}"), HARES, KEYS, Agree(true)),
        cf("udpport after the medium", "udpport 695", Agree(true)),
        cf("udpport zero", "udpport 0", Agree(false)),
        cf("udpport not a number", "udpport ha", Agree(false)),
        cf("two bcast interfaces", "bcast eth0 eth2", Agree(true)),
        cf("bcast on a missing interface", "bcast eth9", Agree(false)),
        cf("ucast by address", "ucast eth1 192.0.2.12", Agree(true)),
        cf("ucast by host name", "ucast eth1 n2.example", Agree(true)),
        cf("ucast to a name that does not resolve", "ucast eth1 nosuch.invalid", Agree(false)),
        cf("ucast without a peer", "ucast eth1", Agree(false)),
        cf("mcast", "mcast eth1 239.0.0.1 694 1 0", Agree(true)),
        cf("mcast to a unicast group", "mcast eth1 192.0.2.1 694 1 0", Agree(false)),
        cf("mcast missing its loop", "mcast eth1 239.0.0.1 694 1", Agree(false)),
        cf("serial", "serial /dev/ttyS0", Agree(tty("ttyS0"))),
        cf("baud before serial", "baud 38400\nserial /dev/ttyS0", Agree(tty("ttyS0"))),
        cf("bad baud", "baud 12345", Agree(false)),
        cf("ping", "ping 192.0.2.1", Agree(true)),
        cf("ping by host name", "ping router.example", Agree(true)),
        cf("ping_group", "ping_group group1 192.0.2.1 192.0.2.2", Agree(true)),
        cf("ping to a name that does not resolve", "ping nosuch.invalid", Agree(false)),
        // Our own directives: in ha-ext.cf, beside a ha.cf 3.0.6 shares.
        ext("ha-ext.cf with our directives", "metrics_listen 127.0.0.1:9100\nscript_timeout 30\nipfail off\n", Agree(true)),
        ext("ha-ext.cf: metrics_listen on all addresses", "metrics_listen 0.0.0.0:9100\n", Agree(true)),
        ext(
            "ha-ext.cf: metrics_listen on another machine's address",
            "metrics_listen 192.0.2.200:9100\n",
            Differ(false, "ours checks that metrics_listen is an address of this node, as run binds it (3.0.6 never reads ha-ext.cf)"),
        ),
        ext("ha-ext.cf with a 3.0.6 directive", "keepalive 2\n", Differ(false, "ha-ext.cf holds only our own directives (3.0.6 never reads it)")),
        cf("our directive in ha.cf", "script_timeout 30", Differ(true, "our own directives are read in ha.cf too (3.0.6 refuses them as illegal: use ha-ext.cf in a ha.cf shared with it)")),
        // Values of the other directives.
        cf("hopfudge too large", "hopfudge 300", Agree(false)),
        cf("debug level", "debug 3", Agree(true)),
        cf("logfacility local0", "logfacility local0", Agree(true)),
        cf("logfacility none", "logfacility none", Agree(true)),
        cf("logfacility unknown", "logfacility local9", Agree(false)),
        cf_replace("auto_failback off", "auto_failback", "auto_failback off", Agree(true)),
        cf_replace("auto_failback legacy", "auto_failback", "auto_failback legacy", Agree(true)),
        cf_replace("no auto_failback line (legacy)", "auto_failback", "", Agree(true)),
        cf_replace("auto_failback maybe", "auto_failback", "auto_failback maybe", Agree(false)),
        cf_replace("nice_failback", "auto_failback", "nice_failback on", Agree(true)),
        cf("realtime off", "realtime off", Agree(true)),
        cf("rtprio", "rtprio 50", Agree(true)),
        cf("rtprio out of range", "rtprio 100", Agree(false)),
        cf("hbgenmethod unknown", "hbgenmethod clock", Agree(false)),
        cf("msgfmt netstring", "msgfmt netstring", Agree(true)),
        cf("env", "env FOO=bar", Agree(true)),
        cf("max_rexmit_delay", "max_rexmit_delay 250", Agree(true)),
        cf("cluster name", "cluster mycluster", Agree(true)),
        // Item 5: logging.
        cf("use_logd yes", "use_logd yes", Agree(true)),
        cf("use_logd on", "use_logd on", Agree(true)),
        cf_replace("use_logd on, nowhere else to log", "logfile", "use_logd on", Agree(true)),
        cf_replace("use_logd off, nowhere to log", "logfile", "use_logd off", Agree(false)),
        // Item 15: accepted without effect.
        cf("coredumps", "coredumps true", Agree(true)),
        cf("coreroot", "coreroot /tmp", Agree(true)),
        cf("memreserve", "memreserve 6500", Agree(true)),
        cf("compression bz2", "compression bz2", Agree(true)),
        cf("compression_threshold zero", "compression_threshold 0", Agree(false)),
        cf("traditional_compression", "traditional_compression yes", Agree(true)),
        cf("log_badpack", "log_badpack false", Agree(true)),
        // Pacemaker and friends.
        // 3.0.6 refuses these too here, as Pacemaker is not installed
        // ("Failed to add pacemaker client child"); with Pacemaker it would
        // start the CRM, which ours refuses: PACEMAKER.
        cf("crm on", "crm on", Agree(false)),
        cf("crm respawn", "crm respawn", Agree(false)),
        cf("crm ccm-only", "crm ccm-only", Differ(false, PACEMAKER)),
        cf("pacemaker off", "pacemaker off", Agree(true)),
        cf("autojoin any with haresources", "autojoin any", Agree(false)),
        cf("autojoin none", "autojoin none", Agree(true)),
        cf("uuidfrom nodename", "uuidfrom nodename", Differ(false, "3.0.6 derives that UUID from glibc's rand(), which cannot be reproduced")),
        cf("respawn ipfail", "respawn hacluster /usr/libexec/heartbeat/ipfail", Agree(true)),
        cf("respawn a relative path", "respawn hacluster ipfail", Agree(false)),
        cf("apiauth", "apiauth ipfail uid=hacluster", Agree(true)),
        // haresources (items 1-3).
        hares("address with a label", "n1 IPaddr::10.0.0.50/24/eth0:1\n", Agree(true)),
        hares("address with a label, shorthand", "n1 192.168.22.2/24/eth0:0 svc\n", Agree(true)),
        hares("IPaddr2 with a label", "n1 IPaddr2::192.168.0.100/24/ens33:0\n", Agree(true)),
        hares("dotted-quad netmask", "n1 IPaddr::192.168.88.140/255.255.255.0\n", Agree(true)),
        hares("non-contiguous netmask", "n1 IPaddr::192.168.88.140/255.0.255.0\n", Differ(false, RESOURCES_CHECKED)),
        hares("a run of slashes", "n1 IPaddr::10.0.30.15//8/eth0:10\n", Agree(true)),
        hares("label, broadcast", "n1 IPaddr::85.13.220.237/29/eth0:1/85.13.220.239\n", Agree(true)),
        hares("bad prefix", "n1 IPaddr::192.0.2.50/33\n", Differ(false, RESOURCES_CHECKED)),
        hares("Debian sample, node renamed", "n1 10.0.0.170 Filesystem::/dev/sda1::/data1::ext2\n", Agree(true)),
        hares("Debian sample: several addresses", "n1 135.9.216.110 135.9.215.111 135.9.216.112 httpd\n", Agree(true)),
        hares("Debian sample: address form", "n1 135.9.216.3/28/eth0/135.9.216.12 httpd\n", Agree(true)),
        hares("continued line", "n1 192.0.2.50 \\\n   svc\n", Agree(true)),
        hares("unknown node", "n9 192.0.2.50\n", Agree(false)),
        hares("empty", "", Agree(true)),
        hares("missing script", "n1 192.0.2.50 nosuchscript\n", Differ(false, "ours checks at start that each resource script exists on this node; 3.0.6 finds out at takeover")),
        // authkeys (item 4) and Debian's sample.
        keys("comment after auth", "auth 2 # or 3 md5\n2 sha1 abcdefgh12345678\n", Agree(true)),
        keys("comment after the key", "auth 1\n1 sha1 1a2b3c4d5e6f   #key id\n", Agree(true)),
        keys("comment after crc", "auth 1\n1 crc # trusted link\n", Agree(false)),
        keys("Debian sample, uncommented", "auth 1\n1 crc\n2 sha1 HI!\n3 md5 Hello!\n", Agree(true)),
        keys("md5", "auth 3\n3 md5 Hello-key-1234\n", Agree(true)),
        keys("no auth line", "1 sha1 abcdefgh12345678\n", Agree(false)),
        keys("auth names a missing key", "auth 3\n1 sha1 abcdefgh12345678\n", Agree(false)),
        keys("auth after its key", "1 sha1 abcdefgh12345678\nauth 1\n", Differ(true, "ours accepts `auth N` after the line of key N, with a warning")),
        keys("a key number twice", "auth 1\n1 md5 first-key-12345\n1 sha1 abcdefgh12345678\n", Agree(true)),
        keys("key number 16", "auth 1\n1 sha1 abcdefgh12345678\n16 crc\n", Agree(false)),
        keys("method in capitals", "auth 1\n1 SHA1 abcdefgh12345678\n", Agree(false)),
        keys("sha1 without a key", "auth 1\n1 sha1\n", Agree(false)),
    ];
    c.extend(man_page_lines());
    c.extend(debian_sample_lines());
    c.extend(generated_values());
    c
}

/// Generated variants of directive values: the boolean words, time forms
/// and number ranges both parsers must read alike.
fn generated_values() -> Vec<Case> {
    let mut out = Vec::new();
    for d in [
        "realtime",
        "coredumps",
        "log_badpack",
        "syslogmsgfmt",
        "traditional_compression",
        "use_logd",
    ] {
        for (v, ok) in [
            ("on", true),
            ("off", true),
            ("Yes", true),
            ("n", true),
            ("1", true),
            ("FALSE", true),
            ("maybe", false),
            ("2", false),
        ] {
            out.push(cf(&format!("{d} {v}"), &format!("{d} {v}"), Agree(ok)));
        }
    }
    for (v, ok) in [
        ("2", true),
        ("1500ms", true),
        ("1500msec", true),
        ("900000us", true),
        ("900000usec", true),
        ("1.5", true),
        ("0.5", true),
        ("2x", false),
        ("ms", false),
        ("-1", false),
    ] {
        out.push(cf_replace(
            &format!("keepalive {v}"),
            "keepalive",
            &format!("keepalive {v}"),
            Agree(ok),
        ));
    }
    for (d, v, ok) in [
        ("hopfudge", "0", true),
        ("hopfudge", "255", true),
        ("hopfudge", "256", false),
        ("debug", "0", true),
        ("debug", "255", true),
        ("debug", "256", false),
        ("rtprio", "1", true),
        ("rtprio", "99", true),
        ("rtprio", "0", false),
        ("memreserve", "1", true),
        ("memreserve", "0", false),
        ("compression_threshold", "1", true),
        ("compression", "zlib", true),
        ("hbgenmethod", "file", true),
        ("hbgenmethod", "time", true),
        ("msgfmt", "classic", true),
        ("udpport", "65535", true),
        ("baud", "9600", true),
        ("baud", "115200", true),
        ("logfacility", "daemon", true),
        ("logfacility", "local7", true),
        ("logfacility", "user", true),
        ("logfacility", "kern", true),
        ("deadping", "30", true),
        ("warntime", "500ms", true),
        ("initdead", "10", true),
        ("uuidfrom", "file", true),
        ("autojoin", "bogus", false),
    ] {
        out.push(cf(&format!("{d} {v}"), &format!("{d} {v}"), Agree(ok)));
    }
    out.push(cf(
        "env without =",
        "env NOEQUALS",
        Differ(false, "3.0.6 reads past the end of `env NAME` without `=` (its value is whatever memory follows)"),
    ));
    out
}

/// One case's files, and what each judge said.
struct Judged {
    name: String,
    dir: PathBuf,
    verdict: Verdict,
    real: bool,
    ours: bool,
    run: bool,
}

/// The judging script, run in the node through `unshare --mount`.
const JUDGE: &str = r#"set -u
dir=$1; ours=$2; me=$3
mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib/heartbeat && mount -t tmpfs tmpfs /var/log \
  && mount --bind "$dir/etc" /etc/ha.d && mount --bind "$dir/hosts" /etc/hosts || exit 90
# Nothing reaches the machine's syslog (a /dev/log into /run is gone with it already).
if [ -e /dev/log ]; then mount --bind /dev/null /dev/log || exit 91; fi
sleep 600 & standin=$!
kill -STOP "$standin"
echo "$standin" > /run/heartbeat.pid
timeout 60 /usr/libexec/heartbeat/heartbeat -r > "$dir/real.out" 2>&1
real=$?
kill -KILL "$standin"; wait "$standin" 2>/dev/null
timeout 60 "$ours" check-config --strict -q --node-name "$me" -c /etc/ha.d > "$dir/ours.out" 2>&1
mine=$?
timeout 60 "$ours" run --check-only --node-name "$me" -c /etc/ha.d > "$dir/run.out" 2>&1
run=$?
echo "$real $mine $run"
"#;

/// Does this machine have the serial device (both parsers need it to exist)?
fn tty(name: &str) -> bool {
    Path::new("/dev").join(name).exists()
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write a corpus file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Writes a case's /etc/ha.d: the three files, `nodeinfo`, and a stub
/// `resource.d` script for every script its haresources names (but
/// `nosuchscript`).
fn stage(
    root: &Path,
    i: usize,
    me: &str,
    [hacf, hares, keys]: [&str; 3],
    ext: Option<&str>,
) -> PathBuf {
    let dir = root.join(format!("case{i}"));
    let etc = dir.join("etc");
    std::fs::create_dir_all(etc.join("resource.d")).expect("mkdir");
    write(&etc.join("ha.cf"), hacf, 0o644);
    write(&etc.join("haresources"), hares, 0o644);
    write(&etc.join("authkeys"), keys, 0o600);
    write(&etc.join("nodeinfo"), &format!("{me}\n"), 0o644);
    if let Some(text) = ext {
        write(&etc.join("ha-ext.cf"), text, 0o644);
    }
    write(&dir.join("hosts"), HOSTS, 0o644);
    let words = hares.replace("\\\n", " ");
    for word in words.split_whitespace().skip(1) {
        let script = word.split("::").next().unwrap_or_default();
        let ip = script.starts_with(|c: char| c.is_ascii_digit()) || script.starts_with("IPaddr");
        if !ip && script != "nosuchscript" && !script.contains('/') && !script.is_empty() {
            write(
                &etc.join("resource.d").join(script),
                "#!/bin/sh\nexit 0\n",
                0o755,
            );
        }
    }
    dir
}

#[test]
fn check_config_agrees_with_heartbeat_3_0_6_and_with_run() {
    require_root();
    assert!(
        Path::new("/usr/libexec/heartbeat/heartbeat").exists(),
        "Debian's heartbeat 3.0.6 is needed (bash .ci/setup installs it)"
    );
    let cluster = Cluster::new(&["n1"], Topology::private_and_public());
    let node = cluster.node("n1");
    for (name, addr) in DUMMIES {
        // A veth pair inside the node (this kernel has no dummy interfaces).
        let peer = format!("{name}-p");
        node.exec_ok(&[
            "ip", "link", "add", name, "type", "veth", "peer", "name", &peer,
        ]);
        node.exec_ok(&["ip", "addr", "add", addr, "brd", "+", "dev", name]);
        node.exec_ok(&["ip", "link", "set", &peer, "up"]);
        node.exec_ok(&["ip", "link", "set", name, "up"]);
    }
    let root = tempfile::tempdir().expect("tempdir");
    let judge = root.path().join("judge.sh");
    write(&judge, JUDGE, 0o755);

    let mut staged: Vec<(String, PathBuf, String, Verdict)> = Vec::new();
    for (i, c) in corpus().into_iter().enumerate() {
        let dir = stage(
            root.path(),
            i,
            "n1",
            [&c.hacf, &c.hares, &c.keys],
            c.ext.as_deref(),
        );
        staged.push((c.name, dir, "n1".to_owned(), c.verdict));
    }
    let n = staged.len();
    for (j, (name, me, hacf, hares, keys)) in examples().into_iter().enumerate() {
        let dir = stage(root.path(), n + j, &me, [&hacf, &hares, &keys], None);
        // The seed document's ha.cf names the guide's ipfail path.
        let verdict = if hacf.contains("/dev/ttyS0") && !tty("ttyS0") {
            Agree(false)
        } else if hacf.contains("/usr/lib/heartbeat/ipfail") {
            Differ(true, IPFAIL)
        } else {
            Agree(true)
        };
        staged.push((name, dir, me, verdict));
    }
    assert!(
        staged.len() >= 60,
        "the corpus has {} configurations",
        staged.len()
    );

    let ours = env!("CARGO_BIN_EXE_heartbeat");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Judged>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, dir, me, verdict)) = staged.get(i) else {
                    break;
                };
                let out = node.exec(&[
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    judge.to_str().expect("utf-8 path"),
                    dir.to_str().expect("utf-8 path"),
                    ours,
                    me,
                ]);
                let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let codes: Vec<i32> = said
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                let [real, mine, run] = codes[..] else {
                    panic!(
                        "{name}: the judge failed ({}): {said}\n{}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    );
                };
                for (who, code) in [
                    ("3.0.6", real),
                    ("check-config", mine),
                    ("run --check-only", run),
                ] {
                    assert!(
                        code == 0 || code == 1,
                        "{name}: {who} exited {code} (see {})",
                        dir.display()
                    );
                }
                results.lock().expect("lock").push(Judged {
                    name: name.clone(),
                    dir: dir.clone(),
                    verdict: *verdict,
                    real: real == 0,
                    ours: mine == 0,
                    run: run == 0,
                });
            });
        }
    });
    let mut results = results.into_inner().expect("lock");
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let verdict = |ok: bool| if ok { "accepts" } else { "refuses" };
    let mut failures = String::new();
    let mut differences = 0;
    for r in &results {
        let tail = |f: &str| std::fs::read_to_string(r.dir.join(f)).unwrap_or_default();
        if r.ours != r.run {
            let _ = writeln!(
                failures,
                "{}: check-config --strict {} but run {}:\n{}{}",
                r.name,
                verdict(r.ours),
                verdict(r.run),
                tail("ours.out"),
                tail("run.out")
            );
        }
        let wrong = match r.verdict {
            Agree(ok) => (r.ours != ok || r.real != ok)
                .then(|| format!("both should {} it", verdict(ok).trim_end_matches('s'))),
            Differ(ok, why) => {
                differences += 1;
                (r.ours != ok || r.real == ok).then(|| {
                    format!(
                        "listed difference ({why}): ours should {} it and 3.0.6 not",
                        verdict(ok).trim_end_matches('s')
                    )
                })
            }
        };
        if let Some(wrong) = wrong {
            let _ = writeln!(
                failures,
                "{}: 3.0.6 {}, ours {}; {wrong}\n--- ha.cf\n{}--- 3.0.6 said\n{}--- ours said\n{}",
                r.name,
                verdict(r.real),
                verdict(r.ours),
                tail("etc/ha.cf"),
                tail("real.out")
                    .lines()
                    .filter(|l| l.contains("ERROR") || l.contains("CRIT") || l.contains("NOT"))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>(),
                tail("ours.out")
            );
        }
    }
    eprintln!(
        "{} configurations judged by both parsers, {differences} listed differences",
        results.len()
    );
    assert!(failures.is_empty(), "{failures}");
}
