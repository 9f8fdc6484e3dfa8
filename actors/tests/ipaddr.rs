//! The IPaddr resource (protocol notes §9) against a real kernel, as root, in
//! network namespaces this test creates and deletes (`hbip-<pid>-<n>`).
//!
//! Nothing here touches the host's namespace: `ip -n` runs the set-up inside
//! the test namespaces, and the code under test runs on a thread that has
//! entered one with `setns`, on an actix System created on that thread, so its
//! netlink and packet sockets live there. Waits poll until a deadline.
//!
//! Topology of every test (addresses from the documentation ranges only):
//! ```text
//!   A (owner)                                   B (neighbour)
//!   va0 02:00:00:00:0a:00  192.0.2.1/24  ─────  vb0 192.0.2.2/24
//!   va1 02:00:00:00:0a:01  198.51.100.1/27 ───  vb1 198.51.100.2/27
//!   routes in A: 198.51.100.0/24 dev va0 (less specific than va1's /27)
//!                203.0.113.0/25 dev va0 metric 200, dev va1 metric 100
//! ```

use std::fs::File;
use std::future::Future;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hb_actors::ipaddr::{
    ArpReport, ArpSchedule, ChosenRoute, IpAddrAgent, IpError, IpStatus, Plan, StopReport,
};
use hb_conf::model::IpSpec;
use nix::sched::{setns, CloneFlags};

const DEADLINE: Duration = Duration::from_secs(10);
const MAC_VA0: [u8; 6] = [0x02, 0, 0, 0, 0x0a, 0x00];

/// A network namespace, deleted on drop (also when the test panics).
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        assert!(
            nix::unistd::geteuid().is_root(),
            "the IPaddr tests build network namespaces and must run as root"
        );
        let name = format!(
            "hbip-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip("link set lo up");
        ns
    }

    /// `ip -n NAME ARGS`, which must succeed; returns its output.
    fn ip(&self, args: &str) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend(args.split_whitespace());
        run("ip", &all)
    }

    /// Runs `f` on a new thread inside this namespace.
    fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let file = File::open(format!("/run/netns/{}", self.name)).expect("opening the namespace");
        thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).expect("entering the namespace");
            f()
        })
    }

    /// Runs the future made by `f` on an actix System (tokio current-thread)
    /// created inside this namespace.
    fn block_on<F, Fut>(&self, f: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: Send + 'static,
    {
        match self
            .spawn(move || actix_rt::System::new().block_on(f()))
            .join()
        {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("could not delete namespace {}: {out:?}", self.name);
        }
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The owner A and its neighbour B, wired as in the module doc.
fn topology() -> (Netns, Netns) {
    let a = Netns::new();
    let b = Netns::new();
    for i in 0..2 {
        a.ip(&format!(
            "link add va{i} address 02:00:00:00:0a:0{i} type veth peer name vb{i} netns {}",
            b.name
        ));
        a.ip(&format!("link set va{i} up"));
        b.ip(&format!("link set vb{i} up"));
    }
    a.ip("addr add 192.0.2.1/24 dev va0");
    b.ip("addr add 192.0.2.2/24 dev vb0");
    a.ip("addr add 198.51.100.1/27 dev va1");
    b.ip("addr add 198.51.100.2/27 dev vb1");
    a.ip("route add 198.51.100.0/24 dev va0");
    a.ip("route add 203.0.113.0/25 dev va0 metric 200");
    a.ip("route add 203.0.113.0/25 dev va1 metric 100");
    (a, b)
}

fn agent() -> IpAddrAgent {
    IpAddrAgent::new(&slog::Logger::root(slog::Discard, slog::o!()))
}

/// A quick schedule: the default one takes 4.75 s.
fn quick() -> ArpSchedule {
    ArpSchedule {
        pairs: 2,
        spacing: Duration::from_millis(20),
    }
}

fn spec(addr: &str, prefix: Option<u8>, iface: Option<&str>, broadcast: Option<&str>) -> IpSpec {
    IpSpec {
        addr: addr.parse().unwrap(),
        prefix,
        iface: iface.map(str::to_owned),
        label: None,
        broadcast: broadcast.map(|b| b.parse().unwrap()),
    }
}

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Polls `cond` every 20 ms until it holds; panics after `deadline`.
fn eventually(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The seed's "Selecting an Interface": the most specific route decides, then
/// the lowest metric; the prefix is the route's, the broadcast the highest
/// address of the subnet (`/27` gives `.31`).
#[test]
fn plan_follows_the_most_specific_route_then_the_lowest_metric() {
    let (a, _b) = topology();
    let plans = a.block_on(|| async {
        let agent = agent();
        let mut out = Vec::new();
        for addr in ["198.51.100.3", "198.51.100.77", "192.0.2.10", "203.0.113.9"] {
            out.push(agent.plan(&spec(addr, None, None, None)).await);
        }
        out
    });
    let got: Vec<_> = plans
        .into_iter()
        .map(|p| {
            let p = p.unwrap();
            (
                p.iface,
                p.prefix,
                p.broadcast.unwrap().to_string(),
                p.label_base,
            )
        })
        .collect();
    let want = [
        ("va1", 27, "198.51.100.31", "va1"),
        ("va0", 24, "198.51.100.255", "va0"),
        ("va0", 24, "192.0.2.255", "va0"),
        ("va1", 25, "203.0.113.127", "va1"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(i, p, b, l)| (i.to_string(), *p, b.to_string(), l.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn plan_takes_a_given_interface_prefix_and_broadcast() {
    let (a, _b) = topology();
    let (all_given, iface_given, missing) = a.block_on(|| async {
        let agent = agent();
        (
            agent
                .plan(&spec(
                    "198.51.100.3",
                    Some(26),
                    Some("va0"),
                    Some("198.51.100.50"),
                ))
                .await,
            agent
                .plan(&spec("198.51.100.3", None, Some("va0"), None))
                .await,
            agent
                .plan(&spec("192.0.2.10", Some(24), Some("va9"), None))
                .await,
        )
    });
    assert_eq!(
        all_given,
        Ok(Plan {
            addr: ip4("198.51.100.3"),
            prefix: 26,
            broadcast: Some(ip4("198.51.100.50")),
            iface: "va0".into(),
            label_base: "va0".into(),
            label: None,
            route: None,
        })
    );
    // The interface is given; the prefix comes from that interface's route.
    let p = iface_given.unwrap();
    assert_eq!((p.iface.as_str(), p.prefix), ("va0", 24));
    assert_eq!(
        p.route,
        Some(ChosenRoute {
            network: ip4("198.51.100.0"),
            prefix: 24,
            metric: 0
        })
    );
    assert_eq!(
        missing,
        Err(IpError::InterfaceMissing {
            addr: ip4("192.0.2.10"),
            iface: "va9".into()
        })
    );
}

/// No route: an error naming the address. A default route is the least
/// preferred: it gives the interface, but not a /0 netmask.
#[test]
fn plan_without_a_route_fails_and_the_default_route_only_gives_the_interface() {
    let (a, _b) = topology();
    let addr = "203.0.113.200";
    let no_route =
        a.block_on(move || async move { agent().plan(&spec(addr, None, None, None)).await });
    assert_eq!(no_route, Err(IpError::NoRoute { addr: ip4(addr) }));
    assert!(no_route.unwrap_err().to_string().contains(addr));

    a.ip("route add default via 192.0.2.254 dev va0");
    let (no_mask, with_mask, specific) = a.block_on(move || async move {
        let agent = agent();
        (
            agent.plan(&spec(addr, None, None, None)).await,
            agent.plan(&spec(addr, Some(24), None, None)).await,
            agent.plan(&spec("198.51.100.3", None, None, None)).await,
        )
    });
    assert_eq!(
        no_mask,
        Err(IpError::NoNetmask {
            addr: ip4(addr),
            iface: "va0".into()
        })
    );
    let p = with_mask.unwrap();
    assert_eq!(
        (p.iface.as_str(), p.prefix, p.broadcast),
        ("va0", 24, Some(ip4("203.0.113.255")))
    );
    assert_eq!(p.route.map(|r| r.prefix), Some(0));
    assert_eq!(
        specific.unwrap().iface,
        "va1",
        "the default route is least preferred"
    );
}

#[test]
fn start_adds_a_labelled_address_once_and_status_sees_it() {
    let (a, _b) = topology();
    a.ip("addr add 192.0.2.50/24 dev va0 label va0:0");
    let outcome = a.block_on(|| async {
        let agent = agent().with_arp_schedule(quick());
        let plan = agent
            .plan(&spec("192.0.2.10", None, None, None))
            .await
            .unwrap();
        let before = agent.status(&plan).await.unwrap();
        let first = agent.start(&plan).await.unwrap();
        let again = agent.start(&plan).await.unwrap();
        let after = agent.status(&plan).await.unwrap();
        let elsewhere = agent
            .plan(&spec("192.0.2.10", Some(24), Some("va1"), None))
            .await
            .unwrap();
        let elsewhere = agent.start(&elsewhere).await.map(|s| s.label);
        let other_mask = agent
            .plan(&spec("192.0.2.10", Some(25), None, None))
            .await
            .unwrap();
        let other_mask = agent.start(&other_mask).await.map(|s| s.label);
        (
            before,
            (first.label, first.added),
            (again.label, again.added),
            after,
            elsewhere,
            other_mask,
        )
    });
    let (before, first, again, after, elsewhere, other_mask) = outcome;
    assert_eq!(before, IpStatus::Stopped);
    assert_eq!(first, ("va0:1".to_owned(), true), "va0:0 is taken");
    assert_eq!(
        again,
        ("va0:1".to_owned(), false),
        "a second start changes nothing"
    );
    assert_eq!(after, IpStatus::Running);
    let shown = a.ip("-4 -o addr show dev va0");
    assert_eq!(
        shown.matches("inet 192.0.2.10/24 brd 192.0.2.255").count(),
        1,
        "{shown}"
    );
    assert!(shown.contains("va0:1"), "{shown}");
    assert_eq!(
        elsewhere,
        Err(IpError::ConfiguredElsewhere {
            addr: ip4("192.0.2.10"),
            iface: "va0".into(),
            planned: "va1".into()
        })
    );
    assert_eq!(
        other_mask,
        Err(IpError::PrefixMismatch {
            addr: ip4("192.0.2.10"),
            iface: "va0".into(),
            configured: 24,
            planned: 25
        })
    );
}

/// Issue 14, item 1: `IPaddr::IP/BITS/IFACE:LABEL` gets that label, as
/// IPaddr2 gives it, not the first free `IFACE:N`; `ip -o addr` shows it.
#[test]
fn start_uses_the_label_haresources_gives() {
    let (a, _b) = topology();
    let started = a.block_on(|| async {
        let agent = agent().with_arp_schedule(quick());
        let spec = hb_conf::ip_spec("192.0.2.20/24/va0:7").unwrap();
        let plan = agent.plan(&spec).await.unwrap();
        let first = agent.start(&plan).await.unwrap();
        let dotted = hb_conf::ip_spec("192.0.2.21/255.255.255.0//va0").unwrap();
        let dotted = agent.plan(&dotted).await.unwrap();
        let second = agent.start(&dotted).await.unwrap();
        (first.label, first.added, second.label)
    });
    assert_eq!(started, ("va0:7".to_owned(), true, "va0:0".to_owned()));
    let shown = a.ip("-4 -o addr show dev va0");
    let line = shown
        .lines()
        .find(|l| l.contains("inet 192.0.2.20/24"))
        .unwrap_or_else(|| panic!("192.0.2.20 is not on va0: {shown}"));
    assert!(line.contains(" va0:7"), "{line}");
    assert!(
        shown.contains("inet 192.0.2.21/24 brd 192.0.2.255 scope global secondary va0:0"),
        "{shown}"
    );
}

/// Like IPaddr2, `start` brings a down interface up.
#[test]
fn start_brings_the_interface_up() {
    let (a, _b) = topology();
    let plan = a.block_on(|| async { agent().plan(&spec("198.51.100.3", None, None, None)).await });
    a.ip("link set va1 down");
    let started = a.block_on(|| async move {
        let s = agent()
            .with_arp_schedule(quick())
            .start(&plan.unwrap())
            .await
            .unwrap();
        (s.label, s.arp.unwrap().finished().await)
    });
    assert_eq!(started.0, "va1:0");
    assert_eq!(
        started.1.map(|r| (r.requests, r.replies, r.failures)),
        Some((2, 2, 0))
    );
    let link = a.ip("-o link show va1");
    assert!(link.contains(",UP") || link.contains("<UP"), "{link}");
}

#[test]
fn stop_removes_the_address_and_is_idempotent() {
    let (a, _b) = topology();
    let (first, second, status) = a.block_on(|| async {
        let agent = agent().with_arp_schedule(quick());
        let plan = agent
            .plan(&spec("198.51.100.3", None, None, None))
            .await
            .unwrap();
        agent.start(&plan).await.unwrap();
        let first = agent.stop(&plan).await;
        let second = agent.stop(&plan).await;
        (first, second, agent.status(&plan).await)
    });
    assert_eq!(
        first,
        Ok(StopReport {
            removed_from: vec!["va1".into()]
        })
    );
    assert_eq!(
        second,
        Ok(StopReport {
            removed_from: vec![]
        })
    );
    assert_eq!(status, Ok(IpStatus::Stopped));
    let shown = a.ip("-4 -o addr show dev va1");
    assert!(!shown.contains("198.51.100.3/"), "{shown}");
    assert!(
        shown.contains("198.51.100.1/27"),
        "the base address stays: {shown}"
    );
}

/// The point of gratuitous ARP: a neighbour whose cache still points at the
/// old owner's MAC learns the new owner's, with heartbeat's default schedule.
#[test]
fn gratuitous_arp_moves_the_neighbours_cache_to_the_new_owner() {
    let (a, b) = topology();
    b.ip("neigh replace 192.0.2.10 lladdr 02:00:00:00:00:99 dev vb0 nud stale");
    let mac = MAC_VA0
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let cache = || b.ip("neigh show 192.0.2.10 dev vb0");
    assert!(cache().contains("02:00:00:00:00:99"), "{}", cache());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let owner = a.spawn(move || {
        actix_rt::System::new().block_on(async move {
            let agent = agent();
            let plan = agent
                .plan(&spec("192.0.2.10", None, None, None))
                .await
                .unwrap();
            let started = agent.start(&plan).await.unwrap();
            // Hold the address while the neighbour is checked, then cancel.
            rx.await.expect("the test holds the sender");
            let report = agent.stop(&plan).await;
            (started.arp.unwrap().finished().await, report)
        })
    });
    eventually(
        "the neighbour's cache to show the new owner's MAC",
        DEADLINE,
        || cache().contains(&mac),
    );
    tx.send(()).unwrap();
    let (arp, stopped) = owner.join().unwrap();
    assert_eq!(arp, None, "stop cancels the 4.75 s announcement");
    assert_eq!(stopped.unwrap().removed_from, vec!["va0".to_owned()]);
}

/// One captured ARP frame, with when it arrived.
struct Captured {
    at: Instant,
    frame: Vec<u8>,
}

/// ARP frames about one address arriving on an interface of a namespace,
/// read by a thread inside it, which ends when this is dropped.
struct Capture {
    seen: Arc<Mutex<Vec<Captured>>>,
    done: Arc<AtomicBool>,
}

impl Capture {
    /// Returns once the capture socket is open.
    fn start(ns: &Netns, iface: &'static str, addr: Ipv4Addr) -> Capture {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (store, stop) = (seen.clone(), done.clone());
        ns.spawn(move || {
            let iface = pnet_datalink::interfaces()
                .into_iter()
                .find(|i| i.name == iface)
                .expect("capture interface");
            let config = pnet_datalink::Config {
                read_timeout: Some(Duration::from_millis(20)),
                promiscuous: false,
                ..Default::default()
            };
            let Ok(pnet_datalink::Channel::Ethernet(_, mut rx)) =
                pnet_datalink::channel(&iface, config)
            else {
                panic!("cannot capture on {}", iface.name);
            };
            ready_tx.send(()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                match rx.next() {
                    Ok(f) => {
                        let about_addr = f.len() >= 42
                            && f[12..14] == [0x08, 0x06]
                            && f[28..32] == addr.octets();
                        if about_addr {
                            store.lock().unwrap().push(Captured {
                                at: Instant::now(),
                                frame: f[..42].to_vec(),
                            });
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(e) => panic!("capture on {}: {e}", iface.name),
                }
            }
        });
        ready_rx
            .recv_timeout(DEADLINE)
            .expect("capture socket open");
        Capture { seen, done }
    }

    fn frames(&self) -> std::sync::MutexGuard<'_, Vec<Captured>> {
        self.seen.lock().unwrap()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// On the wire: requests and replies alternate, both broadcast from the
/// owner's MAC with sender IP = target IP = the service address; `start`
/// returns after the first pair; `stop` ends the rest.
#[test]
fn gratuitous_arp_alternates_requests_and_replies_and_stop_cancels_it() {
    let (a, b) = topology();
    let vip = ip4("192.0.2.10");
    let capture = Capture::start(&b, "vb0", vip);
    let spacing = Duration::from_millis(100);
    let schedule = ArpSchedule { pairs: 3, spacing };
    let t_call = Instant::now();
    let (t_started, report) = a.block_on(move || async move {
        let agent = agent().with_arp_schedule(schedule);
        let plan = agent
            .plan(&spec("192.0.2.10", None, None, None))
            .await
            .unwrap();
        let started = agent.start(&plan).await.unwrap();
        let t_started = Instant::now();
        (t_started, started.arp.unwrap().finished().await)
    });
    assert_eq!(
        report,
        Some(ArpReport {
            requests: 3,
            replies: 3,
            failures: 0,
            last_error: None
        })
    );
    // start returns once the first request is out, not a spacing later with
    // the first reply: an acquisition is not held up by the announcement.
    assert!(t_started >= t_call);
    eventually("6 ARP frames on the neighbour", DEADLINE, || {
        capture.frames().len() >= 6
    });
    {
        let frames = capture.frames();
        let ops: Vec<u8> = frames.iter().map(|c| c.frame[21]).collect();
        assert_eq!(ops, [1, 2, 1, 2, 1, 2]);
        for c in frames.iter() {
            let f = &c.frame;
            assert_eq!(f[0..6], [0xff; 6], "broadcast");
            assert_eq!(f[6..12], MAC_VA0, "from the owner's MAC");
            assert_eq!(f[22..28], MAC_VA0, "sender hardware address");
            assert_eq!(f[28..32], vip.octets(), "sender IP");
            assert_eq!(f[38..42], vip.octets(), "target IP");
        }
        // Frame 5 is due 5 spacings after frame 0, which is sent after the call.
        assert!(frames[5].at - t_call >= spacing * 5);
    }

    // A long announcement, cancelled by stop right after start. The runtime
    // stays up for three more spacings, in which the task would have sent.
    capture.frames().clear();
    let long = ArpSchedule { pairs: 10, spacing };
    let cancelled = a.block_on(move || async move {
        let agent = agent().with_arp_schedule(long);
        let plan = agent
            .plan(&spec("192.0.2.10", None, None, None))
            .await
            .unwrap();
        let started = agent.start(&plan).await.unwrap();
        agent.stop(&plan).await.unwrap();
        actix_rt::time::sleep(spacing * 3).await;
        started.arp.unwrap().finished().await
    });
    assert_eq!(cancelled, None, "the announcement was cancelled");
    eventually(
        "the first request of the long announcement",
        DEADLINE,
        || !capture.frames().is_empty(),
    );
    let frames = capture.frames();
    assert_eq!(frames.len(), 1, "no frame after stop");
}
