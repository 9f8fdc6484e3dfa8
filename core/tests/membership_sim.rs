//! A deterministic multi-node membership simulator: 3 to 8 nodes (at random per
//! seed) of [`Membership`] — what the daemon runs when `haresources` is empty —
//! on virtual time, joined by two media. The network loses, delays (jitter,
//! hence reorders) and duplicates packets at random, per packet; media are cut
//! per direction and per pair of nodes, and the cluster is split in two, both
//! ways or one way. Machines lose power, restart (a new generation) and stop
//! gracefully; a process stalls (starved or stopped) for up to 1.5 s, then
//! reads what waited in its sockets and runs its late timers. Every node sends messages for the layer above at random, so the
//! hold-back, in-order delivery is exercised too.
//!
//! The invariants are checked after every step, against what the simulator
//! itself handed to each node (not against the node's own bookkeeping):
//!
//! 1. **Deaths are detected in time.** A node that handed node A no status
//!    for longer than the dead time that applies (its advertised `dt`, or
//!    `initdead` before A's comm-up) is dead in A's view. The simulator calls
//!    every timer on time, so the bound is exact: no slack (a stalled node
//!    is checked when it runs again).
//! 2. **No false deaths.** A never declares X dead while a status of X's
//!    current generation reached A's socket less than `deadtime - MAX_DELAY` ago
//!    (a retransmitted status excepted: an old status A did not ask for is a
//!    duplicate to A). `MAX_DELAY` is the longest a copy of one packet can
//!    trail another (jitter plus a duplicate's extra delay): a status A
//!    dropped as a duplicate or as older than one it already had arrives at
//!    most that long after the one it accepted.
//! 3. **Links follow their node.** When A declares X dead, every link of X is
//!    dead in A's view at that instant. A link stays up only while A was
//!    handed a packet of X on it within the longest dead time X can
//!    advertise. A node that is up or active in A's view has a link up.
//! 4. **Generations.** Nothing of an older generation of X is delivered to A
//!    once A has seen a newer one; within one generation, what is delivered
//!    comes in sending order, each message once.
//! 5. **Convergence.** After every medium is healed and a quiet period, every
//!    running node sees exactly the running nodes up, with their own status
//!    and their current generation, on every link, and the others dead.
//!
//! Two tests run in parallel: 1000 seeds on 3 to 5 nodes, 250 on 6 to 8, from
//! a base seed drawn afresh every run (printed first). A failing seed prints
//! the command that replays it (`SIM_SEED=n cargo test -p hb-core --test
//! membership_sim TEST`); `SIM_BASE=n` pins the base seed, `SIM_RUNS=n` runs
//! `n` seeds in each test, `SIM_VERBOSE=1` traces every packet, and
//! `scripts/sim-search.sh` runs a long search on every core.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::time::Duration;

use hb_core::membership::{Command, Event, Membership, MembershipConfig, NodeStatus};
use hb_core::time::{Now, Rng};
use hb_core::wire::Message;

mod seeds;

const KEEPALIVE: u64 = 200;
const DEADTIME: u64 = 1000;
const INITDEAD: u64 = 2000;
/// The dead time a node advertises in its first 5 s (spec §6).
const STARTUP_DT: u64 = DEADTIME + 2000;
const LINKS: usize = 2;
/// Most jitter added to the 1 ms base delay of a packet.
const MAX_JITTER: u64 = 40;
/// Most a duplicate trails the original.
const DUP_EXTRA: u64 = 40;
/// The longest one copy of a packet can trail another.
const MAX_DELAY: u64 = 1 + MAX_JITTER + DUP_EXTRA;
/// After the last fault: a restarted node's initdead, a dead node's dead time
/// with the start-up margin, and slack.
const QUIET: u64 = INITDEAD + STARTUP_DT + 3_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn name(i: usize) -> String {
    format!("n{}", i + 1)
}

/// What the simulator handed node A of node X (since A's last boot).
#[derive(Debug, Clone, Default)]
struct Heard {
    /// Latest arrival of any status (any generation, retransmissions too).
    status_any: Option<u64>,
    /// Latest `arrival + dt` of any status.
    status_deadline: Option<u64>,
    /// Latest arrival (at the socket) of a status of X's newest generation
    /// seen, not a retransmission.
    status_fresh: Option<u64>,
    /// First packet of any kind.
    first: Option<u64>,
    /// Latest packet of any kind, per link.
    link: [Option<u64>; LINKS],
    /// Newest generation of X seen in any packet.
    gen: u64,
    /// The last delivered message for the layer above: generation, counter.
    delivered: Option<(u64, u64)>,
}

struct Host {
    m: Option<Membership>,
    generation: u64,
    booted_at: u64,
    /// Highest sequence number sent in this generation: a lower one sent
    /// again is a retransmission.
    sent_seq: u64,
    /// Counter of the messages for the layer above.
    app: u64,
    next_app: u64,
    /// `heard[x]`: what this node was handed of node x.
    heard: Vec<Heard>,
    /// The process is stopped (starved, SIGSTOP) until then: packets wait in
    /// its sockets, its timers are late.
    stalled: Option<(u64, Vec<Delivery>)>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: u64,
    order: u64,
    to: usize,
    link: usize,
    from: usize,
    rexmit: bool,
    msg: usize,
}

struct Sim {
    seed: u64,
    now: u64,
    n: usize,
    hosts: Vec<Host>,
    /// `cut[l][from][to]`.
    cut: Vec<Vec<Vec<bool>>>,
    loss: u64,
    dup: u64,
    jitter: u64,
    queue: BinaryHeap<Reverse<Delivery>>,
    in_flight: Vec<Message>,
    order: u64,
    rng: Rng,
    verbose: bool,
    trace: Vec<String>,
}

impl Sim {
    fn new(seed: u64, n: usize) -> Sim {
        let hosts = (0..n)
            .map(|_| Host {
                m: None,
                generation: 0,
                booted_at: 0,
                sent_seq: 0,
                app: 0,
                next_app: 0,
                heard: vec![Heard::default(); n],
                stalled: None,
            })
            .collect();
        let mut s = Sim {
            seed,
            now: 0,
            n,
            hosts,
            cut: vec![vec![vec![false; n]; n]; LINKS],
            loss: 0,
            dup: 0,
            jitter: 0,
            queue: BinaryHeap::new(),
            in_flight: Vec::new(),
            order: 0,
            rng: Rng::new(seed),
            verbose: std::env::var("SIM_VERBOSE").is_ok(),
            trace: Vec::new(),
        };
        s.log(format!("seed {seed}: {n} nodes"));
        s
    }

    fn at(&self) -> Now {
        Now::at_millis(self.now)
    }

    fn log(&mut self, line: String) {
        let mut l = String::new();
        let _ = write!(l, "{:>7} {line}", self.now);
        self.trace.push(l);
    }

    fn running(&self, i: usize) -> bool {
        self.hosts[i].m.is_some()
    }

    // ---- faults --------------------------------------------------------------------

    fn boot(&mut self, i: usize) {
        let n = self.n;
        let now = self.now;
        let h = &mut self.hosts[i];
        h.generation += 1;
        h.booted_at = now;
        h.sent_seq = 0;
        h.app = 0;
        h.next_app = now + 500;
        h.heard = vec![Heard::default(); n];
        h.stalled = None;
        let cfg = MembershipConfig {
            me: name(i),
            nodes: (0..n).map(name).collect(),
            ping: Vec::new(),
            deadping: ms(DEADTIME),
            links: (0..LINKS).map(|l| format!("eth{l}")).collect(),
            keepalive: ms(KEEPALIVE),
            deadtime: ms(DEADTIME),
            warntime: ms(DEADTIME / 2),
            initdead: ms(INITDEAD),
            max_rexmit_delay: ms(50),
            hopfudge: 1,
            uuid: [i as u8 + 1; 16],
            generation: h.generation,
            seed: h.generation * 31 + i as u64,
        };
        let at = Now::at_millis(now);
        let mut m = Membership::new(cfg, at);
        m.start(at);
        h.m = Some(m);
        let g = h.generation;
        self.log(format!("{} boots (generation {g})", name(i)));
        self.pump(i);
    }

    fn crash(&mut self, i: usize) {
        self.hosts[i].m = None;
        self.hosts[i].stalled = None;
        self.log(format!("{} loses power", name(i)));
    }

    fn stop(&mut self, i: usize) {
        if self.hosts[i].stalled.is_some() {
            return;
        }
        let at = self.at();
        if let Some(m) = self.hosts[i].m.as_mut() {
            m.shutdown(at);
            self.log(format!("{} stops gracefully", name(i)));
            self.pump(i);
            self.hosts[i].m = None;
        }
    }

    /// The process of node `i` stops for `ms`; then it reads what waits in
    /// its sockets, and its timers run late.
    fn stall(&mut self, i: usize, ms: u64) {
        if self.running(i) && self.hosts[i].stalled.is_none() {
            self.hosts[i].stalled = Some((self.now + ms, Vec::new()));
            self.log(format!("{} stalls for {ms} ms", name(i)));
        }
    }

    fn set_cut(&mut self, l: usize, from: usize, to: usize, cut: bool) {
        self.cut[l][from][to] = cut;
    }

    fn heal_all(&mut self) {
        for l in 0..LINKS {
            for f in 0..self.n {
                for t in 0..self.n {
                    self.cut[l][f][t] = false;
                }
            }
        }
        self.log("every medium healed".into());
    }

    /// Splits the nodes in two: `side[i]`. Both ways, or only from the first
    /// side to the second.
    fn split(&mut self, side: &[bool], both: bool) {
        for f in 0..self.n {
            for t in 0..self.n {
                if side[f] != side[t] && (both || side[f]) {
                    for l in 0..LINKS {
                        self.cut[l][f][t] = true;
                    }
                }
            }
        }
        let a: Vec<String> = (0..self.n).filter(|i| side[*i]).map(name).collect();
        let b: Vec<String> = (0..self.n).filter(|i| !side[*i]).map(name).collect();
        let how = if both { "<->" } else { "->" };
        self.log(format!("split {a:?} {how} {b:?}"));
    }

    // ---- the engine ----------------------------------------------------------------

    fn pump(&mut self, i: usize) {
        while let Some(cmd) = self.hosts[i].m.as_mut().and_then(Membership::poll_command) {
            match cmd {
                Command::Send(msg) => self.broadcast(i, msg),
                Command::Notify(e) => self.on_event(i, e),
            }
        }
    }

    fn on_event(&mut self, a: usize, e: Event) {
        match &e {
            Event::NodeDead { node } => self.check_death(a, node),
            Event::Delivered { from, msg } => self.check_delivery(a, from, msg),
            _ => {}
        }
        if self.verbose
            || !matches!(
                e,
                Event::Delivered { .. }
                    | Event::Dropped(_)
                    | Event::StatusInterval { .. }
                    | Event::LostPackets { .. }
                    | Event::LateHeartbeat { .. }
            )
        {
            self.log(format!("{}: {e}", name(a)));
        }
    }

    fn broadcast(&mut self, from: usize, msg: Message) {
        let seq = msg.get_hex("seq");
        let h = &mut self.hosts[from];
        let rexmit = seq.is_some_and(|s| s <= h.sent_seq);
        if let Some(s) = seq {
            h.sent_seq = h.sent_seq.max(s);
        }
        let slot = self.in_flight.len();
        self.in_flight.push(msg);
        for to in 0..self.n {
            for link in 0..LINKS {
                // Our own broadcasts come back (bcast loops).
                let own = to == from;
                if !own && self.cut[link][from][to] {
                    continue;
                }
                if !own && self.loss > 0 && self.rng.range(0, 99) < self.loss {
                    continue;
                }
                let delay = 1 + self.rng.range(0, self.jitter);
                self.enqueue(delay, to, link, from, rexmit, slot);
                if !own && self.dup > 0 && self.rng.range(0, 99) < self.dup {
                    let extra = self.rng.range(1, DUP_EXTRA);
                    self.enqueue(delay + extra, to, link, from, rexmit, slot);
                }
            }
        }
    }

    fn enqueue(
        &mut self,
        delay: u64,
        to: usize,
        link: usize,
        from: usize,
        rexmit: bool,
        msg: usize,
    ) {
        self.order += 1;
        self.queue.push(Reverse(Delivery {
            at: self.now + delay,
            order: self.order,
            to,
            link,
            from,
            rexmit,
            msg,
        }));
    }

    fn next_event(&self) -> Option<u64> {
        let mut t = self.queue.peek().map(|Reverse(d)| d.at);
        for h in &self.hosts {
            if let Some((until, _)) = &h.stalled {
                t = Some(t.map_or(*until, |t| t.min(*until)));
            } else if let Some(m) = &h.m {
                let timer = m.poll_timeout().map(|i| i.as_millis());
                for x in [timer, Some(h.next_app)].into_iter().flatten() {
                    t = Some(t.map_or(x, |t| t.min(x)));
                }
            }
        }
        t
    }

    fn run_until(&mut self, end: u64) {
        while let Some(t) = self.next_event().filter(|t| *t <= end) {
            assert!(t >= self.now, "time runs backwards");
            self.now = t;
            self.step();
        }
        self.now = end;
        self.check();
    }

    fn step(&mut self) {
        let now = self.now;
        for i in 0..self.n {
            if self.hosts[i]
                .stalled
                .as_ref()
                .is_some_and(|(t, _)| *t <= now)
            {
                // Back: what waited in the sockets first, then the late timers.
                let (_, waiting) = self.hosts[i].stalled.take().expect("stalled");
                self.log(format!("{} runs again", name(i)));
                for d in waiting {
                    self.hand_in(d);
                }
            }
        }
        while self.queue.peek().is_some_and(|Reverse(d)| d.at <= now) {
            let Some(Reverse(d)) = self.queue.pop() else {
                break;
            };
            if d.to != d.from && self.cut[d.link][d.from][d.to] {
                continue;
            }
            if !self.running(d.to) {
                continue;
            }
            if let Some((_, waiting)) = self.hosts[d.to].stalled.as_mut() {
                waiting.push(d);
                continue;
            }
            self.hand_in(d);
        }
        for i in 0..self.n {
            let at = self.at();
            if self.hosts[i].stalled.is_some() {
                continue;
            }
            let Some(m) = self.hosts[i].m.as_mut() else {
                continue;
            };
            if m.poll_timeout().is_some_and(|t| t.as_millis() <= now) {
                m.handle_timeout(at);
                self.pump(i);
            }
            let h = &mut self.hosts[i];
            if h.next_app <= now {
                if let Some(m) = h.m.as_mut() {
                    h.app += 1;
                    let mut msg = Message::with_type("app");
                    msg.push_str("n", h.app.to_string());
                    m.send_message(at, msg);
                }
                h.next_app = now + self.rng.range(50, 700);
                self.pump(i);
            }
        }
        let waiting = self.hosts.iter().any(|h| h.stalled.is_some());
        if self.queue.is_empty() && !waiting {
            self.in_flight.clear();
        }
        self.check();
    }

    /// Hands a packet to its node.
    fn hand_in(&mut self, d: Delivery) {
        let msg = self.in_flight[d.msg].clone();
        self.record(&d, &msg);
        if self.verbose {
            let f = |k: &str| msg.get_str(k).unwrap_or("-").to_owned();
            let line = format!(
                "{} <- {} eth{} t={} seq={} hg={} dest={}{}",
                name(d.to),
                name(d.from),
                d.link,
                f("t"),
                f("seq"),
                f("hg"),
                f("dest"),
                if d.rexmit { " (rexmit)" } else { "" }
            );
            self.log(line);
        }
        let at = self.at();
        if let Some(m) = self.hosts[d.to].m.as_mut() {
            m.handle_message(at, d.link, msg);
        }
        self.pump(d.to);
    }

    /// Notes what node `d.to` is handed.
    fn record(&mut self, d: &Delivery, msg: &Message) {
        if d.to == d.from {
            return;
        }
        let now = self.now;
        let gen = msg.get_hex("hg").unwrap_or(0);
        let is_status = msg.get_str("t") == Some("status");
        let dt = msg.get_hex("dt").unwrap_or(DEADTIME);
        let r = &mut self.hosts[d.to].heard[d.from];
        r.first.get_or_insert(now);
        if gen >= r.gen {
            r.link[d.link] = Some(now);
        }
        r.gen = r.gen.max(gen);
        if is_status {
            r.status_any = Some(now);
            r.status_deadline = Some(r.status_deadline.map_or(now + dt, |t| t.max(now + dt)));
            if gen == r.gen && !d.rexmit {
                // When it reached the node's socket: a copy that waited out a
                // stall there is as old as it was when it arrived.
                r.status_fresh = Some(d.at);
            }
        }
    }

    // ---- invariants ----------------------------------------------------------------

    fn fail(&self, what: String) -> ! {
        panic!("seed {}: {what}\n{}", self.seed, self.dump());
    }

    fn dump(&self) -> String {
        let keep = if self.verbose { usize::MAX } else { 120 };
        let from = self.trace.len().saturating_sub(keep);
        self.trace[from..].join("\n")
    }

    /// Invariants 2 and 3, when node `a` declares `node` dead.
    fn check_death(&self, a: usize, node: &str) {
        let Some(x) = (0..self.n).find(|x| name(*x) == node) else {
            self.fail(format!("{} declares an unknown node {node} dead", name(a)));
        };
        let r = &self.hosts[a].heard[x];
        if let Some(t) = r.status_fresh {
            if self.now < t + DEADTIME - MAX_DELAY {
                self.fail(format!(
                    "{} declares {node} dead {} ms after a status of its generation {}",
                    name(a),
                    self.now - t,
                    r.gen
                ));
            }
        }
        let m = self.hosts[a].m.as_ref().expect("a running node");
        for l in 0..LINKS {
            if m.link_up(node, l) == Some(true) {
                self.fail(format!(
                    "{} declares {node} dead, but its link eth{l} stays up",
                    name(a)
                ));
            }
        }
    }

    /// Invariant 4.
    fn check_delivery(&mut self, a: usize, from: &str, msg: &Message) {
        let Some(x) = (0..self.n).find(|x| name(*x) == from) else {
            self.fail(format!("{} delivers a message of unknown {from}", name(a)));
        };
        let gen = msg.get_hex("hg").unwrap_or(0);
        let n: u64 = msg
            .get_str("n")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| self.fail(format!("a message without a counter: {msg:?}")));
        let r = &self.hosts[a].heard[x];
        if gen < r.gen {
            self.fail(format!(
                "{} delivers message {n} of {from}'s generation {gen} after seeing generation {}",
                name(a),
                r.gen
            ));
        }
        if let Some((g, last)) = r.delivered {
            if g == gen && n <= last {
                self.fail(format!(
                    "{} delivers message {n} of {from} (generation {gen}) after message {last}",
                    name(a)
                ));
            }
            if g > gen {
                self.fail(format!(
                    "{} delivers a message of {from}'s generation {gen} after one of {g}",
                    name(a)
                ));
            }
        }
        self.hosts[a].heard[x].delivered = Some((gen, n));
    }

    /// Invariants 1 and 3, after every step.
    fn check(&self) {
        for a in 0..self.n {
            let Some(m) = &self.hosts[a].m else {
                continue;
            };
            if self.hosts[a].stalled.is_some() {
                // It cannot act now; it is checked when it runs again.
                continue;
            }
            for x in 0..self.n {
                if x == a {
                    continue;
                }
                let node = name(x);
                let r = &self.hosts[a].heard[x];
                let status = m.node_status(&node).expect("a configured node");
                if status != NodeStatus::Dead {
                    let deadline = if m.comm_up() {
                        match r.status_deadline {
                            Some(t) => t,
                            None => r.first.unwrap_or(self.hosts[a].booted_at) + DEADTIME,
                        }
                    } else {
                        r.status_any.or(r.first).unwrap_or(self.hosts[a].booted_at) + INITDEAD
                    };
                    if self.now > deadline {
                        self.fail(format!(
                            "{} still sees {node} {status}, {} ms past the dead time of what it was handed",
                            name(a),
                            self.now - deadline
                        ));
                    }
                }
                let mut any_up = false;
                for l in 0..LINKS {
                    if m.link_up(&node, l) != Some(true) {
                        continue;
                    }
                    any_up = true;
                    let last = r.link[l].unwrap_or(0);
                    if self.now > last + STARTUP_DT.max(INITDEAD) {
                        self.fail(format!(
                            "{} sees link {node}:eth{l} up, silent for {} ms",
                            name(a),
                            self.now - last
                        ));
                    }
                }
                if matches!(status, NodeStatus::Up | NodeStatus::Active) && !any_up {
                    self.fail(format!(
                        "{} sees {node} {status} with every link dead",
                        name(a)
                    ));
                }
            }
        }
    }

    /// Invariant 5, after a quiet period with every medium healed.
    fn check_converged(&self) {
        for a in 0..self.n {
            let Some(m) = &self.hosts[a].m else {
                continue;
            };
            if !m.comm_up() {
                self.fail(format!("{}: communication never came up", name(a)));
            }
            for x in 0..self.n {
                if x == a {
                    continue;
                }
                let node = name(x);
                let status = m.node_status(&node).expect("a configured node");
                let links: Vec<bool> = (0..LINKS)
                    .map(|l| m.link_up(&node, l) == Some(true))
                    .collect();
                match &self.hosts[x].m {
                    Some(mx) => {
                        if status != mx.local_status() {
                            self.fail(format!(
                                "{} sees {node} {status}, which says it is {}",
                                name(a),
                                mx.local_status()
                            ));
                        }
                        if links.contains(&false) {
                            self.fail(format!("{} sees {node}'s links {links:?}", name(a)));
                        }
                        if m.generation_of(&node) != Some(self.hosts[x].generation) {
                            self.fail(format!(
                                "{} sees {node} in generation {:?}, not {}",
                                name(a),
                                m.generation_of(&node),
                                self.hosts[x].generation
                            ));
                        }
                    }
                    None => {
                        if status != NodeStatus::Dead || links.contains(&true) {
                            self.fail(format!(
                                "{} sees {node}, which is down, {status} with links {links:?}",
                                name(a)
                            ));
                        }
                    }
                }
            }
        }
    }
}

// ---- scenarios ---------------------------------------------------------------------

fn random_run(seed: u64, nodes: (u64, u64)) {
    let mut r = Rng::new(seed ^ 0x6d65_6d62);
    let n = r.range(nodes.0, nodes.1) as usize;
    let mut s = Sim::new(seed, n);
    s.loss = [0, 0, 5, 20][r.range(0, 3) as usize];
    s.dup = [0, 5, 20][r.range(0, 2) as usize];
    s.jitter = [0, 5, 20, MAX_JITTER][r.range(0, 3) as usize];
    let (loss, dup, jitter) = (s.loss, s.dup, s.jitter);
    s.log(format!(
        "{loss}% loss, {dup}% duplicates, jitter {jitter} ms"
    ));
    // Nodes start within a second of each other; some later.
    for i in 0..n {
        let at = r.range(0, 1_000);
        s.run_until(s.now.max(at));
        s.boot(i);
    }
    s.run_until(s.now + 2_000);
    for _ in 0..r.range(6, 12) {
        let pause = r.range(100, 2_500);
        s.run_until(s.now + pause);
        let i = r.range(0, n as u64 - 1) as usize;
        match r.range(0, 12) {
            0..=2 => {
                // One direction of one medium between two nodes.
                let (l, j) = (
                    r.range(0, LINKS as u64 - 1) as usize,
                    r.range(0, n as u64 - 1) as usize,
                );
                if i != j {
                    let cut = !s.cut[l][i][j];
                    s.set_cut(l, i, j, cut);
                    let what = if cut { "cut" } else { "healed" };
                    s.log(format!("eth{l} {}->{} {what}", name(i), name(j)));
                }
            }
            3 | 4 => {
                let side: Vec<bool> = (0..n).map(|_| r.range(0, 1) == 1).collect();
                s.split(&side, r.range(0, 2) > 0);
            }
            5 | 6 => s.heal_all(),
            7 | 8 => {
                if s.running(i) {
                    s.crash(i);
                } else {
                    s.boot(i);
                }
            }
            9 => {
                if s.running(i) {
                    s.stop(i);
                } else {
                    s.boot(i);
                }
            }
            11 => s.stall(i, r.range(50, 1_500)),
            10 => {
                s.loss = [0, 5, 20, 50][r.range(0, 3) as usize];
                let loss = s.loss;
                s.log(format!("{loss}% loss"));
            }
            _ => {
                // Every node down comes back.
                for j in 0..n {
                    if !s.running(j) {
                        s.boot(j);
                    }
                }
            }
        }
    }
    // The tail: every medium repaired, no loss, and quiet. Some nodes stay down.
    s.heal_all();
    s.loss = 0;
    for j in 0..n {
        if !s.running(j) && r.range(0, 1) == 1 {
            s.boot(j);
        }
    }
    s.run_until(s.now + QUIET);
    s.check_converged();
}

/// Random fault schedules on 3 to 5 nodes; every invariant after every step.
#[test]
fn random_faults_on_3_to_5_nodes() {
    seeds::run_seeds(
        "membership_sim",
        "random_faults_on_3_to_5_nodes",
        1000,
        |seed| {
            random_run(seed, (3, 5));
        },
    );
}

/// The same on 6 to 8 nodes (a separate test: both run in parallel).
#[test]
fn random_faults_on_6_to_8_nodes() {
    seeds::run_seeds(
        "membership_sim",
        "random_faults_on_6_to_8_nodes",
        250,
        |seed| {
            random_run(seed, (6, 8));
        },
    );
}

/// A node powered off among several: every survivor declares it dead with its
/// links, within its dead time; it comes back in a new generation, links up.
#[test]
fn a_node_lost_among_five_dies_with_its_links_and_returns() {
    let mut s = Sim::new(7, 5);
    s.jitter = 20;
    for i in 0..5 {
        s.boot(i);
    }
    s.run_until(6_000);
    s.check_converged();
    s.crash(2);
    s.run_until(s.now + DEADTIME + 100);
    for a in [0, 1, 3, 4] {
        let m = s.hosts[a].m.as_ref().expect("running");
        assert_eq!(m.node_status("n3"), Some(NodeStatus::Dead), "{}", s.dump());
        assert_eq!(m.link_up("n3", 0), Some(false), "{}", s.dump());
        assert_eq!(m.link_up("n3", 1), Some(false), "{}", s.dump());
    }
    s.boot(2);
    s.run_until(s.now + QUIET);
    s.check_converged();
    let ups = s
        .trace
        .iter()
        .filter(|l| {
            !l.contains(" n3: ")
                && (l.contains("Link n3:eth0 up.") || l.contains("Link n3:eth1 up."))
        })
        .count();
    assert_eq!(
        ups,
        2 * 4 * 2,
        "each survivor saw both links up twice\n{}",
        s.dump()
    );
}

/// Seeds that once failed, found by the 100,000-seed search of issue 15; run
/// by `seeds_that_found_bugs_stay_fixed` on every `cargo test` (the random
/// tests draw a fresh base seed every run). `(seed, nodes)`.
///
/// - 77452: a node that had heard only an ack of n3 got n3's next message
///   before the status n3 had sent just ahead of it; sequence tracking had
///   started at that message, the status was dropped as a duplicate, and n3
///   was declared dead while beating
///   (`membership::tests::a_first_status_overtaken_by_the_next_message_still_counts`).
/// - 22805 ("n4 declares n2 dead 51 ms after a status of its generation 1"):
///   passes since main 71ce2cc, before the fix of 77452 (fixed by an earlier
///   change, not traced again).
/// - 119287766170 (6-8 nodes, drawn by a CI-style run of 71ce2cc: "n3 declares
///   n4 dead 173 ms after a status of its generation 1"): fails on 71ce2cc and
///   passes with the fix of 77452.
const SEEDS_THAT_FOUND_BUGS: &[(u64, (u64, u64))] =
    &[(22805, (3, 5)), (77452, (3, 5)), (119_287_766_170, (6, 8))];

/// Every seed that once found a bug.
#[test]
fn seeds_that_found_bugs_stay_fixed() {
    let mut failing = Vec::new();
    for &(seed, nodes) in SEEDS_THAT_FOUND_BUGS {
        if std::panic::catch_unwind(|| random_run(seed, nodes)).is_err() {
            failing.push(seed);
        }
    }
    assert!(failing.is_empty(), "failing again: {failing:?}");
}
