//! Timing never depends on the wall clock (issue 9): two nodes run the same
//! minute twice on the same monotonic clock, once with a steady wall clock and
//! once with one that jumps by hours and days back and forth (NTP steps, an
//! operator's `date -s`). Everything they decide and log must be the same; only
//! the `ts` field of the packets (the wall clock written out) may differ.

use std::time::Duration;

use hb_core::membership::{Membership, MembershipConfig};
use hb_core::node::{Node, Output};
use hb_core::resources::nice::NiceFailback;
use hb_core::time::{Instant, Now, Rng};
use hb_core::wire::Message;

fn node(me: &str, generation: u64) -> Node {
    let cfg = MembershipConfig {
        me: me.into(),
        nodes: vec!["n1".into(), "n2".into()],
        ping: Vec::new(),
        deadping: Duration::from_millis(1000),
        links: vec!["eth1".into()],
        keepalive: Duration::from_millis(200),
        deadtime: Duration::from_millis(1000),
        warntime: Duration::from_millis(500),
        initdead: Duration::from_millis(2000),
        max_rexmit_delay: Duration::from_millis(50),
        hopfudge: 1,
        uuid: [generation as u8; 16],
        generation,
        seed: generation,
    };
    Node::new(Membership::new(cfg, Now::at_millis(0)))
        .with_resources(NiceFailback::new(true).named(me))
}

/// A message as decisions see it: every field but the wall-clock `ts`.
fn without_ts(m: &Message) -> String {
    m.fields()
        .iter()
        .filter(|f| f.name != "ts")
        .map(|f| format!("{}={}", f.name, m.get_str(&f.name).unwrap_or("<bin>")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs 60 s: both nodes up, n2 silenced at 20 s (it keeps running but its
/// packets are lost), heard again at 40 s. `wall` maps the monotonic
/// milliseconds to wall-clock seconds. Returns everything both decided.
fn run(wall: &dyn Fn(u64) -> u64) -> Vec<String> {
    let mut nodes = [node("n1", 11), node("n2", 22)];
    let mut trace = Vec::new();
    let at = |ms: u64| Now {
        mono: Instant::from_millis(ms),
        wall_secs: wall(ms),
    };
    for n in &mut nodes {
        n.start(at(0));
    }
    let mut t = 0;
    while t <= 60_000 {
        let silenced = (20_000..40_000).contains(&t);
        // Deliver until quiet: every output of each node, at time t.
        loop {
            let mut moved = false;
            for i in 0..2 {
                while let Some(out) = nodes[i].poll_output() {
                    moved = true;
                    match &out {
                        Output::Send(m) => {
                            trace.push(format!("{t} n{} sends {}", i + 1, without_ts(m)));
                            if !(silenced && i == 1) {
                                nodes[1 - i].handle_message(at(t), 0, m.clone());
                            }
                        }
                        Output::Run { .. } => {
                            trace.push(format!("{t} n{} {out:?}", i + 1));
                            nodes[i].groups_done(at(t), true);
                        }
                        Output::Event(e) => trace.push(format!("{t} n{} {e}", i + 1)),
                        other => trace.push(format!("{t} n{} {other:?}", i + 1)),
                    }
                }
            }
            if !moved {
                break;
            }
        }
        for n in &mut nodes {
            if n.poll_timeout().is_some_and(|d| d.as_millis() <= t) {
                n.handle_timeout(at(t));
            }
        }
        t += 10;
    }
    trace
}

#[test]
fn a_jumping_wall_clock_changes_no_decision() {
    let steady = run(&|ms| 1_795_644_000 + ms / 1000);
    let mut rng = Rng::new(7);
    let jumps: Vec<i64> = (0..=60)
        .map(|_| {
            let hours = i64::try_from(rng.range(0, 96)).unwrap() - 48;
            hours * 3600
        })
        .collect();
    let jumping = run(&move |ms| {
        let base = 1_795_644_000 + i64::try_from(ms / 1000).unwrap();
        u64::try_from(base + jumps[usize::try_from(ms / 1000).unwrap()]).unwrap()
    });
    assert!(
        steady.iter().any(|l| l.contains("node n2: is dead")),
        "the scenario has a death to time"
    );
    assert!(
        steady
            .iter()
            .any(|l| l.contains("returning after partition")),
        "and a return"
    );
    assert_eq!(steady.len(), jumping.len());
    for (a, b) in steady.iter().zip(&jumping) {
        assert_eq!(a, b);
    }
}

/// A node whose timer fires far too late (the process was stopped) says so.
#[test]
fn a_stalled_node_notices_its_own_stall() {
    let mut n = node("n1", 5);
    n.start(Now::at_millis(0));
    let drain = |n: &mut Node| std::iter::from_fn(|| n.poll_output()).collect::<Vec<_>>();
    drain(&mut n);
    let due = n.poll_timeout().expect("a keepalive is due").as_millis();
    n.handle_timeout(Now::at_millis(due + 100));
    let on_time = drain(&mut n);
    assert!(!on_time
        .iter()
        .any(|o| matches!(o, Output::Log(_, t) if t.contains("delayed"))));
    let due = n.poll_timeout().expect("a keepalive is due").as_millis();
    n.handle_timeout(Now::at_millis(due + 5_000));
    let late = drain(&mut n);
    assert!(
        late.iter().any(|o| matches!(o, Output::Log(_, t) if t.contains("our own heartbeat was delayed 5000 ms"))),
        "{late:?}"
    );
}
