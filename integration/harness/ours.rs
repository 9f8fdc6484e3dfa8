//! Our daemon started in a node, held to the rule of issue 14, item 8:
//! `check-config --strict` exits 0 exactly when `run` accepts the
//! configuration.
//!
//! Whenever [`super::Node::spawn`] or [`super::Node::exec`] starts our
//! `heartbeat run` or `heartbeat start` (directly, behind a wrapper such as
//! `env` or `setpriv`, or in an `sh -c` string), the harness first runs
//! `heartbeat check-config --strict --quiet` with the same wrapper, `-c` and
//! `--node-name`, in the same node (so host checks see the same interfaces,
//! users and files), and keeps its exit code and output in a [`StartCheck`].
//! Once the daemon's fate is known, the two must agree, or the test fails
//! with both outputs:
//!
//! - refused: the daemon said `Configuration error, heartbeat not started.`
//!   (what `run` and `start` print when `run::check` refuses, and only then);
//! - accepted: the daemon wrote its `"kind":"start"` entry to the journal of
//!   its state directory (written after the configuration was validated), or
//!   `start` said `heartbeat started`.
//!
//! Anything else (a second daemon refused by the pid file, a daemon killed
//! before it got that far) decides nothing, and nothing is asserted. The
//! fate is looked at when the harness sees the daemon: [`super::Spawned`]'s
//! `try_wait`, `wait_exit`, `kill` and drop, and at once for `exec`.

use std::path::{Path, PathBuf};

use super::Node;

/// Our binary, as Cargo built it for this test run.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_heartbeat");

/// What `run` and `start` print when the configuration is refused (see `src/run.rs`).
pub(crate) const REFUSED: &str = "Configuration error, heartbeat not started.";

/// The state directory `run` uses unless told otherwise.
const DEFAULT_STATE_DIR: &str = "/var/lib/heartbeat";

/// A command line that starts our daemon, read from its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// `run` or `start`.
    pub(crate) sub: String,
    /// The same command line with `BIN run|start OPTIONS` replaced by
    /// `BIN check-config --strict --quiet` and the options it shares.
    pub(crate) check: Vec<String>,
    /// The daemon's state directory (inside the node).
    pub(crate) state_dir: String,
}

/// Options of `run`/`start` that `check-config` takes too.
const SHARED: [&str; 3] = ["-c", "--config", "--node-name"];
/// Options of `run`/`start` with a value that `check-config` does not take.
const DAEMON_ONLY: [&str; 3] = ["--state-dir", "--run-dir", "--pid-file"];

/// Translates the daemon's options after `run`/`start`: the check's options
/// and the state directory, or `None` for `--check-only` (not a start) or an
/// option this reader does not know (then nothing is checked).
fn translate(opts: &[&str]) -> Option<(Vec<String>, String)> {
    let mut check = Vec::new();
    let mut state_dir = DEFAULT_STATE_DIR.to_owned();
    let mut i = 0;
    while i < opts.len() {
        let (name, inline) = match opts[i].split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (opts[i], None),
        };
        let takes_value = SHARED.contains(&name) || DAEMON_ONLY.contains(&name);
        if !takes_value {
            return None;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                (*opts.get(i)?).to_owned()
            }
        };
        if SHARED.contains(&name) {
            check.push(name.to_owned());
            check.push(value);
        } else if name == "--state-dir" {
            state_dir = value;
        }
        i += 1;
    }
    Some((check, state_dir))
}

/// Whether `args` start our daemon (`run` or `start`, not `--check-only`),
/// and how to check its configuration the same way.
pub(crate) fn launch(args: &[&str]) -> Option<Launch> {
    let daemon = |tokens: &[&str]| -> Option<(usize, String, Vec<String>, String)> {
        let at = tokens.iter().position(|t| *t == BIN)?;
        let sub = *tokens.get(at + 1)?;
        if sub != "run" && sub != "start" {
            return None;
        }
        let (opts, state_dir) = translate(&tokens[at + 2..])?;
        Some((at, sub.to_owned(), opts, state_dir))
    };
    let head = |at: usize| -> Vec<String> {
        args[..at]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([BIN.into(), "check-config".into(), "--strict".into()])
            .chain(["--quiet".into()])
            .collect()
    };
    if let Some((at, sub, opts, state_dir)) = daemon(args) {
        let mut check = head(at);
        check.extend(opts);
        return Some(Launch {
            sub,
            check,
            state_dir,
        });
    }
    // `sh -c "... exec BIN run"`: the last argument is a script.
    let (script, before) = args.split_last()?;
    let tokens: Vec<&str> = script.split_whitespace().collect();
    let (at, sub, opts, state_dir) = daemon(&tokens)?;
    let mut line = tokens[..at].to_vec();
    line.extend([BIN, "check-config", "--strict", "--quiet"]);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    line.extend(opts);
    let mut check: Vec<String> = before.iter().map(|s| (*s).to_owned()).collect();
    check.push(line.join(" "));
    Some(Launch {
        sub,
        check,
        state_dir,
    })
}

/// `check-config --strict`'s verdict on a daemon's configuration, waiting
/// for the daemon's own.
pub struct StartCheck {
    node: String,
    daemon: String,
    sub: String,
    check: String,
    accepted: bool,
    check_output: String,
    /// The daemon's journal, where a `start` entry says it accepted.
    journal: Option<PathBuf>,
    journal_from: usize,
}

impl StartCheck {
    /// Runs `check-config --strict` for `launch` in `node`, before the daemon starts.
    pub(crate) fn run(node: &Node, daemon: &[&str], launch: &Launch) -> StartCheck {
        let journal = Path::new(&launch.state_dir).join("journal");
        let journal = node.private_path(&journal);
        let journal_from = journal
            .as_ref()
            .and_then(|j| std::fs::metadata(j).ok())
            .map_or(0, |m| m.len() as usize);
        let check: Vec<&str> = launch.check.iter().map(String::as_str).collect();
        let out = node.exec_unchecked(&check);
        StartCheck {
            node: node.name().to_owned(),
            daemon: daemon.join(" "),
            sub: launch.sub.clone(),
            check: launch.check.join(" "),
            accepted: out.status.success(),
            check_output: format!(
                "exit {}\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            journal,
            journal_from,
        }
    }

    /// The daemon's verdict from what it wrote (`output`): `Some(true)` if it
    /// accepted the configuration, `Some(false)` if it refused it, `None`
    /// while that is not known.
    fn daemon_verdict(&self, output: &str) -> Option<bool> {
        if output.contains(REFUSED) {
            return Some(false);
        }
        if self.sub == "start" && output.contains("heartbeat started [pid ") {
            return Some(true);
        }
        let journal = std::fs::read(self.journal.as_ref()?).ok()?;
        let new = String::from_utf8_lossy(journal.get(self.journal_from..)?).into_owned();
        new.lines()
            .any(|l| l.contains("\"kind\":\"start\""))
            .then_some(true)
    }

    /// Compares with the daemon's verdict, from what it wrote (`output`)
    /// and whether it has `exited`.
    pub(crate) fn settle(&self, output: &str, exited: bool) -> Settled {
        let Some(daemon) = self.daemon_verdict(output) else {
            return if exited {
                Settled::Undecided
            } else {
                Settled::Pending
            };
        };
        if daemon == self.accepted {
            return Settled::Agreed { accepted: daemon };
        }
        let said = |ok: bool| if ok { "accepted" } else { "refused" };
        Settled::Mismatch(format!(
            "issue 14 item 8 on {}: `check-config --strict` {} the configuration that `{}` {}.\n\
             --- {} ---\n{}\n--- the daemon's output ---\n{}",
            self.node,
            said(self.accepted),
            self.daemon,
            said(daemon),
            self.check,
            self.check_output.trim_end(),
            output.trim_end()
        ))
    }
}

/// Where the comparison of [`StartCheck::settle`] stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The daemon has not said yet.
    Pending,
    /// The daemon exited without a verdict (e.g. the pid file was taken):
    /// nothing to compare, ever.
    Undecided,
    /// Both accepted, or both refused.
    Agreed { accepted: bool },
    /// They disagree: both outputs.
    Mismatch(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn launches_are_recognized_with_their_options_translated() {
        let l = launch(&[BIN, "run"]).expect("a start");
        assert_eq!(strs(&l.check), [BIN, "check-config", "--strict", "--quiet"]);
        assert_eq!(
            (l.sub.as_str(), l.state_dir.as_str()),
            ("run", DEFAULT_STATE_DIR)
        );
        let l = launch(&[
            "setpriv",
            "--groups",
            "4,27",
            "--",
            BIN,
            "start",
            "-c",
            "/etc/ha.d/x.toml",
            "--pid-file",
            "/run/x.pid",
            "--state-dir=/var/lib/hb2",
            "--node-name",
            "n1",
        ])
        .expect("a start");
        assert_eq!(
            strs(&l.check),
            [
                "setpriv",
                "--groups",
                "4,27",
                "--",
                BIN,
                "check-config",
                "--strict",
                "--quiet",
                "-c",
                "/etc/ha.d/x.toml",
                "--node-name",
                "n1"
            ]
        );
        assert_eq!(
            (l.sub.as_str(), l.state_dir.as_str()),
            ("start", "/var/lib/hb2")
        );
        let script = format!("umask 022 && exec {BIN} run");
        let l = launch(&["sh", "-c", &script]).expect("a start");
        assert_eq!(
            strs(&l.check),
            [
                "sh",
                "-c",
                &format!("umask 022 && exec {BIN} check-config --strict --quiet")
            ]
        );
    }

    #[test]
    fn other_commands_are_not_launches() {
        for args in [
            &[BIN, "run", "--check-only"][..],
            &[BIN, "check-config", "--strict"],
            &[BIN, "status"],
            &[BIN, "stop"],
            &["/usr/libexec/heartbeat/heartbeat", "run"],
            &["sh", "-c", "echo run"],
        ] {
            assert_eq!(launch(args), None, "{args:?}");
        }
    }

    fn check(sub: &str, accepted: bool, journal: Option<PathBuf>, from: usize) -> StartCheck {
        StartCheck {
            node: "n1".into(),
            daemon: format!("{BIN} {sub}"),
            sub: sub.into(),
            check: "check-config --strict".into(),
            accepted,
            check_output: "exit status: 0\nconfiguration OK".into(),
            journal,
            journal_from: from,
        }
    }

    #[test]
    fn the_verdicts_are_compared_once_the_daemons_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal");
        std::fs::write(&journal, "{\"kind\":\"start\",\"pid\":1}\n").unwrap();
        let from = std::fs::metadata(&journal).unwrap().len() as usize;
        let refused = format!("ha.cf:1: error: x\n{REFUSED}\n");
        let (yes, no) = (
            Settled::Agreed { accepted: true },
            Settled::Agreed { accepted: false },
        );
        assert_eq!(check("run", false, None, 0).settle(&refused, true), no);
        let ok = check("run", true, Some(journal.clone()), from);
        // The entry of an earlier start does not count.
        assert_eq!(ok.settle("", false), Settled::Pending);
        assert_eq!(ok.settle("", true), Settled::Undecided);
        std::fs::write(
            &journal,
            "{\"kind\":\"start\",\"pid\":1}\n{\"kind\":\"start\",\"pid\":2}\n",
        )
        .unwrap();
        assert_eq!(ok.settle("", false), yes);
        assert_eq!(
            check("start", true, None, 0).settle("heartbeat started [pid 7]\n", true),
            yes
        );
        // Disagreements, both ways, show both outputs.
        let Settled::Mismatch(e) = check("run", true, None, 0).settle(&refused, true) else {
            panic!("a mismatch");
        };
        assert!(
            e.contains("`check-config --strict` accepted")
                && e.contains("configuration OK")
                && e.contains("ha.cf:1: error: x"),
            "{e}"
        );
        let Settled::Mismatch(e) = check("run", false, Some(journal), from).settle("", false)
        else {
            panic!("a mismatch");
        };
        assert!(
            e.contains("`check-config --strict` refused") && e.contains(" run` accepted"),
            "{e}"
        );
    }
}
