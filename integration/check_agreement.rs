//! Issue 14, item 8: `check-config --strict` exits 0 exactly when `run`
//! accepts the configuration. The harness checks every start of our daemon
//! (`harness::ours`); these tests show that it does, both ways, and that a
//! disagreement fails the test.

use std::time::Duration;

use crate::harness::{ours, Cluster, Settled, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LONG: Duration = Duration::from_secs(60);

fn install(node: &crate::harness::Node, media: &str) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile /var/log/ha-log\nkeepalive 200ms\ndeadtime 1\ninitdead 2\n{media}\nnode n1 n2\n"),
        0o644,
    );
    node.write_file("/etc/ha.d/haresources", "", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 agreement-key\n",
        0o600,
    );
}

#[test]
fn every_start_of_our_daemon_is_checked_against_check_config_strict() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");

    // Accepted by both: the daemon's journal says it started.
    install(n1, "bcast eth1");
    let mut d = n1.spawn(&[BIN, "run"]);
    n1.wait_for_log("/var/log/ha-log", "Local status now set to: 'up'", LONG);
    assert_eq!(d.config_check(), Some(Settled::Agreed { accepted: true }));
    d.kill();

    // An unresolvable ucast host: refused by both (it used to pass check-config).
    install(n1, "ucast eth1 nosuch.invalid");
    let mut d = n1.spawn(&[BIN, "run"]);
    d.wait_exit(LONG);
    assert!(d.output().contains(ours::REFUSED), "{}", d.output());
    assert_eq!(d.config_check(), Some(Settled::Agreed { accepted: false }));

    // `start` refuses it before it detaches, with the configuration error
    // (it used to blame a configuration "read again" by the detached daemon).
    let out = n1.exec(&[BIN, "start"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nosuch.invalid") && stderr.contains(ours::REFUSED),
        "{stderr}"
    );
    assert!(!stderr.contains("read it again"), "{stderr}");
}

#[test]
#[should_panic(expected = "issue 14 item 8 on n1: `check-config --strict` refused")]
fn a_disagreement_fails_the_test_with_both_outputs() {
    let cluster = Cluster::new(&["n1"], Topology::private());
    let n1 = cluster.node("n1");
    install(n1, "bcast eth1");
    // A check that refuses what `run` accepts, as a broken check-config would.
    let launch = ours::Launch {
        sub: "run".into(),
        check: vec!["false".into()],
        state_dir: "/var/lib/heartbeat".into(),
    };
    let check = ours::StartCheck::run(n1, &[BIN, "run"], &launch);
    let out = n1.path("/var/log/forged.out");
    let mut d =
        crate::harness::Spawned::start_checked(n1.command(&[BIN, "run"]), &out, Some(check));
    n1.wait_for_log("/var/log/ha-log", "Local status now set to: 'up'", LONG);
    d.kill();
}

#[path = "../conf/tests/bad_configs/table.rs"]
#[allow(dead_code)]
mod bad_table;

/// Every configuration of `conf/tests/bad_configs.rs`'s table (the same
/// table, not a copy) is refused by `run --check-only` and by `check-config
/// --strict`, each naming the case's error, in a node where the base
/// configuration is accepted by both (so a refusal is the case's own).
#[test]
fn every_configuration_of_the_bad_table_is_refused_by_run_and_check_config() {
    let cluster = Cluster::new(&["n1"], Topology::private_and_public());
    let n1 = cluster.node("n1");
    let svc = "#!/bin/sh\nexit 0\n";
    let judge = |dir: &str, c: &bad_table::Case| {
        let host_dir = n1.path(dir);
        std::fs::create_dir_all(host_dir.join("resource.d")).expect("mkdir");
        n1.write_file(&format!("{dir}/resource.d/svc"), svc, 0o755);
        let staged = bad_table::stage(c, &host_dir);
        let inside = format!(
            "{dir}{}",
            if staged == host_dir {
                ""
            } else {
                "/cluster.toml"
            }
        );
        let common = ["-c", inside.as_str(), "--node-name", "n1"];
        let run = n1.exec(&[&[BIN, "run", "--check-only"][..], &common].concat());
        let check = n1.exec(&[&[BIN, "check-config", "--strict", "-q"][..], &common].concat());
        let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
        (
            run.status.code(),
            text(&run),
            check.status.code(),
            text(&check),
        )
    };
    for (i, base) in [bad_table::F::HaCf, bad_table::F::Toml]
        .into_iter()
        .enumerate()
    {
        let c = bad_table::case(
            "base",
            base,
            if i == 0 {
                bad_table::HACF
            } else {
                bad_table::TOML
            },
            0,
            "",
        );
        let (run, run_err, check, check_err) = judge(&format!("/etc/ha.d/base{i}"), &c);
        assert_eq!(
            (run, check),
            (Some(0), Some(0)),
            "the base is accepted:\n{run_err}\n{check_err}"
        );
    }
    let mut failures = Vec::new();
    for (i, c) in bad_table::cases().iter().enumerate() {
        let (run, run_err, check, check_err) = judge(&format!("/etc/ha.d/case{i}"), c);
        let error = format!("error: {}", c.message);
        if run != Some(1)
            || check != Some(1)
            || !run_err.contains(&error)
            || !check_err.contains(&error)
        {
            failures.push(format!(
                "{}: run --check-only exit {run:?}, check-config --strict exit {check:?}, want 1 and {error:?}\n{run_err}{check_err}",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
