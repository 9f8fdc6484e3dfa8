//! One machine of a [`super::Cluster`]: its namespaces (held by a `tini`
//! process), private directories, cables, commands and processes.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{
    command, must, ours, run_with_timeout, wait_until, Net, Netns, Spawned, COMMAND_TIMEOUT, TINI,
};

/// The node paths that are private to each node: (path inside the node,
/// directory under the node's temporary root that is bind-mounted there).
const PRIVATE: [(&str, &str); 4] = [
    ("/etc/ha.d", "etc/ha.d"),
    ("/var/lib/heartbeat", "var/lib/heartbeat"),
    ("/run", "run"),
    ("/var/log", "var/log"),
];

/// Files of the machine's `/etc/ha.d` that are configuration, not package
/// content: never copied into a node.
const NOT_COPIED: [&str; 4] = ["ha.cf", "haresources", "authkeys", "nodeinfo"];

/// How long a node's holder may take to come up.
const HOLDER_TIMEOUT: Duration = Duration::from_secs(20);

/// A process running inside a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeProcess {
    /// Its PID as the test process sees it (use this to signal it).
    pub pid: i32,
    /// Its PID inside the node (what the node's pid files hold).
    pub node_pid: i32,
    /// Its executable.
    pub exe: PathBuf,
    /// Its command line, arguments joined by spaces (heartbeat rewrites it as a title).
    pub cmdline: String,
}

/// The long-lived process that keeps a node's namespaces: `unshare` (our
/// child) whose forked child `tini` is PID 1 of the node, running `sleep infinity`.
struct Holder {
    unshare: Option<Child>,
    /// Host PID of `tini`, 0 until known.
    init: i32,
    /// Host PID of the `sleep infinity` under `tini`, 0 until known.
    sleeper: i32,
    /// `pid:[inode]` of the node's PID namespace.
    pid_ns: String,
}

impl Holder {
    fn start(netns: &str, stderr: &Path) -> Holder {
        let err = fs::File::create(stderr).expect("harness: holder stderr file");
        let mut cmd = command("setpriv");
        cmd.args([
            "--pdeathsig",
            "KILL",
            "--",
            "nsenter",
            &format!("--net=/run/netns/{netns}"),
            "--",
            "unshare",
            "--uts",
            "--ipc",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            TINI,
            "--",
            "sleep",
            "infinity",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
        let unshare = cmd.spawn().expect("harness: start the node holder");
        let mut holder = Holder {
            unshare: Some(unshare),
            init: 0,
            sleeper: 0,
            pid_ns: String::new(),
        };
        let our_mnt = ns_link("self", "mnt").expect("own mount namespace");
        let our_pid = ns_link("self", "pid").expect("own PID namespace");
        let want_net = format!(
            "net:[{}]",
            fs::metadata(format!("/run/netns/{netns}"))
                .expect("harness: netns file")
                .ino()
        );
        let tini = fs::canonicalize(TINI).expect("tini");
        let sleep = which("sleep");
        let upid = holder.unshare.as_ref().map(Child::id).unwrap_or_default();
        let (init, sleeper) = wait_until(
            "the node's holder (tini) to be ready",
            HOLDER_TIMEOUT,
            || {
                if let Some(status) = holder
                    .unshare
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                {
                    panic!(
                        "harness: the node holder exited ({status}): {}",
                        fs::read_to_string(stderr).unwrap_or_default()
                    );
                }
                let init: i32 = first_child(upid as i32)?;
                // Until tini is exec'd, the child may still be in our namespaces.
                if fs::read_link(format!("/proc/{init}/exe")).ok()? != tini {
                    return None;
                }
                let proc_ = init.to_string();
                if ns_link(&proc_, "mnt")? == our_mnt || ns_link(&proc_, "pid")? == our_pid {
                    return None;
                }
                assert_eq!(
                    ns_link(&proc_, "net")?,
                    want_net,
                    "harness: the holder is not in netns {netns}"
                );
                let sleeper = first_child(init)?;
                (fs::read_link(format!("/proc/{sleeper}/exe")).ok()? == sleep)
                    .then_some((init, sleeper))
            },
        );
        holder.init = init;
        holder.sleeper = sleeper;
        holder.pid_ns = ns_link(&init.to_string(), "pid").expect("holder PID namespace");
        holder
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let Some(mut unshare) = self.unshare.take() else {
            return;
        };
        // tini is unshare's child: while unshare runs, tini is alive or an
        // unreaped zombie, so its PID is still its own. Check the namespace too.
        let running = matches!(unshare.try_wait(), Ok(None));
        if running
            && self.init > 0
            && ns_link(&self.init.to_string(), "pid").as_deref() == Some(self.pid_ns.as_str())
        {
            // PID 1 of the node dies: the kernel kills every process of the node.
            let _ = kill(Pid::from_raw(self.init), Signal::SIGKILL);
        } else if running {
            // Not fully started: --kill-child makes unshare's death kill tini.
            let _ = unshare.kill();
        }
        let start = Instant::now();
        loop {
            match unshare.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if start.elapsed() > Duration::from_secs(30) => {
                    eprintln!(
                        "harness: node holder {} did not exit; killing it",
                        unshare.id()
                    );
                    let _ = unshare.kill();
                    let _ = unshare.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }
}

/// One machine of the cluster. Dropping it kills every process in it and
/// deletes its namespaces and private directories.
pub struct Node {
    // Drop order: the processes (holder) first, then the netns, then the files.
    holder: Holder,
    netns: Netns,
    root: tempfile::TempDir,
    name: String,
    switch: String,
    host: u8,
    nets: Vec<Net>,
    spawned: AtomicUsize,
}

impl Node {
    /// Builds node `name` with address `.host` on each of `nets`, cabled to
    /// the bridges of the switch namespace `switch`.
    pub(crate) fn new(prefix: &str, switch: &str, name: &str, host: u8, nets: &[Net]) -> Node {
        assert!(
            !name.is_empty()
                && name.len() <= 10
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "node name {name:?}: 1-10 characters among a-z, 0-9 and '-' (switch ports are NAME-ethN, 15 characters at most)"
        );
        let netns = Netns::create(&format!("{prefix}{name}"));
        let root = tempfile::Builder::new()
            .prefix(&format!("{prefix}{name}-"))
            .tempdir()
            .expect("harness: node directory");
        populate(root.path());
        for net in nets {
            cable(switch, &netns.name, name, host, *net);
        }
        let holder = Holder::start(&netns.name, &root.path().join("holder.stderr"));
        let init = holder.init.to_string();
        must(&["nsenter", "-t", &init, "-u", "hostname", name]);
        for (inside, sub) in PRIVATE {
            if !Path::new(inside).exists() {
                // Only when the package that owns it is missing (e.g. /etc/ha.d).
                fs::create_dir_all(inside).expect("harness: create a mount point");
            }
            let source = root.path().join(sub);
            must(&[
                "nsenter",
                "-t",
                &init,
                "-m",
                "mount",
                "--bind",
                &source.to_string_lossy(),
                inside,
            ]);
        }
        let node = Node {
            holder,
            netns,
            root,
            name: name.into(),
            switch: switch.into(),
            host,
            nets: nets.to_vec(),
            spawned: AtomicUsize::new(0),
        };
        assert_eq!(
            node.exec_ok(&["uname", "-n"]).trim(),
            name,
            "hostname inside the node"
        );
        for net in nets {
            node.wait_carrier(net.iface());
        }
        node
    }

    /// Its name, which is also its hostname (`uname -n`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its network namespace's name, for `ip -n NAME ...`.
    pub fn netns(&self) -> &str {
        &self.netns.name
    }

    /// The host PID of its PID 1 (`tini`), for `nsenter -t PID ...`.
    pub fn init_pid(&self) -> i32 {
        self.holder.init
    }

    /// Its address on `net` (`.10+i` for node number i, `.100` for the client).
    pub fn addr(&self, net: Net) -> Ipv4Addr {
        assert!(self.nets.contains(&net), "{} is not on {net:?}", self.name);
        net.addr(self.host)
    }

    /// Where the test process finds the node's file `path`, which must lie
    /// in `/etc/ha.d`, `/var/lib/heartbeat`, `/run` (`/var/run`) or `/var/log`.
    pub fn path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        assert!(
            path.is_absolute(),
            "node paths are absolute: {}",
            path.display()
        );
        self.private_path(path).unwrap_or_else(|| {
            panic!(
                "{} is not private to a node (only {:?} are)",
                path.display(),
                PRIVATE.map(|(p, _)| p)
            )
        })
    }

    /// [`Node::path`], or `None` if `path` is not private to the node.
    pub(crate) fn private_path(&self, path: &Path) -> Option<PathBuf> {
        let path = match path.strip_prefix("/var/run") {
            Ok(rest) => Path::new("/run").join(rest),
            Err(_) => path.to_path_buf(),
        };
        PRIVATE.iter().find_map(|(inside, sub)| {
            path.strip_prefix(inside)
                .ok()
                .map(|rest| self.root.path().join(sub).join(rest))
        })
    }

    /// Writes the node's file `path` (see [`Node::path`]) with permission `mode`.
    pub fn write_file(&self, path: &str, content: &str, mode: u32) {
        let host = self.path(path);
        if let Some(dir) = host.parent() {
            fs::create_dir_all(dir).expect("harness: create directory");
        }
        fs::write(&host, content)
            .unwrap_or_else(|e| panic!("harness: write {}: {e}", host.display()));
        fs::set_permissions(&host, fs::Permissions::from_mode(mode)).expect("harness: chmod");
    }

    /// The node's file `path`, empty if it does not exist.
    pub fn read_file(&self, path: &str) -> String {
        fs::read(self.path(path))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// A command that runs `args` inside the node (all its namespaces, working
    /// directory `/`, an environment of only `PATH`, `HOME=/root` and `LANG=C`).
    pub fn command(&self, args: &[&str]) -> Command {
        assert!(!args.is_empty(), "no command");
        let mut cmd = command("nsenter");
        cmd.env_clear()
            .env("PATH", super::PATH)
            .env("HOME", "/root")
            .env("LANG", "C")
            .args([
                "-t",
                &self.holder.init.to_string(),
                "-p",
                "-n",
                "-m",
                "-u",
                "-i",
                "--wd=/",
                "--",
            ])
            .args(args);
        cmd
    }

    /// Runs `args` inside the node and returns its output, whatever its exit
    /// status. Panics if it runs for more than a minute.
    ///
    /// If `args` start our daemon (`heartbeat run|start`), `check-config
    /// --strict` runs first and must agree with it (see `harness::ours`).
    pub fn exec(&self, args: &[&str]) -> Output {
        let Some(launch) = ours::launch(args) else {
            return self.exec_unchecked(args);
        };
        let check = ours::StartCheck::run(self, args, &launch);
        let out = self.exec_unchecked(args);
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let ours::Settled::Mismatch(mismatch) = check.settle(&output, true) {
            panic!("{mismatch}");
        }
        out
    }

    /// [`Node::exec`] without the configuration check.
    pub(crate) fn exec_unchecked(&self, args: &[&str]) -> Output {
        run_with_timeout(self.command(args), COMMAND_TIMEOUT)
    }

    /// Runs `args` inside the node, panics unless it succeeds, returns its standard output.
    pub fn exec_ok(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "on {}: `{}` failed ({}):\n{}{}",
            self.name,
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `args` inside the node without waiting. Its output goes to the
    /// node's `/var/log/spawn-N-PROGRAM.out`; the guard kills it on drop.
    ///
    /// If `args` start our daemon (`heartbeat run|start`), `check-config
    /// --strict` runs first, and the guard compares the two verdicts once the
    /// daemon's is known (see `harness::ours`).
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let program = Path::new(args[0])
            .file_name()
            .map_or_else(|| "program".into(), |f| f.to_string_lossy().into_owned());
        let out = self.path(format!("/var/log/spawn-{n}-{program}.out"));
        let check = ours::launch(args).map(|launch| ours::StartCheck::run(self, args, &launch));
        Spawned::start_checked(self.command(args), &out, check)
    }

    /// Every live process of the node except its holder (`tini` and its `sleep`).
    pub fn processes(&self) -> Vec<NodeProcess> {
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir("/proc") else {
            return found;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if pid == self.holder.init || pid == self.holder.sleeper {
                continue;
            }
            let p = pid.to_string();
            if ns_link(&p, "pid").as_deref() != Some(self.holder.pid_ns.as_str()) || is_zombie(pid)
            {
                continue;
            }
            let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let node_pid = status
                .lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .and_then(|v| v.split_whitespace().last())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .split('\0')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            found.push(NodeProcess {
                pid,
                node_pid,
                exe,
                cmdline,
            });
        }
        found
    }

    /// The host PID of the node's process `node_pid` (e.g. read from a pid file).
    pub fn host_pid(&self, node_pid: i32) -> Option<i32> {
        self.processes()
            .into_iter()
            .find(|p| p.node_pid == node_pid)
            .map(|p| p.pid)
    }

    /// Sends `signal` to each of the node's processes that `select` picks, by PID.
    /// Returns those signalled.
    pub fn signal(
        &self,
        signal: Signal,
        select: impl Fn(&NodeProcess) -> bool,
    ) -> Vec<NodeProcess> {
        let picked: Vec<_> = self.processes().into_iter().filter(|p| select(p)).collect();
        for p in &picked {
            match kill(Pid::from_raw(p.pid), signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => panic!("harness: kill({}, {signal}): {e}", p.pid),
            }
        }
        picked
    }

    /// SIGKILL to every process of the node running executable `exe`, again
    /// until none is left (one may fork while we kill). Returns all killed.
    pub fn kill_exe(&self, exe: &str) -> Vec<NodeProcess> {
        let exe = fs::canonicalize(exe).unwrap_or_else(|_| PathBuf::from(exe));
        self.kill_until_none(&format!("{} processes", exe.display()), |p| p.exe == exe)
    }

    /// A power loss: SIGKILL to every process of the node (its holder
    /// excepted), until none is left. Returns all killed.
    pub fn kill_all(&self) -> Vec<NodeProcess> {
        self.kill_until_none("all processes", |_| true)
    }

    fn kill_until_none(
        &self,
        what: &str,
        select: impl Fn(&NodeProcess) -> bool,
    ) -> Vec<NodeProcess> {
        let mut killed: Vec<NodeProcess> = Vec::new();
        wait_until(
            &format!("{what} on {} to die", self.name),
            Duration::from_secs(20),
            || {
                let now = self.signal(Signal::SIGKILL, &select);
                let done = now.is_empty();
                for p in now {
                    if !killed.iter().any(|k| k.pid == p.pid) {
                        killed.push(p);
                    }
                }
                done.then_some(())
            },
        );
        killed
    }

    /// Deletes the node's `iface` (and the switch's end with it) and cables a
    /// new one with the same name and address: the interface comes back with
    /// a new index, as after a driver reload or a hot-plugged NIC.
    pub fn replug(&self, iface: &str, while_gone: impl FnOnce()) {
        let net = *self
            .nets
            .iter()
            .find(|n| n.iface() == iface)
            .unwrap_or_else(|| panic!("{} has no {iface}", self.name));
        must(&["ip", "-n", &self.netns.name, "link", "del", iface]);
        while_gone();
        cable(&self.switch, &self.netns.name, &self.name, self.host, net);
        self.wait_carrier(iface);
    }

    /// Pulls the cable of the node's `iface`: the switch's end goes down, so
    /// the node loses carrier but keeps its address and routes.
    pub fn link_down(&self, iface: &str) {
        self.switch_port(iface, "down");
    }

    /// Plugs the cable of `iface` back in.
    pub fn link_up(&self, iface: &str) {
        self.switch_port(iface, "up");
        self.wait_carrier(iface);
    }

    fn switch_port(&self, iface: &str, state: &str) {
        assert!(
            self.nets.iter().any(|n| n.iface() == iface),
            "{} has no {iface}",
            self.name
        );
        must(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "set",
            &format!("{}-{iface}", self.name),
            state,
        ]);
    }

    fn wait_carrier(&self, iface: &str) {
        wait_until(
            &format!("{iface} on {} to be up", self.name),
            Duration::from_secs(10),
            || {
                let out = must(&[
                    "ip",
                    "-n",
                    &self.netns.name,
                    "-o",
                    "link",
                    "show",
                    "dev",
                    iface,
                ]);
                out.contains("state UP").then_some(())
            },
        );
    }

    /// The current length of the node's file `path` (0 if missing): pass it
    /// to [`Node::wait_for_log_from`] to wait only for lines written later.
    pub fn log_len(&self, path: &str) -> usize {
        fs::metadata(self.path(path)).map_or(0, |m| m.len() as usize)
    }

    /// Waits until a line of the node's file `path` contains `needle`, and
    /// returns that line. Panics after `timeout` with the file's last lines.
    pub fn wait_for_log(&self, path: &str, needle: &str, timeout: Duration) -> String {
        self.wait_for_log_from(path, 0, &[needle], timeout)
    }

    /// Waits until a line that starts at or after byte `from` of the node's
    /// file `path` contains one of `needles`; returns the first such line.
    pub fn wait_for_log_from(
        &self,
        path: &str,
        from: usize,
        needles: &[&str],
        timeout: Duration,
    ) -> String {
        let host = self.path(path);
        let start = Instant::now();
        loop {
            let bytes = fs::read(&host).unwrap_or_default();
            let text = String::from_utf8_lossy(bytes.get(from..).unwrap_or_default());
            if let Some(line) = text.lines().find(|l| needles.iter().any(|n| l.contains(n))) {
                return line.to_string();
            }
            if start.elapsed() > timeout {
                let all = String::from_utf8_lossy(&bytes);
                let lines: Vec<&str> = all.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                panic!(
                    "timed out after {timeout:?} waiting on {} for {needles:?} in {path} (from byte {from}); its last lines:\n{tail}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Fills a node's private directories from the machine's package content.
fn populate(root: &Path) {
    for (inside, sub) in PRIVATE {
        let dir = root.join(sub);
        fs::create_dir_all(&dir).expect("harness: node directory");
        copy_owner_and_mode(Path::new(inside), &dir, 0o755);
    }
    // /etc/ha.d: the package's scripts (harc, rc.d, resource.d, shellfuncs), no configuration.
    let etc = root.join("etc/ha.d");
    if Path::new("/etc/ha.d").is_dir() {
        must(&["cp", "-a", "/etc/ha.d/.", &etc.to_string_lossy()]);
        for f in NOT_COPIED {
            let _ = fs::remove_file(etc.join(f));
        }
    }
    // /var/lib/heartbeat: the directories only (heartbeat makes its state files).
    copy_skeleton(
        Path::new("/var/lib/heartbeat"),
        &root.join("var/lib/heartbeat"),
    );
    // /run: heartbeat's and the resource agents' directories, and a lock directory.
    for dir in ["heartbeat", "resource-agents"] {
        copy_skeleton(&Path::new("/run").join(dir), &root.join("run").join(dir));
    }
    let lock = root.join("run/lock");
    fs::create_dir_all(&lock).expect("harness: run/lock");
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o1777)).expect("harness: chmod");
}

/// Gives `dst` the owner and mode of `src`, or `default_mode` if `src` is missing.
fn copy_owner_and_mode(src: &Path, dst: &Path, default_mode: u32) {
    match fs::metadata(src) {
        Ok(m) => {
            fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777))
                .expect("harness: chmod");
            std::os::unix::fs::chown(dst, Some(m.uid()), Some(m.gid())).expect("harness: chown");
        }
        Err(_) => fs::set_permissions(dst, fs::Permissions::from_mode(default_mode))
            .expect("harness: chmod"),
    }
}

/// Recreates the directory tree under `src` (directories only, with their
/// owners and modes) at `dst`. Nothing happens if `src` is not a directory.
fn copy_skeleton(src: &Path, dst: &Path) {
    let Ok(meta) = fs::symlink_metadata(src) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    fs::create_dir_all(dst).expect("harness: create directory");
    copy_owner_and_mode(src, dst, 0o755);
    for entry in fs::read_dir(src)
        .expect("harness: read directory")
        .flatten()
    {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_skeleton(&entry.path(), &dst.join(entry.file_name()));
        }
    }
}

/// `readlink /proc/PROC/ns/KIND`, e.g. `pid:[4026531836]`.
fn ns_link(proc_: &str, kind: &str) -> Option<String> {
    fs::read_link(format!("/proc/{proc_}/ns/{kind}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The first child of process `pid`, from `/proc/PID/task/PID/children`.
fn first_child(pid: i32) -> Option<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// The canonical path of `program` found on the harness's `PATH`.
fn which(program: &str) -> PathBuf {
    super::PATH
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists())
        .and_then(|p| fs::canonicalize(p).ok())
        .unwrap_or_else(|| panic!("harness: {program} not found"))
}

/// A veth pair from the switch's bridge for `net` to the node's namespace `ns`,
/// with the node's address (and a broadcast address) on its end.
fn cable(switch: &str, ns: &str, name: &str, host: u8, net: Net) {
    let port = format!("{name}-{}", net.iface());
    must(&[
        "ip",
        "-n",
        switch,
        "link",
        "add",
        &port,
        "type",
        "veth",
        "peer",
        "name",
        net.iface(),
        "netns",
        ns,
    ]);
    must(&[
        "ip",
        "-n",
        switch,
        "link",
        "set",
        &port,
        "master",
        net.bridge(),
    ]);
    must(&["ip", "-n", switch, "link", "set", &port, "up"]);
    let cidr = format!("{}/24", net.addr(host));
    must(&[
        "ip",
        "-n",
        ns,
        "addr",
        "add",
        &cidr,
        "brd",
        "+",
        "dev",
        net.iface(),
    ]);
    must(&["ip", "-n", ns, "link", "set", net.iface(), "up"]);
}
