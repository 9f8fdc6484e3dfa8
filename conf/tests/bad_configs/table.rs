//! The table of bad configurations, shared by `conf/tests/bad_configs.rs`
//! (each is refused with exactly its first error and line) and the
//! integration test `check_agreement` (each is refused by `run --check-only`
//! and `check-config --strict` too, issue 14 item 8). The base configuration
//! is valid; each case replaces one file (ha.cf, haresources, authkeys, or
//! the TOML form).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

pub const HACF: &str = "keepalive 1\ndeadtime 10\nbcast eth1\nnode n1 n2\nauto_failback on\n";
pub const HARES: &str = "n1 192.0.2.10 svc\n";
pub const KEYS: &str = "auth 1\n1 sha1 abcdefgh12345678\n";
pub const TOML: &str = r#"nodes = ["n1", "n2"]
keepalive = "1s"
deadtime = "10s"
auto_failback = "on"

[[media]]
type = "bcast"
interface = "eth1"

[[resources]]
node = "n1"
resources = ["192.0.2.10", "svc"]

[auth]
send = 1
keys = [{ slot = 1, method = "sha1", key = "abcdefgh12345678" }]
"#;

/// Which file a case replaces.
#[derive(Clone, Copy, Debug)]
pub enum F {
    HaCf,
    HaRes,
    Keys,
    Toml,
    /// `ha-ext.cf`, beside the base files.
    Ext,
}

pub struct Case {
    pub name: &'static str,
    pub file: F,
    pub text: &'static str,
    /// Line of the first error (0 = the whole file).
    pub line: usize,
    /// Exact first error message.
    pub message: &'static str,
}

pub const fn case(
    name: &'static str,
    file: F,
    text: &'static str,
    line: usize,
    message: &'static str,
) -> Case {
    Case {
        name,
        file,
        text,
        line,
        message,
    }
}

pub fn cases() -> Vec<Case> {
    use F::*;
    vec![
        // ha.cf: directives and values
        case("unknown directive", HaCf, "keepalve 1\ndeadtime 10\nbcast eth1\nnode n1 n2\n", 1, "Illegal directive [keepalve]"),
        case("directive names are case-sensitive", HaCf, "KeepAlive 1\nbcast eth1\nnode n1 n2\n", 1, "Illegal directive [KeepAlive]"),
        case("bad time unit", HaCf, "keepalive 2s\nbcast eth1\nnode n1 n2\n", 1,
            "keepalive: bad time value \"2s\": unknown time unit \"s\" (use ms, msec, us, usec, or none for seconds)"),
        case("time with a blank before the unit", HaCf, "keepalive 1\ndeadtime 10 ms\nbcast eth1\nnode n1 n2\n", 2,
            "deadtime takes one value, found 2: 10 ms"),
        case("time that is not a number", HaCf, "keepalive 1\nwarntime soon\nbcast eth1\nnode n1 n2\n", 2,
            "warntime: bad time value \"soon\": expected a number"),
        case("directive without a value", HaCf, "keepalive\nbcast eth1\nnode n1 n2\n", 1, "keepalive needs a value"),
        case("deadtime smaller than keepalive", HaCf, "keepalive 2\ndeadtime 1\nbcast eth1\nnode n1 n2\n", 2,
            "Dead time [1s] is too small compared to keepalive [2s]"),
        case("deadtime exactly twice keepalive", HaCf, "keepalive 500ms\ndeadtime 1\nbcast eth1\nnode n1 n2\n", 2,
            "Dead time [1s] is too small compared to keepalive [500ms]"),
        case("default deadtime against a long keepalive", HaCf, "keepalive 20\nbcast eth1\nnode n1 n2\n", 1,
            "Dead time [30s] is too small compared to keepalive [20s]"),
        case("initdead smaller than deadtime", HaCf, "keepalive 1\ndeadtime 10\ninitdead 5\nbcast eth1\nnode n1 n2\n", 3,
            "Initial dead time [5s] is smaller than deadtime [10s]"),
        case("keepalive zero", HaCf, "keepalive 0\ndeadtime 10\nbcast eth1\nnode n1 n2\n", 1, "keepalive must be greater than 0"),
        case("warntime zero", HaCf, "warntime 0ms\nbcast eth1\nnode n1 n2\n", 1, "warntime must be greater than 0"),
        case("deadping too small", HaCf, "keepalive 1\ndeadtime 10\ndeadping 2\nbcast eth1\nnode n1 n2\n", 3,
            "Ping dead time [2s] is too small compared to keepalive [1s]"),
        case("udpport zero", HaCf, "udpport 0\nbcast eth1\nnode n1 n2\n", 1, "udpport: \"0\" is not a number from 1 to 65535"),
        case("udpport too large", HaCf, "udpport 70000\nbcast eth1\nnode n1 n2\n", 1, "udpport: \"70000\" is not a number from 1 to 65535"),
        case("unsupported baud", HaCf, "baud 12345\nserial /dev/ttyS0\nnode n1 n2\n", 1, "invalid baudrate [12345] specified"),
        case("baud after serial", HaCf, "serial /dev/ttyS0\nbaud 38400\nnode n1 n2\n", 2,
            "baudrate setting must precede media statements (serial on line 1)"),
        case("baud twice", HaCf, "baud 9600\nbaud 9600\nserial /dev/ttyS0\nnode n1 n2\n", 2, "Baudrate multiply specified (first on line 1)"),
        case("watchdog twice", HaCf, "watchdog /dev/watchdog\nwatchdog /dev/watchdog1\nbcast eth1\nnode n1 n2\n", 2,
            "Watchdog device multiply specified (first on line 1)"),
        case("watchdog relative", HaCf, "watchdog watchdog\nbcast eth1\nnode n1 n2\n", 1, "watchdog: \"watchdog\" is not an absolute path"),
        case("no media", HaCf, "keepalive 1\ndeadtime 10\nnode n1 n2\n", 0, "No heartbeat media defined"),
        case("ping is not a heartbeat medium", HaCf, "ping 192.0.2.1\nnode n1 n2\n", 0, "No heartbeat media defined"),
        case("no nodes", HaCf, "bcast eth1\n", 0, "no nodes defined"),
        case("mcast group not multicast", HaCf, "mcast eth1 192.0.2.1 694 1 0\nnode n1 n2\n", 1, "mcast [eth1] bad addr [192.0.2.1]"),
        case("mcast ttl over 4", HaCf, "mcast eth1 239.0.0.1 694 5 0\nnode n1 n2\n", 1, "mcast [eth1] bad ttl [5]"),
        case("mcast loop not 0 or 1", HaCf, "mcast eth1 239.0.0.1 694 1 2\nnode n1 n2\n", 1, "mcast [eth1] bad loop [2]"),
        case("mcast missing port", HaCf, "mcast eth1 239.0.0.1\nnode n1 n2\n", 1, "mcast [eth1] missing port"),
        case("mcast port zero", HaCf, "mcast eth1 239.0.0.1 0 1 0\nnode n1 n2\n", 1, "mcast [eth1] bad port [0]"),
        case("ucast missing peer", HaCf, "ucast eth1\nnode n1 n2\n", 1, "ucast: [eth1] missing target IP address/hostname"),
        case("ucast malformed IP", HaCf, "ucast eth1 192.0.2.300\nnode n1 n2\n", 1, "ucast: [192.0.2.300] is not an IPv4 address or host name"),
        case("ucast extra words", HaCf, "ucast eth1 192.0.2.2 192.0.2.3\nnode n1 n2\n", 1, "ucast takes two words, found: eth1 192.0.2.2 192.0.2.3"),
        case("bcast bad interface name", HaCf, "bcast eth1/2\nnode n1 n2\n", 1,
            "Illegal bcast [UDP/IP broadcast] in config file [eth1/2]: not an interface name"),
        case("serial not a full path", HaCf, "serial ttyS0\nnode n1 n2\n", 1, "Serial port not full pathname [ttyS0] in config file"),
        case("auto_failback value", HaCf, "auto_failback maybe\nbcast eth1\nnode n1 n2\n", 1, "auto_failback: \"maybe\" is not one of on, off, legacy"),
        case("hopfudge out of range", HaCf, "hopfudge 256\nbcast eth1\nnode n1 n2\n", 1, "hopfudge: \"256\" is not a number from 0 to 255"),
        case("unknown log facility", HaCf, "logfacility bogus\nbcast eth1\nnode n1 n2\n", 1, "Log facility(bogus) not valid"),
        case("pacemaker", HaCf, "crm on\nbcast eth1\nnode n1 n2\n", 1, "crm on (CRM resource management) is not supported"),
        case("pacemaker as written", HaCf, "pacemaker respawn\nbcast eth1\nnode n1 n2\n", 1, "pacemaker respawn (CRM resource management) is not supported"),
        case("our directive in ha-ext.cf only", Ext, "keepalive 2\n", 1, "keepalive is a heartbeat 3.0.6 directive: it belongs in ha.cf, not in ha-ext.cf"),
        case("unknown directive in ha-ext.cf", Ext, "metrics_listen 127.0.0.1:9100\nscript_timout 30\n", 2, "Illegal directive [script_timout] in ha-ext.cf"),
        case("bad value in ha-ext.cf", Ext, "script_timeout 0\n", 1, "script_timeout must be greater than 0"),
        case("stonith", HaCf, "stonith baytech /etc/ha.d/conf/stonith.baytech\nbcast eth1\nnode n1 n2\n", 1,
            "stonith (STONITH devices) is not supported"),
        case("use_logd off and nowhere to log", HaCf, "use_logd off\nbcast eth1\nnode n1 n2\n", 1, "No log entry found in ha.cf and use_logd is set to off"),
        case("IPv6 unicast medium", HaCf, "ucast6 eth1 2001:db8::2\nnode n1 n2\n", 1, "the ucast6 medium is not supported"),
        case("respawn relative path", HaCf, "bcast eth1\nnode n1 n2\nrespawn hacluster ipfail\n", 3,
            "Client child command [ipfail] is not full pathname"),
        case("respawn without command", HaCf, "bcast eth1\nnode n1 n2\nrespawn hacluster\n", 3, "respawn needs a user and a command"),
        case("apiauth without uid or gid", HaCf, "bcast eth1\nnode n1 n2\napiauth ipfail\n", 3, "Missing uid or gid in apiauth"),
        case("ping node is a cluster node", HaCf, "bcast eth1\nnode n1 n2\nping n2\n", 3, "ping node n2 is also a cluster node"),
        // ipfail (spec §10; the seed's ipfail section): auto_failback on or off, two nodes
        case("ipfail with auto_failback legacy", HaCf, "bcast eth1\nnode n1 n2\nping 192.0.2.254\nauto_failback legacy\nipfail on\n", 4,
            "ipfail needs auto_failback on or off, and auto_failback is legacy (the default)"),
        case("respawned ipfail without auto_failback", HaCf, "bcast eth1\nnode n1 n2\nping 192.0.2.254\nrespawn hacluster /usr/lib/heartbeat/ipfail\n", 0,
            "ipfail needs auto_failback on or off, and auto_failback is legacy (the default)"),
        case("ipfail with three nodes", Toml, "nodes = [\"n1\", \"n2\", \"n3\"]\nauto_failback = \"on\"\nipfail = true\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[[ping]]\nhost = \"192.0.2.254\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 3,
            "ipfail needs a two-node cluster, and 3 nodes are configured"),
        case("ipfail not a boolean", HaCf, "bcast eth1\nnode n1 n2\nipfail maybe\n", 3, "ipfail: \"maybe\" is not a boolean"),
        case("toml ipfail with auto_failback legacy", Toml, "nodes = [\"n1\", \"n2\"]\nauto_failback = \"legacy\"\nipfail = true\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[[ping]]\nhost = \"192.0.2.254\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 2,
            "ipfail needs auto_failback on or off, and auto_failback is legacy (the default)"),
        case("env without equals", HaCf, "bcast eth1\nnode n1 n2\nenv FOO\n", 3, "env: invalid nvpair(FOO)"),
        case("node name too long", HaCf,
            "bcast eth1\nnode n1 n2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2,
            "node name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is longer than 99 characters"),
        // metrics_listen (ours; 3.0.6 does not know it)
        case("metrics_listen without a port", HaCf, "bcast eth1\nmetrics_listen 127.0.0.1\nnode n1 n2\n", 2,
            "metrics_listen: bad address \"127.0.0.1\""),
        case("metrics_listen with a host name", HaCf, "bcast eth1\nnode n1 n2\nmetrics_listen localhost:9100\n", 3,
            "metrics_listen: bad address \"localhost:9100\""),
        case("metrics_listen on port 0", HaCf, "metrics_listen 0.0.0.0:0\nbcast eth1\nnode n1 n2\n", 1,
            "metrics_listen 0.0.0.0:0: port 0 is not a port to scrape"),
        case("metrics_listen with two addresses", HaCf, "bcast eth1\nnode n1 n2\nmetrics_listen 127.0.0.1:9100 127.0.0.1:9101\n", 3,
            "metrics_listen takes one value, found 2: 127.0.0.1:9100 127.0.0.1:9101"),
        // script_timeout (ours; 3.0.6 does not know it)
        case("script_timeout zero", HaCf, "script_timeout 0\nbcast eth1\nnode n1 n2\n", 1, "script_timeout must be greater than 0"),
        case("script_timeout over an hour", HaCf, "bcast eth1\nnode n1 n2\nscript_timeout 3601\n", 3,
            "script_timeout [3601s] is longer than 3600s"),
        case("script_timeout with a unit of minutes", HaCf, "bcast eth1\nscript_timeout 2min\nnode n1 n2\n", 2,
            "script_timeout: bad time value \"2min\": unknown time unit \"min\" (use ms, msec, us, usec, or none for seconds)"),
        case("script_timeout with a blank before the unit", HaCf, "bcast eth1\nnode n1 n2\nscript_timeout 500 ms\n", 3,
            "script_timeout takes one value, found 2: 500 ms"),
        case("a third node with resource groups", HaCf, "bcast eth1\nnode n1 n2\nnode n3\n", 3,
            "resource groups need a two-node cluster, and node n3 is a third node"),
        // haresources
        case("haresources node missing from ha.cf", HaRes, "n3 192.0.2.10 svc\n", 1, "node n3 is not a `node` in ha.cf"),
        case("malformed IP", HaRes, "n1 192.0.2.300 svc\n", 1, "resource \"192.0.2.300\": \"192.0.2.300\" is not a valid IPv4 address"),
        case("bad cidr", HaRes, "n1 192.0.2.10/33 svc\n", 1,
            "resource \"192.0.2.10/33\": bad cidr netmask \"33\": expected a prefix length from 1 to 32 or a dotted-quad netmask"),
        case("broadcast outside the subnet", HaRes, "n1 192.0.2.10/27/192.0.2.200 svc\n", 1,
            "resource \"192.0.2.10/27/192.0.2.200\": broadcast 192.0.2.200 is outside 192.0.2.10/27"),
        case("line with a node and no resources", HaRes, "# comment\nn1\n", 2, "node n1 has no resources on its line"),
        case("duplicate group key", HaRes, "n1 192.0.2.10 svc\nn2 192.0.2.10 other\n", 2,
            "resource group 192.0.2.10 is defined twice (first on line 1)"),
        case("same address in two groups", HaRes, "n1 192.0.2.10 svc\nn2 IPaddr::192.0.2.10/24 other\n", 2,
            "service address 192.0.2.10 is also in group 192.0.2.10 (line 1)"),
        case("continuation at end of file", HaRes, "n1 192.0.2.10 \\\n", 1, "the last line ends with `\\` but no line follows"),
        case("script name with a path", HaRes, "n1 ../../bin/sh\n", 1,
            "resource \"../../bin/sh\": \"../../bin/sh\" is not a script name"),
        case("empty script argument", HaRes, "n1 maid::\n", 1, "resource \"maid::\" has an empty argument"),
        case("IPaddr with two arguments", HaRes, "n1 IPaddr::192.0.2.10::eth0\n", 1,
            "resource \"IPaddr::192.0.2.10::eth0\": IPaddr takes exactly one argument, IP[/BITS[/IFACE][/BROADCAST]]"),
        case("continued line is checked too", HaRes, "n1 192.0.2.10 \\\n  192.0.2.999\n", 1,
            "resource \"192.0.2.999\": \"192.0.2.999\" is not a valid IPv4 address"),
        // authkeys
        case("auth selects a missing key", Keys, "auth 3\n1 sha1 abcdefgh12345678\n", 1, "Auth Key [3] not found in keyfile"),
        case("md5 without key", Keys, "auth 1\n1 md5\n", 2, "Auth method [md5] requires a key"),
        case("sha1 without key", Keys, "auth 1\n1 sha1\n", 2, "Auth method [sha1] requires a key"),
        case("crc with a key", Keys, "auth 1\n1 crc secret\n", 2, "Auth method [crc] doesn't use a key"),
        case("crc with a trailing comment", Keys, "auth 1\n1 crc # trusted link\n", 2, "Auth method [crc] doesn't use a key"),
        case("no auth line", Keys, "1 sha1 abcdefgh12345678\n", 0, "Missing auth directive in keyfile"),
        case("key number out of range", Keys, "auth 1\n1 sha1 abcdefgh12345678\n16 sha1 abcdefgh12345678\n", 3, "Invalid authnum [16]"),
        case("unknown method", Keys, "auth 1\n1 sha256 abcdefgh12345678\n", 2, "Invalid authtype [sha256]"),
        case("upper-case method", Keys, "auth 1\n1 SHA1 abcdefgh12345678\n", 2, "Invalid authtype [SHA1]"),
        case("auth with a word for a number", Keys, "auth one\n1 sha1 abcdefgh12345678\n", 1, "Invalid auth line [auth one]"),
        case("comment after the key number, then a crc key", Keys, "auth 1 # the crc key\n1 crc # trusted\n", 2, "Auth method [crc] doesn't use a key"),
        case("auth without number", Keys, "auth\n1 sha1 abcdefgh12345678\n", 1, "Invalid auth line [auth]"),
        case("key line without a method", Keys, "auth 1\n1\n", 2, "Auth line [1] is invalid"),
        // the TOML form
        case("toml time without unit", Toml, "nodes = [\"n1\", \"n2\"]\nkeepalive = \"2\"\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 2,
            "keepalive = \"2\": give a unit, e.g. \"2s\" or \"2ms\""),
        case("toml unknown key", Toml, "nodes = [\"n1\"]\nkeepaliv = \"2s\"\n", 2,
            "unknown field `keepaliv`, expected one of `cluster`, `nodes`, `keepalive`, `deadtime`, `warntime`, `initdead`, `deadping`, `udpport`, `baud`, `hopfudge`, `watchdog`, `auto_failback`, `media`, `ping`, `logging`, `respawn`, `apiauth`, `env`, `msgfmt`, `hbgenmethod`, `realtime`, `rtprio`, `coredumps`, `coreroot`, `memreserve`, `compression`, `compression_threshold`, `traditional_compression`, `max_rexmit_delay`, `script_timeout`, `ipfail`, `metrics_listen`, `ipaddr_scripts`, `resources`, `auth`"),
        case("toml metrics_listen without a port", Toml, "nodes = [\"n1\", \"n2\"]\nmetrics_listen = \"127.0.0.1\"\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 2,
            "metrics_listen: bad address \"127.0.0.1\""),
        case("toml script_timeout zero", Toml, "nodes = [\"n1\", \"n2\"]\nscript_timeout = \"0ms\"\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 2,
            "script_timeout must be greater than 0"),
        case("toml script_timeout without unit", Toml, "nodes = [\"n1\", \"n2\"]\nscript_timeout = \"5\"\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 2,
            "script_timeout = \"5\": give a unit, e.g. \"5s\" or \"5ms\""),
        case("toml script_timeout over an hour", Toml, "nodes = [\"n1\", \"n2\"]\nscript_timeout = \"3601s\"\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 2,
            "script_timeout [3601s] is longer than 3600s"),
        case("toml deadtime too small", Toml, "nodes = [\"n1\", \"n2\"]\nkeepalive = \"1s\"\ndeadtime = \"2s\"\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 3,
            "Dead time [2s] is too small compared to keepalive [1s]"),
        case("toml resource node missing", Toml, "nodes = [\"n1\"]\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n\n[[resources]]\nnode = \"n9\"\nresources = [\"192.0.2.10\"]\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 6,
            "node n9 is not a `node` in ha.cf"),
        case("toml missing key for sha1", Toml, "nodes = [\"n1\"]\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [\n  { slot = 1, method = \"sha1\" },\n]\n", 8,
            "Auth method [sha1] requires a key"),
        case("toml resource with a blank", Toml, "nodes = [\"n1\"]\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n\n[[resources]]\nnode = \"n1\"\nresources = [\"httpd smb\"]\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 6,
            "resource: \"httpd smb\" must be one word without blanks or '#'"),
        case("toml resource with a comment", Toml, "nodes = [\"n1\"]\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n\n[[resources]]\nnode = \"n1\"\nresources = [\"httpd#x\"]\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 6,
            "resource: \"httpd#x\" must be one word without blanks or '#'"),
        case("toml resource ending in a backslash", Toml, "nodes = [\"n1\", \"n2\"]\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n\n[[resources]]\nnode = \"n1\"\nresources = [\"svc\\\\\"]\n\n[[resources]]\nnode = \"n2\"\nresources = [\"other\"]\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 6,
            "\"svc\\\\\" ends in '\\', which would continue the haresources line"),
        case("toml node name with a form feed", Toml, "nodes = [\"n1\\fn2\"]\n[[media]]\ntype = \"bcast\"\ninterface = \"eth1\"\n[auth]\nsend = 1\nkeys = [{ slot = 1, method = \"crc\" }]\n", 1,
            "node: \"n1\\u{c}n2\" must be one word without blanks, commas or '#'"),
        case("toml unknown medium type", Toml, "nodes = [\"n1\"]\n[[media]]\ntype = \"token-ring\"\ninterface = \"eth1\"\n", 3,
            "unknown variant `token-ring`, expected one of `bcast`, `ucast`, `mcast`, `serial`"),
    ]
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// Writes case `c` into the directory `dir` (the base files, then the case's
/// own); returns what `-c` takes: `dir`, or its `cluster.toml`.
pub fn stage(c: &Case, dir: &Path) -> PathBuf {
    if let F::Toml = c.file {
        let path = dir.join("cluster.toml");
        write(&path, c.text);
        return path;
    }
    for (name, base, f) in [
        ("ha.cf", HACF, F::HaCf),
        ("haresources", HARES, F::HaRes),
        ("authkeys", KEYS, F::Keys),
    ] {
        let text = if std::mem::discriminant(&f) == std::mem::discriminant(&c.file) {
            c.text
        } else {
            base
        };
        write(&dir.join(name), text);
    }
    if let F::Ext = c.file {
        write(&dir.join("ha-ext.cf"), c.text);
    }
    dir.to_path_buf()
}
