//! Processes the harness starts: a runner with a deadline, and [`Spawned`],
//! a long-running process group killed on drop.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::ours::{Settled, StartCheck};

/// Runs `cmd` in a new process group with no standard input, and returns its
/// output once it exits. Standard output and error go to anonymous files, so
/// a daemon that keeps them open cannot make this wait.
///
/// Panics if it runs longer than `timeout`, after killing its process group.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let mut out = tempfile::tempfile().expect("harness: temporary file");
    let mut err = tempfile::tempfile().expect("harness: temporary file");
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone().expect("harness: dup"))
        .stderr(err.try_clone().expect("harness: dup"))
        .process_group(0);
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("harness: cannot start {what}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("harness: wait") {
            break status;
        }
        if start.elapsed() > timeout {
            kill_group(&child);
            let _ = child.wait();
            panic!("harness: {what} still running after {timeout:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |f: &mut std::fs::File| {
        let mut buf = Vec::new();
        f.seek(SeekFrom::Start(0)).expect("harness: seek");
        f.read_to_end(&mut buf).expect("harness: read output");
        buf
    };
    Output {
        status,
        stdout: read(&mut out),
        stderr: read(&mut err),
    }
}

/// SIGKILL to the process group led by `child`. The leader is not reaped
/// yet (we have not waited for it), so its group ID cannot have been reused.
fn kill_group(child: &Child) {
    let pgid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits in i32"));
    match killpg(pgid, Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => eprintln!("harness: killpg({pgid}): {e}"),
    }
}

/// A long-running process started by the harness in its own process group,
/// with its standard output and error appended to a file.
///
/// Dropping it sends SIGKILL to the whole group (the process and any child
/// that did not leave the group) and reaps it. A child that called `setsid()`
/// leaves the group; inside a [`super::Node`] it still dies with the node.
pub struct Spawned {
    /// `None` once reaped: its group ID may then be reused, so it is never
    /// signalled again.
    child: Option<Child>,
    pid: u32,
    exit: Option<ExitStatus>,
    what: String,
    output: PathBuf,
    /// For our daemon: `check-config --strict`'s verdict, until compared
    /// with the daemon's (see `super::ours`).
    check: Option<StartCheck>,
    /// Where that comparison stands (`None`: not our daemon).
    settled: Option<Settled>,
}

impl Spawned {
    /// Starts `cmd` in a new process group, output appended to `output`.
    pub fn start(cmd: Command, output: &Path) -> Spawned {
        Spawned::start_checked(cmd, output, None)
    }

    /// The same, for our daemon with `check-config --strict`'s verdict on
    /// its configuration: the guard compares the daemon's with it once known.
    pub(crate) fn start_checked(
        mut cmd: Command,
        output: &Path,
        check: Option<StartCheck>,
    ) -> Spawned {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(output)
            .unwrap_or_else(|e| panic!("harness: cannot open {}: {e}", output.display()));
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("harness: dup"))
            .stderr(log)
            .process_group(0);
        let what = format!("{cmd:?}");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("harness: cannot start {what}: {e}"));
        Spawned {
            pid: child.id(),
            child: Some(child),
            exit: None,
            what,
            output: output.to_path_buf(),
            settled: check.as_ref().map(|_| Settled::Pending),
            check,
        }
    }

    /// The PID (in the test's PID namespace) of the process started.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where its standard output and error go.
    pub fn output_path(&self) -> &Path {
        &self.output
    }

    /// Everything it has written so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// Its exit status if it has exited, without waiting. Once it has
    /// exited by itself it is reaped, and what is left of its group (if
    /// anything) is no longer killed by this guard.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.poll_exit();
        if let Err(mismatch) = self.settle() {
            panic!("{mismatch}");
        }
        self.exit
    }

    /// Reaps it if it has exited.
    fn poll_exit(&mut self) {
        if self.exit.is_none() {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().expect("harness: wait") {
                    self.exit = Some(status);
                    self.child = None;
                }
            }
        }
    }

    /// Compares our daemon's verdict on its configuration with
    /// `check-config --strict`'s once it is known (then forgets the check).
    fn settle(&mut self) -> Result<(), String> {
        let Some(check) = &self.check else {
            return Ok(());
        };
        let settled = check.settle(&self.output(), self.exit.is_some());
        if settled != Settled::Pending {
            self.check = None;
        }
        self.settled = Some(settled.clone());
        match settled {
            Settled::Mismatch(m) => Err(m),
            _ => Ok(()),
        }
    }

    /// For our daemon: where the comparison of its verdict on the
    /// configuration with `check-config --strict`'s stands (see
    /// `super::ours`), as of the last look; `None` for other programs.
    pub fn config_check(&mut self) -> Option<Settled> {
        self.poll_exit();
        if let Err(mismatch) = self.settle() {
            panic!("{mismatch}");
        }
        self.settled.clone()
    }

    /// Waits for it to exit by itself; panics (and kills it) after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            if start.elapsed() > timeout {
                self.kill();
                panic!("harness: {} did not exit within {timeout:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL to its process group, then reaps it. Idempotent.
    ///
    /// For our daemon, first compares its verdict on the configuration with
    /// `check-config --strict`'s if it is known by now, and panics if they
    /// differ (after killing it; while a panic unwinds, it prints instead).
    pub fn kill(&mut self) {
        self.poll_exit();
        let mismatch = self.settle().err();
        // Killed before its verdict was known: nothing to compare.
        if self.check.take().is_some() {
            self.settled = Some(Settled::Undecided);
        }
        if let Some(mut child) = self.child.take() {
            kill_group(&child);
            self.exit = child.wait().ok();
        }
        if let Some(mismatch) = mismatch {
            if std::thread::panicking() {
                eprintln!("{mismatch}");
            } else {
                panic!("{mismatch}");
            }
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}
