//! The demo's client: HTTP requests to the service address from inside the
//! client's network namespace, every 10 ms, each recording when it started,
//! when it ended and which node answered.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How often a probe starts.
pub const EVERY: Duration = Duration::from_millis(10);

/// How long one probe waits to connect, and then for the answer.
const TIMEOUT: Duration = Duration::from_millis(300);

/// One probe's result.
#[derive(Debug, Clone)]
pub struct Reply {
    /// When it started.
    pub start: Instant,
    /// When it got its answer or gave up.
    pub done: Instant,
    /// The node that answered (`None`: no answer).
    pub from: Option<String>,
}

/// Enters the network namespace `ns` (this thread only).
fn enter(ns: &str) -> anyhow::Result<()> {
    let f = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("opening namespace {ns}"))?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering namespace {ns}"))?;
    Ok(())
}

/// One HTTP/1.0 request; the last line of the body names the node.
fn ask(to: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&to, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.set_write_timeout(Some(TIMEOUT)).ok()?;
    // The service does not read it; a real client sends it.
    let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    if !body.starts_with("HTTP/1.0 200") {
        return None;
    }
    body.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
}

fn target(addr: &str, port: u16) -> anyhow::Result<SocketAddr> {
    format!("{addr}:{port}")
        .parse()
        .context("the service address")
}

/// One request from inside `ns`.
pub fn once(ns: &str, addr: &str, port: u16) -> anyhow::Result<Option<String>> {
    let to = target(addr, port)?;
    let ns = ns.to_owned();
    std::thread::spawn(move || -> anyhow::Result<Option<String>> {
        enter(&ns)?;
        Ok(ask(to))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the probe thread failed"))?
}

/// Probes every [`EVERY`] until stopped.
pub struct Probe {
    stop: Arc<AtomicBool>,
    replies: Arc<Mutex<Vec<Reply>>>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Starts probing `addr:port` from inside `ns`.
    pub fn start(ns: &str, addr: &str, port: u16) -> anyhow::Result<Probe> {
        let to = target(addr, port)?;
        let stop = Arc::new(AtomicBool::new(false));
        let replies = Arc::new(Mutex::new(Vec::new()));
        let (ns, stop2, replies2) = (ns.to_owned(), Arc::clone(&stop), Arc::clone(&replies));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("demo-probe".into())
            .spawn(move || {
                // Threads started from here are in the namespace too.
                let entered = enter(&ns);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if ok {
                    dispatch(to, &stop2, &replies2);
                }
            })
            .context("starting the probe thread")?;
        ready_rx
            .recv()
            .context("the probe thread ended at once")??;
        Ok(Probe {
            stop,
            replies,
            thread: Some(thread),
        })
    }

    /// How many answers came from `node` so far.
    pub fn answers_from(&self, node: &str) -> usize {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|r| r.from.as_deref() == Some(node))
            .count()
    }

    /// Stops, waits for the probes in flight, returns every reply in start order.
    pub fn stop(mut self) -> Vec<Reply> {
        self.halt();
        let mut v =
            std::mem::take(&mut *self.replies.lock().unwrap_or_else(PoisonError::into_inner));
        v.sort_by_key(|r| r.start);
        v
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts a probe every [`EVERY`], each in a thread of its own (so a probe
/// that waits for a dead node does not delay the next); at most
/// `TIMEOUT / EVERY` × 2 are in flight.
fn dispatch(to: SocketAddr, stop: &AtomicBool, replies: &Arc<Mutex<Vec<Reply>>>) {
    let mut inflight: Vec<JoinHandle<()>> = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        inflight.retain(|h| !h.is_finished());
        let replies = Arc::clone(replies);
        let spawned = std::thread::Builder::new()
            .name("demo-probe-1".into())
            .spawn(move || {
                let start = Instant::now();
                let from = ask(to);
                let r = Reply {
                    start,
                    done: Instant::now(),
                    from,
                };
                replies
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(r);
            });
        if let Ok(h) = spawned {
            inflight.push(h);
        }
        next += EVERY;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    for h in inflight {
        let _ = h.join();
    }
}
