//! `heartbeat status` and `cl_status` (issue 7; spec §7, §13) on two of our
//! nodes: n1 and n2 heartbeat on the private net, the group (a service address
//! and `svc`) prefers n1, ipfail runs, and the client (192.0.2.100) is the
//! ping node. The ping line comes before the node line, so 3.0.6's node table
//! has the ping node first (and cl_status, which lists the table backwards,
//! names it last).
//!
//! Every cl_status subcommand is checked for its exact output and exit code,
//! through a `cl_status` symbolic link to the binary and through `heartbeat
//! cl-status`; then n2 dies (n1 answers "dead", exit 1), and a caller that is
//! not root is refused by the control socket. A second test puts our node
//! beside Debian's 3.0.6 and compares the two cl_status programs' answers.

use std::process::Output;

use crate::failover::{start, BIN, LOG, LONG, VIP};
use crate::harness::{wait_until, Cluster, Node, Topology};

const PING: &str = "192.0.2.100";
/// The symbolic link `cl_status -> heartbeat`, in the node's private /run.
const CL_STATUS: &str = "/run/cl_status";
const HA_CF: &str = "logfile /var/log/ha-log\nkeepalive 200ms\nwarntime 500ms\ndeadtime 1\ninitdead 10\nbcast eth1\nauto_failback on\nping 192.0.2.100\nnode n1 n2\nipfail on\n";
const NOBODY: [&str; 5] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--",
];

/// ipfail's set-up (the group on n1 with the built-in address), and the
/// `cl_status` link.
fn setup(node: &Node) {
    crate::ipfail::setup(node, HA_CF);
    std::os::unix::fs::symlink(BIN, node.path(CL_STATUS)).expect("the cl_status link");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The cells of a table row (columns are separated by two spaces or more).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Standard output and exit code.
fn result(out: &Output) -> (String, i32) {
    (text(&out.stdout), out.status.code().unwrap_or(-1))
}

/// Both ways of running cl_status: the link, and the subcommand.
fn forms() -> [Vec<&'static str>; 2] {
    [vec![CL_STATUS], vec![BIN, "cl-status"]]
}

fn cl(node: &Node, form: &[&str], args: &[&str]) -> Output {
    let mut all = form.to_vec();
    all.extend_from_slice(args);
    node.exec(&all)
}

/// `heartbeat status --json` on `node`, parsed.
fn json(node: &Node) -> serde_json::Value {
    let out = node.exec(&[BIN, "status", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json on {} is not JSON ({e}):\n{}{}",
            node.name(),
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// Checks every subcommand's output and exit code on n1 (or n2: `me`), with
/// both nodes alive and settled.
fn every_subcommand(node: &Node, form: &[&str]) {
    let me = node.name();
    let version = format!("3.0.6 (heartbeat-rs {})", env!("CARGO_PKG_VERSION"));
    // 3.0.6's node table (the ping node, n1, n2, as in ha.cf) backwards, as
    // its client library lists it.
    let verbose = format!(
        "\nn2\tactive\t(nodetype: normal)\n\teth1\tup\n\
         \nn1\tactive\t(nodetype: normal)\n\teth1\tup\n\
         \n{PING}\tping\t(nodetype: ping)\n\t{PING}\tup\n"
    );
    let cases: Vec<(Vec<&str>, String, i32)> = vec![
        (
            vec!["hbstatus"],
            "Heartbeat is running on this machine.\n".into(),
            0,
        ),
        (
            vec!["hbstatus", "-v"],
            format!("version:\t{version}\nmanaged by:\t\"haresources\"\n{verbose}"),
            0,
        ),
        (vec!["listnodes"], format!("n2\nn1\n{PING}\n"), 0),
        (vec!["listnodes", "-n"], "n2\nn1\n".into(), 0),
        (vec!["listnodes", "-p"], format!("{PING}\n"), 0),
        (vec!["listnodes", "-v"], verbose.clone(), 0),
        (vec!["nodestatus", "n1"], "active\n".into(), 0),
        (vec!["nodestatus", "n2"], "active\n".into(), 0),
        (vec!["nodestatus", PING], "ping\n".into(), 0),
        (vec!["nodestatus", "nosuch"], String::new(), 11),
        (vec!["nodetype", "n2"], "normal\n".into(), 0),
        (vec!["nodetype", PING], "ping\n".into(), 0),
        (vec!["nodeweight", "n2"], "100\n".into(), 0),
        (vec!["nodesite", "n2"], "\n".into(), 0),
        (vec!["listhblinks", "n2"], "\teth1\n".into(), 0),
        (vec!["listhblinks", "n2", "-v"], "\teth1\tup\n".into(), 0),
        (vec!["listhblinks", PING], format!("\t{PING}\n"), 0),
        (vec!["hblinkstatus", "n2", "eth1"], "up\n".into(), 0),
        (vec!["hblinkstatus", "n1", "eth1"], "up\n".into(), 0),
        (vec!["hblinkstatus", PING, PING], "up\n".into(), 0),
        (vec!["clientstatus", "n1", "ipfail"], "online\n".into(), 0),
        (
            vec!["clientstatus", "n2", "ipfail", "500"],
            "online\n".into(),
            0,
        ),
        (vec!["clientstatus", "n2", "crmd"], "offline\n".into(), 1),
        // As 3.0.6: each node holds its local set, even n2's empty one.
        (vec!["rscstatus"], "local\n".into(), 0),
        (vec!["hbparameter", "-p", "keepalive"], "200ms\n".into(), 0),
        (vec!["hbparameter", "-p", "deadtime"], "1\n".into(), 0),
        (vec!["hbparameter", "-p", "initdead"], "10\n".into(), 0),
        (vec!["hbparameter", "-p", "deadping"], "1000ms\n".into(), 0),
        (vec!["hbparameter", "-p", "udpport"], "694\n".into(), 0),
        (
            vec!["hbparameter", "-p", "hbversion"],
            format!("{version}\n"),
            0,
        ),
        (vec!["hbparameter", "-p", "watchdog"], String::new(), 1),
        (vec!["hbparameter"], String::new(), 11),
        (vec!["nosuchcommand"], String::new(), 11),
    ];
    for (args, stdout, code) in cases {
        let out = cl(node, form, &args);
        assert_eq!(
            result(&out),
            (stdout, code),
            "{} {} on {me}; stderr: {}",
            form.join(" "),
            args.join(" "),
            text(&out.stderr)
        );
    }
}

#[test]
fn status_and_cl_status_report_the_cluster_as_3_0_6_does() {
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    for node in [n1, n2] {
        setup(node);
    }
    let _d1 = start(n1);
    let _d2 = start(n2);
    // Settled: n1 holds its group, both ipfails compared their counts (so
    // each one's client is online for the other), and both nodes see each
    // other's and their own link.
    for node in [n1, n2] {
        node.wait_for_log(LOG, "Ping node count is balanced.", LONG);
    }
    wait_until("n1 to hold its group, settled", LONG, || {
        let (out, _) = result(&n1.exec(&[CL_STATUS, "rscstatus"]));
        (out == "local\n").then_some(())
    });
    wait_until("every link up, seen from both nodes", LONG, || {
        [n1, n2]
            .iter()
            .all(|node| {
                ["n1", "n2"].iter().all(|peer| {
                    result(&node.exec(&[CL_STATUS, "hblinkstatus", peer, "eth1"])).1 == 0
                })
            })
            .then_some(())
    });

    // The table: 3.0.6's line first, then the cluster; no colours in a pipe.
    let out = n1.exec(&[BIN, "status"]);
    let (stdout, code) = result(&out);
    assert_eq!(code, 0, "{stdout}{}", text(&out.stderr));
    let pid = n1.read_file("/run/heartbeat.pid").trim().to_owned();
    assert_eq!(
        stdout.lines().next(),
        Some(format!("heartbeat OK [pid {pid} et al] is running on n1 [n1]...").as_str())
    );
    assert!(!stdout.contains('\x1b'), "colours in a pipe:\n{stdout}");
    let group = format!("{VIP}/24/eth0");
    for row in [
        vec!["n1 (this node)", "active"],
        vec!["n2", "active"],
        vec!["n1:eth1", "up"],
        vec!["n2:eth1", "up"],
        vec![PING, "ping"],
        vec![group.as_str(), "n1", "n1 (us)", "stable"],
    ] {
        assert!(
            stdout.lines().any(|l| {
                let c = cells(l);
                c.len() >= row.len() && c.iter().zip(&row).all(|(a, b)| a == b)
            }),
            "a row {row:?} in:\n{stdout}"
        );
    }
    for line in [
        "resources held here: local",
        "timing: keepalive 200ms, deadtime 1s, warntime 500ms, initdead 10s, deadping 1s; auto_failback on",
        "ipfail: this node sees 1 of 1 ping node(s), the other node sees 1",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line:?} in:\n{stdout}");
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&group) && cells(l).last().map(String::as_str) == Some("start")),
        "the group's row names its last move:\n{stdout}"
    );

    // The same as JSON, from each side.
    let j = json(n1);
    assert_eq!(j["lsb_status"], 0);
    assert_eq!(j["error"], serde_json::Value::Null);
    let s = &j["status"];
    assert_eq!(s["node"], "n1");
    assert_eq!(s["nodes"][1]["name"], "n2");
    assert_eq!(s["nodes"][1]["status"], "active");
    let link = &s["nodes"][1]["links"][0];
    assert_eq!(
        (&link["name"], &link["status"]),
        (&"eth1".into(), &"up".into())
    );
    let worst = link["worst_interval_ms"]
        .as_u64()
        .expect("an interval was measured");
    assert!(
        (100..1000).contains(&worst),
        "worst interval {worst} ms at keepalive 200 ms"
    );
    assert_eq!(s["ping_nodes"][0]["status"], "ping");
    assert_eq!(s["groups"][0]["owner"], "us");
    assert_eq!(s["groups"][0]["state"], "stable");
    assert_eq!(s["groups"][0]["reason"], "start");
    assert_eq!(s["timing"]["keepalive_ms"], 200);
    assert_eq!(s["timing"]["deadtime_ms"], 1000);
    assert_eq!(s["timing"]["auto_failback"], "on");
    let g2 = &json(n2)["status"]["groups"][0];
    assert_eq!(
        (&g2["owner"], &g2["owner_node"]),
        (&"peer".into(), &"n1".into())
    );

    // cl_status, both ways, on both nodes.
    for form in forms() {
        every_subcommand(n1, &form);
        every_subcommand(n2, &form);
    }

    // A caller that is not root: the control socket refuses it. `status`
    // still says (from the pid file) that the daemon runs.
    let mut as_nobody = NOBODY.to_vec();
    as_nobody.extend([BIN, "status"]);
    let out = n1.exec(&as_nobody);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1, "no table for nobody");
    assert!(
        text(&out.stderr).contains("only root may ask the daemon"),
        "{}",
        text(&out.stderr)
    );
    let mut as_nobody = NOBODY.to_vec();
    as_nobody.extend([CL_STATUS, "hbstatus"]);
    assert_eq!(
        result(&n1.exec(&as_nobody)),
        (
            "Heartbeat is apparently running on this machine, but refuses my connection\n".into(),
            0
        )
    );
    let mut as_nobody = NOBODY.to_vec();
    as_nobody.extend([BIN, "cl-status", "nodestatus", "n2"]);
    let out = n1.exec(&as_nobody);
    assert_eq!(result(&out), (String::new(), 1));
    assert!(text(&out.stderr).contains("Cannot signon with heartbeat"));

    // n2 dies: n1 says so, with exit 1.
    n2.kill_all();
    wait_until("n1 to see n2 dead", LONG, || {
        (result(&n1.exec(&[CL_STATUS, "nodestatus", "n2"])) == ("dead\n".into(), 1)).then_some(())
    });
    for form in forms() {
        for (args, want) in [
            (&["nodestatus", "n2"][..], "dead\n"),
            (&["hblinkstatus", "n2", "eth1"][..], "dead\n"),
            (&["clientstatus", "n2", "ipfail"][..], "offline\n"),
        ] {
            assert_eq!(
                result(&cl(n1, &form, args)),
                (want.to_owned(), 1),
                "{}",
                args.join(" ")
            );
        }
    }
    let s = &json(n1)["status"];
    assert_eq!(s["nodes"][1]["status"], "dead");
    assert_eq!(s["groups"][0]["owner"], "us", "n1 keeps its group");
    // On n2 nothing answers any more.
    assert_eq!(
        result(&n2.exec(&[CL_STATUS, "hbstatus"])),
        ("Heartbeat is stopped on this machine.\n".into(), 1)
    );
}

/// Our cl_status on our node (n1) and Debian's 3.0.6 cl_status on its node
/// (n2), in one cluster with the same ha.cf (a ping node before the nodes):
/// every subcommand that does not depend on which node asks prints the same
/// and exits with the same code. Only `hbstatus -v`'s version differs.
#[test]
fn our_cl_status_answers_as_debians_does() {
    use crate::harness::real;
    let cluster = Cluster::new(&["n1", "n2"], Topology::private_and_public().with_client());
    let (n1, n2) = (cluster.node("n1"), cluster.node("n2"));
    // Two media, to see the links' order; no `crm` line, to see its default.
    let ha_cf = real::basic_ha_cf(&["n1", "n2"])
        .replace("node n1\n", &format!("ping {PING}\nnode n1\n"))
        .replace("bcast eth1\n", "bcast eth1\nbcast eth0\n")
        .replace("crm off\n", "");
    for node in [n1, n2] {
        real::install_config(node, &ha_cf, "", "mixed-status-key");
    }
    // Our node runs the built-in ipfail, so that it has a client to report.
    n1.write_file("/etc/ha.d/ha.cf", &format!("{ha_cf}ipfail on\n"), 0o644);
    std::os::unix::fs::symlink(BIN, n1.path(CL_STATUS)).expect("the cl_status link");
    let _d1 = start(n1);
    real::start(n2);
    real::wait_settled(n2, LONG);
    let ours = |args: &[&str]| cl(n1, &[CL_STATUS], args);
    let debians = |args: &[&str]| cl(n2, &["/usr/bin/cl_status"], args);
    wait_until("both nodes to see everything alive", LONG, || {
        let all = |run: &dyn Fn(&[&str]) -> Output| {
            ["n1", "n2", PING]
                .iter()
                .all(|n| result(&run(&["nodestatus", n])).1 == 0)
                && ["n1", "n2"]
                    .iter()
                    .all(|n| result(&run(&["hblinkstatus", n, "eth1"])).1 == 0)
        };
        (all(&ours) && all(&debians)).then_some(())
    });
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["hbstatus"],
        vec!["listnodes"],
        vec!["listnodes", "-n"],
        vec!["listnodes", "-p"],
        vec!["listnodes", "-v"],
        vec!["listnodes", "-m"],
        vec!["nodestatus", "n1"],
        vec!["nodestatus", "n2"],
        vec!["nodestatus", PING],
        vec!["nodestatus", "-m", "n2"],
        vec!["nodestatus", "nosuch"],
        vec!["nodestatus"],
        vec!["nodetype", "n2"],
        vec!["nodetype", PING],
        vec!["nodeweight", "n2"],
        vec!["nodesite", "n2"],
        vec!["listhblinks", "n1"],
        vec!["listhblinks", "n2", "-v"],
        vec!["listhblinks", PING, "-v"],
        vec!["hblinkstatus", "n1", "eth1"],
        vec!["hblinkstatus", "n2", "eth1"],
        vec!["hblinkstatus", PING, PING],
        vec!["rscstatus"],
        vec!["hbparameter"],
        vec!["nosuchcommand"],
    ];
    let names = hb_conf::params::RECORDED
        .iter()
        .filter(|n| !matches!(**n, "script_timeout" | "ipfail"));
    let params: Vec<[&str; 3]> = names.map(|n| ["hbparameter", "-p", n]).collect();
    cases.extend(params.iter().map(|p| p.to_vec()));
    let mut differ = Vec::new();
    for args in &cases {
        let (a, b) = (result(&ours(args)), result(&debians(args)));
        if a != b {
            differ.push(format!("{}: ours {a:?}, 3.0.6 {b:?}", args.join(" ")));
        }
    }
    // hbstatus -v: the same but for the version line.
    let version = |o: Output| {
        let (out, code) = result(&o);
        let rest: Vec<&str> = out.lines().skip(1).collect();
        (
            out.lines()
                .next()
                .map(|l| l.split('\t').next().unwrap_or_default().to_owned()),
            rest.join("\n"),
            code,
        )
    };
    let (a, b) = (
        version(ours(&["hbstatus", "-v"])),
        version(debians(&["hbstatus", "-v"])),
    );
    if a != b {
        differ.push(format!("hbstatus -v: ours {a:?}, 3.0.6 {b:?}"));
    }
    assert!(
        differ.is_empty(),
        "cl_status differs:\n{}",
        differ.join("\n")
    );
    // Debian's cl_status asks our node over the wire (`query-cstatus`; the
    // timeout is in milliseconds): our
    // built-in ipfail is online, any other client offline.
    for (client, want) in [("ipfail", ("online\n", 0)), ("crmd", ("offline\n", 1))] {
        let out = debians(&["clientstatus", "n1", client, "5000"]);
        assert_eq!(
            result(&out),
            (want.0.to_owned(), want.1),
            "3.0.6's cl_status clientstatus n1 {client}: {}\nn1's log:\n{}",
            text(&out.stderr),
            n1.read_file("/var/log/ha-log")
        );
    }
    real::stop(n2);
}
