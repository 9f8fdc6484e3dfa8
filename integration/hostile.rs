//! Hostile input on the wire (issue 9): from the client namespace, a flood at
//! a node's udpport of random bytes, truncated and oversized datagrams, packets
//! of the right shape signed with a wrong key (forged status, shutdown and
//! standby messages), and correctly signed replays of an old generation. The
//! node keeps its state (no status change, nothing moves), keeps hearing and
//! answering its peer, logs at a bounded rate, and its memory stays bounded.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd as _;
use std::time::Duration;

use hb_core::auth::{AuthMethod, KeyTable};
use hb_core::time::Rng;
use hb_core::wire::packet::{self, EncodeOptions};
use hb_core::wire::Message;

use crate::harness::{wait_until, Cluster, Net, Node, Topology};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");
const LOG: &str = "/var/log/ha-log";
const KEY: &str = "hostile-test-key";
const LONG: Duration = Duration::from_secs(60);

use crate::faults::SCRIPT;

fn install(node: &Node) {
    node.write_file(
        "/etc/ha.d/ha.cf",
        &format!("logfile {LOG}\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth0\nbcast eth1\nauto_failback off\nnode n1 n2\n"),
        0o644,
    );
    node.write_file("/etc/ha.d/haresources", "n1 svc\n", 0o644);
    node.write_file(
        "/etc/ha.d/authkeys",
        &format!("auth 1\n1 sha1 {KEY}\n"),
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
}

/// A message as n2 would send it.
fn from_n2(t: &str, gen: u64, seq: u64) -> Message {
    let mut m = Message::with_type(t);
    match t {
        "status" => {
            m.push_str("st", "active");
            m.push_str("dt", "3e8");
            m.push_str("protocol", "1");
        }
        "shutdone" => m.push_str("st", "dead"),
        "ask_resources" => {
            m.push_str("rsc_hold", "all");
            m.push_str("info", "me");
        }
        _ => {}
    }
    m.push_str("src", "n2");
    m.push_str("seq", format!("{seq:x}"));
    m.push_str("hg", format!("{gen:x}"));
    m.push_str("ts", "6b075b63");
    m
}

fn signed(m: &Message, key: &str) -> Vec<u8> {
    let keys = KeyTable::single(
        1,
        AuthMethod::Sha1 {
            key: key.as_bytes().to_vec(),
        },
    );
    packet::encode(m, &keys, EncodeOptions::UDP).expect("encode")
}

/// Every datagram of the flood.
fn flood() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(99);
    let mut out = Vec::new();
    let bytes = |n: usize, rng: &mut Rng| (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>();
    for _ in 0..300 {
        let n = usize::try_from(rng.range(0, 1400)).unwrap();
        out.push(bytes(n, &mut rng));
    }
    let valid = signed(&from_n2("status", 1, 5), KEY);
    for _ in 0..200 {
        let cut = usize::try_from(rng.range(0, valid.len() as u64 - 1)).unwrap();
        out.push(valid[..cut].to_vec());
    }
    for _ in 0..20 {
        out.push(bytes(60_000, &mut rng));
    }
    for (i, t) in ["status", "shutdone", "ask_resources", "hb_takeover"]
        .iter()
        .cycle()
        .take(400)
        .enumerate()
    {
        out.push(signed(
            &from_n2(t, u64::MAX / 2, i as u64 + 1),
            "not-the-key",
        ));
    }
    // Signed with the right key, but from a generation n2 left long ago.
    for i in 0..300u64 {
        out.push(signed(&from_n2("shutdone", 1, i + 1), KEY));
    }
    out
}

/// Sends the flood from inside the client's network namespace, `rounds` times.
fn send_from(client: &Node, to: SocketAddr, packets: &[Vec<u8>], rounds: usize) {
    let ns = std::fs::File::open(format!("/run/netns/{}", client.netns())).expect("client netns");
    let packets = packets.to_vec();
    std::thread::spawn(move || {
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let sock = UdpSocket::bind("0.0.0.0:0").expect("bind");
        for _ in 0..rounds {
            for p in &packets {
                // An oversized datagram may be refused locally; the others go out.
                let _ = sock.send_to(p, to);
            }
        }
    })
    .join()
    .expect("the sender");
}

fn rss_kib(node: &Node) -> u64 {
    let pid = crate::daemon::daemon_process(node).pid;
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_flood_of_hostile_packets_changes_nothing() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    install(n1);
    install(n2);
    let _d1 = n1.spawn(&[BIN, "run"]);
    let _d2 = n2.spawn(&[BIN, "run"]);
    wait_until("n1 to hold its group", LONG, || {
        n1.path("/run/rsc-svc").exists().then_some(())
    });
    n1.wait_for_log(LOG, "Status update for node n2: status active", LONG);
    let (log1, log2) = (n1.log_len(LOG), n2.log_len(LOG));
    let rss_before = rss_kib(n1);

    let target = SocketAddr::from((n1.addr(Net::Public), 694));
    let packets = flood();
    let rounds = 10;
    send_from(client, target, &packets, rounds);
    // The node is still there for its peer: a standby needs both ways.
    n1.exec_ok(&[BIN, "standby"]);
    wait_until("n2 to take the group by standby", LONG, || {
        n2.path("/run/rsc-svc").exists().then_some(())
    });
    n1.exec_ok(&[BIN, "takeover"]);
    wait_until("n1 to take it back", LONG, || {
        n1.path("/run/rsc-svc").exists().then_some(())
    });

    let new1 = n1.read_file(LOG)[log1..].to_owned();
    let new2 = n2.read_file(LOG)[log2..].to_owned();
    for (name, text) in [("n1", &new1), ("n2", &new2)] {
        assert!(
            !text.contains("is dead"),
            "{name} declared a death:\n{text}"
        );
        assert!(
            !text.contains("shutdown notice"),
            "{name} believed a forged shutdown:\n{text}"
        );
    }
    assert!(
        !new1.contains("Status update for node n2"),
        "n2's status never changed:\n{new1}"
    );
    // Bounded logging: a few lines per kind and 10 s, not one per packet.
    let lines = new1.lines().count();
    let sent = packets.len() * rounds;
    eprintln!(
        "{sent} hostile datagrams: n1 wrote {lines} log lines; RSS {rss_before} -> {} KiB",
        rss_kib(n1)
    );
    assert!(
        lines < 100,
        "{lines} log lines for {sent} datagrams:\n{new1}"
    );
    let rss_after = rss_kib(n1);
    assert!(
        rss_after < rss_before + 16 * 1024,
        "memory grew from {rss_before} to {rss_after} KiB"
    );
    // The drops are counted by reason, and `status` shows them.
    let out = n1.exec(&[BIN, "status", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let drops = &doc["status"]["drops"];
    let count = |reason: &str| drops[reason].as_u64().unwrap_or(0);
    eprintln!("drops by reason on n1: {drops}");
    // Datagrams can be lost in the socket's buffer during the flood, so only
    // bounds: some of each kind arrived, and no more were counted than sent.
    let wrong_key = 400 * rounds as u64;
    let garbage = (300 + 200 + 20) * rounds as u64;
    let replays = 300 * rounds as u64;
    assert!(count("bad_auth") > 0, "no bad_auth drop counted: {drops}");
    assert!(count("malformed") > 0, "no malformed drop counted: {drops}");
    assert!(count("replay") > 0, "no replay counted: {drops}");
    assert!(
        count("bad_auth") + count("malformed") <= wrong_key + garbage,
        "more drops than hostile datagrams: {drops}"
    );
    assert!(
        count("replay") <= replays,
        "more replays than sent: {drops}"
    );
    let table = String::from_utf8_lossy(&n1.exec(&[BIN, "status"]).stdout).into_owned();
    let line = table
        .lines()
        .find(|l| l.starts_with("dropped packets: "))
        .unwrap_or_else(|| panic!("no dropped packets line in status:\n{table}"));
    // The flood is over: the counts are the same as a moment ago.
    for reason in ["bad_auth", "malformed", "replay"] {
        assert!(
            line.contains(&format!("{reason} {}", count(reason))),
            "{line}\n{drops}"
        );
    }
}
