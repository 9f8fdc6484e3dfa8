//! The README's main command ends with `integration/demo.sh`: it must work, and
//! clean up after itself.

use std::process::Command;

#[test]
fn the_live_demo_runs_and_cleans_up() {
    crate::harness::require_root();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/integration/demo.sh");
    let out = Command::new("bash")
        .args([script, env!("CARGO_BIN_EXE_heartbeat")])
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Link n2:eth1 up.",
        "node n2: is dead",
        "Heartbeat restart on node n2",
        "Received shutdown notice from 'n2'.",
        "== demo complete",
    ] {
        assert!(
            stdout.contains(line),
            "the demo did not show {line:?}:\n{stdout}"
        );
    }
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns");
    let left = String::from_utf8_lossy(&netns.stdout);
    let tag = stdout
        .lines()
        .find_map(|l| l.split("namespaces ").nth(1))
        .and_then(|s| s.strip_suffix("-*"))
        .expect("the demo names its namespaces");
    assert!(
        !left.contains(tag),
        "the demo left namespaces behind:\n{left}"
    );
}
