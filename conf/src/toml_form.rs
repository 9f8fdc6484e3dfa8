//! The TOML form of the configuration: one file for new installations, read into
//! the same model as `/etc/ha.d`, with the same checks and messages (each TOML
//! item is applied as the ha.cf directive it stands for, with its TOML line).
//! Units are explicit (`keepalive = "500ms"`, `deadtime = "5s"`), and there are
//! no ordering rules. The file holds keys, so it must be mode 600 like authkeys.
//!
//! ```toml
//! cluster = "linux-ha"
//! nodes = ["n1", "n2"]
//! keepalive = "1s"
//! deadtime = "5s"
//! auto_failback = "on"
//!
//! [[media]]
//! type = "bcast"
//! interface = "eth1"
//!
//! [[resources]]
//! node = "n1"
//! resources = ["192.0.2.100/24", "httpd", "maid::vacuum"]
//!
//! [auth]
//! send = 1
//! keys = [{ slot = 1, method = "sha1", key = "a-long-random-key" }]
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::diag::{ConfigError, Diagnostics, Loc};
use crate::model::{AutoFailback, Compression, Config, GenMethod, Medium, MsgFmt};
use crate::partial::Partial;
use crate::time::display as t;
use crate::{authkeys, hacf, haresources};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cluster: Option<Spanned<String>>,
    nodes: Spanned<Vec<Spanned<String>>>,
    keepalive: Option<Spanned<String>>,
    deadtime: Option<Spanned<String>>,
    warntime: Option<Spanned<String>>,
    initdead: Option<Spanned<String>>,
    deadping: Option<Spanned<String>>,
    udpport: Option<Spanned<i64>>,
    baud: Option<Spanned<i64>>,
    hopfudge: Option<Spanned<i64>>,
    watchdog: Option<Spanned<String>>,
    auto_failback: Option<Spanned<String>>,
    #[serde(default)]
    media: Vec<Spanned<MediumT>>,
    #[serde(default)]
    ping: Vec<Spanned<PingT>>,
    #[serde(default)]
    logging: LoggingT,
    #[serde(default)]
    respawn: Vec<Spanned<RespawnT>>,
    #[serde(default)]
    apiauth: Vec<Spanned<ApiAuthT>>,
    env: Option<Spanned<BTreeMap<String, String>>>,
    msgfmt: Option<Spanned<String>>,
    hbgenmethod: Option<Spanned<String>>,
    realtime: Option<Spanned<bool>>,
    rtprio: Option<Spanned<i64>>,
    coredumps: Option<Spanned<bool>>,
    coreroot: Option<Spanned<String>>,
    memreserve: Option<Spanned<i64>>,
    compression: Option<Spanned<String>>,
    compression_threshold: Option<Spanned<i64>>,
    traditional_compression: Option<Spanned<bool>>,
    max_rexmit_delay: Option<Spanned<String>>,
    script_timeout: Option<Spanned<String>>,
    ipfail: Option<Spanned<bool>>,
    metrics_listen: Option<Spanned<String>>,
    ipaddr_scripts: Option<Spanned<bool>>,
    #[serde(default)]
    resources: Vec<Spanned<GroupT>>,
    auth: Spanned<AuthT>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum MediumT {
    Bcast {
        interface: String,
        /// The port, when it is not `udpport` (a ha.cf `udpport` after a
        /// bcast line leaves the bcast media on the earlier port).
        port: Option<i64>,
    },
    Ucast {
        interface: String,
        peer: String,
        /// As for bcast.
        port: Option<i64>,
    },
    Mcast {
        interface: String,
        group: String,
        port: i64,
        ttl: i64,
        #[serde(rename = "loop")]
        looped: bool,
    },
    Serial {
        device: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PingT {
    /// A single ping node (`ping HOST`).
    host: Option<String>,
    /// A ping group's name (`ping_group NAME HOST...`).
    group: Option<String>,
    #[serde(default)]
    hosts: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LoggingT {
    logfile: Option<Spanned<String>>,
    debugfile: Option<Spanned<String>>,
    logfacility: Option<Spanned<String>>,
    syslogmsgfmt: Option<Spanned<bool>>,
    debug: Option<Spanned<i64>>,
    log_badpack: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RespawnT {
    user: String,
    command: Vec<String>,
    #[serde(default)]
    failfast: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiAuthT {
    client: String,
    #[serde(default)]
    uid: Vec<String>,
    #[serde(default)]
    gid: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupT {
    node: String,
    resources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthT {
    send: i64,
    keys: Vec<Spanned<KeyT>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyT {
    slot: i64,
    method: String,
    key: Option<String>,
}

/// Turns TOML items into the ha.cf directives they stand for.
struct Lines<'a> {
    text: &'a str,
    out: Vec<(usize, &'static str, String)>,
    bad: Vec<(usize, String)>,
}

impl Lines<'_> {
    fn line_of(&self, span: std::ops::Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    /// One value of a directive that ha.cf splits on blanks and commas (`node`,
    /// `bcast`, `env`, ...): refuses what ha.cf would split or cut.
    fn word(&mut self, line: usize, what: &str, v: &str) -> String {
        if v.is_empty() || v.contains([' ', '\t', ',', '\x0c', '#', '\n', '\r']) {
            self.bad.push((
                line,
                format!("{what}: {v:?} must be one word without blanks, commas or '#'"),
            ));
        }
        v.to_owned()
    }

    /// One word of a line split on blanks only (`respawn`, `failfast`,
    /// `apiauth`, `ping_group`, and haresources lines): a comma is part of the
    /// word there, as it is in ha.cf.
    fn line_word(&mut self, line: usize, what: &str, v: &str) -> String {
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '#') {
            self.bad.push((
                line,
                format!("{what}: {v:?} must be one word without blanks or '#'"),
            ));
        }
        v.to_owned()
    }

    fn push(&mut self, line: usize, directive: &'static str, rest: String) {
        self.out.push((line, directive, rest));
    }

    fn string(&mut self, directive: &'static str, v: &Option<Spanned<String>>) {
        if let Some(v) = v {
            let line = self.line_of(v.span());
            let w = self.word(line, directive, v.get_ref());
            self.push(line, directive, w);
        }
    }

    fn time(&mut self, directive: &'static str, v: &Option<Spanned<String>>) {
        if let Some(v) = v {
            let line = self.line_of(v.span());
            match toml_time(v.get_ref()) {
                Ok(value) => {
                    let w = self.word(line, directive, &value);
                    self.push(line, directive, w);
                }
                Err(e) => self
                    .bad
                    .push((line, format!("{directive} = {:?}: {e}", v.get_ref()))),
            }
        }
    }

    fn int(&mut self, directive: &'static str, v: &Option<Spanned<i64>>) {
        if let Some(v) = v {
            let line = self.line_of(v.span());
            self.push(line, directive, v.get_ref().to_string());
        }
    }

    fn boolean(&mut self, directive: &'static str, v: &Option<Spanned<bool>>) {
        if let Some(v) = v {
            let line = self.line_of(v.span());
            self.push(
                line,
                directive,
                if *v.get_ref() { "on" } else { "off" }.to_owned(),
            );
        }
    }
}

/// A TOML time (`"5s"`, `"500ms"`, `"1.5s"`) as ha.cf writes it; the unit is required.
fn toml_time(s: &str) -> Result<String, String> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    if lower.ends_with("ms")
        || lower.ends_with("us")
        || lower.ends_with("msec")
        || lower.ends_with("usec")
    {
        Ok(s.to_owned())
    } else if let Some(secs) = s.strip_suffix('s') {
        Ok(secs.trim_end().to_owned())
    } else {
        Err(format!("give a unit, e.g. \"{s}s\" or \"{s}ms\""))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

/// Reads a TOML configuration into a [`Partial`]. The file's mode is the
/// caller's to check.
pub(crate) fn parse(
    path: &Path,
    text: &str,
    diags: &mut Diagnostics,
) -> Result<Partial, ConfigError> {
    let file: Arc<Path> = Arc::from(path);
    let f: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        let mut d = Diagnostics::default();
        d.error(&Loc::new(&file, line), e.message().to_owned());
        ConfigError {
            diagnostics: d.into_vec(),
        }
    })?;

    let mut l = Lines {
        text,
        out: Vec::new(),
        bad: Vec::new(),
    };
    l.string("cluster", &f.cluster);
    for n in f.nodes.get_ref() {
        let line = l.line_of(n.span());
        let w = l.word(line, "node", n.get_ref());
        l.push(line, "node", w);
    }
    // Ports and speed first: the TOML form has no ordering rules.
    l.int("udpport", &f.udpport);
    l.int("baud", &f.baud);
    for (name, v) in [
        ("keepalive", &f.keepalive),
        ("deadtime", &f.deadtime),
        ("warntime", &f.warntime),
        ("initdead", &f.initdead),
        ("deadping", &f.deadping),
        ("script_timeout", &f.script_timeout),
    ] {
        l.time(name, v);
    }
    l.int("hopfudge", &f.hopfudge);
    l.string("watchdog", &f.watchdog);
    l.string("auto_failback", &f.auto_failback);
    // Media lines whose port is their own, set after they are read.
    let mut own_ports: Vec<(usize, u16)> = Vec::new();
    for m in &f.media {
        let line = l.line_of(m.span());
        if let MediumT::Bcast {
            port: Some(port), ..
        }
        | MediumT::Ucast {
            port: Some(port), ..
        } = m.get_ref()
        {
            match u16::try_from(*port).ok().filter(|p| *p > 0) {
                Some(p) => own_ports.push((line, p)),
                None => l
                    .bad
                    .push((line, format!("port = {port}: not a port from 1 to 65535"))),
            }
        }
        let (directive, words): (&'static str, Vec<String>) = match m.get_ref() {
            MediumT::Bcast { interface, .. } => ("bcast", vec![interface.clone()]),
            MediumT::Ucast {
                interface, peer, ..
            } => ("ucast", vec![interface.clone(), peer.clone()]),
            MediumT::Mcast {
                interface,
                group,
                port,
                ttl,
                looped,
            } => (
                "mcast",
                vec![
                    interface.clone(),
                    group.clone(),
                    port.to_string(),
                    ttl.to_string(),
                    u8::from(*looped).to_string(),
                ],
            ),
            MediumT::Serial { device } => ("serial", vec![device.clone()]),
        };
        let words: Vec<String> = words.iter().map(|w| l.word(line, directive, w)).collect();
        l.push(line, directive, words.join(" "));
    }
    for p in &f.ping {
        let line = l.line_of(p.span());
        let p = p.get_ref();
        match (&p.host, &p.group) {
            (Some(host), None) if p.hosts.is_empty() => {
                let w = l.word(line, "ping", host);
                l.push(line, "ping", w);
            }
            (None, Some(group)) if !p.hosts.is_empty() => {
                let mut words = vec![l.line_word(line, "ping group", group)];
                for h in &p.hosts {
                    words.push(l.line_word(line, "ping host", h));
                }
                l.push(line, "ping_group", words.join(" "));
            }
            _ => l.bad.push((
                line,
                "a [[ping]] entry is either { host = \"ADDR\" } or { group = \"NAME\", hosts = [\"ADDR\", ...] }".into(),
            )),
        }
    }
    let lg = &f.logging;
    l.string("logfile", &lg.logfile);
    l.string("debugfile", &lg.debugfile);
    l.string("logfacility", &lg.logfacility);
    l.boolean("syslogmsgfmt", &lg.syslogmsgfmt);
    l.int("debug", &lg.debug);
    l.boolean("log_badpack", &lg.log_badpack);
    for r in &f.respawn {
        let line = l.line_of(r.span());
        let r = r.get_ref();
        let mut words = vec![l.line_word(line, "respawn user", &r.user)];
        for a in &r.command {
            words.push(l.line_word(line, "respawn command", a));
        }
        l.push(
            line,
            if r.failfast { "failfast" } else { "respawn" },
            words.join(" "),
        );
    }
    for a in &f.apiauth {
        let line = l.line_of(a.span());
        let a = a.get_ref();
        let mut words = vec![l.line_word(line, "apiauth client", &a.client)];
        for (key, list) in [("uid", &a.uid), ("gid", &a.gid)] {
            if !list.is_empty() {
                let names: Vec<String> = list
                    .iter()
                    .map(|n| l.word(line, "apiauth name", n))
                    .collect();
                words.push(format!("{key}={}", names.join(",")));
            }
        }
        l.push(line, "apiauth", words.join(" "));
    }
    if let Some(env) = &f.env {
        let line = l.line_of(env.span());
        for (k, v) in env.get_ref() {
            let pair = l.word(line, "env", &format!("{k}={v}"));
            l.push(line, "env", pair);
        }
    }
    l.string("msgfmt", &f.msgfmt);
    l.string("hbgenmethod", &f.hbgenmethod);
    l.boolean("realtime", &f.realtime);
    l.boolean("ipfail", &f.ipfail);
    l.string("metrics_listen", &f.metrics_listen);
    l.boolean("ipaddr_scripts", &f.ipaddr_scripts);
    l.int("rtprio", &f.rtprio);
    l.boolean("coredumps", &f.coredumps);
    l.string("coreroot", &f.coreroot);
    l.int("memreserve", &f.memreserve);
    l.string("compression", &f.compression);
    l.int("compression_threshold", &f.compression_threshold);
    l.boolean("traditional_compression", &f.traditional_compression);
    if let Some(v) = &f.max_rexmit_delay {
        let line = l.line_of(v.span());
        match toml_time(v.get_ref()).and_then(|h| crate::time::parse(&h).map_err(|e| e.to_string()))
        {
            Ok(d) => l.push(line, "max_rexmit_delay", d.as_millis().to_string()),
            Err(e) => l
                .bad
                .push((line, format!("max_rexmit_delay = {:?}: {e}", v.get_ref()))),
        }
    }

    // Each group becomes a haresources line: its words must stay words there.
    for g in &f.resources {
        let line = l.line_of(g.span());
        let g = g.get_ref();
        l.line_word(line, "resource group node", &g.node);
        for r in &g.resources {
            l.line_word(line, "resource", r);
        }
        let last = g.resources.last().unwrap_or(&g.node);
        if last.ends_with('\\') {
            l.bad.push((
                line,
                format!("{last:?} ends in '\\', which would continue the haresources line"),
            ));
        }
    }

    let mut p = Partial::default();
    for (line, msg) in l.bad {
        diags.error(&Loc::new(&file, line), msg);
    }
    hacf::apply(path, &l.out, &mut p, diags);
    for m in &mut p.media {
        if let Some((_, own)) = own_ports.iter().find(|(line, _)| *line == m.loc.line) {
            if let Medium::Bcast { port, .. } | Medium::Ucast { port, .. } = &mut m.value {
                *port = *own;
            }
        }
    }

    let mut hares = String::new();
    let mut hares_lines = Vec::new();
    for g in &f.resources {
        hares_lines.push(line_of(text, g.span().start));
        let g = g.get_ref();
        let _ = writeln!(hares, "{} {}", g.node, g.resources.join(" "));
    }
    let mut sub = Diagnostics::default();
    p.resources = haresources::parse(path, &hares, &mut sub);
    for g in &mut p.resources {
        g.loc = Loc::new(
            &file,
            hares_lines
                .get(g.loc.line.wrapping_sub(1))
                .copied()
                .unwrap_or(0),
        );
    }
    remap(sub, &hares_lines, &file, diags);

    let mut keys = String::new();
    let auth_line = line_of(text, f.auth.span().start);
    let mut key_lines = vec![auth_line];
    let _ = writeln!(keys, "auth {}", f.auth.get_ref().send);
    for k in &f.auth.get_ref().keys {
        key_lines.push(line_of(text, k.span().start));
        let k = k.get_ref();
        let _ = writeln!(
            keys,
            "{} {} {}",
            k.slot,
            k.method,
            k.key.as_deref().unwrap_or_default()
        );
    }
    let mut sub = Diagnostics::default();
    p.authkeys = authkeys::parse(path, &keys, &mut sub);
    remap(sub, &key_lines, &file, diags);
    Ok(p)
}

/// Moves diagnostics of a synthesized text (line i) to the TOML line it came from.
fn remap(sub: Diagnostics, lines: &[usize], file: &Arc<Path>, diags: &mut Diagnostics) {
    for mut d in sub.into_vec() {
        d.loc = Loc::new(
            file,
            lines.get(d.loc.line.wrapping_sub(1)).copied().unwrap_or(0),
        );
        diags.push_diagnostic(d);
    }
}

/// Writes a configuration as TOML (`convert-config`, and `check-config`'s
/// normalized listing with `redact_keys`). Reading the output gives back the same
/// [`Config`].
pub fn write(c: &Config, redact_keys: bool) -> String {
    let mut o = String::new();
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let list = |v: &[String]| {
        format!(
            "[{}]",
            v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
        )
    };
    let _ = writeln!(o, "# heartbeat configuration (TOML form)\n");
    let _ = writeln!(o, "cluster = {}", q(&c.cluster));
    let _ = writeln!(o, "nodes = {}", list(&c.nodes));
    let tm = &c.timing;
    for (k, v) in [
        ("keepalive", tm.keepalive),
        ("deadtime", tm.deadtime),
        ("warntime", tm.warntime),
        ("initdead", tm.initdead),
        ("deadping", tm.deadping),
    ] {
        let _ = writeln!(o, "{k} = {}", q(&t(v)));
    }
    let port = c.media.iter().find_map(|m| match m {
        Medium::Bcast { port, .. } | Medium::Ucast { port, .. } => Some(*port),
        _ => None,
    });
    if let Some(port) = port {
        let _ = writeln!(o, "udpport = {port}");
    }
    if let Some(baud) = c.media.iter().find_map(|m| match m {
        Medium::Serial { baud, .. } => Some(*baud),
        _ => None,
    }) {
        let _ = writeln!(o, "baud = {baud}");
    }
    let _ = writeln!(o, "hopfudge = {}", c.hopfudge);
    if let Some(w) = &c.watchdog {
        let _ = writeln!(o, "watchdog = {}", q(&w.display().to_string()));
    }
    let af = match c.auto_failback {
        AutoFailback::On => "on",
        AutoFailback::Off => "off",
        AutoFailback::Legacy => "legacy",
    };
    let _ = writeln!(o, "auto_failback = {}", q(af));
    let _ = writeln!(
        o,
        "msgfmt = {}",
        q(match c.msgfmt {
            MsgFmt::Classic => "classic",
            MsgFmt::Netstring => "netstring",
        })
    );
    let _ = writeln!(
        o,
        "hbgenmethod = {}",
        q(match c.hbgenmethod {
            GenMethod::File => "file",
            GenMethod::Time => "time",
        })
    );
    let _ = writeln!(o, "realtime = {}", c.realtime.enabled);
    if let Some(p) = c.realtime.rtprio {
        let _ = writeln!(o, "rtprio = {p}");
    }
    // Settings without effect (each draws a warning when read): written
    // only when they are not 3.0.6's defaults, so that a converted
    // configuration keeps what its ha.cf said and no more.
    if !c.coredumps.enabled {
        let _ = writeln!(o, "coredumps = false");
    }
    if let Some(r) = &c.coredumps.coreroot {
        let _ = writeln!(o, "coreroot = {}", q(&r.display().to_string()));
    }
    if c.memreserve_kib != 6500 {
        let _ = writeln!(o, "memreserve = {}", c.memreserve_kib);
    }
    if c.compression.algorithm != Compression::Zlib {
        let _ = writeln!(o, "compression = \"bz2\"");
    }
    if c.compression.threshold_kib != 2 {
        let _ = writeln!(o, "compression_threshold = {}", c.compression.threshold_kib);
    }
    if c.compression.traditional {
        let _ = writeln!(o, "traditional_compression = true");
    }
    let _ = writeln!(
        o,
        "max_rexmit_delay = {}",
        q(&format!("{}ms", c.max_rexmit_delay.as_millis()))
    );
    let _ = writeln!(o, "script_timeout = {}", q(&t(c.script_timeout)));
    if c.ipfail {
        let _ = writeln!(o, "ipfail = true");
    }
    if let Some(a) = c.metrics_listen {
        let _ = writeln!(o, "metrics_listen = {}", q(&a.to_string()));
    }
    if c.ipaddr_scripts {
        let _ = writeln!(o, "ipaddr_scripts = true");
    }
    if !c.env.is_empty() {
        let pairs: Vec<String> = c
            .env
            .iter()
            .map(|(k, v)| format!("{} = {}", q(k), q(v)))
            .collect();
        let _ = writeln!(o, "env = {{ {} }}", pairs.join(", "));
    }

    let lg = &c.logging;
    let _ = writeln!(o, "\n[logging]");
    if let Some(f) = &lg.logfile {
        let _ = writeln!(o, "logfile = {}", q(&f.display().to_string()));
    }
    if let Some(f) = &lg.debugfile {
        let _ = writeln!(o, "debugfile = {}", q(&f.display().to_string()));
    }
    let _ = writeln!(
        o,
        "logfacility = {}",
        q(lg.logfacility.as_deref().unwrap_or("none"))
    );
    let _ = writeln!(o, "syslogmsgfmt = {}", lg.syslogmsgfmt);
    let _ = writeln!(o, "debug = {}", lg.debug);
    if !lg.log_badpack {
        let _ = writeln!(o, "log_badpack = false");
    }

    for m in &c.media {
        let _ = writeln!(o, "\n[[media]]");
        // A port other than udpport's (the first bcast or ucast medium's).
        let own = |p: &u16| match port {
            Some(first) if first != *p => format!("\nport = {p}"),
            _ => String::new(),
        };
        let _ = match m {
            Medium::Bcast { iface, port: p } => writeln!(o, "type = \"bcast\"\ninterface = {}{}", q(iface), own(p)),
            Medium::Ucast { iface, peer, port: p } => writeln!(o, "type = \"ucast\"\ninterface = {}\npeer = {}{}", q(iface), q(peer), own(p)),
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                looped,
            } => writeln!(
                o,
                "type = \"mcast\"\ninterface = {}\ngroup = {}\nport = {port}\nttl = {ttl}\nloop = {looped}",
                q(iface),
                q(&group.to_string())
            ),
            Medium::Serial { device, .. } => writeln!(o, "type = \"serial\"\ndevice = {}", q(&device.display().to_string())),
        };
    }
    for p in &c.ping_nodes {
        let _ = writeln!(o, "\n[[ping]]");
        if p.group {
            let _ = writeln!(o, "group = {}\nhosts = {}", q(&p.name), list(&p.hosts));
        } else {
            let _ = writeln!(o, "host = {}", q(p.hosts.first().map_or(&p.name, |h| h)));
        }
    }
    for r in &c.respawn {
        let _ = writeln!(
            o,
            "\n[[respawn]]\nuser = {}\ncommand = {}",
            q(&r.user),
            list(&r.argv)
        );
        if r.failfast {
            let _ = writeln!(o, "failfast = true");
        }
    }
    for a in &c.apiauth {
        let _ = writeln!(o, "\n[[apiauth]]\nclient = {}", q(&a.client));
        if !a.uids.is_empty() {
            let _ = writeln!(o, "uid = {}", list(&a.uids));
        }
        if !a.gids.is_empty() {
            let _ = writeln!(o, "gid = {}", list(&a.gids));
        }
    }
    for g in &c.resources {
        let texts: Vec<String> = g.resources.iter().map(|r| r.text.clone()).collect();
        let _ = writeln!(
            o,
            "\n[[resources]]\nnode = {}\nresources = {}",
            q(&g.node),
            list(&texts)
        );
    }
    let _ = writeln!(o, "\n[auth]\nsend = {}\nkeys = [", c.authkeys.send_slot());
    for (slot, m) in c.authkeys.slots() {
        let key = match m {
            hb_core::auth::AuthMethod::Crc => String::new(),
            hb_core::auth::AuthMethod::Md5 { key } | hb_core::auth::AuthMethod::Sha1 { key } => {
                let shown = if redact_keys {
                    "<redacted>".to_owned()
                } else {
                    String::from_utf8_lossy(key).into_owned()
                };
                format!(", key = {}", q(&shown))
            }
        };
        let _ = writeln!(o, "  {{ slot = {slot}, method = {}{key} }},", q(m.name()));
    }
    let _ = writeln!(o, "]");
    o
}
