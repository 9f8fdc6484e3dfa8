//! Inputs the fuzz targets (fuzz/, see the README) found, kept as regression
//! tests. The hacf, haresources, authkeys and toml targets check what
//! `convert-config` relies on: an accepted configuration, written as TOML,
//! reads back as the same configuration.

use std::time::Duration;

use hb_conf::{HostCheck, Loaded};

const SEED_HARESOURCES: &str = include_str!("../examples/seed/haresources");
const SEED_AUTHKEYS: &str = include_str!("../examples/seed/authkeys");
const BASE: &str = "bcast eth1\nnode linuxha1 linuxha2\nauto_failback on\n";

fn hacf(text: &str) -> Loaded {
    hb_conf::parse_texts(text, SEED_HARESOURCES, SEED_AUTHKEYS, &HostCheck::default())
        .unwrap_or_else(|e| panic!("refused:\n{e}"))
}

/// What convert-config does: write as TOML, read back, compare.
fn toml_round_trip(l: &Loaded) -> Loaded {
    let text = hb_conf::toml_form::write(&l.config, false);
    let back = hb_conf::parse_toml_text(&text, &HostCheck::default())
        .unwrap_or_else(|e| panic!("TOML form refused:\n{text}\n{e}"));
    assert!(
        back.config.same_settings(&l.config),
        "TOML form reads back differently:\n{text}\n{:?}\n{:?}",
        l.config,
        back.config
    );
    back
}

/// `env` lines in any order: the TOML table is sorted by name, so the model
/// keeps them sorted too (the order never mattered: they are environment variables).
#[test]
fn env_in_any_order_survives_convert_config() {
    let l = hacf(&format!("{BASE}env B=1 A=2\n"));
    assert_eq!(
        l.config.env,
        vec![("A".into(), "2".into()), ("B".into(), "1".into())]
    );
    toml_round_trip(&l);
}

/// A name set twice: 3.0.6 calls setenv each time, so the last value wins.
/// The TOML form, a table, cannot hold the name twice.
#[test]
fn env_set_twice_keeps_the_last_value_and_warns() {
    let l = hacf(&format!("{BASE}env A=1 A=2\n"));
    assert_eq!(l.config.env, vec![("A".into(), "2".into())]);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.loc.line == 4 && w.message == "env A is set again; this value wins"),
        "{:?}",
        l.warnings
    );
    toml_round_trip(&l);
}

/// Half of an odd deadtime in milliseconds: 3.0.6 divides whole milliseconds,
/// and a sub-millisecond warntime would be written as a different value.
#[test]
fn default_warntime_is_whole_milliseconds() {
    let l = hacf(&format!(
        "{BASE}keepalive 100ms\ndeadtime 2001ms\ninitdead 10\n"
    ));
    assert_eq!(l.config.timing.warntime, Duration::from_millis(1000));
    toml_round_trip(&l);
}

/// Words of the directives that take the rest of the line (split on blanks
/// only, so a comma belongs to the word): the TOML reader refused the comma.
#[test]
fn commas_in_whole_line_directives_survive_convert_config() {
    for line in [
        "respawn hacluster /usr/lib/heartbeat/ipfail -x a,b",
        "failfast a,b /bin/true",
        "ping_group g,1 192.0.2.1",
        "apiauth a,b uid=root",
    ] {
        let l = hacf(&format!("{BASE}{line}\n"));
        toml_round_trip(&l);
    }
}
