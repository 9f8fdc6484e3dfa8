//! `SerialLink` over real ptys: `socat` joins two pseudo-terminals, each end is
//! opened by a link (or written raw by the test), and a recorder stands in for
//! the node table. Every wait polls until a deadline.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use hb_actors::links::serial::{SerialCounters, SerialLink};
use hb_actors::messages::{Flush, PacketReceived, SendPacket};
use hb_core::auth::{AuthMethod, KeyTable};
use hb_core::wire::packet::{self, EncodeOptions};
use hb_core::wire::{Message, MAX_MSG};

const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` every 20 ms until it holds; panics after `deadline`.
async fn eventually(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = actix::clock::Instant::now() + deadline;
    while !cond() {
        assert!(
            actix::clock::Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        actix::clock::sleep(Duration::from_millis(20)).await;
    }
}

/// Two ptys joined by socat, as `DIR/a` and `DIR/b`. Killed (by PID) on drop.
struct PtyPair {
    dir: PathBuf,
    socat: Option<Child>,
}

impl PtyPair {
    async fn start(test: &str) -> PtyPair {
        let dir = PathBuf::from(format!("/tmp/hb-serial-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the pty directory");
        let mut pair = PtyPair { dir, socat: None };
        pair.spawn().await;
        pair
    }

    fn a(&self) -> PathBuf {
        self.dir.join("a")
    }

    fn b(&self) -> PathBuf {
        self.dir.join("b")
    }

    async fn spawn(&mut self) {
        let end = |p: &Path| format!("pty,raw,echo=0,link={}", p.display());
        let child = Command::new("socat")
            .args(["-d", "-d", &end(&self.a()), &end(&self.b())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat is needed for the serial tests (apt-get install socat; .ci/setup installs it)");
        self.socat = Some(child);
        let (a, b) = (self.a(), self.b());
        let socat = self.socat.as_mut().expect("just set");
        eventually("socat's pty links", DEADLINE, || {
            if let Ok(Some(status)) = socat.try_wait() {
                panic!("socat exited early: {status}");
            }
            a.exists() && b.exists()
        })
        .await;
    }

    /// The devices disappear: socat dies and its links are removed.
    fn kill(&mut self) {
        if let Some(mut child) = self.socat.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.a());
        let _ = std::fs::remove_file(self.b());
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stands in for the node table.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<PacketReceived>>>);

impl Recorded {
    fn len(&self) -> usize {
        self.0.lock().expect("recorder lock").len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn messages(&self) -> Vec<(usize, Message)> {
        let got = self.0.lock().expect("recorder lock");
        got.iter().map(|p| (p.link, p.msg.clone())).collect()
    }
}

struct Recorder(Recorded);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<PacketReceived> for Recorder {
    type Result = ();

    fn handle(&mut self, msg: PacketReceived, _: &mut Context<Self>) {
        self.0 .0.lock().expect("recorder lock").push(msg);
    }
}

fn recorder() -> (Recorded, Recipient<PacketReceived>) {
    let rec = Recorded::default();
    let addr = Recorder(rec.clone()).start();
    (rec, addr.recipient())
}

fn keys(key: &[u8]) -> Arc<KeyTable> {
    Arc::new(KeyTable::single(1, AuthMethod::Sha1 { key: key.to_vec() }))
}

fn status(src: &str, seq: u32) -> Message {
    let mut m = Message::with_type("status");
    m.push_str("st", "active");
    m.push_str("src", src);
    m.push_str("seq", format!("{seq:x}"));
    m.push_str("hg", "1");
    m
}

fn signed(msg: &Message, keys: &KeyTable) -> Vec<u8> {
    packet::encode(msg, keys, EncodeOptions::SERIAL).expect("encodes")
}

/// What the receiving side should hand on: the message with its `auth` field.
fn decoded(bytes: &[u8], keys: &KeyTable) -> Message {
    packet::decode(bytes, keys).expect("decodes")
}

/// Log lines go to stderr, which the test harness shows only for a failed test.
struct Stderr;

impl slog::Drain for Stderr {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, r: &slog::Record<'_>, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        eprintln!("{} {}", r.level().as_short_str(), r.msg());
        Ok(())
    }
}

fn logger() -> slog::Logger {
    slog::Logger::root(Stderr, slog::o!())
}

/// A supervised link, already open (its `started` has run once `Flush` answers).
async fn link(
    id: usize,
    device: PathBuf,
    keys: &Arc<KeyTable>,
    table: Recipient<PacketReceived>,
) -> (Addr<SerialLink>, Arc<SerialCounters>) {
    let link = SerialLink::new(id, device, 115_200, Arc::clone(keys), table, &logger());
    let counters = link.counters();
    let addr = Supervisor::start(move |_| link);
    addr.send(Flush).await.expect("link answers");
    (addr, counters)
}

/// Writes raw bytes into a pty end from a thread of its own (a write blocks
/// while the pty is full).
fn write_raw(device: &Path, bytes: Vec<u8>) -> std::thread::JoinHandle<()> {
    let mut tty = OpenOptions::new()
        .write(true)
        .open(device)
        .expect("opening the pty end");
    std::thread::spawn(move || tty.write_all(&bytes).expect("writing to the pty"))
}

fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

#[actix::test]
async fn a_packet_sent_on_one_end_is_decoded_on_the_other() {
    let pair = PtyPair::start("roundtrip").await;
    let k = keys(b"serial secret");
    let (rec_a, table_a) = recorder();
    let (rec_b, table_b) = recorder();
    let (link_a, counters_a) = link(0, pair.a(), &k, table_a).await;
    let (link_b, counters_b) = link(1, pair.b(), &k, table_b).await;

    let from_a = signed(&status("alpha", 1), &k);
    let from_b = signed(&status("beta", 7), &k);
    link_a
        .send(SendPacket {
            bytes: from_a.clone().into(),
        })
        .await
        .expect("link a answers");
    link_b
        .send(SendPacket {
            bytes: from_b.clone().into(),
        })
        .await
        .expect("link b answers");

    eventually("both packets", DEADLINE, || {
        rec_a.len() == 1 && rec_b.len() == 1
    })
    .await;
    assert_eq!(rec_b.messages(), vec![(1, decoded(&from_a, &k))]);
    assert_eq!(rec_a.messages(), vec![(0, decoded(&from_b, &k))]);
    for c in [&counters_a, &counters_b] {
        assert_eq!(count(&c.received), 1);
        assert_eq!(count(&c.bad_packets), 0);
        assert_eq!(count(&c.queue_full), 0);
    }
}

#[actix::test]
async fn garbage_and_packets_signed_with_another_key_are_not_forwarded() {
    let pair = PtyPair::start("garbage").await;
    let k = keys(b"serial secret");
    let (rec, table) = recorder();
    let (_link, counters) = link(3, pair.b(), &k, table).await;

    let mut wire: Vec<u8> = b"\x00\xff\xfe<<<\nrandom line\n>>\n".to_vec();
    wire.extend((0u32..2000).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & 0x7e));
    wire.extend_from_slice(b"\n>>>\nthis line has no equals sign\n<<<\n");
    wire.extend(signed(&status("mallory", 1), &keys(b"another key")));
    let good = signed(&status("alpha", 2), &k);
    wire.extend_from_slice(&good);
    write_raw(&pair.a(), wire).join().expect("writer thread");

    // The good packet came last, so once it is in, everything before was judged.
    eventually("the good packet", DEADLINE, || rec.len() == 1).await;
    assert_eq!(rec.messages(), vec![(3, decoded(&good, &k))]);
    assert_eq!(
        count(&counters.bad_packets),
        2,
        "the bogus frame and the wrong key"
    );
    assert_eq!(count(&counters.received), 1);
}

#[actix::test]
async fn a_frame_after_leading_noise_is_still_decoded() {
    let pair = PtyPair::start("noise").await;
    let k = keys(b"serial secret");
    let (rec, table) = recorder();
    let (_link, counters) = link(0, pair.b(), &k, table).await;

    let first = signed(&status("alpha", 1), &k);
    let second = signed(&status("alpha", 2), &k);
    let mut wire = b"line noise\r\n\x00".to_vec();
    wire.extend_from_slice(&first);
    // Noise on the header line itself, as a break (a NUL) or a half-sent line leaves it.
    wire.extend_from_slice(b"\x00st=hal");
    wire.extend_from_slice(&second);
    write_raw(&pair.a(), wire).join().expect("writer thread");

    eventually("both packets", DEADLINE, || rec.len() == 2).await;
    assert_eq!(
        rec.messages(),
        vec![(0, decoded(&first, &k)), (0, decoded(&second, &k))]
    );
    assert_eq!(count(&counters.bad_packets), 0);
}

#[actix::test]
async fn a_frame_longer_than_max_msg_is_dropped() {
    let pair = PtyPair::start("oversized").await;
    let k = keys(b"serial secret");
    let (rec, table) = recorder();
    let (_link, counters) = link(0, pair.b(), &k, table).await;

    let mut wire = b">>>\nt=status\n".to_vec();
    while wire.len() <= MAX_MSG {
        wire.extend_from_slice(b"pad=0123456789abcdef0123456789abcdef\n");
    }
    wire.extend_from_slice(b"<<<\n");
    let good = signed(&status("alpha", 3), &k);
    wire.extend_from_slice(&good);
    let writer = write_raw(&pair.a(), wire);

    eventually("the packet after the long frame", DEADLINE, || {
        rec.len() == 1
    })
    .await;
    writer.join().expect("writer thread");
    assert_eq!(rec.messages(), vec![(0, decoded(&good, &k))]);
    assert_eq!(count(&counters.oversized), 1);
    assert_eq!(count(&counters.bad_packets), 0);
}

#[actix::test]
async fn a_link_reopens_its_device_after_it_disappears() {
    let mut pair = PtyPair::start("reopen").await;
    let k = keys(b"serial secret");
    let (rec_a, table_a) = recorder();
    let (rec_b, table_b) = recorder();
    let (link_a, _) = link(0, pair.a(), &k, table_a).await;
    let (link_b, _) = link(1, pair.b(), &k, table_b).await;

    let before = signed(&status("alpha", 1), &k);
    link_a
        .send(SendPacket {
            bytes: before.clone().into(),
        })
        .await
        .expect("link a answers");
    eventually("the first packet", DEADLINE, || rec_b.len() == 1).await;

    // Both ptys are hung up and then gone: each link fails, stops, and is
    // restarted by its supervisor, retrying the open with a growing delay.
    pair.kill();
    pair.spawn().await;

    // Until a link has reopened, what it is given to send is dropped: keep
    // sending until packets flow again both ways.
    let after_a = signed(&status("alpha", 2), &k);
    let after_b = signed(&status("beta", 2), &k);
    let end = actix::clock::Instant::now() + Duration::from_secs(20);
    while rec_b.len() < 2 || rec_a.is_empty() {
        assert!(
            actix::clock::Instant::now() < end,
            "the links did not come back"
        );
        for (link, bytes) in [(&link_a, &after_a), (&link_b, &after_b)] {
            link.send(SendPacket {
                bytes: bytes.clone().into(),
            })
            .await
            .expect("the supervised link answers");
        }
        actix::clock::sleep(Duration::from_millis(100)).await;
    }
    let got_b = rec_b.messages();
    assert_eq!(got_b[0], (1, decoded(&before, &k)));
    assert_eq!(got_b[1], (1, decoded(&after_a, &k)));
    assert_eq!(rec_a.messages()[0], (0, decoded(&after_b, &k)));
}

/// The device is opened exclusively, so a second open succeeds only once the
/// link's threads have closed it.
fn open_elsewhere(device: &Path) -> serialport::Result<serialport::TTYPort> {
    serialport::new(device.to_string_lossy(), 115_200).open_native()
}

#[test]
fn the_threads_close_the_device_when_the_system_goes_away() {
    let sys = actix::System::new();
    let pair = sys.block_on(PtyPair::start("release"));
    sys.block_on(async {
        let (_rec, table) = recorder();
        let _link = link(0, pair.b(), &keys(b"serial secret"), table).await;
        assert!(
            open_elsewhere(&pair.b()).is_err(),
            "the link holds the device"
        );
    });
    drop(sys);

    let end = std::time::Instant::now() + DEADLINE;
    while let Err(e) = open_elsewhere(&pair.b()) {
        assert!(
            std::time::Instant::now() < end,
            "the device is still held: {e}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
