//! The Prometheus endpoint (`metrics_listen`, issue 7) on two of our nodes:
//! each serves `GET /metrics` on 127.0.0.1:9100 inside its namespace. The
//! body is parsed with a real Prometheus text-format parser (the
//! `prometheus-parse` crate), every line of it must be one the parser
//! understands, and the numbers must say what happened: n2 measured n1's
//! status intervals on eth1 (keepalive 200 ms); then n1 dies, and n2 counts
//! the death, the link's death, and the takeover of n1's group with its
//! script run.

use prometheus_parse::{LineInfo, Scrape, Value};

use crate::failover::{start, use_builtin_ip, LOG, LONG, SCRIPT, VIP};
use crate::harness::{wait_until, Cluster, Node, Topology};

const ADDR: &str = "127.0.0.1:9100";
const HA_CF: &str = "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nnode n1 n2\nmetrics_listen 127.0.0.1:9100\n";

fn setup(node: &Node) {
    node.write_file("/etc/ha.d/ha.cf", HA_CF, 0o644);
    node.write_file(
        "/etc/ha.d/haresources",
        &format!("n1 {VIP}/24/eth0 svc\n"),
        0o644,
    );
    node.write_file(
        "/etc/ha.d/authkeys",
        "auth 1\n1 sha1 metrics-test-key\n",
        0o600,
    );
    node.write_file("/etc/ha.d/resource.d/svc", SCRIPT, 0o755);
    use_builtin_ip(node);
}

/// The raw HTTP answer to `GET path` on the node's endpoint (socat inside the
/// node's namespace), split into head and body.
fn get(node: &Node, path: &str) -> (String, String) {
    let script = format!(
        "printf 'GET {path} HTTP/1.0\\r\\nHost: {ADDR}\\r\\n\\r\\n' | socat -t 5 - TCP:{ADDR},connect-timeout=2"
    );
    let out = node.exec(&["sh", "-c", &script]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "GET {path} on {}: {}\n{text}{}",
        node.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    match text.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_owned(), body.to_owned()),
        None => panic!("GET {path} on {}: no HTTP answer:\n{text}", node.name()),
    }
}

/// `/metrics` on the node, checked line by line and parsed.
fn scrape(node: &Node) -> Scrape {
    let (head, body) = get(node, "/metrics");
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    for line in body.lines() {
        assert!(
            !matches!(LineInfo::parse(line), LineInfo::Ignored),
            "a line the Prometheus parser does not understand: {line:?}\nin\n{body}"
        );
    }
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not the Prometheus text format ({e}):\n{body}"))
}

/// The value of the sample `metric` whose labels include `labels` (a counter,
/// a gauge, or a histogram's `_sum`/`_count`), if present.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.last().map_or(0.0, |c| c.count),
            Value::Summary(_) => panic!("{metric} is a summary"),
        })
}

/// The buckets of histogram `metric` with `labels`: (upper bound, cumulative count).
fn buckets(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Histogram(b) => b.iter().map(|c| (c.less_than, c.count)).collect(),
            other => panic!("{metric} is not a histogram: {other:?}"),
        })
        .unwrap_or_default()
}

#[test]
fn the_metrics_endpoint_counts_intervals_deaths_and_takeovers() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    for node in [n1, n2] {
        setup(node);
    }
    let _d1 = start(n1);
    let _d2 = start(n2);
    n1.wait_for_log(LOG, "Resource group", LONG);

    // n2 measured n1's status intervals on eth1: at keepalive 200 ms, most of
    // them under half a second, none over deadtime.
    let link = [("node", "n1"), ("link", "eth1")];
    let s = wait_until(
        "n2 to count 10 status intervals from n1 on eth1",
        LONG,
        || {
            let s = scrape(n2);
            (value(&s, "heartbeat_status_interval_seconds_count", &link)? >= 10.0).then_some(s)
        },
    );
    let count = value(&s, "heartbeat_status_interval_seconds_count", &link).expect("a count");
    let sum = value(&s, "heartbeat_status_interval_seconds_sum", &link).expect("a sum");
    let mean = sum / count;
    assert!(
        (0.1..0.6).contains(&mean),
        "mean interval {mean} s at keepalive 200 ms"
    );
    let b = buckets(&s, "heartbeat_status_interval_seconds", &link);
    let le = |bound: f64| {
        b.iter()
            .find(|(le, _)| *le == bound)
            .map_or_else(|| panic!("no bucket {bound} in {b:?}"), |(_, n)| *n)
    };
    assert!(le(0.5) >= count * 0.8, "{b:?}");
    assert_eq!(le(f64::INFINITY), count, "{b:?}");
    assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative: {b:?}");
    assert_eq!(value(&s, "heartbeat_node_up", &[("node", "n1")]), Some(1.0));
    assert_eq!(value(&s, "heartbeat_node_up", &[("node", "n2")]), Some(1.0));
    assert_eq!(
        value(&s, "heartbeat_node_deaths_total", &[("node", "n1")]),
        None
    );
    assert_eq!(
        value(&s, "heartbeat_takeover_seconds_count", &[]),
        Some(0.0)
    );
    for family in [
        "heartbeat_late_heartbeats_total",
        "heartbeat_link_deaths_total",
        "heartbeat_dropped_packets_total",
        "heartbeat_script_seconds",
        "heartbeat_script_failures_total",
    ] {
        assert!(
            s.docs.contains_key(family),
            "no HELP for {family}: {:?}",
            s.docs
        );
    }
    // n1 acquired its group at start: one takeover, and svc's start timed.
    let s1 = scrape(n1);
    assert_eq!(
        value(&s1, "heartbeat_takeover_seconds_count", &[]),
        Some(1.0)
    );
    assert!(value(
        &s1,
        "heartbeat_script_seconds_count",
        &[("script", "svc"), ("op", "start")]
    )
    .is_some_and(|n| n >= 1.0));
    // Another path is not found.
    let (head, _) = get(n2, "/");
    assert!(head.starts_with("HTTP/1.0 404 "), "{head}");

    // n1 dies: n2 counts the death of the node and of its link, takes the
    // group over (one takeover, svc started), and n1 is no longer up.
    n1.kill_all();
    let s = wait_until("n2 to count n1's death and its takeover", LONG, || {
        let s = scrape(n2);
        (value(&s, "heartbeat_node_deaths_total", &[("node", "n1")]) == Some(1.0)
            && value(&s, "heartbeat_takeover_seconds_count", &[]) == Some(1.0))
        .then_some(s)
    });
    assert_eq!(value(&s, "heartbeat_node_up", &[("node", "n1")]), Some(0.0));
    assert!(
        value(&s, "heartbeat_link_deaths_total", &link).is_some_and(|n| n >= 1.0),
        "no link death counted"
    );
    let took = value(&s, "heartbeat_takeover_seconds_sum", &[]).expect("a sum");
    assert!((0.0..30.0).contains(&took), "takeover took {took} s");
    assert!(
        value(
            &s,
            "heartbeat_script_seconds_count",
            &[("script", "svc"), ("op", "start")]
        )
        .is_some_and(|n| n >= 1.0),
        "svc start not timed on n2"
    );
    assert_eq!(
        value(
            &s,
            "heartbeat_script_failures_total",
            &[("script", "svc"), ("op", "start")]
        ),
        None
    );
}
