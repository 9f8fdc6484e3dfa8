//! `cl_status`: heartbeat 3.0.6's status tool, with its subcommands, options,
//! outputs and exit codes (spec §13), answered from the daemon's status
//! snapshot. It runs when the binary is invoked as `cl_status` (a symbolic
//! link) or as `heartbeat cl-status ARGS...`.
//!
//! Exit codes, as 3.0.6's: 0 yes/OK, 1 no (node or link dead, client
//! offline, parameter not set, heartbeat not reachable), 11 bad parameters,
//! 12 no answer within 5 s, 13 anything else. Messages on standard error are
//! ours; standard output is 3.0.6's, byte for byte.
//!
//! [`run`] is a pure function of the arguments and the daemon's answer.

use hb_actors::status::{Snapshot, IPFAIL_CLIENT, NODE_WEIGHT};

use crate::status::Unreachable;

/// Success, or "yes".
const OK: u8 = 0;
/// "No": a node or link is dead, a client offline, a parameter unset, the
/// daemon unreachable.
const NORMAL_FAIL: u8 = 1;
/// Bad subcommand, option or parameter.
const PARAMETER_ERROR: u8 = 11;
/// The daemon did not answer in time.
const TIMEOUT: u8 = 12;
/// Anything else (an unknown node or link).
const UNKNOWN_ERROR: u8 = 13;

/// What `cl_status` prints and exits with.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output.
    pub out: String,
    /// Standard error.
    pub err: String,
    /// Exit code.
    pub code: u8,
}

impl Outcome {
    fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    /// A message 3.0.6 logs (`cl_log`) to standard error.
    fn log(&mut self, s: impl AsRef<str>) {
        self.err.push_str("cl_status: ERROR: ");
        self.err.push_str(s.as_ref());
        self.err.push('\n');
    }

    /// A message 3.0.6 prints to standard error itself.
    fn eprint(&mut self, s: impl AsRef<str>) {
        self.err.push_str(s.as_ref());
        self.err.push('\n');
    }

    fn code(mut self, code: u8) -> Outcome {
        self.code = code;
        self
    }
}

const HELP: &str = "\
Usage: cl_status SUBCOMMAND [OPTIONS] [ARGUMENTS]
(heartbeat 3.0.6's status tool, answered by this heartbeat; -m: sentences for humans)

  hbstatus [-v]                        is heartbeat running here? (-v: version and nodes)
  listnodes [-p|-n] [-v]               the nodes (-p: ping nodes only, -n: normal only;
                                       -v: with status, type and links)
  nodestatus NODE                      active, up, init, dead or ping (exit 1 unless alive)
  nodetype NODE                        normal or ping
  nodeweight NODE                      the node's weight (100)
  nodesite NODE                        the node's site (empty)
  listhblinks NODE [-v]                the node's heartbeat links (-v: with status)
  hblinkstatus NODE LINK               up or dead (exit 1 when dead)
  clientstatus NODE CLIENT [TIMEOUT]   online or offline (exit 1); ipfail is the only client
  rscstatus                            the groups held here: none, local, foreign, all,
                                       or transition
  hbparameter -p NAME                  a parameter as configured (keepalive, deadtime, ...)
";

/// The subcommands and their options (getopt strings, as 3.0.6's table).
const COMMANDS: &[(&str, &str)] = &[
    ("hbstatus", "mv"),
    ("listnodes", "mpnv"),
    ("nodestatus", "m"),
    ("nodeweight", "m"),
    ("nodesite", "m"),
    ("nodetype", "m"),
    ("listhblinks", "mv"),
    ("hblinkstatus", "m"),
    ("clientstatus", "m"),
    ("rscstatus", "m"),
    ("hbparameter", "mp:"),
    ("test", ""),
];

/// Options and operands after the subcommand, read as GNU getopt reads them
/// (options anywhere, `-vn` bundled, `-pNAME` or `-p NAME`, `--` ends them).
struct Args {
    flags: Vec<char>,
    /// Options not in the subcommand's getopt string.
    unknown: Vec<char>,
    /// The argument of `-p` (hbparameter).
    param: Option<String>,
    /// `-p` without its argument.
    missing_arg: bool,
    operands: Vec<String>,
}

fn getopt(args: &[String], optstr: &str) -> Args {
    let mut a = Args {
        flags: Vec::new(),
        unknown: Vec::new(),
        param: None,
        missing_arg: false,
        operands: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            a.operands.extend(it.by_ref().cloned());
            break;
        }
        let Some(opts) = arg.strip_prefix('-').filter(|o| !o.is_empty()) else {
            a.operands.push(arg.clone());
            continue;
        };
        for (i, c) in opts.char_indices() {
            match optstr.find(c) {
                Some(at) if optstr[at + c.len_utf8()..].starts_with(':') => {
                    let rest = &opts[i + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        it.next().cloned()
                    } else {
                        Some(rest.to_owned())
                    };
                    match value {
                        Some(v) => a.param = Some(v),
                        None => a.missing_arg = true,
                    }
                    break;
                }
                Some(_) => a.flags.push(c),
                None => a.unknown.push(c),
            }
        }
    }
    a
}

impl Args {
    fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }
}

/// A node of the node table, as cl_status sees it.
struct Entry<'a> {
    name: &'a str,
    status: &'a str,
    ping: bool,
    /// Link names and statuses (a ping node has one link, named after it).
    links: Vec<(&'a str, &'a str)>,
}

fn entry<'a>(s: &'a Snapshot, name: &str) -> Option<Entry<'a>> {
    if let Some(n) = s.nodes.iter().find(|n| n.name == name) {
        return Some(Entry {
            name: &n.name,
            status: &n.status,
            ping: false,
            links: n
                .links
                .iter()
                .map(|l| (l.name.as_str(), l.status.as_str()))
                .collect(),
        });
    }
    let p = s.ping_nodes.iter().find(|p| p.name == name)?;
    Some(Entry {
        name: &p.name,
        status: &p.status,
        ping: true,
        links: vec![(
            p.name.as_str(),
            if p.status == "ping" { "up" } else { "dead" },
        )],
    })
}

/// Every node, in the order 3.0.6's cl_status lists them: its client library
/// builds the list by prepending each name the daemon sends in node-table
/// order, so the node table comes out backwards.
fn listing_order(s: &Snapshot) -> Vec<Entry<'_>> {
    let mut names: Vec<&str> = s.node_table.iter().map(String::as_str).collect();
    // Anything the table lacks goes last.
    for n in s
        .nodes
        .iter()
        .map(|n| n.name.as_str())
        .chain(s.ping_nodes.iter().map(|p| p.name.as_str()))
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .rev()
        .filter_map(|n| entry(s, n))
        .collect()
}

fn node_type(e: &Entry<'_>) -> &'static str {
    if e.ping {
        "ping"
    } else {
        "normal"
    }
}

fn links(o: &mut Outcome, e: &Entry<'_>, verbose: bool, human: bool) {
    if human {
        o.line("\tthis node has the following heartbeat links:");
    }
    // Backwards too, for the same reason as the nodes.
    for (name, status) in e.links.iter().rev() {
        if verbose {
            o.line(format!("\t{name}\t{status}"));
        } else {
            o.line(format!("\t{name}"));
        }
    }
}

fn listnodes(o: &mut Outcome, s: &Snapshot, normal: bool, ping: bool, verbose: bool, human: bool) {
    let (normal, ping) = if normal && ping {
        (false, false)
    } else {
        (normal, ping)
    };
    if human {
        o.line("The nodes are as follow:");
    }
    for e in listing_order(s) {
        if (normal && e.ping) || (ping && !e.ping) {
            continue;
        }
        if verbose {
            o.line(format!(
                "\n{}\t{}\t(nodetype: {})",
                e.name,
                e.status,
                node_type(&e)
            ));
            links(o, &e, true, human);
        } else {
            o.line(e.name);
        }
    }
}

/// The client's status on `node`: our built-in ipfail is the only client.
fn client_status(s: &Snapshot, node: &Entry<'_>, client: &str) -> &'static str {
    let Some(ipfail) = s.ipfail.as_ref().filter(|_| client == IPFAIL_CLIENT) else {
        return "offline";
    };
    let alive = matches!(node.status, "up" | "active");
    if node.name == s.node || (alive && !node.ping && ipfail.peer_sees.is_some()) {
        "online"
    } else {
        "offline"
    }
}

/// `cl_status ARGS...` (`args` without the program name). `daemon` asks the
/// running daemon; it is called once, for a known subcommand.
pub fn run(args: &[String], daemon: impl FnOnce() -> Result<Snapshot, Unreachable>) -> Outcome {
    let mut o = Outcome::default();
    let Some(cmd) = args.first() else {
        o.out.push_str(HELP);
        return o;
    };
    if args.len() == 1 && (cmd == "-h" || cmd == "--help") {
        o.out.push_str(HELP);
        return o;
    }
    let Some(&(name, optstr)) = COMMANDS.iter().find(|(n, _)| n == cmd) else {
        o.log(format!("{cmd}: invalid sub-command."));
        return o.code(PARAMETER_ERROR);
    };
    let a = getopt(&args[1..], optstr);
    let human = a.has('m');
    let snapshot = match daemon() {
        Ok(s) => s,
        Err(Unreachable::Timeout) => {
            o.log("no answer from heartbeat within 5 s");
            return o.code(TIMEOUT);
        }
        Err(e) if name == "hbstatus" => {
            let code = match e {
                Unreachable::Stopped(_) => {
                    o.line("Heartbeat is stopped on this machine.");
                    NORMAL_FAIL
                }
                _ => {
                    o.line("Heartbeat is apparently running on this machine, but refuses my connection");
                    OK
                }
            };
            if a.has('v') {
                o.line(format!("({e})"));
            }
            return o.code(code);
        }
        Err(e) => {
            o.log("Cannot signon with heartbeat");
            o.log(format!("REASON: {e}"));
            return o.code(NORMAL_FAIL);
        }
    };
    let s = &snapshot;
    // Options outside the getopt string: getopt complains (under the
    // subcommand's name, its argv[0]); the commands with a `default:` branch
    // refuse, hbstatus ignores them.
    for c in &a.unknown {
        o.eprint(format!("{name}: invalid option -- '{c}'"));
    }
    if !a.unknown.is_empty() && name != "hbstatus" {
        o.log("Error: getopt returned character code ?.");
        return o.code(PARAMETER_ERROR);
    }
    let operand = |i: usize| a.operands.get(i).map(String::as_str);
    match name {
        "hbstatus" => {
            if !a.has('v') {
                o.line("Heartbeat is running on this machine.");
                return o;
            }
            let version = s.params.get("hbversion").map_or("unknown", String::as_str);
            if human {
                o.line(format!("Heartbeat version {version}"));
                o.line("Resources controlled by \"haresources\"");
            } else {
                o.line(format!("version:\t{version}"));
                o.line("managed by:\t\"haresources\"");
            }
            listnodes(&mut o, s, false, false, true, human);
            o
        }
        "listnodes" => {
            listnodes(&mut o, s, a.has('n'), a.has('p'), a.has('v'), human);
            o
        }
        "nodestatus" | "nodeweight" | "nodesite" | "nodetype" => {
            let Some(node) = operand(0) else {
                o.eprint(if name == "nodetype" {
                    "No enough parameter."
                } else {
                    "Not enough parameters."
                });
                return o.code(PARAMETER_ERROR);
            };
            let Some(e) = entry(s, node) else {
                o.eprint(if name == "nodeweight" {
                    "Error. Maybe due to incorrect node name."
                } else {
                    "Error. May be due to incorrect node name"
                });
                return o.code(PARAMETER_ERROR);
            };
            match name {
                "nodestatus" => {
                    o.line(if human {
                        format!("The cluster node {node} is {}", e.status)
                    } else {
                        e.status.to_owned()
                    });
                    let up = matches!(e.status, "active" | "up" | "ping");
                    o.code(if up { OK } else { NORMAL_FAIL })
                }
                "nodeweight" => {
                    o.line(if human {
                        format!("The weight of the cluster node {node} is {NODE_WEIGHT}")
                    } else {
                        NODE_WEIGHT.to_string()
                    });
                    o
                }
                "nodesite" => {
                    o.line(if human {
                        format!("The site of the cluster node {node} is ")
                    } else {
                        String::new()
                    });
                    o
                }
                _ => {
                    o.line(if human {
                        format!("The node {node}'s type: {}", node_type(&e))
                    } else {
                        node_type(&e).to_owned()
                    });
                    o
                }
            }
        }
        "listhblinks" => {
            let Some(node) = operand(0) else {
                o.eprint("No enough parameter.");
                return o.code(PARAMETER_ERROR);
            };
            let Some(e) = entry(s, node) else {
                o.log("Cannot start heartbeat link interface walk.");
                o.log(format!("REASON: unknown node {node}"));
                return o.code(UNKNOWN_ERROR);
            };
            links(&mut o, &e, a.has('v'), human);
            o
        }
        "hblinkstatus" => {
            let (Some(node), Some(link)) = (operand(0), operand(1)) else {
                o.eprint("No enough parameter.");
                return o.code(PARAMETER_ERROR);
            };
            let status = entry(s, node).and_then(|e| {
                e.links
                    .iter()
                    .find(|(name, _)| *name == link)
                    .map(|(_, status)| *status)
            });
            let Some(status) = status else {
                o.log("Cannot get heartbeat link status");
                o.log(format!("REASON: no link {link} of node {node}"));
                return o.code(UNKNOWN_ERROR);
            };
            o.line(if human {
                format!("The node {node}'s heartbeat link {link} is {status}")
            } else {
                status.to_owned()
            });
            o.code(if status == "up" { OK } else { NORMAL_FAIL })
        }
        "clientstatus" => {
            let (Some(node), Some(client)) = (operand(0), operand(1)) else {
                o.eprint("No enough parameter.");
                return o.code(PARAMETER_ERROR);
            };
            let Some(e) = entry(s, node) else {
                o.log(format!("Cannot get heartbeat client {client}'s status"));
                o.log(format!("REASON: unknown node {node}"));
                return o.code(UNKNOWN_ERROR);
            };
            // A third operand is 3.0.6's query timeout: nothing is asked over
            // the network here, so it does not matter.
            let status = client_status(s, &e, client);
            o.line(status);
            o.code(if status == "online" { OK } else { NORMAL_FAIL })
        }
        "rscstatus" => {
            o.line(if human {
                format!("This node is holding {} resources.", s.rscstatus)
            } else {
                s.rscstatus.clone()
            });
            o
        }
        "hbparameter" => {
            if a.missing_arg {
                o.eprint("hbparameter: option requires an argument -- 'p'");
                o.log("Error: getopt returned character code ?.");
                return o.code(PARAMETER_ERROR);
            }
            let Some(param) = a.param.as_deref() else {
                o.log("parameter name required");
                return o.code(PARAMETER_ERROR);
            };
            match s.params.get(param) {
                Some(v) => {
                    o.line(if human {
                        format!("Heartbeat parameter {param}'s value: {v}")
                    } else {
                        v.clone()
                    });
                    o
                }
                None => {
                    o.log(format!("Cannot get parameter {param}'s value"));
                    o.log(format!("REASON: {param} is not set"));
                    o.code(NORMAL_FAIL)
                }
            }
        }
        _ => {
            // `test`: 3.0.6's debugging dump.
            o.line(format!(
                "Dead time: {}\n keeplive time: {}\n mynodeid: {}\n rsc: {}",
                s.timing.deadtime_ms, s.timing.keepalive_ms, s.node, s.rscstatus
            ));
            o
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::tests::sample;

    fn cl(args: &str) -> Outcome {
        let args: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
        run(&args, || Ok(sample()))
    }

    fn out(o: &Outcome) -> (&str, u8) {
        (o.out.as_str(), o.code)
    }

    #[test]
    fn hbstatus_and_listnodes_print_3_0_6_s_lines() {
        assert_eq!(
            out(&cl("hbstatus")),
            ("Heartbeat is running on this machine.\n", 0)
        );
        // The node table (n1, n2, the ping node) and the links (eth1,
        // /dev/ttyS0) backwards, as 3.0.6's client library lists them.
        let verbose = "\n192.0.2.100\tping\t(nodetype: ping)\n\t192.0.2.100\tup\n\
                       \nn2\tactive\t(nodetype: normal)\n\t/dev/ttyS0\tdead\n\teth1\tup\n\
                       \nn1\tactive\t(nodetype: normal)\n\t/dev/ttyS0\tdead\n\teth1\tup\n";
        assert_eq!(
            out(&cl("hbstatus -v")).0,
            format!(
                "version:\t3.0.6 (heartbeat-rs 0.1.0)\nmanaged by:\t\"haresources\"\n{verbose}"
            )
        );
        assert_eq!(out(&cl("listnodes")), ("192.0.2.100\nn2\nn1\n", 0));
        assert_eq!(out(&cl("listnodes -n")), ("n2\nn1\n", 0));
        assert_eq!(out(&cl("listnodes -p")), ("192.0.2.100\n", 0));
        assert_eq!(
            out(&cl("listnodes -pn")),
            ("192.0.2.100\nn2\nn1\n", 0),
            "both: all"
        );
        assert_eq!(out(&cl("listnodes -v")), (verbose, 0));
    }

    #[test]
    fn node_questions_answer_with_3_0_6_s_words_and_codes() {
        assert_eq!(out(&cl("nodestatus n2")), ("active\n", 0));
        assert_eq!(out(&cl("nodestatus 192.0.2.100")), ("ping\n", 0));
        assert_eq!(out(&cl("nodetype n2")), ("normal\n", 0));
        assert_eq!(out(&cl("nodetype 192.0.2.100")), ("ping\n", 0));
        assert_eq!(out(&cl("nodeweight n2")), ("100\n", 0));
        assert_eq!(out(&cl("nodesite n2")), ("\n", 0));
        assert_eq!(
            out(&cl("nodestatus -m n2")),
            ("The cluster node n2 is active\n", 0)
        );
        let unknown = cl("nodestatus n9");
        assert_eq!(out(&unknown), ("", 11));
        assert_eq!(unknown.err, "Error. May be due to incorrect node name\n");
        assert_eq!(out(&cl("nodestatus")), ("", 11));
    }

    #[test]
    fn links_clients_resources_and_parameters() {
        assert_eq!(out(&cl("listhblinks n2")), ("\t/dev/ttyS0\n\teth1\n", 0));
        assert_eq!(
            out(&cl("listhblinks n2 -v")),
            ("\t/dev/ttyS0\tdead\n\teth1\tup\n", 0)
        );
        assert_eq!(out(&cl("listhblinks 192.0.2.100")), ("\t192.0.2.100\n", 0));
        assert_eq!(out(&cl("hblinkstatus n2 eth1")), ("up\n", 0));
        assert_eq!(out(&cl("hblinkstatus n2 /dev/ttyS0")), ("dead\n", 1));
        assert_eq!(out(&cl("hblinkstatus n2 eth9")).1, 13);
        assert_eq!(out(&cl("clientstatus n1 ipfail")), ("online\n", 0));
        assert_eq!(out(&cl("clientstatus n2 ipfail 500")), ("online\n", 0));
        assert_eq!(out(&cl("clientstatus n2 ccm")), ("offline\n", 1));
        assert_eq!(out(&cl("rscstatus")), ("local\n", 0));
        assert_eq!(out(&cl("hbparameter -p deadtime")), ("1\n", 0));
        assert_eq!(out(&cl("hbparameter -pkeepalive")), ("200ms\n", 0));
        assert_eq!(out(&cl("hbparameter -p nosuch")), ("", 1));
        assert_eq!(out(&cl("hbparameter")), ("", 11));
        assert_eq!(out(&cl("hbparameter -p")), ("", 11));
    }

    #[test]
    fn a_dead_peer_answers_no() {
        let mut s = sample();
        s.nodes[1].status = "dead".into();
        s.nodes[1].links[0].status = "dead".into();
        let cl = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            run(&args, || Ok(s.clone()))
        };
        assert_eq!(out(&cl(&["nodestatus", "n2"])), ("dead\n", 1));
        assert_eq!(out(&cl(&["hblinkstatus", "n2", "eth1"])), ("dead\n", 1));
        assert_eq!(
            out(&cl(&["clientstatus", "n2", "ipfail"])),
            ("offline\n", 1)
        );
    }

    #[test]
    fn without_a_daemon_only_hbstatus_speaks_on_standard_output() {
        let stopped = || Err(Unreachable::Stopped("no socket".into()));
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            out(&run(&args("hbstatus"), stopped)),
            ("Heartbeat is stopped on this machine.\n", 1)
        );
        let o = run(&args("nodestatus n2"), stopped);
        assert_eq!(out(&o), ("", 1));
        assert!(o.err.contains("Cannot signon with heartbeat"), "{}", o.err);
        let refused = || Err(Unreachable::Refused("permission denied".into()));
        assert_eq!(
            out(&run(&args("hbstatus"), refused)),
            (
                "Heartbeat is apparently running on this machine, but refuses my connection\n",
                0
            )
        );
        assert_eq!(
            out(&run(&args("rscstatus"), || Err(Unreachable::Timeout))).1,
            12
        );
        // Help and bad subcommands never ask the daemon.
        let never = || -> Result<Snapshot, Unreachable> { panic!("asked the daemon") };
        assert!(run(&[], never).out.starts_with("Usage: cl_status"));
        assert!(run(&args("--help"), never)
            .out
            .starts_with("Usage: cl_status"));
        let bad = run(&args("frobnicate"), never);
        assert_eq!(out(&bad), ("", 11));
        assert_eq!(
            bad.err,
            "cl_status: ERROR: frobnicate: invalid sub-command.\n"
        );
    }
}
