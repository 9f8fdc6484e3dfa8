//! Link supervision (issue 5): a link whose interface is deleted fails, is
//! retried with a growing delay, and comes back by itself when an interface
//! of that name returns (with a new index); the node runs on its other medium
//! meanwhile, and nobody is declared dead.

use std::time::Duration;

use crate::harness::{Cluster, Node, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const LONG: Duration = Duration::from_secs(60);

fn install(node: &Node) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile {LOG}\nkeepalive 200ms\nwarntime 500ms\ndeadtime 2\ninitdead 10\nbcast eth0\nbcast eth1\nnode n1 n2\n"),
        0o644,
    );
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 links-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/haresources", "", 0o644);
}

#[test]
fn a_link_whose_interface_is_deleted_and_recreated_comes_back_by_itself() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1);
    install(n2);
    let _d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    n2.wait_for_log(LOG, "Link n1:eth1 up.", LONG);
    n1.wait_for_log(LOG, "Link n2:eth1 up.", LONG);

    let (from1, from2) = (n1.log_len(LOG), n2.log_len(LOG));
    n1.replug("eth1", || {
        // Gone long enough for n1's link to fail and for n2 to see it dead.
        n1.wait_for_log_from(
            LOG,
            from1,
            &["send failed on eth1", "cannot open the link on eth1"],
            LONG,
        );
        n2.wait_for_log_from(LOG, from2, &["Link n1:eth1 dead."], LONG);
    });
    n1.wait_for_log_from(LOG, from1, &["link eth1 works again"], LONG);
    n2.wait_for_log_from(LOG, from2, &["Link n1:eth1 up."], LONG);
    n1.wait_for_log_from(LOG, from1, &["Link n2:eth1 up."], LONG);
    for node in [n1, n2] {
        let log = node.read_file(LOG);
        assert!(
            !log.contains("is dead"),
            "{} declared nobody dead:\n{log}",
            node.name()
        );
    }
}

/// An address added without `brd` gives its interface no broadcast address:
/// a `bcast` link on it says so by name (and keeps retrying) instead of
/// sending its "broadcasts" to its own address, where no peer hears them. Once
/// the address has a broadcast address, the link comes up by itself.
#[test]
fn a_bcast_link_without_a_broadcast_address_says_so_and_recovers() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    install(n1);
    install(n2);
    let cidr = format!("{}/24", n1.addr(crate::harness::Net::Private));
    n1.exec_ok(&["ip", "addr", "flush", "dev", "eth1"]);
    n1.exec_ok(&["ip", "addr", "add", &cidr, "dev", "eth1"]);
    let _d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    n1.wait_for_log(
        LOG,
        "cannot open the link on eth1: interface eth1 has no broadcast address",
        LONG,
    );
    n1.exec_ok(&["ip", "addr", "flush", "dev", "eth1"]);
    n1.exec_ok(&["ip", "addr", "add", &cidr, "brd", "+", "dev", "eth1"]);
    n2.wait_for_log(LOG, "Link n1:eth1 up.", LONG);
    n1.wait_for_log(LOG, "Link n2:eth1 up.", LONG);
}
