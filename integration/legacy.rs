//! `auto_failback legacy` (3.0.6's default when ha.cf has no `auto_failback`
//! line; issue 14 item 7): our node and Debian's heartbeat 3.0.6 in legacy
//! mode share a group, both ways round. At start the returning node asks for
//! its groups with `ip-request`, the holder releases them and answers
//! `ip-request-resp`; on power loss the survivor takes over; on return the
//! preferred node asks again and gets its group back.

use std::time::{Duration, Instant};

use crate::failover::{
    calls, count, expect_calls_unordered, responder, start, use_builtin_ip, wait_answer, BIN, LOG,
    RSC_LOG, SCRIPT, VIP,
};
use crate::harness::{real, Cluster, Node, Spawned, Topology};

const LONG: Duration = Duration::from_secs(90);

/// The reference ha.cf without its `auto_failback` line: legacy by default.
fn legacy_ha_cf() -> String {
    let cf = real::basic_ha_cf(&["n1", "n2"]);
    assert!(cf.contains("auto_failback on\n"));
    cf.replace("auto_failback on\n", "")
}

/// Ours on n1 (built-in address), 3.0.6 on n2 (Debian's IPaddr), two groups
/// `VIP svc` and `svc2` preferred on `owner` (asked for and answered one by
/// one). Returns the responders.
fn legacy_setup(n1: &Node, n2: &Node, owner: &str) -> Vec<Spawned> {
    let mut responders = Vec::new();
    for node in [n1, n2] {
        real::install_config(
            node,
            &legacy_ha_cf(),
            &format!("{owner} {VIP}/24/eth0 svc\n{owner} svc2\n"),
            "legacy-key",
        );
        node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
        node.write_file("/etc/ha.d/resource.d/svc2", SCRIPT, 0o755);
        responders.push(responder(node));
    }
    use_builtin_ip(n1);
    // `check-config --strict` accepts what `run` runs (with 3.0.6's warning).
    let out = n1.exec(&[BIN, "check-config", "--strict"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Deprecated 'legacy' auto_failback option selected."),
        "{out:?}"
    );
    responders
}

/// Prints both nodes' logs if the test fails.
struct Logs<'a>(&'a Node, &'a Node);

impl Drop for Logs<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- n1 (ours) ---\n{}\n{}\n--- n2 (3.0.6) ---\n{}\n{}",
                self.0.read_file(LOG),
                self.0.read_file(RSC_LOG),
                self.1.read_file(real::LOG),
                self.1.read_file(RSC_LOG)
            );
        }
    }
}

/// A machine that lost power comes back: cables in, what ran there gone.
fn power_back(node: &Node) {
    node.exec(&[
        "ip",
        "addr",
        "flush",
        "dev",
        "eth0",
        "to",
        &format!("{VIP}/32"),
    ]);
    for s in ["svc", "svc2"] {
        let _ = std::fs::remove_file(node.path(format!("/run/rsc-{s}")));
    }
    for iface in ["eth0", "eth1"] {
        node.link_up(iface);
    }
}

fn power_loss(node: &Node) {
    node.kill_all();
    node.link_down("eth1");
    node.link_down("eth0");
}

/// 3.0.6 (n2) holds our group when our node (n1, its preferred node) joins:
/// we ask, it gives the group up and answers, we take it. Then power loss of
/// ours (3.0.6 takes over) and our return (we ask again and get it back).
#[test]
fn legacy_with_heartbeat_306_holding_our_group_when_we_join() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let mut responders = legacy_setup(n1, n2, "n1");
    let _logs = Logs(n1, n2);
    real::start(n2);
    // Alone, 3.0.6 declares n1 dead after initdead and takes its group (mach_down).
    wait_answer(client, "n2", [n1, n2]);
    n2.wait_for_log(real::LOG, "Initial resource acquisition complete", LONG);

    let before2 = count(n2);
    let _d1 = start(n1);
    n1.wait_for_log(
        LOG,
        "Deprecated 'legacy' auto_failback option selected.",
        LONG,
    );
    wait_answer(client, "n1", [n1, n2]);
    n1.wait_for_log(
        LOG,
        &format!("received ip-request-resp {VIP}/24/eth0 OK yes"),
        LONG,
    );
    n2.wait_for_log(
        real::LOG,
        "Running /etc/ha.d//rc.d/ip-request ip-request",
        LONG,
    );
    expect_calls_unordered(
        n2,
        before2,
        &["svc stop", "svc2 stop"],
        "3.0.6 gave the group up when asked",
    );
    expect_calls_unordered(
        n1,
        0,
        &["svc start", "svc2 start"],
        "we took it after the answer",
    );

    // `cl_status rscstatus` in legacy mode: 3.0.6 says `none` once settled
    // (it does not track holdings in legacy mode), and so do we.
    let rscstatus = |node: &Node, cmd: &[&str]| {
        crate::harness::wait_until(&format!("rscstatus none on {}", node.name()), LONG, || {
            let out = node.exec(cmd);
            (String::from_utf8_lossy(&out.stdout).trim() == "none").then_some(())
        })
    };
    rscstatus(n2, &["cl_status", "rscstatus"]);
    rscstatus(n1, &[BIN, "cl-status", "rscstatus"]);

    // No standby in legacy mode: refused with 3.0.6's words, nothing moves.
    let out = n1.exec(&[BIN, "standby"]);
    assert!(!out.status.success(), "{out:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("auto_failback is set to legacy.  Cannot enter standby."),
        "{text}"
    );

    // Power loss of ours: 3.0.6 takes the group over.
    let before2 = count(n2);
    power_loss(n1);
    let outage = wait_answer(client, "n2", [n1, n2]);
    eprintln!("legacy: power loss of our n1, 3.0.6's n2 answered after {outage:?} (deadtime 5 s)");
    expect_calls_unordered(
        n2,
        before2,
        &["svc start", "svc2 start"],
        "3.0.6 took the group over",
    );

    // Ours returns: it asks again, 3.0.6 releases, we serve.
    power_back(n1);
    responders.push(responder(n1));
    let before1 = count(n1);
    let before2 = count(n2);
    let back = Instant::now();
    let _d1 = start(n1);
    wait_answer(client, "n1", [n1, n2]);
    eprintln!(
        "legacy: our n1 back, serving again after {:?}",
        back.elapsed()
    );
    expect_calls_unordered(
        n2,
        before2,
        &["svc stop", "svc2 stop"],
        "3.0.6 released the group",
    );
    expect_calls_unordered(n1, before1, &["svc start", "svc2 start"], "we took it back");

    // Our graceful stop: we release everything, then send the shutdown notice
    // (no `resource` message in legacy mode), and 3.0.6 takes over at once.
    let before1 = count(n1);
    let before2 = count(n2);
    let stopping = Instant::now();
    n1.signal(nix::sys::signal::Signal::SIGTERM, |p| {
        p.exe.ends_with("heartbeat") && p.cmdline.contains(" run")
    });
    wait_answer(client, "n2", [n1, n2]);
    eprintln!(
        "legacy: graceful stop of our n1, 3.0.6's n2 answered after {:?}",
        stopping.elapsed()
    );
    n2.wait_for_log(real::LOG, "Received shutdown notice from 'n1'.", LONG);
    expect_calls_unordered(
        n1,
        before1,
        &["svc stop", "svc2 stop"],
        "we released both groups",
    );
    expect_calls_unordered(
        n2,
        before2,
        &["svc start", "svc2 start"],
        "3.0.6 took both over",
    );
    n1.wait_for_log(LOG, "Heartbeat shutdown complete.", LONG);
    let log1 = n1.read_file(LOG);
    assert!(!log1.contains("ERROR") && !log1.contains("CRIT"), "{log1}");
}

/// Our node (n1) holds 3.0.6's group when 3.0.6 (n2, its preferred node)
/// joins: 3.0.6 asks, we release and answer, it takes the group. Then power
/// loss of 3.0.6 (we take over), its return (it asks again), and its graceful
/// stop (we take over at its shutdown notice).
#[test]
fn legacy_with_heartbeat_306_asking_us_for_its_group() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let mut responders = legacy_setup(n1, n2, "n2");
    let _logs = Logs(n1, n2);
    let _d1 = start(n1);
    // Alone, we declare n2 dead after initdead and take its group.
    wait_answer(client, "n1", [n1, n2]);
    n1.wait_for_log(LOG, "mach_down takeover complete.", LONG);

    let before1 = count(n1);
    real::start(n2);
    wait_answer(client, "n2", [n1, n2]);
    n2.wait_for_log(
        real::LOG,
        &format!("received ip-request-resp {VIP}/24/eth0 OK yes"),
        LONG,
    );
    // It asks, unless its start-up came before it saw us active: then it takes
    // the group unasked, says so on the wire, and we release our copy at once.
    let how = n1.wait_for_log_from(
        LOG,
        0,
        &[
            "n2 asks for its resource groups: giving them up.",
            "n2 takes its resource group",
        ],
        LONG,
    );
    eprintln!("legacy: 3.0.6 joined: {how}");
    expect_calls_unordered(
        n1,
        before1,
        &["svc stop", "svc2 stop"],
        "we gave the group up when asked",
    );
    assert_eq!(
        calls(n2, 0),
        ["svc start", "svc2 start"],
        "3.0.6 started the group once, after our answer"
    );

    // Power loss of 3.0.6: we take over.
    let before1 = count(n1);
    power_loss(n2);
    let outage = wait_answer(client, "n1", [n1, n2]);
    eprintln!("legacy: power loss of 3.0.6's n2, our n1 answered after {outage:?} (deadtime 5 s)");
    expect_calls_unordered(
        n1,
        before1,
        &["svc start", "svc2 start"],
        "we took the group over",
    );
    n1.wait_for_log(LOG, "No STONITH device configured.", LONG);

    // 3.0.6 returns: it asks again and gets its group back.
    power_back(n2);
    responders.push(responder(n2));
    let before1 = count(n1);
    let from2 = n2.log_len(real::LOG);
    real::start(n2);
    wait_answer(client, "n2", [n1, n2]);
    expect_calls_unordered(
        n1,
        before1,
        &["svc stop", "svc2 stop"],
        "we released the group again",
    );
    n2.wait_for_log_from(real::LOG, from2, &["received ip-request-resp"], LONG);

    // 3.0.6's graceful stop: we take over at its shutdown notice.
    let before1 = count(n1);
    let stopping = Instant::now();
    real::stop(n2);
    wait_answer(client, "n1", [n1, n2]);
    eprintln!(
        "legacy: graceful stop of 3.0.6's n2, our n1 answered after {:?}",
        stopping.elapsed()
    );
    n1.wait_for_log(LOG, "Received shutdown notice from 'n2'.", LONG);
    expect_calls_unordered(
        n1,
        before1,
        &["svc start", "svc2 start"],
        "we took the group at the notice",
    );
    let log1 = n1.read_file(LOG);
    assert!(!log1.contains("CRIT"), "{log1}");
}
