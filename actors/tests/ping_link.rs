//! `PingLink` over loopback (raw ICMP sockets need root, as the daemon does):
//! echo replies reach the node table, IPv4 and IPv6, and a link counts only
//! the replies to its own requests although every raw ICMP socket sees every
//! reply. A recorder stands in for the node table; every wait polls until a
//! deadline.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use hb_actors::links::ping::{PingLink, PingSpec};
use hb_actors::messages::PingReplied;

const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<PingReplied>>>);

impl Recorded {
    fn len(&self) -> usize {
        self.0.lock().expect("recorder lock").len()
    }
}

struct Recorder(Recorded);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<PingReplied> for Recorder {
    type Result = ();

    fn handle(&mut self, msg: PingReplied, _: &mut Context<Self>) {
        self.0 .0.lock().expect("recorder lock").push(msg);
    }
}

/// Log lines go to stderr, which the test harness shows only for a failed test.
struct Stderr;

impl slog::Drain for Stderr {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, r: &slog::Record<'_>, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        eprintln!("{} {}", r.level().as_short_str(), r.msg());
        Ok(())
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = actix::clock::Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            actix::clock::Instant::now() < end,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        actix::clock::sleep(Duration::from_millis(20)).await;
    }
}

fn link(ping: usize, host: &str, interval: Duration) -> Recorded {
    let rec = Recorded::default();
    let table = Recorder(rec.clone()).start().recipient();
    let host: IpAddr = host.parse().expect("an address");
    let spec = PingSpec {
        ping,
        name: host.to_string(),
        hosts: vec![host],
        interval,
        deadping: Duration::from_secs(5),
    };
    let log = slog::Logger::root(Stderr, slog::o!());
    Supervisor::start(move |_| PingLink::new(spec, table, &log));
    rec
}

#[actix::test]
async fn echo_replies_over_ipv4_and_ipv6_reach_the_node_table() {
    for (i, host) in ["127.0.0.1", "::1"].into_iter().enumerate() {
        let rec = link(i, host, Duration::from_millis(50));
        eventually(&format!("3 replies from {host}"), || rec.len() >= 3).await;
        let got = rec.0.lock().expect("recorder lock").clone();
        assert!(
            got.iter().all(|r| r.ping == i && r.member == 0),
            "{host}: {got:?}"
        );
    }
}

/// Every raw ICMP socket receives every echo reply: the quiet link sees the
/// busy link's replies too, and must count only the one answer to its own
/// single request.
#[actix::test]
async fn a_link_counts_only_replies_to_its_own_requests() {
    let quiet = link(0, "127.0.0.1", Duration::from_secs(3600));
    let busy = link(1, "127.0.0.1", Duration::from_millis(20));
    eventually("the busy link's 30 replies", || busy.len() >= 30).await;
    eventually("the quiet link's one reply", || quiet.len() >= 1).await;
    assert_eq!(quiet.len(), 1, "only its own request was answered");
}
