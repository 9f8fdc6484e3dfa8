//! Resource scripts (`hb_actors::scripts`) against real `#!/bin/sh` scripts
//! written by each test into its own temporary directory. The scripts record
//! their argv in a file, one `[arg]` per line. Reference: protocol notes
//! §8.1 (lookup, call, status rule) and §8.2 (ResourceManager).
//! Every wait polls until a deadline; nothing sleeps for a fixed time.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::clock::Instant;
use hb_actors::scripts::{
    find_script, is_running, run, run_with, status_says_running, Exit, Limits, Op, Outcome,
    ScriptError, DEFAULT_PATH, MAX_LINE, MAX_LOG_LINES, TAIL_MAX,
};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use slog::{o, Drain, Logger};

const DEADLINE: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(20);

/// Polls `cond` every 20 ms until it holds; panics after `deadline`.
async fn eventually(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        actix::clock::sleep(Duration::from_millis(20)).await;
    }
}

/// Keeps every log message, so tests can look for lines.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(slog::Level, String)>>>);

impl Drain for Recorder {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, r: &slog::Record<'_>, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        self.0
            .lock()
            .unwrap()
            .push((r.level(), r.msg().to_string()));
        Ok(())
    }
}

impl Recorder {
    fn logger(&self) -> Logger {
        Logger::root(self.clone().fuse(), o!("case" => "scripts"))
    }

    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    fn level_of(&self, needle: &str) -> Option<slog::Level> {
        let all = self.0.lock().unwrap();
        all.iter()
            .find(|(_, m)| m.contains(needle))
            .map(|(l, _)| *l)
    }

    fn has(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

/// A test's directory: scripts, their argv records and PID files.
struct Fixture {
    dir: tempfile::TempDir,
    rec: Recorder,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("creating a temporary directory"),
            rec: Recorder::default(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `#!/bin/sh` + `body` to `rel` with `mode`, creating directories.
    fn write(&self, rel: &str, mode: u32, body: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&p)
            .unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        write!(f, "#!/bin/sh\n{body}\n").unwrap();
        f.sync_all().unwrap();
        p
    }

    /// An executable script.
    fn script(&self, rel: &str, body: &str) -> PathBuf {
        self.write(rel, 0o755, body)
    }

    /// A script that appends its argv to `argv.txt`, one `[arg]` per line.
    fn recording_script(&self, rel: &str) -> PathBuf {
        let out = self.path("argv.txt");
        self.script(
            rel,
            &format!(
                "for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done >> '{}'",
                out.display()
            ),
        )
    }

    fn argv(&self) -> Vec<String> {
        fs::read_to_string(self.path("argv.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Reads a PID a script wrote, waiting until the file holds one.
    async fn pid(&self, name: &str) -> Pid {
        let p = self.path(name);
        let mut pid = None;
        eventually(&format!("PID file {name}"), DEADLINE, || {
            pid = fs::read_to_string(&p)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            pid.is_some()
        })
        .await;
        Pid::from_raw(pid.unwrap())
    }

    async fn run(&self, script: &Path, args: &[&str], op: Op) -> Result<Outcome, ScriptError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        run(script, &args, op, &[], TIMEOUT, &self.rec.logger()).await
    }
}

/// Gone: no such process, or a zombie left for init to reap.
fn pid_gone(pid: Pid) -> bool {
    if kill(pid, None) == Err(Errno::ESRCH) {
        return true;
    }
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Kills a process the test expects to be alive, when the test ends.
struct KillOnDrop(Pid);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGKILL);
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// §8.1: `SCRIPT arg1 arg2 … start`, each argument its own argv entry. Shell
/// metacharacters reach the script as text; nothing they would do happens.
#[actix_rt::test]
async fn argv_is_passed_exactly_and_never_through_a_shell() {
    let fx = Fixture::new();
    let script = fx.recording_script("resource.d/Svc");
    let pwned = fx.path("pwned");
    let semicolon = format!("a;touch {}", pwned.display());
    let subst = format!("$(touch {})", pwned.display());
    let args = [
        "plain",
        "with space",
        "it's \"quoted\"",
        semicolon.as_str(),
        subst.as_str(),
        "`id`",
        "*",
        "",
        "--",
        "back\\slash",
        "10.0.0.5/24/eth0",
    ];
    let out = fx.run(&script, &args, Op::Start).await.unwrap();
    assert_eq!(out.status, Exit::Code(0));
    let mut expected: Vec<String> = args.iter().map(|a| format!("[{a}]")).collect();
    expected.push("[start]".into());
    assert_eq!(fx.argv(), expected);
    assert!(!pwned.exists(), "a shell interpreted an argument");
}

/// The operation word is the last argument: `start`, `stop`, `status`.
#[actix_rt::test]
async fn each_op_passes_its_word_last() {
    let fx = Fixture::new();
    let script = fx.recording_script("resource.d/Svc");
    for op in [Op::Start, Op::Stop, Op::Status] {
        fx.run(&script, &["x"], op).await.unwrap();
    }
    assert_eq!(
        fx.argv(),
        strings(&["[x]", "[start]", "[x]", "[stop]", "[x]", "[status]"])
    );
}

/// Any exit code is an outcome, not an error; the caller decides.
#[actix_rt::test]
async fn exit_codes_are_reported() {
    let fx = Fixture::new();
    let script = fx.script("resource.d/Exit", "exit \"$1\"");
    for code in [0, 1, 3, 7, 255] {
        let out = fx
            .run(&script, &[&code.to_string()], Op::Stop)
            .await
            .unwrap();
        assert_eq!(out.status, Exit::Code(code));
        assert_eq!(out.status.success(), code == 0);
        assert_eq!(out.op, Op::Stop);
    }
    assert!(
        fx.rec
            .has(&format!("Return code 3 from {}", script.display())),
        "heartbeat's failure line: {:?}",
        fx.rec.lines()
    );
}

#[actix_rt::test]
async fn death_by_a_signal_is_reported() {
    let fx = Fixture::new();
    let script = fx.script("resource.d/Die", "kill -\"$1\" $$\nsleep 1000");
    for sig in [Signal::SIGKILL, Signal::SIGTERM, Signal::SIGUSR1] {
        let name = sig.as_str().trim_start_matches("SIG");
        let out = fx.run(&script, &[name], Op::Start).await.unwrap();
        assert_eq!(out.status, Exit::Signal(sig as i32));
        assert!(!out.status.success());
    }
}

#[actix_rt::test]
async fn stdout_and_stderr_are_captured_and_logged_with_the_script_name() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/Talk",
        "echo out1\necho err1 >&2\necho out2\nprintf 'no newline'",
    );
    let out = fx.run(&script, &["a b"], Op::Start).await.unwrap();
    assert_eq!(out.stdout_tail, "out1\nout2\nno newline");
    assert_eq!(out.stderr_tail, "err1\n");
    assert!(!out.stdout_truncated && !out.stderr_truncated);
    // 3.0.6 sends script output to the debugfile only.
    for line in ["Talk: out1", "Talk: err1", "Talk: out2", "Talk: no newline"] {
        assert_eq!(
            fx.rec.level_of(line),
            Some(slog::Level::Debug),
            "{line:?} in {:?}",
            fx.rec.lines()
        );
    }
    let running = format!("Running {} 'a b' start", script.display());
    assert_eq!(fx.rec.level_of(&running), Some(slog::Level::Info));
}

/// At most TAIL_MAX bytes are kept per stream, at most MAX_LOG_LINES output
/// lines are logged per run, and a long line is cut.
#[actix_rt::test]
async fn output_is_bounded() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/Loud",
        "printf '%5000s\\n' wide\nseq 1 100000\nseq 1 3 >&2",
    );
    let out = fx.run(&script, &[], Op::Start).await.unwrap();
    assert!(out.stdout_truncated);
    assert_eq!(out.stdout_tail.len(), TAIL_MAX);
    assert!(out.stdout_tail.ends_with("99999\n100000\n"));
    assert!(!out.stderr_truncated);
    assert_eq!(out.stderr_tail, "1\n2\n3\n");
    let lines = fx.rec.lines();
    let logged = lines.iter().filter(|l| l.starts_with("Loud: ")).count();
    assert!(logged <= MAX_LOG_LINES + 1, "{logged} output lines logged");
    assert!(fx.rec.has("Loud: further output not logged"));
    let cut_len = "Loud: ".len() + MAX_LINE + " [line cut]".len();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Loud: ") && l.ends_with(" [line cut]") && l.len() == cut_len),
        "no cut line of {cut_len} bytes"
    );
}

/// The whole process group dies at the timeout: SIGTERM is enough here.
#[actix_rt::test]
async fn a_hung_script_is_killed_at_the_timeout_with_its_children() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/Hang",
        &format!(
            "sleep 1000 &\necho $! > '{}'\necho $$ > '{}'\nwait",
            fx.path("grandchild.pid").display(),
            fx.path("script.pid").display()
        ),
    );
    let timeout = Duration::from_millis(1500);
    let args = strings(&["10.0.0.5", "x y"]);
    let started = Instant::now();
    let err = run(&script, &args, Op::Start, &[], timeout, &fx.rec.logger())
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &err {
        ScriptError::TimedOut { after, .. } => assert_eq!(*after, timeout),
        e => panic!("expected a timeout, got {e}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{} 10.0.0.5 'x y' start timed out after 1.5s; its process group was killed",
            script.display()
        )
    );
    assert!(took >= timeout, "returned after {took:?}");
    let grandchild = fx.pid("grandchild.pid").await;
    let _guard = KillOnDrop(grandchild);
    let leader = fx.pid("script.pid").await;
    eventually("the script to be gone", DEADLINE, || pid_gone(leader)).await;
    eventually("its `sleep 1000 &` to be gone", DEADLINE, || {
        pid_gone(grandchild)
    })
    .await;
}

/// A group that ignores SIGTERM gets SIGKILL after the grace period.
#[actix_rt::test]
async fn a_script_ignoring_sigterm_is_killed_after_the_grace_period() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/Stubborn",
        &format!(
            "trap '' TERM\nsleep 1000 &\necho $! > '{}'\nwait\nsleep 1000",
            fx.path("grandchild.pid").display()
        ),
    );
    let limits = Limits {
        timeout: Duration::from_millis(1000),
        kill_grace: Duration::from_millis(700),
    };
    let started = Instant::now();
    let err = run_with(&script, &[], Op::Stop, &[], limits, &fx.rec.logger())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ScriptError::TimedOut { .. }), "{err}");
    assert!(
        took >= limits.timeout + limits.kill_grace,
        "SIGKILL came before the grace period ended: {took:?}"
    );
    assert!(fx.rec.has("sending SIGKILL"), "{:?}", fx.rec.lines());
    let grandchild = fx.pid("grandchild.pid").await;
    let _guard = KillOnDrop(grandchild);
    eventually("the TERM-ignoring grandchild to be gone", DEADLINE, || {
        pid_gone(grandchild)
    })
    .await;
}

/// A start script may leave its daemon running, holding our pipes: `run`
/// returns when the script exits, and the daemon is not signalled.
#[actix_rt::test]
async fn a_daemon_left_by_a_start_script_neither_holds_up_run_nor_dies() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/Daemon",
        &format!(
            "sleep 1000 &\necho $! > '{}'\necho started",
            fx.path("daemon.pid").display()
        ),
    );
    let started = Instant::now();
    let out = fx.run(&script, &[], Op::Start).await.unwrap();
    let daemon = fx.pid("daemon.pid").await;
    let _guard = KillOnDrop(daemon);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "run waited for the daemon"
    );
    assert_eq!(out.status, Exit::Code(0));
    assert_eq!(out.stdout_tail, "started\n");
    assert!(!pid_gone(daemon), "the daemon was killed");
}

/// Issue 14, item 11: a script that leaves a child holding its stdout and
/// stderr. `run` returns as soon as the script has exited, with all the
/// script's own output (more than a pipe holds, written just before it
/// exits: a 70 000-byte line), while the child has not written a word yet: it waits for a file
/// the test creates only after `run` returned. What the child writes later is
/// still logged, within the per-run bound.
#[actix_rt::test]
async fn a_child_holding_the_output_does_not_hold_up_run_and_its_output_is_still_logged() {
    let fx = Fixture::new();
    let go = fx.path("go");
    let script = fx.script(
        "resource.d/Leaver",
        &format!(
            "( while [ ! -e '{go}' ]; do sleep 0.05; done\n\
               echo child-out; seq 1 {many} ) &\n\
             echo $! > '{pid}'\n\
             printf '%070000s\\n' wide\n\
             echo script-done",
            go = go.display(),
            pid = fx.path("child.pid").display(),
            many = MAX_LOG_LINES * 2,
        ),
    );
    let out = fx.run(&script, &[], Op::Start).await.unwrap();
    let child = fx.pid("child.pid").await;
    let _guard = KillOnDrop(child);
    // The result came while the child was still waiting for `go`.
    assert!(!go.exists());
    assert!(!pid_gone(child), "the child was killed");
    assert_eq!(out.status, Exit::Code(0));
    assert!(
        out.stdout_truncated
            && out.stdout_tail.len() == TAIL_MAX
            && out.stdout_tail.ends_with("wide\nscript-done\n"),
        "the script's last output is missing from the result"
    );
    assert!(!fx.rec.has("Leaver: child-out"));
    assert!(fx
        .rec
        .has("Leaver: a process it left running keeps its output open"));

    // Now the child writes: its lines are logged after the result, bounded.
    fs::write(&go, "").unwrap();
    eventually("the child's output in the log", DEADLINE, || {
        fx.rec.has("Leaver: child-out")
    })
    .await;
    eventually(
        "the child's output reaching the log bound",
        DEADLINE,
        || fx.rec.has("Leaver: further output not logged"),
    )
    .await;
    eventually("the child's exit", DEADLINE, || pid_gone(child)).await;
    let logged = fx
        .rec
        .lines()
        .iter()
        .filter(|l| l.starts_with("Leaver: ") && !l.contains("left running"))
        .count();
    assert!(logged <= MAX_LOG_LINES + 1, "{logged} output lines logged");
}

/// A script whose child closes its output before the script exits: no
/// note about a process left running, and the whole output is in the result.
#[actix_rt::test]
async fn a_script_without_a_lingering_child_ends_its_streams_before_run_returns() {
    let fx = Fixture::new();
    let script = fx.script("resource.d/Quiet", "seq 1 3\necho e >&2\nprintf last");
    let out = fx.run(&script, &[], Op::Status).await.unwrap();
    assert_eq!(out.stdout_tail, "1\n2\n3\nlast");
    assert_eq!(out.stderr_tail, "e\n");
    assert!(fx.rec.has("Quiet: last"), "{:?}", fx.rec.lines());
    assert!(!fx.rec.has("left running"));
}

/// §8.1: `<confdir>/resource.d/NAME` first, then the init directory.
#[test]
fn lookup_prefers_resource_d_over_init_d() {
    let fx = Fixture::new();
    let confdir = fx.path("ha.d");
    let init = fx.path("init.d");
    let in_init = fx.script("init.d/Svc", "exit 0");
    let in_rd = fx.script("ha.d/resource.d/Svc", "exit 0");
    assert_eq!(find_script(Some(&confdir), &init, "Svc").unwrap(), in_rd);
    fs::remove_file(&in_rd).unwrap();
    assert_eq!(find_script(Some(&confdir), &init, "Svc").unwrap(), in_init);
    assert_eq!(find_script(None, &init, "Svc").unwrap(), in_init);
    fs::remove_file(&in_init).unwrap();
    let err = find_script(Some(&confdir), &init, "Svc").unwrap_err();
    match &err {
        ScriptError::NotFound { name, looked_for } => {
            assert_eq!(name, "Svc");
            assert_eq!(looked_for, &vec![in_rd.clone(), in_init.clone()]);
        }
        e => panic!("expected NotFound, got {e}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "resource script Svc not found (looked for {}, {})",
            in_rd.display(),
            in_init.display()
        )
    );
}

/// §8.1: it must be a regular executable file, in the lookup and in `run`.
#[actix_rt::test]
async fn a_file_that_is_not_a_regular_executable_is_refused() {
    let fx = Fixture::new();
    let confdir = fx.path("ha.d");
    let init = fx.path("init.d");
    let plain = fx.write("ha.d/resource.d/Svc", 0o644, "exit 0");
    fs::create_dir_all(&init).unwrap();
    let err = find_script(Some(&confdir), &init, "Svc").unwrap_err();
    assert!(
        matches!(&err, ScriptError::NotExecutable { path, .. } if *path == plain),
        "{err}"
    );
    // heartbeat takes the first *executable* one.
    let in_init = fx.script("init.d/Svc", "exit 0");
    assert_eq!(find_script(Some(&confdir), &init, "Svc").unwrap(), in_init);

    let err = fx.run(&plain, &["a"], Op::Start).await.unwrap_err();
    assert!(matches!(err, ScriptError::NotExecutable { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "resource script {0} is not a regular executable file, refusing to run {0} a start",
            plain.display()
        )
    );
    fs::create_dir_all(fx.path("dir.d")).unwrap();
    let err = fx.run(&fx.path("dir.d"), &[], Op::Start).await.unwrap_err();
    assert!(matches!(err, ScriptError::NotExecutable { .. }), "{err}");
    let err = fx
        .run(&fx.path("missing"), &[], Op::Start)
        .await
        .unwrap_err();
    assert!(matches!(err, ScriptError::NotFound { .. }), "{err}");
}

/// §8.1, heartbeat's `we_own_resource`: `*[Nn][Oo][Tt]\ *[Rr]unning*` is not
/// owned, else `*[Rr]unning*|*OK*` is owned, else not owned.
#[test]
fn status_output_decides_ownership_as_heartbeat_does() {
    let cases = [
        ("running", true),
        ("Running", true),
        ("httpd (pid 42) is running...", true),
        ("OK", true),
        ("IPaddr 10.0.0.5: OK\n", true),
        ("stopped", false),
        ("", false),
        ("Not running", false),
        ("is not running", false),
        ("NOT running", false),
        ("not  running", false),
        ("not yet, but running", false),
        ("OK, not running", false),
        ("running\nnot running\n", false),
        // Only the bracketed letters are case-insensitive.
        ("RUNNING", false),
        ("ok", false),
        ("NOT RUNNING", false),
        // `not` needs the space after it.
        ("nothing running", true),
        ("cannot_running", true),
        ("running, not", true),
    ];
    for (text, owned) in cases {
        assert_eq!(status_says_running(text), owned, "status output {text:?}");
    }
}

/// The exit code does not count, and only stdout is matched (3.0.6 reads
/// `` `$spath $arg status` ``, which captures stdout alone).
#[actix_rt::test]
async fn status_is_judged_by_stdout_not_by_exit_code() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/St",
        "printf '%s' \"$1\"\nprintf '%s' \"$2\" >&2\nexit \"$3\"",
    );
    let cases = [
        (["Svc is running", "", "3"], true),
        (["OK", "", "1"], true),
        (["", "", "0"], false),
        (["stopped", "", "0"], false),
        (["Svc is not running", "", "0"], false),
        (["", "running OK", "0"], false),
    ];
    for (args, owned) in cases {
        let out = fx.run(&script, &args, Op::Status).await.unwrap();
        assert_eq!(is_running(&out), owned, "status with {args:?}");
    }
}

/// The environment is `PATH` plus the caller's pairs; stdin is /dev/null;
/// the working directory is `/`.
#[actix_rt::test]
async fn environment_stdin_and_cwd_are_fixed() {
    let fx = Fixture::new();
    let script = fx.script(
        "resource.d/Env",
        "env\nif read line; then echo stdin=data; else echo stdin=eof; fi\necho cwd=$(pwd)",
    );
    let env = vec![
        ("HA_CURHOST".to_owned(), "n1".to_owned()),
        ("HA_rsc_hold".to_owned(), "foreign".to_owned()),
    ];
    let out = run(&script, &[], Op::Status, &env, TIMEOUT, &fx.rec.logger())
        .await
        .unwrap();
    let mut vars: Vec<&str> = out
        .stdout_tail
        .lines()
        .filter(|l| l.contains('=') && !l.starts_with("stdin=") && !l.starts_with("cwd="))
        // Set by the shell itself.
        .filter(|l| {
            !["PWD=", "OLDPWD=", "SHLVL=", "_="]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    vars.sort_unstable();
    let path = format!("PATH={DEFAULT_PATH}");
    assert_eq!(
        vars,
        vec!["HA_CURHOST=n1", "HA_rsc_hold=foreign", path.as_str()]
    );
    assert!(
        out.stdout_tail.contains("stdin=eof\n"),
        "{}",
        out.stdout_tail
    );
    assert!(out.stdout_tail.ends_with("cwd=/\n"), "{}", out.stdout_tail);
}
