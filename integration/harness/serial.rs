//! A null-modem cable: two pseudo-terminals joined by `socat`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{command, wait_until, Spawned};

/// Two ptys joined by `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`:
/// what is written to one is read from the other. `socat` runs on the machine
/// (ptys live in the shared `/dev/pts`, which every node sees) and is killed
/// when the pair is dropped.
pub struct SerialPair {
    // The process goes first, then the directory holding its links.
    socat: Spawned,
    dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
}

impl SerialPair {
    /// Starts `socat` and waits until both links exist and point at ptys.
    pub fn new() -> SerialPair {
        super::require_root();
        let dir = tempfile::Builder::new()
            .prefix(&format!("hbt-{}-serial-", std::process::id()))
            .tempdir()
            .expect("harness: serial directory");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        // setpriv: socat dies with the test even if the test process is killed.
        let mut cmd = command("setpriv");
        cmd.args([
            "--pdeathsig",
            "KILL",
            "--",
            "socat",
            "-d",
            "-d",
            &format!("pty,raw,echo=0,link={}", a.display()),
            &format!("pty,raw,echo=0,link={}", b.display()),
        ]);
        let mut socat = Spawned::start(cmd, &dir.path().join("socat.log"));
        wait_until("socat's two pty links", Duration::from_secs(10), || {
            if let Some(status) = socat.try_wait() {
                panic!("harness: socat exited ({status}): {}", socat.output());
            }
            let ready =
                |l: &Path| std::fs::canonicalize(l).is_ok_and(|t| t.starts_with("/dev/pts"));
            (ready(&a) && ready(&b)).then_some(())
        });
        SerialPair { socat, dir, a, b }
    }

    /// The first end's symbolic link (in a temporary directory).
    pub fn a(&self) -> &Path {
        &self.a
    }

    /// The second end's symbolic link.
    pub fn b(&self) -> &Path {
        &self.b
    }

    /// The first end's device, e.g. `/dev/pts/3`: heartbeat names a serial link after it.
    pub fn tty_a(&self) -> PathBuf {
        std::fs::canonicalize(&self.a).expect("serial link a")
    }

    /// The second end's device.
    pub fn tty_b(&self) -> PathBuf {
        std::fs::canonicalize(&self.b).expect("serial link b")
    }

    /// `socat`'s log (`-d -d` prints the ptys it opened and every error).
    pub fn log(&self) -> String {
        self.socat.output()
    }
}
