//! Accepted configurations: defaults, warnings, and the places where 3.0.6's
//! reading is kept on purpose (spec §6, §8.3, §12).

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use hb_conf::model::{AutoFailback, Medium};
use hb_conf::{ConfigError, HostCheck, Loaded, Severity};

const HARES: &str = "n1 192.0.2.10 svc\n";
const KEYS: &str = "auth 1\n1 sha1 abcdefgh12345678\n";

fn load_with(
    hacf: &str,
    hares: &str,
    keys: &str,
    host: &HostCheck,
) -> (tempfile::TempDir, Result<Loaded, ConfigError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [("ha.cf", hacf), ("haresources", hares), ("authkeys", keys)] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let r = hb_conf::load_dir(dir.path(), host);
    (dir, r)
}

fn load(hacf: &str) -> Loaded {
    load_with(hacf, HARES, KEYS, &HostCheck::default())
        .1
        .expect("accepted")
}

fn warnings(l: &Loaded) -> Vec<String> {
    l.warnings
        .iter()
        .filter(|d| {
            d.severity == Severity::Warning
                && !d.message.contains("does not exist on this machine")
                && !d.message.contains("Cannot locate")
        })
        .map(|d| format!("{}: {}", d.loc.line, d.message))
        .collect()
}

const BASE: &str = "bcast eth1\nnode n1 n2\nauto_failback on\n";

#[test]
fn defaults_are_those_of_3_0_6() {
    let l = load(BASE);
    let t = l.config.timing;
    assert_eq!(t.keepalive, Duration::from_millis(1000));
    assert_eq!(t.deadtime, Duration::from_millis(30_000));
    assert_eq!(
        t.warntime,
        Duration::from_millis(15_000),
        "warntime = deadtime/2"
    );
    assert_eq!(
        t.initdead,
        Duration::from_millis(30_000),
        "initdead = deadtime when deadtime > 10 s"
    );
    assert_eq!(
        t.deadping,
        Duration::from_millis(30_000),
        "deadping = deadtime"
    );
    assert_eq!(
        l.config.media,
        vec![Medium::Bcast {
            iface: "eth1".into(),
            port: 694
        }]
    );
    assert_eq!(l.config.hopfudge, 1);
    assert_eq!(l.config.cluster, "linux-ha");
    assert_eq!(l.config.max_rexmit_delay, Duration::from_millis(250));
    assert!(warnings(&l).is_empty(), "{:?}", warnings(&l));
}

/// `metrics_listen` is ours: off unless given, an IP address and a port, and
/// carried into the TOML form.
#[test]
fn metrics_listen_is_off_by_default_and_survives_convert_config() {
    assert_eq!(load(BASE).config.metrics_listen, None);
    for value in ["127.0.0.1:9100", "[::1]:9100", "0.0.0.0:19100"] {
        let l = load(&format!("metrics_listen {value}\n{BASE}"));
        assert_eq!(
            l.config.metrics_listen,
            Some(value.parse().expect("an address")),
            "metrics_listen {value}"
        );
        assert!(warnings(&l).is_empty(), "{:?}", warnings(&l));
        let toml = hb_conf::toml_form::write(&l.config, false);
        assert!(
            toml.contains(&format!("metrics_listen = \"{value}\"")),
            "{toml}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, &toml).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let back = hb_conf::load_toml(&path, &HostCheck::default()).expect("TOML accepted");
        assert_eq!(
            back.config.metrics_listen, l.config.metrics_listen,
            "{toml}"
        );
    }
}

/// Issue 14, item 10: `ipaddr_scripts` is ours, off unless written; `on`
/// survives `convert-config`, and what runs each service address follows it:
/// built in by default even when resource.d holds `IPaddr` and `IPaddr2` (as
/// Debian's package installs them), the script with `ipaddr_scripts on`, and
/// built in again when there is no script to run.
#[test]
fn ipaddr_scripts_selects_resource_d_scripts_for_service_addresses() {
    use hb_conf::host::{ip_runner, ip_runner_lines, IpRunner};
    assert!(!load(BASE).config.ipaddr_scripts);
    for (value, on) in [("on", true), ("yes", true), ("off", false), ("no", false)] {
        let l = load(&format!("ipaddr_scripts {value}\n{BASE}"));
        assert_eq!(l.config.ipaddr_scripts, on, "ipaddr_scripts {value}");
        assert!(warnings(&l).is_empty(), "{:?}", warnings(&l));
        let toml = hb_conf::toml_form::write(&l.config, false);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, &toml).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let back = hb_conf::load_toml(&path, &HostCheck::default()).expect("TOML accepted");
        assert_eq!(back.config.ipaddr_scripts, on, "{toml}");
    }
    let (_d, r) = load_with(
        &format!("ipaddr_scripts maybe\n{BASE}"),
        HARES,
        KEYS,
        &HostCheck::default(),
    );
    let e = r.expect_err("a value that is not a boolean is refused");
    let d = e.errors().next().expect("an error");
    assert_eq!(d.message, "ipaddr_scripts: \"maybe\" is not a boolean");
    assert_eq!(d.loc.line, 1);

    // What runs the address, with and without scripts in resource.d.
    let conf = tempfile::tempdir().expect("tempdir");
    let rd = conf.path().join("resource.d");
    let (off, on) = (
        load(BASE).config,
        load(&format!("ipaddr_scripts on\n{BASE}")).config,
    );
    let confdir = Some(conf.path());
    assert_eq!(
        ip_runner(true, confdir, "IPaddr"),
        IpRunner::BuiltIn { unused: None }
    );
    assert_eq!(
        ip_runner_lines(&on, confdir),
        ["service address 192.0.2.10: built in"]
    );
    std::fs::create_dir(&rd).expect("resource.d");
    for name in ["IPaddr", "IPaddr2"] {
        let p = rd.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(
            ip_runner(false, confdir, name),
            IpRunner::BuiltIn {
                unused: Some(p.clone())
            }
        );
        assert_eq!(ip_runner(true, confdir, name), IpRunner::Script(p.clone()));
    }
    let script = rd.join("IPaddr").display().to_string();
    assert_eq!(
        ip_runner_lines(&off, confdir),
        [format!(
            "service address 192.0.2.10: built in ({script} is not run; `ipaddr_scripts on` would run it)"
        )]
    );
    assert_eq!(
        ip_runner_lines(&on, confdir),
        [format!(
            "service address 192.0.2.10: runs {script} (ipaddr_scripts on)"
        )]
    );
}

/// `script_timeout` is ours (3.0.6 waits for a script forever): two minutes
/// unless given, in heartbeat's time syntax, and carried into the TOML form.
#[test]
fn script_timeout_defaults_to_two_minutes_and_survives_convert_config() {
    assert_eq!(load(BASE).config.script_timeout, Duration::from_secs(120));
    for (value, ms) in [
        ("5", 5000),
        ("500ms", 500),
        ("1.5", 1500),
        ("3600", 3_600_000),
    ] {
        let l = load(&format!("script_timeout {value}\n{BASE}"));
        assert_eq!(
            l.config.script_timeout,
            Duration::from_millis(ms),
            "script_timeout {value}"
        );
        assert!(warnings(&l).is_empty(), "{:?}", warnings(&l));
        let toml = hb_conf::toml_form::write(&l.config, false);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, &toml).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let back = hb_conf::load_toml(&path, &HostCheck::default()).expect("TOML accepted");
        assert_eq!(
            back.config.script_timeout, l.config.script_timeout,
            "{toml}"
        );
    }
    let (_d, r) = load_with(
        &format!("script_timout 5\n{BASE}"),
        HARES,
        KEYS,
        &HostCheck::default(),
    );
    let e = r.expect_err("a misspelt directive is refused");
    let d = e.errors().next().expect("an error");
    assert_eq!(d.message, "Illegal directive [script_timout]");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `script_timeout`? Directive names are case-sensitive")
    );
}

#[test]
fn initdead_default_follows_deadtime() {
    for (deadtime, initdead) in [
        ("5", 12_000),
        ("8", 16_000),
        ("11", 11_000),
        ("600ms", 12_000),
    ] {
        let l = load(&format!("keepalive 100ms\ndeadtime {deadtime}\n{BASE}"));
        assert_eq!(
            l.config.timing.initdead,
            Duration::from_millis(initdead),
            "deadtime {deadtime}"
        );
    }
}

#[test]
fn millisecond_timing_is_accepted() {
    let l = load(&format!(
        "keepalive 10ms\ndeadtime 40ms\nwarntime 25ms\ninitdead 10\n{BASE}"
    ));
    assert_eq!(l.config.timing.keepalive, Duration::from_millis(10));
    assert_eq!(l.config.timing.deadtime, Duration::from_millis(40));
}

#[test]
fn small_initdead_is_only_a_warning() {
    let l = load(&format!("keepalive 1\ndeadtime 5\ninitdead 6\n{BASE}"));
    assert_eq!(
        warnings(&l),
        vec!["3: Initial dead time [6s] may be too small!"]
    );
}

#[test]
fn a_repeated_setting_warns_and_the_last_wins() {
    let l = load(&format!("keepalive 1\nkeepalive 2\n{BASE}"));
    assert_eq!(l.config.timing.keepalive, Duration::from_secs(2));
    assert_eq!(
        warnings(&l),
        vec!["2: keepalive is set again (first set on line 1); this line wins"]
    );
}

#[test]
fn values_split_on_blanks_and_commas() {
    // Three nodes: membership only (resource groups need two nodes).
    let l = load_with(
        "bcast eth1, eth2\nnode n1,n2 N3\nauto_failback on\n",
        "",
        KEYS,
        &HostCheck::default(),
    )
    .1
    .expect("accepted");
    assert_eq!(
        l.config.nodes,
        vec!["n1", "n2", "n3"],
        "node names are lower-cased"
    );
    assert_eq!(l.config.media.len(), 2, "each bcast interface is a medium");
}

#[test]
fn comments_anywhere_and_crlf() {
    let l = load("bcast eth1 # private link\r\nnode n1 n2\r\nauto_failback on # nice\r\n");
    assert_eq!(l.config.media.len(), 1);
    assert_eq!(l.config.auto_failback, AutoFailback::On);
}

#[test]
fn the_seeds_udpport_and_baud_after_media_are_harmless_when_unchanged() {
    let l = load(
        "serial /dev/ttyS0\nbcast eth1\nbaud 19200\nudpport 694\nnode n1 n2\nauto_failback on\n",
    );
    assert_eq!(l.config.media.len(), 2);
}

#[test]
fn udpport_applies_to_the_media_after_it() {
    let l = load("udpport 7000\nbcast eth1\nucast eth0 192.0.2.2\nmcast eth0 239.0.0.1 694 1 0\nnode n1 n2\nauto_failback on\n");
    let ports: Vec<u16> = l
        .config
        .media
        .iter()
        .map(|m| match m {
            Medium::Bcast { port, .. }
            | Medium::Ucast { port, .. }
            | Medium::Mcast { port, .. } => *port,
            Medium::Serial { .. } => 0,
        })
        .collect();
    assert_eq!(ports, vec![7000, 7000, 694], "mcast has its own port");
}

#[test]
fn legacy_auto_failback_is_the_default_and_warns() {
    let l = load("bcast eth1\nnode n1 n2\n");
    assert_eq!(l.config.auto_failback, AutoFailback::Legacy);
    assert_eq!(
        warnings(&l),
        vec!["0: Deprecated 'legacy' auto_failback option selected."]
    );
}

#[test]
fn nice_failback_is_read_as_3_0_6_reads_it() {
    let l = load("bcast eth1\nnode n1 n2\nnice_failback on\n");
    assert_eq!(
        l.config.auto_failback,
        AutoFailback::Legacy,
        "alone: strictly legacy"
    );
    let l = load("bcast eth1\nnode n1 n2\nauto_failback on\nnice_failback on\n");
    assert_eq!(
        l.config.auto_failback,
        AutoFailback::Off,
        "after auto_failback: off"
    );
    assert!(
        warnings(&l)[0].starts_with("4: nice_failback is obsolete"),
        "{:?}",
        warnings(&l)
    );
}

#[test]
fn udp_is_an_old_name_for_bcast() {
    let l = load("udp eth1\nnode n1 n2\nauto_failback on\n");
    assert_eq!(
        l.config.media,
        vec![Medium::Bcast {
            iface: "eth1".into(),
            port: 694
        }]
    );
    assert_eq!(warnings(&l), vec!["1: directive 'udp' replaced by 'bcast'"]);
}

#[test]
fn logging_default_and_explicit() {
    let l = load(BASE);
    assert_eq!(
        l.config.logging.logfile.as_deref(),
        Some(std::path::Path::new("/var/log/ha-log"))
    );
    let l = load(&format!("logfacility local0\n{BASE}"));
    assert_eq!(
        l.config.logging.logfile, None,
        "syslog alone: no default file"
    );
    assert_eq!(l.config.logging.logfacility.as_deref(), Some("local0"));
}

#[test]
fn authkeys_order_3_0_6_refuses_is_accepted_with_a_warning() {
    let (_d, r) = load_with(
        BASE,
        HARES,
        "1 sha1 abcdefgh12345678\nauth 1\n",
        &HostCheck::default(),
    );
    let l = r.expect("accepted");
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w.starts_with("2: `auth 1` comes after the line of key 1")),
        "{:?}",
        warnings(&l)
    );
}

/// Issue 14, item 4: 3.0.6 reads `auth %d` and `%d%s%s`; what follows is
/// ignored, and so it is here, with a warning naming it. A repeated key number
/// or `auth` line wins as in 3.0.6.
#[test]
fn authkeys_comments_after_values_are_ignored_with_a_warning_naming_them() {
    let (_d, r) = load_with(
        BASE,
        HARES,
        "auth 2 # or 3 md5\n2 sha1 1a2b3c4d5e6f   #key id\n3 md5 two words\n",
        &HostCheck::default(),
    );
    let l = r.expect("accepted, as 3.0.6 accepts it");
    assert_eq!(l.config.authkeys.slots().count(), 2);
    let w = warnings(&l);
    for expected in [
        "1: ignored \"# or 3 md5\" after the value, as heartbeat 3.0.6 ignores it",
        "2: ignored \"#key id\" after the value, as heartbeat 3.0.6 ignores it",
        "3: ignored \"words\" after the value, as heartbeat 3.0.6 ignores it",
    ] {
        assert!(w.iter().any(|x| x == expected), "{expected:?} not in {w:?}");
    }
    assert!(!w.iter().any(|x| x.contains("Missing auth")), "{w:?}");

    // Repeats: the last key line of a number wins; a key line read while
    // `auth` names it is the one sent with.
    let (_d, r) = load_with(
        BASE,
        HARES,
        "auth 1\n1 sha1 abcdefgh12345678\nauth 2\n2 md5 abcdefgh12345678\n2 sha1 zyxwvuts87654321\n",
        &HostCheck::default(),
    );
    let l = r.expect("accepted");
    let w = warnings(&l);
    assert!(
        w.iter()
            .any(|x| x.starts_with("3: auth is given again (`auth 1` on line 1)")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|x| x.starts_with("5: key 2 is defined again (first on line 4); this line wins")),
        "{w:?}"
    );
    assert_eq!(l.config.authkeys.send_slot(), 2);
    assert!(
        matches!(l.config.authkeys.send_method(), hb_core::auth::AuthMethod::Sha1 { key } if key == b"zyxwvuts87654321"),
        "the last line of key 2 is sent with"
    );
}

#[test]
fn short_keys_warn() {
    let (_d, r) = load_with(
        BASE,
        HARES,
        "auth 2\n2 sha1 testkey\n1 md5 testkey\n3 crc\n",
        &HostCheck::default(),
    );
    let l = r.expect("accepted: the loopback capture's authkeys");
    assert_eq!(l.config.authkeys.slots().count(), 3);
    assert!(
        warnings(&l)
            .iter()
            .any(|w| w == "2: key 2 is only 7 characters long"),
        "{:?}",
        warnings(&l)
    );
}

#[test]
fn host_checks_are_errors_when_strict() {
    let strict = HostCheck {
        local_node: Some("n3".into()),
        strict: true,
        init_dir: Some("/nonexistent".into()),
    };
    let (_d, r) = load_with(
        "bcast lo\nnode n1 n2\nauto_failback on\n",
        HARES,
        KEYS,
        &strict,
    );
    let e = r.expect_err("refused");
    let errors: Vec<String> = e.errors().map(|d| d.message.clone()).collect();
    assert_eq!(
        errors,
        vec![
            "Current node [n3] not in configuration!",
            "Cannot locate resource script svc"
        ]
    );
}

#[test]
fn resource_scripts_are_found_in_resource_d() {
    let strict = HostCheck {
        local_node: Some("n1".into()),
        strict: true,
        init_dir: Some("/nonexistent".into()),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("ha.cf", "bcast lo\nnode n1 n2\nauto_failback on\n"),
        ("haresources", HARES),
        ("authkeys", KEYS),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    std::fs::create_dir(dir.path().join("resource.d")).expect("mkdir");
    let script = dir.path().join("resource.d/svc");
    std::fs::write(&script, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = hb_conf::load_dir(dir.path(), &strict)
        .expect_err("a script that is not executable does not count");
    let d = e.errors().next().expect("an error");
    assert_eq!(
        (d.loc.line, d.message.clone(), d.hint.clone()),
        (
            1,
            format!("Resource script {} is not executable", script.display()),
            Some(format!("chmod +x {}", script.display()))
        ),
        "it is named precisely, with the fix"
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let l = hb_conf::load_dir(dir.path(), &strict).expect("accepted");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn a_resource_script_that_is_not_executable_is_named_wherever_it_is() {
    // Only in the init directory; and a directory where a script should be.
    let dir = tempfile::tempdir().expect("tempdir");
    let init = dir.path().join("init.d");
    std::fs::create_dir(&init).expect("mkdir");
    let script = init.join("svc");
    std::fs::write(&script, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let strict = HostCheck {
        local_node: Some("n1".into()),
        strict: true,
        init_dir: Some(init.clone()),
    };
    let base = "bcast lo\nnode n1 n2\nauto_failback on\n";
    let (_d, r) = load_with(base, "n1 192.0.2.10 svc\nn2 other\n", KEYS, &strict);
    let e = r.expect_err("refused");
    let got: Vec<(usize, String)> = e
        .errors()
        .map(|d| (d.loc.line, d.message.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                1,
                format!("Resource script {} is not executable", script.display())
            ),
            (2, "Cannot locate resource script other".to_owned()),
        ]
    );
    std::fs::remove_file(&script).expect("rm");
    std::fs::create_dir(&script).expect("mkdir");
    let (_d, r) = load_with(base, HARES, KEYS, &strict);
    let e = r.expect_err("refused");
    assert_eq!(
        e.errors().next().map(|d| d.message.clone()),
        Some(format!(
            "Resource script {} is not a regular file",
            script.display()
        ))
    );
}

/// Issue 14, item 5: `use_logd yes|on` is accepted with one warning; the log
/// goes where ha.cf says (the default file when it names nothing).
#[test]
fn use_logd_on_is_accepted_with_one_warning() {
    for value in ["yes", "on"] {
        let l = load(&format!("use_logd {value}\n{BASE}"));
        let w = warnings(&l);
        let about: Vec<_> = w.iter().filter(|x| x.contains("use_logd")).collect();
        assert_eq!(about.len(), 1, "{w:?}");
        assert!(
            about[0].starts_with(&format!(
                "1: use_logd {value}: there is no separate logging daemon here"
            )),
            "{about:?}"
        );
        assert_eq!(
            l.config.logging.logfile.as_deref(),
            Some(std::path::Path::new("/var/log/ha-log"))
        );
    }
    let l = load(&format!("use_logd yes\nlogfacility local0\n{BASE}"));
    assert_eq!(l.config.logging.logfile, None, "syslog as configured");
    assert_eq!(l.config.logging.logfacility.as_deref(), Some("local0"));
}

/// Issue 14, item 6: `udpport` after a medium does not reach that medium type
/// (3.0.6's plugins read the port once, at their first line): it keeps the
/// earlier port, and a warning names both lines. Other medium types still get it.
#[test]
fn udpport_after_a_medium_keeps_the_earlier_port_for_that_medium() {
    let l = load(
        "bcast eth1\nudpport 7000\nucast eth2 192.0.2.2\nbcast eth3\nnode n1 n2\nauto_failback on\n",
    );
    let ports: Vec<(String, u16)> = l
        .config
        .media
        .iter()
        .filter_map(|m| match m {
            Medium::Bcast { iface, port } | Medium::Ucast { iface, port, .. } => {
                Some((iface.clone(), *port))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        ports,
        vec![
            ("eth1".to_owned(), 694),
            ("eth2".to_owned(), 7000),
            ("eth3".to_owned(), 694)
        ]
    );
    let w = warnings(&l);
    assert!(
        w.iter().any(|x| x.starts_with(
            "2: `udpport 7000` comes after the bcast line 1: every bcast medium keeps port 694"
        )),
        "{w:?}"
    );
    // convert-config keeps each medium's port: the TOML form reads back the same.
    let toml = hb_conf::toml_form::write(&l.config, false);
    let back = hb_conf::parse_toml_text(&toml, &HostCheck::default())
        .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    assert!(back.config.same_settings(&l.config), "{toml}");
    assert!(toml.contains("port = 7000"), "{toml}");
    // The seed's ha.cf repeats the default after the media: silent.
    let l = load("bcast eth1\nudpport 694\nnode n1 n2\nauto_failback on\n");
    assert!(!warnings(&l).iter().any(|x| x.contains("udpport")));
}

/// Issue 14, item 9: no follow-on error built on a refused line, and no
/// refused value reused by a later check.
#[test]
fn no_follow_on_errors_after_a_refused_line() {
    let errors = |hacf: &str| -> Vec<String> {
        let (_d, r) = load_with(hacf, HARES, KEYS, &HostCheck::default());
        r.expect_err("refused")
            .errors()
            .map(|d| format!("{}: {}", d.loc.line, d.message))
            .collect()
    };
    assert_eq!(
        errors("mcast eth1 192.0.2.1 694 1 0\nnode n1 n2\nauto_failback on\n"),
        vec!["1: mcast [eth1] bad addr [192.0.2.1]"]
    );
    assert_eq!(
        errors("autojoin any\nbcast eth1\nauto_failback on\n"),
        vec!["1: autojoin any is not supported"]
    );
    assert_eq!(
        errors("deadtime 30s\ninitdead 20\nbcast eth1\nnode n1 n2\nauto_failback on\n"),
        vec![
            "1: deadtime: bad time value \"30s\": unknown time unit \"s\" (use ms, msec, us, usec, or none for seconds)"
        ]
    );
    // The initdead hint states the rule.
    let (_d, r) = load_with(
        "deadtime 30\ninitdead 20\nbcast eth1\nnode n1 n2\nauto_failback on\n",
        HARES,
        KEYS,
        &HostCheck::default(),
    );
    let e = r.expect_err("refused");
    let d = e.errors().next().expect("an error");
    assert_eq!(
        d.message,
        "Initial dead time [20s] is smaller than deadtime [30s]"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("initdead must be at least deadtime (and should be at least 10 seconds, for slow network start-up)")
    );
}

/// Issue 14, item 15: directives 3.0.6 acts on and we do not say so, once each.
#[test]
fn directives_without_effect_warn_once_each() {
    let l = load(&format!(
        "coredumps true\ncoreroot /var/lib/heartbeat/cores\nmemreserve 6500\ncompression bz2\ncompression_threshold 2\ntraditional_compression off\nlog_badpack false\nlog_badpack true\n{BASE}"
    ));
    let w = warnings(&l);
    for d in [
        "coredumps",
        "coreroot",
        "memreserve",
        "compression",
        "compression_threshold",
        "traditional_compression",
        "log_badpack",
    ] {
        let n = w
            .iter()
            .filter(|x| {
                x.contains(&format!(
                    " {d} is accepted for heartbeat 3.0.6 compatibility but has no effect here"
                ))
            })
            .count();
        assert_eq!(n, 1, "{d}: {w:?}");
    }
    // convert-config keeps what ha.cf said: a configuration without these
    // directives becomes a TOML file without them (and without warnings).
    let plain = load(BASE);
    let toml = hb_conf::toml_form::write(&plain.config, false);
    let back = hb_conf::parse_toml_text(&toml, &HostCheck::default()).expect("reads back");
    assert!(back.config.same_settings(&plain.config));
    assert!(
        !back
            .warnings
            .iter()
            .any(|d| d.message.contains("has no effect")),
        "{:?}",
        back.warnings
    );
    let toml = hb_conf::toml_form::write(&l.config, false);
    let back = hb_conf::parse_toml_text(&toml, &HostCheck::default()).expect("reads back");
    assert!(back.config.same_settings(&l.config), "{toml}");
}

/// `ha-ext.cf`: our own directives beside a ha.cf shared with 3.0.6 nodes,
/// read after it; a setting in both draws a warning and ha-ext.cf wins.
#[test]
fn ha_ext_cf_holds_our_own_directives() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("ha.cf", format!("{BASE}script_timeout 60\n")),
        ("haresources", HARES.to_owned()),
        ("authkeys", KEYS.to_owned()),
        (
            "ha-ext.cf",
            "# ours\nmetrics_listen 127.0.0.1:9100\nscript_timeout 30\n".to_owned(),
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let l = hb_conf::load_dir(dir.path(), &HostCheck::default()).expect("accepted");
    assert_eq!(l.config.script_timeout, Duration::from_secs(30));
    assert_eq!(
        l.config.metrics_listen,
        Some("127.0.0.1:9100".parse().expect("addr"))
    );
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    let ha_cf = dir.path().join("ha.cf");
    assert!(
        w.iter().any(|x| x.ends_with(&format!(
            "ha-ext.cf:3: warning: script_timeout is set again (first set on {}:4); this line wins\n  hint: remove one of the two lines",
            ha_cf.display()
        ))),
        "{w:?}"
    );
}

/// Issue 14, item 9: `crm` is quoted as written, twice is refused as in
/// 3.0.6 whichever name; a refused auto_failback draws no ipfail follow-on.
#[test]
fn crm_is_quoted_as_written_and_a_refused_auto_failback_has_no_follow_on() {
    let errors = |hacf: &str| -> Vec<String> {
        let (_d, r) = load_with(hacf, HARES, KEYS, &HostCheck::default());
        r.expect_err("refused")
            .errors()
            .map(|d| format!("{}: {}", d.loc.line, d.message))
            .collect()
    };
    assert_eq!(
        errors(&format!("crm yes\n{BASE}")),
        vec!["1: crm yes (CRM resource management) is not supported"]
    );
    assert_eq!(
        errors(&format!("crm off\npacemaker off\n{BASE}")),
        vec!["2: pacemaker/crm directive used multiple times! (first on line 1)"]
    );
    assert_eq!(
        errors("bcast eth1\nnode n1 n2\nauto_failback maybe\nipfail on\nping 192.0.2.1\n"),
        vec!["3: auto_failback: \"maybe\" is not one of on, off, legacy"]
    );
}

/// Issue 14, item 9 in authkeys: `auth N` naming a refused key line draws no
/// second error.
#[test]
fn auth_naming_a_refused_key_line_draws_no_second_error() {
    for keys in [
        "auth 16\n16 sha1 abcdefgh12345678\n",
        "auth 1\n1 sha256 abcdefgh12345678\n",
    ] {
        let (_d, r) = load_with(BASE, HARES, keys, &HostCheck::default());
        let e = r.expect_err("refused");
        let errors: Vec<_> = e.errors().map(|d| d.message.clone()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(!errors[0].contains("not found"), "{errors:?}");
    }
}
