//! Our daemon on a Debian host where the `heartbeat` package is installed, so
//! `/etc/ha.d/resource.d/` holds its scripts (issue 14, items 10 and 14). Each
//! node's `/etc/ha.d` starts as a copy of the machine's (see the harness).
//! Every wait is for a log line or a file, with a generous deadline.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::failover::{BIN, LOG, RSC_LOG, SCRIPT};
use crate::harness::{wait_until, Cluster, Node, Spawned, Topology};

const LONG: Duration = Duration::from_secs(60);
const VIP: &str = "192.0.2.50";

/// A one-node cluster (it takes its groups as soon as it is up).
const HA_CF: &str = "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\n\
                     initdead 10\nbcast eth1\nauto_failback on\nnode n1\n";

fn install(node: &Node, ha_cf: &str, haresources: &str) {
    node.write_file("/etc/ha.d/ha.cf", ha_cf, 0o644);
    node.write_file("/etc/ha.d/haresources", haresources, 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 debian-host-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

/// Starts our daemon and waits until group `key` is acquired.
fn start_and_acquire(node: &Node, key: &str) -> Spawned {
    let from = node.log_len(LOG);
    let d = node.spawn(&[BIN, "run"]);
    node.wait_for_log_from(
        LOG,
        from,
        &[&format!("Resource group {key} acquired in")],
        LONG,
    );
    d
}

/// A graceful stop of our daemon, waited for.
fn stop(node: &Node, mut d: Spawned) {
    node.signal(Signal::SIGTERM, |p| {
        p.exe.ends_with("heartbeat") && p.cmdline.contains(" run")
    });
    d.wait_exit(LONG);
}

/// Whether `VIP` is on the node's eth0.
fn has_vip(node: &Node) -> bool {
    node.exec_ok(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
        .contains(&format!(" {VIP}/24 "))
}

/// `check-config`'s standard error.
fn check_config(node: &Node) -> String {
    let out = node.exec(&[BIN, "check-config", "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Issue 14, item 10: resource.d holds Debian's own `IPaddr` (the package's
/// script, left where the package put it). By default the built-in address
/// runs anyway: the address is up under our label, the script never ran.
/// With `ipaddr_scripts on` the script runs instead: here a recording
/// stand-in takes the place of Debian's script (which would need ifconfig),
/// and the address is left to it. `check-config` says which, both times.
#[test]
fn the_built_in_address_runs_whatever_resource_d_holds_unless_ipaddr_scripts_is_on() {
    let cluster = Cluster::new(&["n1"], Topology::private_and_public());
    let n1 = cluster.node("n1");
    let debian = n1.read_file("/etc/ha.d/resource.d/IPaddr");
    assert!(
        debian.contains("heartbeat") && debian.starts_with("#!"),
        "Debian's resource.d/IPaddr is missing from the node: install the heartbeat package"
    );
    let haresources = format!("n1 IPaddr::{VIP}/24/eth0 svc\n");
    let key = format!("IPaddr::{VIP}/24/eth0");
    install(n1, HA_CF, &haresources);

    let said = check_config(n1);
    assert!(
        said.contains(&format!(
            "service address IPaddr::{VIP}/24/eth0: built in (/etc/ha.d/resource.d/IPaddr is not run"
        )),
        "{said}"
    );
    let d = start_and_acquire(n1, &key);
    assert!(has_vip(n1), "the built-in address is not up");
    let log = n1.read_file(LOG);
    assert!(
        log.contains(&format!("IPaddr {VIP}/24 on eth0 (label ")),
        "no built-in start in the log:\n{log}"
    );
    assert!(
        !log.contains("Running /etc/ha.d/resource.d/IPaddr"),
        "Debian's script ran:\n{log}"
    );
    stop(n1, d);
    assert!(!has_vip(n1), "the address outlived the graceful stop");

    // ipaddr_scripts on, and a stand-in that records its calls.
    n1.write_file("/etc/ha.d/resource.d/IPaddr", SCRIPT, 0o755);
    install(n1, &format!("ipaddr_scripts on\n{HA_CF}"), &haresources);
    let said = check_config(n1);
    assert!(
        said.contains(&format!(
            "service address IPaddr::{VIP}/24/eth0: runs /etc/ha.d/resource.d/IPaddr (ipaddr_scripts on)"
        )),
        "{said}"
    );
    let from = n1.log_len(LOG);
    let d = start_and_acquire(n1, &key);
    let calls = n1.read_file(RSC_LOG);
    assert!(
        calls.contains(&format!("IPaddr {VIP}/24/eth0 start")),
        "the script did not start the address: {calls}"
    );
    assert!(!has_vip(n1), "the built-in address ran too");
    let log = n1.read_file(LOG);
    assert!(
        !log[from..].contains(&format!("IPaddr {VIP}/24 on eth0 (label ")),
        "the built-in address ran:\n{log}"
    );
    stop(n1, d);
    wait_until("the script's stop", LONG, || {
        n1.read_file(RSC_LOG)
            .contains(&format!("IPaddr {VIP}/24/eth0 stop"))
            .then_some(())
    });
}

/// A resource script whose `status` answers only once `/run/gate` exists
/// (a stand-in for Debian's `Delay`, whose `status` takes 30 s); otherwise
/// as [`SCRIPT`].
const GATED: &str = r#"#!/bin/sh
name=$(basename "$0")
for a; do op=$a; done
echo "$name $*" >> /var/log/rsc.log
if [ "$op" = status ]; then
  while [ ! -e /run/gate ]; do sleep 0.05; done
fi
state="/run/rsc-$name"
case "$op" in
  start) touch "$state" ;;
  stop) rm -f "$state" ;;
  status) if [ -e "$state" ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"#;

/// Issue 14, item 14: two groups, one whose `status` is slow. At start the
/// daemon checks both groups for leftovers, then acquires them: the other
/// group is acquired while the slow `status` still runs (it cannot end before
/// the test opens its gate), and the slow group follows once it answers.
#[test]
fn a_slow_status_at_start_delays_only_its_own_group() {
    let cluster = Cluster::new(&["n1"], Topology::private_and_public());
    let n1 = cluster.node("n1");
    install(n1, HA_CF, "n1 slow\nn1 svc\n");
    n1.write_file("/etc/ha.d/resource.d/slow", GATED, 0o755);
    let d = n1.spawn(&[BIN, "run"]);
    n1.wait_for_log(LOG, "Resource group svc acquired in", LONG);
    let log = n1.read_file(LOG);
    assert!(
        !log.contains("Resource group slow acquired"),
        "the slow group was acquired first:\n{log}"
    );
    // Its status cannot end before the gate opens, whenever it began.
    wait_until("the slow status", LONG, || {
        n1.read_file(RSC_LOG).contains("slow status").then_some(())
    });
    n1.write_file("/run/gate", "", 0o644);
    n1.wait_for_log(LOG, "Resource group slow acquired in", LONG);
    let calls: Vec<String> = n1
        .read_file(RSC_LOG)
        .lines()
        .filter(|l| l.starts_with("slow "))
        .map(str::to_owned)
        .collect();
    assert_eq!(calls, ["slow status", "slow status", "slow start"]);
    stop(n1, d);
}
