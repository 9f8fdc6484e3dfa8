//! The Prometheus metrics (`metrics_listen`): a small registry the node table
//! and the resource manager write to, rendered in the Prometheus text format
//! (0.0.4), and a minimal HTTP/1.0 server answering `GET /metrics`.
//!
//! The registry sits behind a mutex held only to bump a counter or render the
//! text: the heartbeat path never waits on a scraper's socket. The server runs
//! as its own task, one connection at a time, with a bounded request and a
//! read deadline, so a slow or hostile client costs it at most [`READ_TIMEOUT`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use slog::{debug, Logger};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Buckets of `heartbeat_status_interval_seconds` (around keepalive).
pub const INTERVAL_BUCKETS: &[f64] = &[0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];
/// Buckets of `heartbeat_takeover_seconds`.
pub const TAKEOVER_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];
/// Buckets of `heartbeat_script_seconds`.
pub const SCRIPT_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// Longest request head read (the request line and headers).
pub const MAX_REQUEST: usize = 4096;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to read the answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Observations with fixed upper bounds.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bound: observations at most that bound and above the previous one
    /// (made cumulative when rendered).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Registry {
    intervals: BTreeMap<(String, String), Histogram>,
    late: BTreeMap<String, u64>,
    node_deaths: BTreeMap<String, u64>,
    link_deaths: BTreeMap<(String, String), u64>,
    dropped: BTreeMap<&'static str, u64>,
    takeover: Option<Histogram>,
    scripts: BTreeMap<(String, &'static str), Histogram>,
    script_failures: BTreeMap<(String, &'static str), u64>,
    node_up: BTreeMap<String, bool>,
}

/// A handle on the shared registry (cheap to clone). Every component gets one;
/// without `metrics_listen` nobody reads it.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Registry>>);

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic aborts the process (profile), so a poisoned lock cannot be seen;
        // take the data anyway rather than panic in a metrics call.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A status from `node` arrived on `link`, `interval` after its previous one there.
    pub fn status_interval(&self, node: &str, link: &str, interval: Duration) {
        self.lock()
            .intervals
            .entry((node.to_owned(), link.to_owned()))
            .or_insert_with(|| Histogram::new(INTERVAL_BUCKETS))
            .observe(interval.as_secs_f64());
    }

    /// A late heartbeat from `node` (after warntime).
    pub fn late_heartbeat(&self, node: &str) {
        *self.lock().late.entry(node.to_owned()).or_default() += 1;
    }

    /// `node` was declared dead.
    pub fn node_death(&self, node: &str) {
        *self.lock().node_deaths.entry(node.to_owned()).or_default() += 1;
    }

    /// `node`'s `link` was declared dead.
    pub fn link_death(&self, node: &str, link: &str) {
        *self
            .lock()
            .link_deaths
            .entry((node.to_owned(), link.to_owned()))
            .or_default() += 1;
    }

    /// A packet was dropped for `reason`: by a link, `bad_auth` (it parses but
    /// fails authentication), `malformed` (it does not parse), `oversized`
    /// (serial) or `table_full` (the node table's mailbox was full); by the
    /// node table, `malformed`, `unknown_node`, `replay` or `duplicate`.
    pub fn dropped(&self, reason: &'static str) {
        *self.lock().dropped.entry(reason).or_default() += 1;
    }

    /// The dropped-packet counts so far, by reason.
    pub fn drops(&self) -> BTreeMap<String, u64> {
        self.lock()
            .dropped
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    /// A resource group was acquired in `took`.
    pub fn takeover(&self, took: Duration) {
        self.lock()
            .takeover
            .get_or_insert_with(|| Histogram::new(TAKEOVER_BUCKETS))
            .observe(took.as_secs_f64());
    }

    /// A resource script (or the built-in IPaddr) ran `op` in `took`; `failed`
    /// when it did not do what was asked (a timeout, or a failed start or stop).
    pub fn script(&self, script: &str, op: &'static str, took: Duration, failed: bool) {
        let mut r = self.lock();
        let key = (script.to_owned(), op);
        if failed {
            *r.script_failures.entry(key.clone()).or_default() += 1;
        }
        r.scripts
            .entry(key)
            .or_insert_with(|| Histogram::new(SCRIPT_BUCKETS))
            .observe(took.as_secs_f64());
    }

    /// Whether `node` is up (heard from and not dead).
    pub fn node_up(&self, node: &str, up: bool) {
        let mut r = self.lock();
        match r.node_up.get_mut(node) {
            Some(v) => *v = up,
            None => {
                r.node_up.insert(node.to_owned(), up);
            }
        }
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let r = self.lock();
        let mut o = String::with_capacity(4096);
        head(
            &mut o,
            "heartbeat_node_up",
            "gauge",
            "1 when the node is up (heard from and not dead), else 0.",
        );
        for (node, up) in &r.node_up {
            sample(
                &mut o,
                "heartbeat_node_up",
                &[("node", node)],
                u64::from(*up),
            );
        }
        head(
            &mut o,
            "heartbeat_status_interval_seconds",
            "histogram",
            "Interval between successive status messages from a node on one link.",
        );
        for ((node, link), h) in &r.intervals {
            histogram(
                &mut o,
                "heartbeat_status_interval_seconds",
                &[("node", node), ("link", link)],
                h,
            );
        }
        head(
            &mut o,
            "heartbeat_late_heartbeats_total",
            "counter",
            "Status messages that came later than warntime.",
        );
        for (node, n) in &r.late {
            sample(
                &mut o,
                "heartbeat_late_heartbeats_total",
                &[("node", node)],
                *n,
            );
        }
        head(
            &mut o,
            "heartbeat_node_deaths_total",
            "counter",
            "Times a node was declared dead.",
        );
        for (node, n) in &r.node_deaths {
            sample(&mut o, "heartbeat_node_deaths_total", &[("node", node)], *n);
        }
        head(
            &mut o,
            "heartbeat_link_deaths_total",
            "counter",
            "Times a link of a node was declared dead.",
        );
        for ((node, link), n) in &r.link_deaths {
            sample(
                &mut o,
                "heartbeat_link_deaths_total",
                &[("node", node), ("link", link)],
                *n,
            );
        }
        head(
            &mut o,
            "heartbeat_dropped_packets_total",
            "counter",
            "Packets dropped before membership, by reason.",
        );
        for (reason, n) in &r.dropped {
            sample(
                &mut o,
                "heartbeat_dropped_packets_total",
                &[("reason", reason)],
                *n,
            );
        }
        head(
            &mut o,
            "heartbeat_takeover_seconds",
            "histogram",
            "Time to acquire a resource group.",
        );
        let empty = Histogram::new(TAKEOVER_BUCKETS);
        histogram(
            &mut o,
            "heartbeat_takeover_seconds",
            &[],
            r.takeover.as_ref().unwrap_or(&empty),
        );
        head(
            &mut o,
            "heartbeat_script_seconds",
            "histogram",
            "Run time of resource scripts, by script and operation.",
        );
        for ((script, op), h) in &r.scripts {
            histogram(
                &mut o,
                "heartbeat_script_seconds",
                &[("script", script), ("op", op)],
                h,
            );
        }
        head(
            &mut o,
            "heartbeat_script_failures_total",
            "counter",
            "Resource script runs that failed or timed out.",
        );
        for ((script, op), n) in &r.script_failures {
            sample(
                &mut o,
                "heartbeat_script_failures_total",
                &[("script", script), ("op", op)],
                *n,
            );
        }
        o
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// `{a="x",b="y"}` with the text format's escapes (backslash, quote, newline).
fn labels(o: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
    let mut first = true;
    for (k, v) in all {
        o.push(if first { '{' } else { ',' });
        first = false;
        o.push_str(k);
        o.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => o.push_str("\\\\"),
                '"' => o.push_str("\\\""),
                '\n' => o.push_str("\\n"),
                c => o.push(c),
            }
        }
        o.push('"');
    }
    if !first {
        o.push('}');
    }
}

fn sample(o: &mut String, name: &str, l: &[(&str, &str)], v: u64) {
    o.push_str(name);
    labels(o, l, None);
    let _ = writeln!(o, " {v}");
}

fn histogram(o: &mut String, name: &str, l: &[(&str, &str)], h: &Histogram) {
    let mut cumulative = 0;
    for (bound, n) in h.bounds.iter().zip(&h.counts) {
        cumulative += n;
        let _ = write!(o, "{name}_bucket");
        labels(o, l, Some(&bound.to_string()));
        let _ = writeln!(o, " {cumulative}");
    }
    let _ = write!(o, "{name}_bucket");
    labels(o, l, Some("+Inf"));
    let _ = writeln!(o, " {}", h.count);
    let _ = write!(o, "{name}_sum");
    labels(o, l, None);
    let _ = writeln!(o, " {}", h.sum);
    let _ = write!(o, "{name}_count");
    labels(o, l, None);
    let _ = writeln!(o, " {}", h.count);
}

/// Binds the metrics address (before the actors start, so that a taken port is
/// a start-up error).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Starts [`serve`] on the current actix system (call inside it).
pub fn spawn(
    listener: std::net::TcpListener,
    metrics: Metrics,
    log: &Logger,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let log = log.new(slog::o!("actor" => "metrics"));
    actix::spawn(serve(listener, metrics, log));
    Ok(())
}

/// Serves `GET /metrics` on `listener` until the task is dropped, one
/// connection at a time (a scraper needs no more, and nothing piles up).
pub async fn serve(listener: tokio::net::TcpListener, metrics: Metrics, log: Logger) {
    loop {
        let (mut conn, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                debug!(log, "metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let answer = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut conn)).await {
            Ok(Some(head)) => respond(&head, &metrics),
            Ok(None) => response("400 Bad Request", "bad request\n"),
            Err(_) => {
                debug!(log, "metrics: {peer} sent no request in time");
                continue;
            }
        };
        let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
            conn.write_all(&answer).await?;
            conn.shutdown().await
        })
        .await;
    }
}

/// Reads up to the blank line that ends a request head; `None` when the client
/// closed first or sent more than [`MAX_REQUEST`] bytes without ending it.
async fn read_head(conn: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Some(buf);
        }
        if buf.len() >= MAX_REQUEST {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The answer to a request head: the metrics for `GET /metrics`, 404 for
/// another path, 405 for another method.
pub fn respond(head: &[u8], metrics: &Metrics) -> Vec<u8> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next(), words.next());
    let path = target.map(|t| t.split('?').next().unwrap_or_default());
    match (method, path) {
        (Some("GET"), Some("/metrics")) => response("200 OK", &metrics.render()),
        (Some("GET"), Some(_)) => response("404 Not Found", "not found: try /metrics\n"),
        (Some(_), Some(_)) => response("405 Method Not Allowed", "only GET\n"),
        _ => response("400 Bad Request", "bad request\n"),
    }
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_registry_renders_every_family_and_a_zero_takeover_histogram() {
        let text = Metrics::default().render();
        for family in [
            "heartbeat_node_up gauge",
            "heartbeat_status_interval_seconds histogram",
            "heartbeat_late_heartbeats_total counter",
            "heartbeat_node_deaths_total counter",
            "heartbeat_link_deaths_total counter",
            "heartbeat_dropped_packets_total counter",
            "heartbeat_takeover_seconds histogram",
            "heartbeat_script_seconds histogram",
            "heartbeat_script_failures_total counter",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family}\n")),
                "{family}:\n{text}"
            );
        }
        assert!(
            text.contains("heartbeat_takeover_seconds_bucket{le=\"+Inf\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("heartbeat_takeover_seconds_count 0\n"),
            "{text}"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let m = Metrics::default();
        for ms in [40, 1000, 1000, 1500, 30_000] {
            m.status_interval("n2", "eth1", Duration::from_millis(ms));
        }
        let text = m.render();
        let l = "node=\"n2\",link=\"eth1\"";
        for (le, n) in [
            ("0.05", 1),
            ("0.1", 1),
            ("0.5", 1),
            ("1", 3),
            ("2", 4),
            ("10", 4),
            ("+Inf", 5),
        ] {
            let line = format!("heartbeat_status_interval_seconds_bucket{{{l},le=\"{le}\"}} {n}\n");
            assert!(text.contains(&line), "{line}in\n{text}");
        }
        assert!(
            text.contains(&format!(
                "heartbeat_status_interval_seconds_sum{{{l}}} 33.54\n"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "heartbeat_status_interval_seconds_count{{{l}}} 5\n"
            )),
            "{text}"
        );
    }

    #[test]
    fn counters_and_gauges_carry_their_labels() {
        let m = Metrics::default();
        m.node_up("n1", true);
        m.node_up("n2", true);
        m.node_up("n2", false);
        m.late_heartbeat("n2");
        m.node_death("n2");
        m.node_death("n2");
        m.link_death("n2", "eth1");
        m.dropped("duplicate");
        m.takeover(Duration::from_millis(300));
        m.script("svc", "start", Duration::from_millis(20), false);
        m.script("svc", "stop", Duration::from_millis(20), true);
        let text = m.render();
        for line in [
            "heartbeat_node_up{node=\"n1\"} 1",
            "heartbeat_node_up{node=\"n2\"} 0",
            "heartbeat_late_heartbeats_total{node=\"n2\"} 1",
            "heartbeat_node_deaths_total{node=\"n2\"} 2",
            "heartbeat_link_deaths_total{node=\"n2\",link=\"eth1\"} 1",
            "heartbeat_dropped_packets_total{reason=\"duplicate\"} 1",
            "heartbeat_takeover_seconds_bucket{le=\"0.25\"} 0",
            "heartbeat_takeover_seconds_bucket{le=\"0.5\"} 1",
            "heartbeat_script_seconds_count{script=\"svc\",op=\"start\"} 1",
            "heartbeat_script_failures_total{script=\"svc\",op=\"stop\"} 1",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        assert!(
            !text.contains("heartbeat_script_failures_total{script=\"svc\",op=\"start\"}"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.node_death("a\"b\\c\nd");
        assert!(
            m.render()
                .contains("heartbeat_node_deaths_total{node=\"a\\\"b\\\\c\\nd\"} 1\n"),
            "{}",
            m.render()
        );
    }

    #[test]
    fn only_get_metrics_answers_with_the_metrics() {
        let m = Metrics::default();
        let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
        let ok = text(respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &m));
        assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{ok}"
        );
        let body = ok.split("\r\n\r\n").nth(1).expect("a body");
        assert!(
            ok.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
            "{ok}"
        );
        assert!(body.contains("# TYPE heartbeat_node_up gauge"), "{body}");
        assert!(
            text(respond(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", &m)).starts_with("HTTP/1.0 200 ")
        );
        assert!(text(respond(b"GET / HTTP/1.0\r\n\r\n", &m)).starts_with("HTTP/1.0 404 "));
        assert!(text(respond(b"POST /metrics HTTP/1.0\r\n\r\n", &m)).starts_with("HTTP/1.0 405 "));
        assert!(text(respond(b"\r\n\r\n", &m)).starts_with("HTTP/1.0 400 "));
    }

    /// A client that connects and sends nothing is cut off after the read
    /// deadline, and the next client is served (time paused: no real wait).
    #[tokio::test(start_paused = true)]
    async fn a_silent_client_does_not_hold_the_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log = Logger::root(slog::Discard, slog::o!());
        let server = tokio::spawn(serve(listener, Metrics::default(), log));
        let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        client
            .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
        // The silent one was closed without an answer.
        let mut rest = Vec::new();
        silent.read_to_end(&mut rest).await.expect("read");
        assert!(rest.is_empty());
        server.abort();
    }

    /// A request head longer than the bound gets a 400, not an unbounded buffer.
    #[tokio::test]
    async fn an_endless_request_head_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log = Logger::root(slog::Discard, slog::o!());
        let server = tokio::spawn(serve(listener, Metrics::default(), log));
        let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        // Exactly the bound: the server reads all of it (unread bytes would make
        // its close a reset).
        let junk = vec![b'a'; MAX_REQUEST];
        client.write_all(&junk).await.expect("write");
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.0 400 "), "{answer}");
        server.abort();
    }
}
