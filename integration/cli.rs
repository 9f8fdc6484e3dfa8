//! The command-line contract: `check-config`, `convert-config`, `inspect`,
//! `--help` and `--version`, run as an operator would run them.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn heartbeat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(args)
        .output()
        .expect("run the heartbeat binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vectors() -> PathBuf {
    repo().join("core/tests/vectors")
}

/// A copy of a shipped example with its key file made 0600 (git keeps no modes).
fn example_copy(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for f in ["ha.cf", "haresources", "authkeys"] {
        std::fs::copy(
            repo().join("conf/examples").join(name).join(f),
            tmp.path().join(f),
        )
        .expect("copy");
    }
    std::fs::set_permissions(
        tmp.path().join("authkeys"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    tmp
}

fn write600(path: &Path, content: &str) {
    std::fs::write(path, content).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn check_config_accepts_the_seed_configuration_in_every_auth_method() {
    for name in ["seed", "seed-md5", "seed-crc"] {
        let dir = example_copy(name);
        let out = heartbeat(&["check-config", "-c", &dir.path().display().to_string()]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("nodes = [\"linuxha1\", \"linuxha2\"]"),
            "{stdout}"
        );
        assert!(
            stdout.contains("resources = [\"192.0.2.3\", \"httpd\", \"smb\", \"maid::vacuum\"]"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("key-for-"),
            "check-config must not print keys: {stdout}"
        );
        assert!(text(&out.stderr)
            .contains("configuration OK: 2 node(s), 2 medium/media, 4 resource group(s)"));
    }
}

#[test]
fn check_config_refuses_with_file_line_and_hint() {
    let dir = example_copy("seed");
    write600(
        &dir.path().join("ha.cf"),
        "bcast eth1\nnode linuxha1 linuxha2\nkeepalive 2\ndeadtime 3\n",
    );
    let out = heartbeat(&[
        "check-config",
        "-q",
        "-c",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let expected = format!(
        "{}:4: error: Dead time [3s] is too small compared to keepalive [2s]\n  hint: deadtime must be more than 2 x keepalive (more than 4s)",
        dir.path().join("ha.cf").display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.ends_with("configuration refused: 1 error\n"),
        "{stderr}"
    );
}

#[test]
fn check_config_strict_checks_this_machine() {
    let dir = example_copy("seed");
    let d = dir.path().display().to_string();
    let relaxed = heartbeat(&["check-config", "-q", "-c", &d, "--node-name", "linuxha1"]);
    assert!(relaxed.status.success(), "{}", text(&relaxed.stderr));
    assert!(text(&relaxed.stderr).contains("warning: Cannot locate resource script httpd"));
    let strict = heartbeat(&[
        "check-config",
        "-q",
        "--strict",
        "-c",
        &d,
        "--node-name",
        "nobody",
    ]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(text(&strict.stderr).contains("error: Current node [nobody] not in configuration!"));
}

#[test]
fn check_config_reads_the_toml_form() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("cluster.toml");
    std::fs::copy(repo().join("conf/examples/cluster.toml"), &file).expect("copy");
    let f = file.display().to_string();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let open = heartbeat(&["check-config", "-q", "-c", &f]);
    assert_eq!(
        open.status.code(),
        Some(1),
        "a key file others can read is refused"
    );
    assert!(
        text(&open.stderr).contains("mode 0644 lets group or others read it"),
        "{}",
        text(&open.stderr)
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = heartbeat(&["check-config", "-c", &f]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("keepalive = \"200ms\""));
}

#[test]
fn convert_config_writes_a_private_toml_that_reads_back() {
    let dir = example_copy("seed");
    let out_file = dir.path().join("cluster.toml");
    let (d, o) = (
        dir.path().display().to_string(),
        out_file.display().to_string(),
    );
    let out = heartbeat(&["convert-config", "-c", &d, "-o", &o]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mode = std::fs::metadata(&out_file)
        .expect("written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let toml = std::fs::read_to_string(&out_file).expect("read");
    assert!(
        toml.contains("key = \"key-for-sha1-any-text-you-want\""),
        "the converted file keeps the key"
    );
    let check = heartbeat(&["check-config", "-q", "-c", &o]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    let again = heartbeat(&["convert-config", "-c", &d, "-o", &o]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing file is not overwritten"
    );
    assert!(text(&again.stderr).contains("use --force to replace it"));
    let forced = heartbeat(&["convert-config", "-c", &d, "-o", &o, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
}

#[test]
fn inspect_verifies_every_captured_packet() {
    for folder in [
        "netns-crc",
        "netns-md5",
        "netns-sha1",
        "loopback-sha1-msgtypes",
    ] {
        let dir = vectors().join(folder);
        let mut args = vec![
            "inspect".to_owned(),
            "--authkeys".to_owned(),
            dir.join("authkeys").display().to_string(),
        ];
        let mut packets: Vec<String> = std::fs::read_dir(&dir)
            .expect("vectors")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .map(|p| p.display().to_string())
            .collect();
        packets.sort();
        assert!(!packets.is_empty());
        let n = packets.len();
        args.extend(packets);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = heartbeat(&args);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{folder}: {stdout}{}",
            text(&out.stderr)
        );
        assert_eq!(stdout.matches("  trailer: key ").count(), n, "{folder}");
        assert_eq!(
            stdout.matches(": verified\n").count(),
            n,
            "{folder}: every trailer verifies"
        );
    }
}

#[test]
fn inspect_fails_on_a_flipped_byte_and_on_garbage() {
    let dir = vectors().join("netns-sha1");
    let good = std::fs::read(dir.join("sha1-bcast-000.bin")).expect("vector");
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = dir.join("authkeys").display().to_string();
    for i in [0, 20, good.len() / 2, good.len() - 10, good.len() - 1] {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let path = tmp.path().join(format!("flipped-{i}.bin"));
        std::fs::write(&path, &bad).expect("write");
        let out = heartbeat(&["inspect", "--authkeys", &keys, &path.display().to_string()]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "byte {i}: {}",
            text(&out.stdout)
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("FAILED") || stdout.contains("cannot decode"),
            "byte {i}: {stdout}"
        );
    }
    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, b"GET / HTTP/1.0\r\n\r\n").expect("write");
    let out = heartbeat(&["inspect", "--authkeys", &keys, &junk.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("cannot decode: not a heartbeat message"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn inspect_with_the_wrong_key_fails() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("authkeys");
    write600(&keys, "auth 1\n1 sha1 not-the-key\n");
    let packet = vectors()
        .join("netns-sha1/sha1-ucast-000.bin")
        .display()
        .to_string();
    let out = heartbeat(&[
        "inspect",
        "--authkeys",
        &keys.display().to_string(),
        &packet,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("trailer: key 1 (sha1): FAILED: digest mismatch"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn help_and_version_are_worth_reading() {
    let help = heartbeat(&["--help"]);
    assert!(help.status.success());
    let h = text(&help.stdout);
    for word in [
        "check-config",
        "convert-config",
        "inspect",
        "heartbeat 3.0.6",
        "Examples:",
    ] {
        assert!(h.contains(word), "--help lacks {word}: {h}");
    }
    let version = heartbeat(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout),
        format!(
            "heartbeat {} (heartbeat 3.0.6 wire protocol)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let bad = heartbeat(&["frobnicate"]);
    assert_eq!(bad.status.code(), Some(2), "usage errors exit 2");
}

/// Issue 4, done-when 6: a haresources script that is missing, or there but not
/// executable, stops `heartbeat run` before it does anything, with the file,
/// line and fix; `check-config --strict` says the same, and without `--strict`
/// it is a warning (the configuration may be checked on another machine).
#[test]
fn run_refuses_a_haresources_script_that_is_missing_or_not_executable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let conf = tmp.path().join("ha.d");
    std::fs::create_dir_all(conf.join("resource.d")).expect("mkdir");
    std::fs::write(
        conf.join("ha.cf"),
        format!(
            "logfile {}\nbcast lo\nauto_failback on\nnode n1 n2\n",
            tmp.path().join("ha-log").display()
        ),
    )
    .expect("write");
    write600(&conf.join("authkeys"), "auth 1\n1 sha1 cli-test-key-1234\n");
    let not_exec = conf.join("resource.d/hbt-notexec");
    std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").expect("write");
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let hares = conf.join("haresources");
    let cases = [
        (
            "n1 192.0.2.10 hbt-missing-svc\n".to_owned(),
            1,
            "Cannot locate resource script hbt-missing-svc".to_owned(),
            format!(
                "put an executable hbt-missing-svc in {} or /etc/init.d",
                conf.join("resource.d").display()
            ),
        ),
        (
            "# the service\nn1 192.0.2.10 hbt-notexec\n".to_owned(),
            2,
            format!("Resource script {} is not executable", not_exec.display()),
            format!("chmod +x {}", not_exec.display()),
        ),
    ];
    let (state, run_dir) = (tmp.path().join("state"), tmp.path().join("run"));
    let c = conf.display().to_string();
    for (lines, line, message, hint) in cases {
        std::fs::write(&hares, &lines).expect("write");
        let expected = format!(
            "{}:{line}: error: {message}\n  hint: {hint}\n",
            hares.display()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_heartbeat"));
        cmd.args(["run", "-c", &c, "--node-name", "n1", "--state-dir"])
            .arg(&state)
            .arg("--run-dir")
            .arg(&run_dir);
        let run = crate::harness::run_with_timeout(cmd, std::time::Duration::from_secs(60));
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{message}: {stderr}");
        assert!(stderr.contains(&expected), "{message}: {stderr}");
        assert!(
            stderr.ends_with("Configuration error, heartbeat not started.\n"),
            "{stderr}"
        );
        assert!(
            !state.exists() && !run_dir.exists(),
            "{message}: nothing was started"
        );

        let strict = heartbeat(&[
            "check-config",
            "-q",
            "--strict",
            "-c",
            &c,
            "--node-name",
            "n1",
        ]);
        assert_eq!(strict.status.code(), Some(1), "{message}");
        assert!(
            text(&strict.stderr).contains(&expected),
            "{}",
            text(&strict.stderr)
        );
        let relaxed = heartbeat(&["check-config", "-q", "-c", &c, "--node-name", "n1"]);
        assert!(relaxed.status.success(), "{}", text(&relaxed.stderr));
        let warning = format!("{}:{line}: warning: {message}\n", hares.display());
        assert!(
            text(&relaxed.stderr).contains(&warning),
            "{}",
            text(&relaxed.stderr)
        );
    }
}
