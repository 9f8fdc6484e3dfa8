//! The journal: entry encoding from log records, rotation bounds, keeping
//! across a restart, safe opening, and the overflow policy.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use slog::{debug, info, o, warn, Level};

use super::*;
use crate::logging::format::Format;
use crate::logging::queue::Limits as QueueLimits;
use crate::logging::{build, Setup};

/// Far more than any step here takes; reaching it means a hang.
const PATIENCE: Duration = Duration::from_secs(20);

fn env() -> Envelope<'static> {
    Envelope {
        wall_ms: 1_764_108_605_412,
        mono_ms: 81_234_567,
        boot: "3f2a9c1e",
        pid: 4242,
        gen: 12,
    }
}

/// An entry of about `size` bytes whose `n` field says which it is.
fn numbered(n: u64, size: usize) -> String {
    let e = encode(&env(), Level::Info, "test", "", &format!(",\"n\":{n}"));
    let pad = size.saturating_sub(e.len());
    encode(
        &env(),
        Level::Info,
        "test",
        &"x".repeat(pad),
        &format!(",\"n\":{n}"),
    )
}

fn numbers(dir: &Path) -> Vec<u64> {
    let (entries, bad) = read(dir).unwrap();
    assert_eq!(bad, 0, "every line is an entry");
    entries.iter().map(|e| e.u64("n").unwrap()).collect()
}

fn sizes(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn an_entry_is_one_json_line_with_its_envelope_and_typed_fields() {
    let line = encode(
        &env(),
        Level::Warning,
        "node_dead",
        "node n1: is dead",
        ",\"node\":\"n1\",\"silent_ms\":1003,\"ok\":true",
    );
    assert_eq!(
        line,
        "{\"wall_ms\":1764108605412,\"mono_ms\":81234567,\"boot\":\"3f2a9c1e\",\"pid\":4242,\"gen\":12,\
         \"level\":\"WARN\",\"kind\":\"node_dead\",\"msg\":\"node n1: is dead\",\"node\":\"n1\",\
         \"silent_ms\":1003,\"ok\":true}\n"
    );
    let e = Entry::parse(line.trim_end()).unwrap();
    assert_eq!(
        (e.wall_ms, e.mono_ms, e.pid, e.gen),
        (1_764_108_605_412, 81_234_567, 4242, 12)
    );
    assert_eq!((e.level.as_str(), e.kind.as_str()), ("WARN", "node_dead"));
    assert_eq!(e.str("node"), Some("n1"));
    assert_eq!(e.u64("silent_ms"), Some(1003));
    assert_eq!(e.bool("ok"), Some(true));
    assert_eq!(
        e.fields.len(),
        3,
        "the envelope is not repeated in the fields"
    );
}

#[test]
fn quotes_newlines_and_control_characters_stay_inside_one_line() {
    let line = encode(&env(), Level::Info, "decision", "a \"b\"\nc\td\u{1}", "");
    assert_eq!(line.matches('\n').count(), 1, "{line}");
    assert_eq!(
        Entry::parse(line.trim_end()).unwrap().msg,
        "a \"b\"\nc\td\u{1}"
    );
}

#[test]
fn an_entry_too_long_is_cut_and_says_so() {
    let fields = format!(",\"blob\":\"{}\"", "y".repeat(MAX_ENTRY));
    let line = encode(&env(), Level::Error, "reload", &"z".repeat(5000), &fields);
    assert!(line.len() <= MAX_ENTRY, "{}", line.len());
    let e = Entry::parse(line.trim_end()).unwrap();
    assert_eq!(e.msg.len(), 1024);
    assert_eq!(e.bool("truncated"), Some(true));
    assert_eq!(e.str("blob"), None);
}

#[test]
fn lines_that_are_not_entries_are_counted_not_fatal() {
    assert_eq!(Entry::parse("{\"wall_ms\":1"), None, "cut by a crash");
    assert_eq!(Entry::parse("[1,2]"), None);
    assert_eq!(
        Entry::parse("{\"wall_ms\":1,\"mono_ms\":2,\"boot\":\"\",\"pid\":3,\"gen\":0,\"level\":\"info\",\"msg\":\"\"}"),
        None,
        "no kind"
    );
}

/// 4 MiB × 4 in the daemon; here 1000 bytes × 3. No file ever exceeds the
/// cap, at most 3 files exist, the oldest entries are the ones dropped, and
/// what remains is in order.
#[test]
fn rotation_keeps_every_file_under_the_cap_and_drops_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_file: 1000,
        files: 3,
    };
    let mut f = RotatingFile::new(dir.path().join(FILE_NAME), limits);
    let mut n = 0;
    for batch in 0..40 {
        // Batches of 1 to 7 entries of 60 to 300 bytes.
        let entries: Vec<String> = (0..(batch % 7 + 1))
            .map(|i| {
                n += 1;
                numbered(n, 60 + (batch * 37 + i * 53) % 240)
            })
            .collect();
        f.append(&entries).unwrap();
        let files = sizes(dir.path());
        assert!(files.len() <= 3, "{files:?}");
        for (name, size) in &files {
            assert!(*size <= 1000, "{name} has {size} bytes: {files:?}");
            assert!(
                [FILE_NAME, "journal.1", "journal.2"].contains(&name.as_str()),
                "{files:?}"
            );
        }
    }
    let kept = numbers(dir.path());
    assert!(kept.len() < n as usize, "old entries were dropped");
    assert_eq!(*kept.last().unwrap(), n, "the newest entry is kept");
    let first = kept[0];
    assert_eq!(
        kept,
        (first..=n).collect::<Vec<_>>(),
        "a contiguous, ordered tail"
    );
    // Three files' worth, less the room an entry that did not fit left.
    assert!(kept.len() >= 3 * 1000 / 300 - 3, "{}", kept.len());
}

#[test]
fn one_file_only_starts_again_empty() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_file: 500,
        files: 1,
    };
    let mut f = RotatingFile::new(dir.path().join(FILE_NAME), limits);
    for n in 1..=20 {
        f.append(&[numbered(n, 200)]).unwrap();
        assert!(sizes(dir.path()).iter().all(|(_, s)| *s <= 500));
    }
    assert_eq!(sizes(dir.path()).len(), 1);
    assert_eq!(*numbers(dir.path()).last().unwrap(), 20);
}

/// A restarted daemon appends to the same journal; a line cut by a crash is
/// ended, counted as bad, and the entries around it are kept.
#[test]
fn the_journal_is_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let limits = Limits {
        max_file: 10_000,
        files: 2,
    };
    let mut first = RotatingFile::new(path.clone(), limits);
    first.append(&[numbered(1, 100), numbered(2, 100)]).unwrap();
    drop(first);
    // A crash in the middle of a write.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"wall_ms\":17641");
    std::fs::write(&path, bytes).unwrap();

    let mut second = RotatingFile::new(path.clone(), limits);
    second.append(&[numbered(3, 100)]).unwrap();
    let (entries, bad) = read(dir.path()).unwrap();
    assert_eq!(bad, 1, "the cut line");
    let kept: Vec<u64> = entries.iter().map(|e| e.u64("n").unwrap()).collect();
    assert_eq!(kept, vec![1, 2, 3]);
}

#[test]
fn files_are_private_and_never_opened_through_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let limits = Limits::DAEMON;
    RotatingFile::new(path.clone(), limits)
        .append(&[numbered(1, 100)])
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);

    // An existing file that others may read is made private.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    RotatingFile::new(path.clone(), limits)
        .append(&[numbered(2, 100)])
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);

    let other = dir.path().join("passwd");
    std::fs::write(&other, "root:x:0:0\n").unwrap();
    let link_dir = tempfile::tempdir().unwrap();
    let link = link_dir.path().join(FILE_NAME);
    std::os::unix::fs::symlink(&other, &link).unwrap();
    let err = RotatingFile::new(link, limits)
        .append(&[numbered(3, 100)])
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "root:x:0:0\n");

    let fifo_dir = tempfile::tempdir().unwrap();
    let fifo = fifo_dir.path().join(FILE_NAME);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let err = RotatingFile::new(fifo, limits)
        .append(&[numbered(4, 100)])
        .unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

fn setup_with_journal(path: &Path) -> Setup {
    Setup {
        fmt: Format {
            host: "n1".into(),
            pid: 8395,
            syslogmsgfmt: true,
        },
        files: vec![],
        streams: vec![],
        syslog: None,
        limits: QueueLimits::DAEMON,
        rotation_check: Duration::from_secs(3600),
        journal: Some((path.to_path_buf(), Limits::DAEMON)),
    }
}

/// The journal sees what the logger sees, and keeps the records with a kind:
/// their key-values become typed members, the record's before its logger's.
#[test]
fn records_with_a_kind_become_entries() {
    let dir = tempfile::tempdir().unwrap();
    let root = build(setup_with_journal(&dir.path().join(FILE_NAME))).unwrap();
    let log = root
        .log
        .new(o!("actor" => "node_table", "node" => "ignored", crate::logging::IMPORTANT => true));
    info!(log, "no kind: not an entry"; "node" => "n1");
    root.handle.set_generation(12);
    warn!(log, "node n1: is dead"; "kind" => "node_dead", "node" => "n1", "silent_ms" => 1003u64,
        "deadtime_ms" => 1000u64, "links" => "eth1=1003", "pid" => 1u32);
    // No sink takes debug lines, but the journal takes a debug record with a kind.
    debug!(root.log, "svc start done"; "kind" => "script", "exit" => 0i64, "duration_ms" => 40u64,
        "builtin" => false, "script" => "svc");
    assert!(root.handle.flush(PATIENCE));
    let (entries, bad) = read(dir.path()).unwrap();
    assert_eq!(bad, 0);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let dead = &entries[0];
    assert_eq!(dead.kind, "node_dead");
    assert_eq!(dead.level, "WARN");
    assert_eq!(dead.msg, "node n1: is dead");
    assert_eq!(dead.gen, 12);
    assert_eq!(
        dead.pid,
        std::process::id(),
        "the envelope's pid, not the record's"
    );
    assert_eq!(dead.str("node"), Some("n1"), "the record's value wins");
    assert_eq!(dead.u64("silent_ms"), Some(1003));
    assert_eq!(dead.str("links"), Some("eth1=1003"));
    assert_eq!(dead.str("actor"), Some("node_table"));
    assert!(!dead.fields.contains_key(crate::logging::IMPORTANT));
    assert!(dead.mono_ms > 0 && dead.wall_ms > 1_600_000_000_000);
    let script = &entries[1];
    assert_eq!(
        (script.kind.as_str(), script.level.as_str()),
        ("script", "debug")
    );
    assert_eq!(script.fields.get("exit"), Some(&serde_json::json!(0)));
    assert_eq!(script.bool("builtin"), Some(false));
    assert!(script.mono_ms >= dead.mono_ms);
}

/// A stalled journal thread never makes a caller wait: past the queue limit
/// entries are dropped, and the next batch starts with a `journal_dropped`
/// entry that counts them.
#[test]
fn a_full_queue_drops_and_counts() {
    let j = Journal {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
        pid: 1,
        boot: String::new(),
        gen: AtomicU64::new(0),
        limit: 1000,
    };
    for n in 0..20 {
        j.push(numbered(n, 200));
    }
    let (items, dropped) = j.take().unwrap();
    assert_eq!(items.len(), 5, "1000 bytes of 200-byte entries");
    assert_eq!(dropped, 15);
    j.close();
    assert!(j.take().is_none());
}

#[test]
fn the_journal_thread_writes_the_drop_notice_first() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::start(
        dir.path().join(FILE_NAME),
        Limits::DAEMON,
        1000,
        Box::new(|_, _| {}),
    )
    .unwrap();
    // Fill the queue under its lock so the thread cannot take anything yet.
    {
        let mut st = lock(&j.state);
        st.items.push_back(Item::Entry(numbered(1, 200)));
        st.dropped = 7;
    }
    j.wake.notify_one();
    assert!(j.flush(PATIENCE));
    let (entries, _) = read(dir.path()).unwrap();
    assert_eq!(entries[0].kind, "journal_dropped");
    assert_eq!(entries[0].u64("count"), Some(7));
    assert_eq!(entries[1].u64("n"), Some(1));
}

#[test]
fn files_are_listed_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "journal",
        "journal.1",
        "journal.3",
        "journal.2",
        "journal.x",
        "other",
    ] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    let names: Vec<String> = files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["journal.3", "journal.2", "journal.1", "journal"]);
}
