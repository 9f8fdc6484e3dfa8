//! `cl_status hbparameter` values (spec §12.1, §13): ha.cf's strings as
//! written, 3.0.6's default strings otherwise, and ha.cf's rendering of a TOML
//! configuration.

use std::os::unix::fs::PermissionsExt as _;

use hb_conf::HostCheck;

fn load_dir(hacf: &str) -> hb_conf::Loaded {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("ha.cf", hacf),
        ("haresources", "n1 192.0.2.10 svc\n"),
        ("authkeys", "auth 1\n1 sha1 abcdefgh12345678\n"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    hb_conf::load_dir(dir.path(), &HostCheck::default()).expect("accepted")
}

#[test]
fn ha_cf_values_are_reported_as_written_and_the_rest_as_3_0_6_records_them() {
    let l = load_dir(
        "keepalive 1\ndeadtime 10\nbcast eth1\nnode n1 n2\nauto_failback on\nudpport 694\ndebug 1\ndebug 2\n",
    );
    let p = &l.params;
    assert_eq!(p.get("keepalive"), Some("1"), "as written, not 1000ms");
    assert_eq!(p.get("deadtime"), Some("10"));
    // Derived as 3.0.6 derives and records them.
    assert_eq!(p.get("warntime"), Some("5000ms"));
    assert_eq!(p.get("initdead"), Some("20000ms"));
    assert_eq!(p.get("deadping"), Some("10000ms"));
    assert_eq!(p.get("auto_failback"), Some("on"));
    assert_eq!(p.get("udpport"), Some("694"));
    assert_eq!(p.get("debug"), Some("2"), "the last value wins");
    // 3.0.6's fixed defaults.
    assert_eq!(p.get("cluster"), Some("linux-ha"));
    assert_eq!(p.get("hopfudge"), Some("1"));
    assert_eq!(p.get("baud"), Some("19200"));
    assert_eq!(p.get("realtime"), Some("true"));
    assert_eq!(p.get("msgfmt"), Some("classic"));
    assert_eq!(p.get("max_rexmit_delay"), Some("250"));
    assert_eq!(p.get("memreserve"), Some("6500"));
    assert_eq!(p.get("pacemaker"), Some("false"));

    let crm = load_dir("bcast eth1\nnode n1 n2\nauto_failback on\ncrm off\n");
    assert_eq!(crm.params.get("crm"), Some("off"));
    assert_eq!(
        crm.params.get("pacemaker"),
        Some("off"),
        "one setting, two names"
    );
    // No value: never written, and 3.0.6 has no default (our default log file
    // is not "recorded"), or not a recorded directive at all.
    for name in [
        "watchdog",
        "logfile",
        "logfacility",
        "rtprio",
        "node",
        "ipfail",
        "nosuch",
    ] {
        assert_eq!(p.get(name), None, "{name}");
    }

    let defaults = load_dir("bcast eth1\nnode n1 n2\nauto_failback off\n");
    assert_eq!(defaults.params.get("keepalive"), Some("1000ms"));
    assert_eq!(defaults.params.get("deadtime"), Some("30000ms"));
    assert_eq!(defaults.params.get("warntime"), Some("15000ms"));
}

#[test]
fn a_toml_configuration_is_reported_in_ha_cf_form() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/cluster.toml"
    ))
    .expect("the example");
    let l = hb_conf::parse_toml_text(&text, &HostCheck::default()).expect("accepted");
    let p = &l.params;
    assert_eq!(p.get("keepalive"), Some("200ms"));
    assert_eq!(p.get("deadtime"), Some("1000ms"));
    assert_eq!(p.get("initdead"), Some("10000ms"));
    assert_eq!(p.get("auto_failback"), Some("on"));
    assert_eq!(p.get("logfile"), Some("/var/log/ha-log"));
    assert_eq!(p.get("udpport"), Some("694"));
}

#[test]
fn the_node_table_follows_the_file_as_3_0_6_builds_it() {
    let l = load_dir(
        "ping 192.0.2.1\nbcast eth1\nnode n1\nping_group pg 192.0.2.2 192.0.2.3\nnode n2 n1\nauto_failback on\n",
    );
    assert_eq!(l.node_table, ["192.0.2.1", "n1", "pg", "n2"]);
}
