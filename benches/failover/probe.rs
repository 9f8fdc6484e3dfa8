//! The client: a thread inside the client node's network namespace that opens
//! a new TCP connection to the service address every 10 ms and records who
//! answered (each node's responder writes its name), or that nobody did.
//!
//! Every outage the benchmark reports is computed from these records, as the
//! client saw it: from the last answer of the old owner to the first answer of
//! the new one. Nothing is taken from the daemons' logs.

use std::fs::File;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use nix::sched::{setns, CloneFlags};
use tokio::io::AsyncReadExt as _;

/// How often a new connection is opened.
pub const PERIOD: Duration = Duration::from_millis(10);
/// How long one connection (connect, then read the name) may take before it
/// counts as unanswered. Shorter than TCP's first SYN retransmission (1 s), so
/// an attempt never succeeds late on a retransmitted SYN.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(250);

/// One connection attempt.
#[derive(Clone, Debug)]
pub struct Record {
    /// When it completed: the answer arrived, or it failed or timed out.
    pub at: Instant,
    /// The node name read from the connection; `None` if nobody answered.
    pub who: Option<String>,
}

struct Shared {
    /// Completed attempts, roughly in completion order (see [`Probe::since`]).
    records: Mutex<Vec<Record>>,
    /// Whether attempts are made at all (off while idle cost is measured).
    active: AtomicBool,
    /// Set once by [`Probe`]'s drop: the thread leaves its loop.
    quit: AtomicBool,
    /// Why the thread could not start probing, if it could not.
    failed: Mutex<Option<String>>,
}

/// The running probe; dropping it stops the thread.
pub struct Probe {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Starts probing `target` from the network namespace `/run/netns/NETNS`.
    pub fn start(netns: &str, target: SocketAddr) -> Result<Probe> {
        let shared = Arc::new(Shared {
            records: Mutex::new(Vec::new()),
            active: AtomicBool::new(true),
            quit: AtomicBool::new(false),
            failed: Mutex::new(None),
        });
        let path = format!("/run/netns/{netns}");
        let ns = File::open(&path).with_context(|| format!("open {path}"))?;
        let thread = std::thread::Builder::new()
            .name("probe".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    if let Err(e) = run(&shared, ns, target) {
                        *shared.failed.lock().unwrap() = Some(format!("{e:#}"));
                    }
                }
            })
            .context("start the probe thread")?;
        Ok(Probe {
            shared,
            thread: Some(thread),
        })
    }

    /// Stops or resumes making attempts.
    pub fn set_active(&self, on: bool) {
        self.shared.active.store(on, Ordering::SeqCst);
    }

    /// The attempts completed at or after `from`, sorted by completion time.
    /// Fails if the probe thread has died.
    pub fn since(&self, from: Instant) -> Result<Vec<Record>> {
        if let Some(why) = self.shared.failed.lock().unwrap().as_ref() {
            bail!("the client probe stopped: {why}");
        }
        let mut out: Vec<Record> = self
            .shared
            .records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.at >= from)
            .cloned()
            .collect();
        out.sort_by_key(|r| r.at);
        Ok(out)
    }

    /// Drops the records completed before `before` (they are never needed again).
    pub fn forget_before(&self, before: Instant) {
        self.shared
            .records
            .lock()
            .unwrap()
            .retain(|r| r.at >= before);
    }

    /// Waits until `who` answers in an attempt completed at or after `from`,
    /// and returns when that answer arrived. Fails after `timeout`, saying who
    /// answered meanwhile.
    pub fn wait_answer(&self, who: &str, from: Instant, timeout: Duration) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let recs = self.since(from)?;
            if let Some(r) = recs.iter().find(|r| r.who.as_deref() == Some(who)) {
                return Ok(r.at);
            }
            if Instant::now() > deadline {
                let last = recs.last().map(|r| r.who.clone());
                bail!(
                    "{who} did not answer on the service address within {timeout:?} \
                     ({} attempts, the last answered by {last:?})",
                    recs.len()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.shared.quit.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The probe thread: joins the client's network namespace (this thread only;
/// every socket it creates belongs to that namespace), then runs a
/// single-threaded runtime that starts one attempt per [`PERIOD`].
fn run(shared: &Arc<Shared>, ns: File, target: SocketAddr) -> Result<()> {
    setns(&ns, CloneFlags::CLONE_NEWNET).context("setns into the client's network namespace")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("the probe's runtime")?;
    rt.block_on(async {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while !shared.quit.load(Ordering::SeqCst) {
            tick.tick().await;
            if !shared.active.load(Ordering::SeqCst) {
                continue;
            }
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                let who = tokio::time::timeout(ATTEMPT_TIMEOUT, ask(target))
                    .await
                    .ok()
                    .flatten();
                let at = Instant::now();
                shared.records.lock().unwrap().push(Record { at, who });
            });
        }
    });
    Ok(())
}

/// One attempt: connect, read the name until the responder closes.
async fn ask(target: SocketAddr) -> Option<String> {
    let mut conn = tokio::net::TcpStream::connect(target).await.ok()?;
    let mut buf = Vec::with_capacity(32);
    (&mut conn).take(64).read_to_end(&mut buf).await.ok()?;
    let name = String::from_utf8_lossy(&buf).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// A tiny TCP responder: every connection gets `name` and a newline, then is
/// closed. Runs in the foreground inside a node (the benchmark starts its own
/// executable there with `--responder NAME PORT`); no process per connection,
/// so the client's 100 connections a second cost the node almost nothing.
pub fn responder(name: &str, port: u16) -> Result<()> {
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind(("0.0.0.0", port))
        .with_context(|| format!("bind port {port}"))?;
    let reply = format!("{name}\n");
    // A failed accept (e.g. the client gave up) is nothing to stop for.
    for mut conn in listener.incoming().flatten() {
        let _ = conn.write_all(reply.as_bytes());
    }
    Ok(())
}
