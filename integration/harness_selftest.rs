//! The namespace harness checked on its own: nodes are separate machines
//! (hostname, files, processes, addresses) cabled to the right nets, cables
//! can be pulled, spawned processes die with their guard, and a serial pair
//! carries bytes from one node to another.

use std::time::Duration;

use crate::harness::{wait_until, Cluster, Net, SerialPair, Topology};

const PATIENCE: Duration = Duration::from_secs(20);

/// Sends `message` by UDP from `from` to `to_addr:port` until `receiver_file`
/// (on the receiving node, written by a `socat UDP-RECV`) contains it.
fn udp_reaches(
    from: &crate::harness::Node,
    to: &crate::harness::Node,
    to_addr: std::net::Ipv4Addr,
    port: u16,
) {
    let file = format!("/var/log/udp-{port}.in");
    let _receiver = to.spawn(&[
        "socat",
        "-u",
        &format!("UDP-RECV:{port}"),
        &format!("OPEN:{file},creat,append"),
    ]);
    let message = format!("hello from {}", from.name());
    let send = format!("echo '{message}' | socat -u - UDP-SENDTO:{to_addr}:{port}");
    wait_until(
        &format!("{message} to reach {} on port {port}", to.name()),
        PATIENCE,
        || {
            // Until the receiver is bound, datagrams are lost: send again.
            from.exec_ok(&["sh", "-c", &send]);
            to.read_file(&file).contains(&message).then_some(())
        },
    );
}

#[test]
fn harness_nodes_are_separate_machines_on_their_nets() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());

    // Names and addresses.
    assert_eq!(n1.exec_ok(&["uname", "-n"]).trim(), "n1");
    assert_eq!(n2.exec_ok(&["hostname"]).trim(), "n2");
    assert_eq!(client.exec_ok(&["uname", "-n"]).trim(), "client");
    assert_eq!(n1.addr(Net::Private).to_string(), "203.0.113.11");
    assert_eq!(n2.addr(Net::Public).to_string(), "192.0.2.12");
    assert_eq!(client.addr(Net::Public).to_string(), "192.0.2.100");
    let eth1 = n2.exec_ok(&["ip", "-4", "-o", "addr", "show", "dev", "eth1"]);
    assert!(eth1.contains("203.0.113.12/24 brd 203.0.113.255"), "{eth1}");
    let links = client.exec_ok(&["ip", "-o", "link", "show"]);
    assert!(
        !links.contains("eth1"),
        "the client is on the public net only: {links}"
    );

    // Private files: the same path is a different file on each node, and
    // the test process reaches it through `path`.
    n1.write_file("/etc/ha.d/whoami", "n1\n", 0o644);
    n2.write_file("/var/run/whoami", "n2\n", 0o644);
    assert_eq!(n1.exec_ok(&["cat", "/etc/ha.d/whoami"]), "n1\n");
    assert!(!n2.exec(&["cat", "/etc/ha.d/whoami"]).status.success());
    assert_eq!(n2.exec_ok(&["cat", "/run/whoami"]), "n2\n");
    assert!(!n1.path("/run/whoami").exists());
    assert!(
        n1.path("/etc/ha.d/harc").exists() || !std::path::Path::new("/etc/ha.d/harc").exists(),
        "the package's scripts are copied into each node"
    );

    // Both nets carry traffic, each to the right node.
    udp_reaches(n1, n2, n2.addr(Net::Private), 9001);
    udp_reaches(client, n1, n1.addr(Net::Public), 9002);

    // A pulled cable: the node loses carrier, keeps its address; plugged back, it is up again.
    n2.link_down("eth1");
    let state = n2.exec_ok(&["ip", "-o", "link", "show", "dev", "eth1"]);
    assert!(state.contains("NO-CARRIER"), "{state}");
    assert!(n2
        .exec_ok(&["ip", "-4", "-o", "addr", "show", "dev", "eth1"])
        .contains("203.0.113.12"));
    n2.link_up("eth1");
    udp_reaches(n1, n2, n2.addr(Net::Private), 9003);

    // Processes: a spawned one is the node's, and dies with its guard.
    let sleeper = n1.spawn(&["sleep", "1000"]);
    let found = wait_until("the spawned sleep on n1", PATIENCE, || {
        n1.processes()
            .into_iter()
            .find(|p| p.cmdline == "sleep 1000")
    });
    assert!(
        n2.processes().iter().all(|p| p.pid != found.pid),
        "n2 sees only its own processes"
    );
    assert_eq!(n1.host_pid(found.node_pid), Some(found.pid));
    drop(sleeper);
    wait_until("the spawned sleep to be gone", PATIENCE, || {
        n1.processes()
            .iter()
            .all(|p| p.pid != found.pid)
            .then_some(())
    });

    // A daemon that leaves its process group still dies in a power loss.
    n1.exec_ok(&[
        "sh",
        "-c",
        "setsid sleep 1001 >/dev/null 2>&1 < /dev/null &",
    ]);
    // `setsid` forks and executes `sleep` in the background: wait until it has
    // (killing it while still `setsid` would test nothing and name the wrong program).
    wait_until("the detached sleep to run", PATIENCE, || {
        n1.processes()
            .iter()
            .any(|p| p.cmdline == "sleep 1001")
            .then_some(())
    });
    let killed = n1.kill_all();
    assert!(
        killed.iter().any(|p| p.cmdline == "sleep 1001"),
        "{killed:?}"
    );
    assert!(n1.processes().is_empty());
}

#[test]
fn harness_serial_pair_links_two_nodes() {
    let serial = SerialPair::new();
    let cluster = Cluster::new(&["s1", "s2"], Topology::private());
    let (s1, s2) = (cluster.node("s1"), cluster.node("s2"));
    let (tty_a, tty_b) = (serial.tty_a(), serial.tty_b());
    assert!(tty_a.starts_with("/dev/pts") && tty_b.starts_with("/dev/pts"));
    assert_ne!(tty_a, tty_b);

    let _reader = s2.spawn(&[
        "socat",
        "-u",
        &format!("{},raw,echo=0", tty_b.display()),
        "OPEN:/var/log/serial.in,creat,append",
    ]);
    let write = format!("echo over-the-wire > {}", tty_a.display());
    wait_until("bytes written on s1 to arrive on s2", PATIENCE, || {
        // Bytes sent before the reader has the tty open may be dropped: resend.
        s1.exec_ok(&["sh", "-c", &write]);
        s2.read_file("/var/log/serial.in")
            .contains("over-the-wire")
            .then_some(())
    });
    assert!(serial.log().contains("PTY is"), "{}", serial.log());
}
