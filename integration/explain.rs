//! The event journal and `heartbeat explain` after a real failover: the
//! survivor's timeline names the death with the silence and dead time it was
//! decided on, and the takeover with its cause and script times.

use crate::failover::{serving_pair, wait_answer, BIN, LONG};
use crate::harness::{wait_until, Cluster, Topology};

/// The number after `prefix` in `text`.
fn number_after(text: &str, prefix: &str) -> u64 {
    let rest = text
        .split(prefix)
        .nth(1)
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in:\n{text}"))
}

#[test]
fn explain_on_the_survivor_tells_the_death_and_the_takeover() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2, client) = (cluster.node("n1"), cluster.node("n2"), cluster.client());
    let (_responders, _d1, _d2) = serving_pair(n1, n2, client);

    // Power loss on n1.
    n1.kill_all();
    n1.link_down("eth1");
    n1.link_down("eth0");
    wait_answer(client, "n2", [n1, n2]);

    // The group's last script (maid) runs after the address answers: wait
    // for the whole acquisition in the timeline.
    let text = wait_until("explain to tell the takeover", LONG, || {
        let out = n2.exec(&[BIN, "explain"]);
        assert!(
            out.status.success(),
            "explain failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("n2 acquired group").then_some(text)
    });
    eprintln!("{text}");
    assert!(
        text.contains("Timeline of /var/lib/heartbeat/journal"),
        "{text}"
    );
    assert!(text.contains("  n2 started at "), "{text}");
    let death = text
        .lines()
        .find(|l| l.contains("n1 declared dead at "))
        .unwrap_or_else(|| panic!("no death in:\n{text}"));
    assert!(death.contains(": no status on eth1 for "), "{death}");
    let silent = number_after(death, "no status on eth1 for ");
    let deadtime = number_after(death, "(deadtime ");
    // n1 advertises 1 s, or 3 s during its first 5 s (3.0.6's start-up margin).
    assert!(
        deadtime == 1000 || deadtime == 3000,
        "the dead time n1 advertised: {death}"
    );
    assert!(
        silent >= deadtime && silent < deadtime + 1000,
        "silent for at least the dead time, and not much more: {death}"
    );
    let takeover = text
        .lines()
        .find(|l| l.contains("n2 acquired group 192.0.2.50/24/eth0 at "))
        .unwrap_or_else(|| panic!("no takeover in:\n{text}"));
    assert!(takeover.contains(": n1 dead (takeover); "), "{takeover}");
    for step in ["IPaddr start ", "svc start ", "maid start "] {
        let ms = number_after(takeover, step);
        assert!(ms < 60_000, "{step}{ms} ms: {takeover}");
    }
    assert!(takeover.contains("gratuitous ARP sent"), "{takeover}");
    assert!(takeover.contains(" ms in all."), "{takeover}");
    let (d, t) = (
        text.find("n1 declared dead").unwrap(),
        text.find("n2 acquired group 192.0.2.50/24/eth0 at")
            .unwrap(),
    );
    assert!(d < t, "the death comes first:\n{text}");

    // --since: a duration ago keeps the failover; a moment after it hides it.
    let recent = n2.exec_ok(&[BIN, "explain", "--since", "10m"]);
    assert!(recent.contains("n1 declared dead at"), "{recent}");
    let future = chrono_like_now_plus_a_minute(n2);
    let later = n2.exec_ok(&[BIN, "explain", "--since", &future]);
    assert!(!later.contains("declared dead"), "{later}");
    let bad = n2.exec(&[BIN, "explain", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(1));

    // The journal is private to root, and kept when the daemon restarts.
    let journal = n2.path("/var/lib/heartbeat/journal");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&journal).unwrap().permissions(),
    ) & 0o777;
    assert_eq!(mode, 0o600);
}

/// A date-time a minute from now on the node's clock (the same machine).
fn chrono_like_now_plus_a_minute(node: &crate::harness::Node) -> String {
    node.exec_ok(&["date", "-d", "+1 minute", "+%Y-%m-%d %H:%M:%S"])
        .trim()
        .to_owned()
}
