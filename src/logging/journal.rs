//! The event journal: every decision and action of the daemon, one JSON
//! object a line, in `STATE_DIR/journal` (`/var/lib/heartbeat/journal`), kept
//! across restarts and bounded on disk. `heartbeat explain` reads it.
//!
//! # What goes in
//!
//! The journal is a sink of the logger: it sees every record the log files
//! see, and keeps those that carry a `kind` key (`"kind" => "node_dead"`).
//! The facts are the record's other key-values (`node`, `link`,
//! `silent_ms`, `deadtime_ms`, ...), so one log call feeds both the log line
//! (in heartbeat's words) and the entry (in fields). The kinds are listed in
//! the README (Journal); `heartbeat explain` knows what each means.
//!
//! # An entry
//!
//! ```text
//! {"wall_ms":1764108605412,"mono_ms":81234567,"boot":"3f2a9c1e","pid":4242,"gen":12,
//!  "level":"WARN","kind":"node_dead","msg":"node n1: is dead","node":"n1","silent_ms":1003,...}
//! ```
//!
//! * `wall_ms`: the wall clock (Unix milliseconds), for people.
//! * `mono_ms`: `CLOCK_BOOTTIME` in milliseconds, which no clock setting moves
//!   and which counts suspended time: within one `boot` it orders entries
//!   across restarts of the daemon, and differences are true durations.
//! * `boot`: the first 8 characters of the kernel's boot id.
//! * `pid`, `gen`: the daemon's process and heartbeat generation (0 until known).
//! * `level`: heartbeat's priority word; `kind`, `msg`: the record's.
//!
//! Entries are at most [`MAX_ENTRY`] bytes: a longer one keeps its envelope and
//! a cut `msg`, without its fields, and says `"truncated":true`.
//!
//! # On disk
//!
//! `journal` is appended to; when the next entry would take it past
//! [`Limits::max_file`] (4 MiB), it becomes `journal.1`, `journal.1` becomes
//! `journal.2`, and so on; the oldest of [`Limits::files`] (4) is dropped. So
//! the journal never takes more than 16 MiB, and no entry is split between
//! files. A restarted daemon appends to the same `journal`. Files are created
//! mode 0600, never through a symbolic link (`O_NOFOLLOW`), and only regular
//! files are written. Each batch is written with one `write` and `fdatasync`ed,
//! so what the survivor of a power loss decided is on its disk.
//!
//! # Never on the heartbeat path
//!
//! As for the log files (see `logging`), a record is encoded in the caller
//! and queued; one journal thread of its own writes, so neither a slow log
//! disk nor a slow state disk holds up the other, and neither holds up a
//! heartbeat. While the thread is stalled the queue keeps up to [`QUEUE_LIMIT`]
//! bytes; beyond that entries are dropped and counted, and a `journal_dropped`
//! entry later says how many.

mod file;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use slog::{Key, Level, OwnedKVList, Record, Serializer, KV};

use super::format::priority;
use super::queue::Ticket;
use super::sinks::Limiter;

pub(crate) use file::RotatingFile;

/// The journal's file name in the state directory.
pub const FILE_NAME: &str = "journal";

/// The key that makes a record an entry.
pub const KIND: &str = "kind";

/// Longest entry, in bytes (a longer one is cut, see the module doc).
pub const MAX_ENTRY: usize = 8 << 10;

/// Bytes that may wait for the journal thread before entries are dropped.
pub const QUEUE_LIMIT: usize = 16 << 20;

/// How often a write failure is reported again.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Envelope keys: a record's key-value of the same name is not repeated.
const ENVELOPE: [&str; 8] = [
    "wall_ms", "mono_ms", "boot", "pid", "gen", "level", "kind", "msg",
];

/// How much of the disk the journal may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per file.
    pub max_file: u64,
    /// Files kept, the current one included.
    pub files: usize,
}

impl Limits {
    /// 4 MiB × 4 files: months of failovers, and a 16 MiB bound.
    pub const DAEMON: Limits = Limits {
        max_file: 4 << 20,
        files: 4,
    };
}

/// The journal's files, oldest first (`journal.3`, `journal.2`, `journal.1`,
/// `journal`), whichever exist.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name
                .to_str()?
                .strip_prefix(FILE_NAME)?
                .strip_prefix('.')?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let current = dir.join(FILE_NAME);
    if current.exists() {
        out.push(current);
    }
    out
}

/// `CLOCK_BOOTTIME` in milliseconds.
pub fn boottime_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).map_or(0, |t| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1000
            + u64::try_from(t.tv_nsec()).unwrap_or(0) / 1_000_000
    })
}

/// The first 8 characters of the kernel's boot id ("" if unknown).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().chars().filter(|c| *c != '-').take(8).collect())
        .unwrap_or_default()
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What is queued for the journal thread.
enum Item {
    Entry(String),
    Flush(Arc<Ticket>),
}

#[derive(Default)]
struct State {
    items: VecDeque<Item>,
    bytes: usize,
    /// Entries dropped since the last `journal_dropped` entry was queued.
    dropped: u64,
    closing: bool,
}

/// Shared by the drain (which encodes and queues), the journal thread and
/// the [`super::LogHandle`].
pub(crate) struct Journal {
    state: Mutex<State>,
    wake: Condvar,
    pid: u32,
    boot: String,
    /// The heartbeat generation, set once it is known (0 before).
    gen: AtomicU64,
    limit: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Something the journal thread has to tell the operator (through the log).
pub(crate) type Report = Box<dyn FnMut(Level, String) + Send>;

impl Journal {
    /// Starts the journal thread, writing to `path` within `limits`. The file
    /// is opened by the thread (a missing state directory is created by
    /// `run` after the logger); `report` gets its failures, at most once a minute.
    pub fn start(
        path: PathBuf,
        limits: Limits,
        queue_limit: usize,
        report: Report,
    ) -> std::io::Result<Arc<Journal>> {
        let journal = Arc::new(Journal {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            pid: std::process::id(),
            boot: boot_id(),
            gen: AtomicU64::new(0),
            limit: queue_limit,
        });
        let shared = Arc::clone(&journal);
        let file = RotatingFile::new(path, limits);
        std::thread::Builder::new()
            .name("heartbeat-journal".into())
            .stack_size(hb_actors::realtime::THREAD_STACK)
            .spawn(move || shared.run(file, report))?;
        Ok(journal)
    }

    /// Sets the generation stamped on later entries.
    pub fn set_generation(&self, gen: u64) {
        self.gen.store(gen, Ordering::Relaxed);
    }

    /// Encodes the record if it carries a `kind`, and queues it. Never waits
    /// for the journal thread.
    pub fn record(&self, record: &Record<'_>, values: &OwnedKVList) {
        let mut fields = JsonFields::default();
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let Some(kind) = fields.kind.take() else {
            return;
        };
        let entry = self.encode(
            wall_ms(),
            boottime_ms(),
            record.level(),
            &kind,
            &record.msg().to_string(),
            &fields.buf,
        );
        self.push(entry);
    }

    /// One entry, ending with a newline.
    fn encode(
        &self,
        wall: u64,
        mono: u64,
        level: Level,
        kind: &str,
        msg: &str,
        fields: &str,
    ) -> String {
        encode(
            &Envelope {
                wall_ms: wall,
                mono_ms: mono,
                boot: &self.boot,
                pid: self.pid,
                gen: self.gen.load(Ordering::Relaxed),
            },
            level,
            kind,
            msg,
            fields,
        )
    }

    fn push(&self, entry: String) {
        let mut st = lock(&self.state);
        if st.bytes + entry.len() > self.limit {
            st.dropped += 1;
            return;
        }
        st.bytes += entry.len();
        st.items.push_back(Item::Entry(entry));
        drop(st);
        self.wake.notify_one();
    }

    /// Waits at most `timeout` until everything queued before has been
    /// written (or failed to be). False if the thread did not get there.
    pub fn flush(&self, timeout: Duration) -> bool {
        let ticket = Arc::new(Ticket::default());
        lock(&self.state)
            .items
            .push_back(Item::Flush(Arc::clone(&ticket)));
        self.wake.notify_one();
        ticket.wait(timeout)
    }

    /// No more entries: the thread writes what is left, then ends.
    pub fn close(&self) {
        lock(&self.state).closing = true;
        self.wake.notify_all();
    }

    /// Waits for work and takes it all, with the count of entries dropped
    /// meanwhile; `None` once closed and empty.
    fn take(&self) -> Option<(VecDeque<Item>, u64)> {
        let mut st = lock(&self.state);
        while st.items.is_empty() && st.dropped == 0 {
            if st.closing {
                return None;
            }
            st = self.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st.bytes = 0;
        let dropped = std::mem::take(&mut st.dropped);
        Some((std::mem::take(&mut st.items), dropped))
    }

    /// The journal thread.
    fn run(&self, mut file: RotatingFile, mut report: Report) {
        let mut limiter = Limiter::new(REPORT_EVERY);
        let mut lost = 0u64;
        while let Some((items, dropped)) = self.take() {
            let mut batch = Vec::new();
            if dropped > 0 {
                let msg = format!(
                    "{dropped} journal entries dropped: the journal writer fell behind (a slow, full or hung state disk?)"
                );
                batch.push(self.encode(
                    wall_ms(),
                    boottime_ms(),
                    Level::Warning,
                    "journal_dropped",
                    &msg,
                    &format!(",\"count\":{dropped}"),
                ));
            }
            let mut tickets = Vec::new();
            for item in items {
                match item {
                    Item::Entry(e) => batch.push(e),
                    Item::Flush(t) => tickets.push(t),
                }
            }
            if !batch.is_empty() {
                match file.append(&batch) {
                    Ok(()) if lost > 0 => {
                        report(
                            Level::Info,
                            format!(
                                "writing to the journal {} works again; {lost} entries were lost",
                                file.path().display()
                            ),
                        );
                        lost = 0;
                        limiter.reset();
                    }
                    Ok(()) => {}
                    Err(e) => {
                        lost += batch.len() as u64;
                        if limiter.allow(Instant::now()) {
                            report(
                                Level::Error,
                                format!(
                                    "cannot write to the journal {}: {e}; {lost} entries lost so far (said at most once a minute)",
                                    file.path().display()
                                ),
                            );
                        }
                    }
                }
            }
            for t in tickets {
                t.done();
            }
        }
    }
}

/// The stamp of every entry.
pub(crate) struct Envelope<'a> {
    pub wall_ms: u64,
    pub mono_ms: u64,
    pub boot: &'a str,
    pub pid: u32,
    pub gen: u64,
}

/// One entry, ending with a newline; `fields` is `,"key":value...` (JSON,
/// each pair with its leading comma). Longer than [`MAX_ENTRY`]: see the module doc.
pub(crate) fn encode(
    env: &Envelope<'_>,
    level: Level,
    kind: &str,
    msg: &str,
    fields: &str,
) -> String {
    let head = |msg: &str| {
        format!(
            "{{\"wall_ms\":{},\"mono_ms\":{},\"boot\":{},\"pid\":{},\"gen\":{},\"level\":{},\"kind\":{},\"msg\":{}",
            env.wall_ms,
            env.mono_ms,
            json_str(env.boot),
            env.pid,
            env.gen,
            json_str(priority(level)),
            json_str(kind),
            json_str(msg)
        )
    };
    let mut out = head(msg);
    if out.len() + fields.len() + 2 <= MAX_ENTRY {
        out.push_str(fields);
    } else {
        let cut: String = msg.chars().take(1024).collect();
        out = head(&cut);
        out.push_str(",\"truncated\":true");
    }
    out.push_str("}\n");
    out
}

/// A JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Collects a record's key-values as JSON members, and its `kind`.
#[derive(Default)]
struct JsonFields {
    buf: String,
    kind: Option<String>,
    seen: Vec<Key>,
}

impl JsonFields {
    /// False for a key to leave out: the logging flag, an envelope name, or
    /// one already written (the record's own pairs come before its logger's).
    fn take(&mut self, key: Key) -> bool {
        if key == super::IMPORTANT || ENVELOPE.contains(&key) || self.seen.contains(&key) {
            return false;
        }
        self.seen.push(key);
        true
    }

    fn raw(&mut self, key: Key, json: &str) {
        if self.take(key) {
            let _ = write!(self.buf, ",{}:{json}", json_str(key));
        }
    }
}

macro_rules! numbers {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(&mut self, key: Key, val: $t) -> slog::Result {
            self.raw(key, &val.to_string());
            Ok(())
        })*
    };
}

impl Serializer for JsonFields {
    fn emit_arguments(&mut self, key: Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        if key == KIND {
            if self.kind.is_none() {
                self.kind = Some(val.to_string());
            }
            return Ok(());
        }
        self.raw(key, &json_str(&val.to_string()));
        Ok(())
    }

    fn emit_str(&mut self, key: Key, val: &str) -> slog::Result {
        if key == KIND {
            if self.kind.is_none() {
                self.kind = Some(val.to_owned());
            }
            return Ok(());
        }
        self.raw(key, &json_str(val));
        Ok(())
    }

    fn emit_bool(&mut self, key: Key, val: bool) -> slog::Result {
        self.raw(key, if val { "true" } else { "false" });
        Ok(())
    }

    fn emit_none(&mut self, key: Key) -> slog::Result {
        self.raw(key, "null");
        Ok(())
    }

    fn emit_unit(&mut self, key: Key) -> slog::Result {
        self.raw(key, "null");
        Ok(())
    }

    fn emit_f64(&mut self, key: Key, val: f64) -> slog::Result {
        let json = serde_json::Number::from_f64(val).map_or("null".to_owned(), |n| n.to_string());
        self.raw(key, &json);
        Ok(())
    }

    fn emit_f32(&mut self, key: Key, val: f32) -> slog::Result {
        self.emit_f64(key, f64::from(val))
    }

    numbers!(emit_u8: u8, emit_u16: u16, emit_u32: u32, emit_u64: u64, emit_usize: usize,
             emit_i8: i8, emit_i16: i16, emit_i32: i32, emit_i64: i64, emit_isize: isize);
}

/// One entry as read back ([`read`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Wall clock, Unix milliseconds.
    pub wall_ms: u64,
    /// `CLOCK_BOOTTIME`, milliseconds.
    pub mono_ms: u64,
    /// Boot id prefix.
    pub boot: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Its heartbeat generation.
    pub gen: u64,
    /// heartbeat's priority word.
    pub level: String,
    /// What happened (`node_dead`, `script`, ...).
    pub kind: String,
    /// The log line's text.
    pub msg: String,
    /// Every other member.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Entry {
    /// Parses one line; `None` for anything that is not an entry (a line cut
    /// by a crash, garbage).
    pub fn parse(line: &str) -> Option<Entry> {
        let serde_json::Value::Object(mut map) = serde_json::from_str(line).ok()? else {
            return None;
        };
        let mut num = |k: &str| map.remove(k).and_then(|v| v.as_u64());
        let (wall_ms, mono_ms, pid, gen) =
            (num("wall_ms")?, num("mono_ms")?, num("pid")?, num("gen")?);
        let mut text = |k: &str| match map.remove(k) {
            Some(serde_json::Value::String(s)) => Some(s),
            _ => None,
        };
        let (boot, level, kind, msg) = (text("boot")?, text("level")?, text("kind")?, text("msg")?);
        Some(Entry {
            wall_ms,
            mono_ms,
            boot,
            pid: u32::try_from(pid).ok()?,
            gen,
            level,
            kind,
            msg,
            fields: map,
        })
    }

    /// A string field.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(serde_json::Value::as_str)
    }

    /// A number field.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.fields.get(key).and_then(serde_json::Value::as_u64)
    }

    /// A boolean field.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.fields.get(key).and_then(serde_json::Value::as_bool)
    }
}

/// Every entry of the journal in `dir`, oldest first, and how many lines
/// were not entries.
pub fn read(dir: &Path) -> std::io::Result<(Vec<Entry>, usize)> {
    let mut entries = Vec::new();
    let mut bad = 0;
    for path in files(dir) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // Rotated away between the listing and the read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", path.display()),
                ))
            }
        };
        for line in String::from_utf8_lossy(&bytes).lines() {
            if line.trim().is_empty() {
                continue;
            }
            match Entry::parse(line) {
                Some(e) => entries.push(e),
                None => bad += 1,
            }
        }
    }
    Ok((entries, bad))
}
