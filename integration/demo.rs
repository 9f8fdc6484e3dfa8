//! `heartbeat demo`, the README's main command: it must fail over, print the
//! outage the client measured and the survivor's explanation, and leave
//! nothing behind, also when it is interrupted.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{require_root, run_with_timeout, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

/// Far more than the demo's minute.
const DEMO_TIMEOUT: Duration = Duration::from_secs(240);

/// The demo's name prefix, from its first step's line.
fn tag_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split("namespaces ").nth(1))
        .and_then(|s| s.split("-*").next())
        .expect("the demo names its namespaces")
        .to_owned()
}

/// Namespaces, temporary directories and processes named after `tag`.
fn leftovers(tag: &str) -> Vec<String> {
    let mut left = Vec::new();
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    for l in String::from_utf8_lossy(&netns.stdout).lines() {
        if l.contains(tag) {
            left.push(format!("namespace {l}"));
        }
    }
    if std::env::temp_dir().join(tag).exists() {
        left.push(format!("directory /tmp/{tag}"));
    }
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(tag) {
            left.push(format!(
                "process {}: {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    left
}

#[test]
fn the_demo_fails_over_measures_the_outage_explains_and_cleans_up() {
    require_root();
    let mut cmd = Command::new(BIN);
    cmd.arg("demo");
    let out = run_with_timeout(cmd, DEMO_TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");
    let outage: u64 = stdout
        .split("client-visible outage: ")
        .nth(1)
        .and_then(|s| s.split(" ms").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no measured outage:\n{stdout}"));
    // deadtime is 1 s: the client cannot be served again sooner than most of
    // it, and takeover is quick after it.
    assert!(
        (500..20_000).contains(&outage),
        "outage {outage} ms:\n{stdout}"
    );
    for line in [
        "heartbeat OK [pid ",
        "client$ curl http://192.0.2.50/   ->  n1",
        "n1 declared dead at ",
        ": no status on eth1 for ",
        "n2 acquired group 192.0.2.50/24/eth0 at ",
        ": n1 dead (takeover); IPaddr start ",
        "web start ",
        "gratuitous ARP sent",
        "== demo complete",
    ] {
        assert!(
            stdout.contains(line),
            "the demo did not show {line:?}:\n{stdout}"
        );
    }
    let tag = tag_of(&stdout);
    let left = leftovers(&tag);
    assert!(left.is_empty(), "the demo left behind: {left:#?}");
}

/// Ctrl-C (SIGINT) in the middle: the demo stops, says so, and removes
/// everything it made.
#[test]
fn an_interrupted_demo_cleans_up() {
    require_root();
    let mut child = Command::new(BIN)
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let mut seen = Vec::new();
    wait_until("the demo to start its daemons", DEMO_TIMEOUT, || {
        seen.extend(rx.try_iter());
        seen.iter()
            .any(|l| l.contains("== starting heartbeat on n1 and n2"))
            .then_some(())
    });
    let tag = tag_of(&seen.join("\n"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT to the demo");
    let status = wait_until("the interrupted demo to exit", DEMO_TIMEOUT, || {
        child.try_wait().expect("wait for the demo")
    });
    let stdout = reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stdout.contains("== cleaning up"), "{stdout}");
    assert!(!stdout.contains("demo complete"), "{stdout}");
    let left = leftovers(&tag);
    assert!(left.is_empty(), "the demo left behind: {left:#?}");
}
