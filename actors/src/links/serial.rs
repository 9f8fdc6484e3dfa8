//! Serial media: `serial /dev/ttyS0`. One actor per device; the tty is read and
//! written by two threads of its own, so that no serial I/O ever blocks the
//! actor's thread.
//!
//! ```text
//!  SendPacket ─> SerialLink ── sync_channel(64), try_send ──> writer thread ──> tty
//!  node table <── try_send(PacketReceived) ── reader thread: frame, decode, verify <── tty
//!  SerialLink <── LinkFailed (one per thread and open, do_send) ── either thread on an I/O error
//! ```
//!
//! # Line settings
//! 8N1, raw, `CREAD|CLOCAL`, the `baud` of `ha.cf`, and **no flow control**.
//! 3.0.6 sets `CRTSCTS|CLOCAL|CREAD`, `IGNCR|INPCK|ISTRIP|BRKINT` and VMIN=1
//! VTIME=1 (spec §5). What we do instead, and why:
//! * No `CRTSCTS`: with hardware flow control a three-wire null-modem cable, or a
//!   peer that never raises RTS, stalls every write forever. Linux raises our RTS
//!   and DTR at open, so a 3.0.6 peer that does use `CRTSCTS` still sees CTS and
//!   can send to us. Heartbeat traffic is a few hundred bytes per keepalive, far
//!   below what a receiver can lose to overruns, and the writer paces long
//!   packets as 3.0.6 does.
//! * `IGNCR` is done here, in the reader: every `\r` byte is dropped, so a line
//!   that went through a CR-LF device still frames.
//! * `ISTRIP` is not done: valid packets are 7-bit, and stripping would only turn
//!   8-bit junk into other junk. `INPCK` is moot without parity.
//! * `BRKINT`: our tty is not a controlling terminal, so a break only flushes
//!   3.0.6's input; in raw mode it reaches us as a NUL byte, which the framing
//!   skips like any noise before `>>>`.
//! * VMIN/VTIME: reads wait with `poll` and a 200 ms timeout instead, so the
//!   reader notices when it is told to stop.
//!
//! Like 3.0.6 we send a break when the device is opened, and write packets in
//! 512-byte fragments with a pause of `512 / (baud / 8)` s between them.
//!
//! # Framing (reader)
//! Skip lines until one that ends in `>>>` (3.0.6 wants the line to be exactly
//! `>>>`; we also accept noise before it on the same line), then collect lines
//! until `<<<`. A frame that reaches [`MAX_MSG`] bytes is dropped; a line `>>>`
//! inside a frame starts a new frame (the old one was cut short). Every complete
//! frame goes through [`packet::decode`], which authenticates it.
//!
//! # Failure and restart
//! An I/O error other than a timeout (the device is gone, the pty was hung up)
//! makes the failing thread send `LinkFailed` to the actor, which stops its
//! threads and stops after the [`Backoff`] delay; the supervisor then restarts it
//! and `started` opens the device again. The device is opened exclusively, so the
//! new open waits until the previous threads have ended and closed it.

use std::io::{self, Read as _};
use std::mem;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use actix::prelude::*;
use hb_core::membership::LinkId;
use hb_core::ratelimit::LogLimiter;
use hb_core::wire::{packet, text, MAX_MSG};
use serialport::{DataBits, FlowControl, Parity, SerialPort as _, StopBits, TTYPort};
use slog::{debug, error, info, trace, warn, Logger};
use tokio::sync::oneshot;

use super::Backoff;
use crate::keys::SharedKeys;
use crate::messages::{Flush, PacketReceived, SendPacket};

/// Outgoing packets waiting for the writer. A line that does not drain (a stuck
/// UART, a pty nobody reads) costs at most this many packets of memory; more are
/// dropped and counted.
pub const WRITE_QUEUE: usize = 64;

/// How long one read waits for bytes before the reader checks its stop flag.
const READ_POLL: Duration = Duration::from_millis(200);
/// The same for one write.
const WRITE_POLL: Duration = Duration::from_millis(100);
/// A packet the line accepts no byte of for this long is abandoned (3.0.6 puts
/// each write under a 500 ms alarm).
const WRITE_STALL: Duration = Duration::from_millis(500);
/// Writes go out in fragments of this size, as in 3.0.6.
const FRAGMENT: usize = 512;
/// How long the break sent at open lasts (what `tcsendbreak(fd, 0)` gives).
const BREAK: Duration = Duration::from_millis(250);
/// The longest a [`Flush`] waits for the writer.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// How often `started` checks whether the previous threads have closed the tty.
const REOPEN_POLL: Duration = Duration::from_millis(20);

/// What a serial link dropped or passed on. Shared with its threads and kept
/// across restarts; read it with [`Ordering::Relaxed`].
#[derive(Debug, Default)]
pub struct SerialCounters {
    /// Frames that decoded and passed authentication (those then dropped are
    /// also counted in `dropped_full`).
    pub received: AtomicU64,
    /// Frames that failed to decode or authenticate, including frames cut short
    /// by the next `>>>`.
    pub bad_packets: AtomicU64,
    /// Frames dropped because they reached [`MAX_MSG`] bytes.
    pub oversized: AtomicU64,
    /// Authenticated packets dropped because the node table's mailbox was full.
    pub dropped_full: AtomicU64,
    /// Outgoing packets dropped because the write queue was full.
    pub queue_full: AtomicU64,
    /// Outgoing packets abandoned part-way because the line took no byte for 500 ms.
    pub write_stalled: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// `" (N more since the last report)"`, or nothing.
fn more(suppressed: u64) -> String {
    if suppressed > 0 {
        format!(" ({suppressed} more since the last report)")
    } else {
        String::new()
    }
}

/// From one of the link's own I/O threads: the device failed. Internal to this
/// link (thread to actor), so it lives here rather than in `messages.rs`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct LinkFailed {
    /// Which open of the device the thread belonged to; a report from an older
    /// one is ignored.
    generation: u64,
    what: &'static str,
    error: io::Error,
}

/// Work for the writer thread.
enum WriteJob {
    Packet(Arc<[u8]>),
    /// Answer once every earlier packet has been handed to the kernel.
    Flush(oneshot::Sender<()>),
}

/// The running threads of one open of the device. Dropping it tells them to
/// end: the stop flag for the reader, the closed queue for the writer. This also
/// happens when the actor is dropped without stopping (the System goes away).
struct Io {
    generation: u64,
    queue: SyncSender<WriteJob>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Io {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One serial link. Supervised: an I/O error stops it and it is restarted after
/// a growing delay, re-opening the device.
pub struct SerialLink {
    link: LinkId,
    device: PathBuf,
    baud: u32,
    keys: SharedKeys,
    /// Where authenticated packets go: a recipient, so tests can plug in a recorder.
    table: Recipient<PacketReceived>,
    /// The threads of the current open: `None` until opened, and again after a failure.
    io: Option<Io>,
    /// Threads of earlier opens that may still hold the tty (they end within
    /// [`READ_POLL`] or [`WRITE_STALL`] of being told to).
    exiting: Vec<JoinHandle<()>>,
    generation: u64,
    backoff: Backoff,
    counters: Arc<SerialCounters>,
    /// Counts dropped packets by reason (shared with the daemon's metrics).
    metrics: crate::metrics::Metrics,
    /// Bounds the log lines about a full write queue.
    queue_full: LogLimiter,
    /// Bounds the log lines about packets that are not in text form.
    not_text: LogLimiter,
    origin: actix::clock::Instant,
    log: Logger,
}

impl SerialLink {
    /// A link on `device` at `baud` bit/s, reporting to `table` as link number `link`.
    pub fn new(
        link: LinkId,
        device: PathBuf,
        baud: u32,
        keys: impl Into<SharedKeys>,
        table: Recipient<PacketReceived>,
        log: &Logger,
    ) -> SerialLink {
        let log = log.new(slog::o!("actor" => "link", "link" => device.display().to_string()));
        SerialLink {
            link,
            device,
            baud,
            keys: keys.into(),
            table,
            io: None,
            exiting: Vec::new(),
            generation: 0,
            backoff: Backoff::default(),
            counters: Arc::default(),
            metrics: crate::metrics::Metrics::default(),
            queue_full: LogLimiter::new(Duration::from_secs(10)),
            not_text: LogLimiter::new(Duration::from_secs(10)),
            origin: actix::clock::Instant::now(),
            log,
        }
    }

    /// Counts the packets this link drops in `metrics` (status and `/metrics`).
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> SerialLink {
        self.metrics = metrics;
        self
    }

    /// The link's counters (the same ones before and after it starts).
    pub fn counters(&self) -> Arc<SerialCounters> {
        Arc::clone(&self.counters)
    }

    fn mono(&self) -> hb_core::time::Instant {
        super::mono_since(self.origin)
    }

    /// Tells the threads to end (by dropping [`Io`]); they are reaped by
    /// [`SerialLink::open`].
    fn stop_io(&mut self) {
        if let Some(mut io) = self.io.take() {
            self.exiting.append(&mut io.threads);
        }
    }

    fn fail(&mut self, ctx: &mut Context<Self>, what: &str, e: &io::Error) {
        self.stop_io();
        let delay = self.backoff.next_delay();
        error!(self.log, "{what} on {}: {e}; retrying in {} ms", self.device.display(), delay.as_millis();
            "failures" => self.backoff.failures);
        ctx.run_later(delay, |_, ctx| ctx.stop());
    }

    /// Opens the device and starts its threads, once the threads of the previous
    /// open have released it (the device is opened exclusively).
    fn open(&mut self, ctx: &mut Context<Self>) {
        let (done, running): (Vec<_>, Vec<_>) = mem::take(&mut self.exiting)
            .into_iter()
            .partition(|t| t.is_finished());
        self.exiting = running;
        for t in done {
            if t.join().is_err() {
                error!(
                    self.log,
                    "an I/O thread of {} panicked",
                    self.device.display()
                );
            }
        }
        if !self.exiting.is_empty() {
            ctx.run_later(REOPEN_POLL, |act, ctx| act.open(ctx));
            return;
        }
        self.generation += 1;
        match self.start_io(ctx) {
            Ok(io) => {
                self.io = Some(io);
                if self.backoff.failures > 0 {
                    info!(self.log, "link {} works again", self.device.display());
                } else {
                    debug!(self.log, "serial link open"; "baud" => self.baud);
                }
                self.backoff.reset();
            }
            Err(e) => self.fail(ctx, "cannot open the link", &e),
        }
    }

    fn start_io(&mut self, ctx: &mut Context<Self>) -> io::Result<Io> {
        let mut port = serialport::new(self.device.to_string_lossy(), self.baud)
            .data_bits(DataBits::Eight)
            .parity(Parity::None)
            .stop_bits(StopBits::One)
            .flow_control(FlowControl::None)
            .timeout(READ_POLL)
            .open_native()?;
        let mut out = port.try_clone_native()?;
        out.set_timeout(WRITE_POLL)?;
        port.set_timeout(READ_POLL)?;

        let stop = Arc::new(AtomicBool::new(false));
        let ctl = ThreadCtl {
            generation: self.generation,
            stop: Arc::clone(&stop),
            owner: ctx.address().downgrade(),
            counters: Arc::clone(&self.counters),
            metrics: self.metrics.clone(),
            device: self.device.display().to_string(),
            log: self.log.clone(),
        };
        let inbound = Inbound {
            link: self.link,
            keys: self.keys.clone(),
            table: self.table.clone(),
            bad: LogLimiter::new(Duration::from_secs(10)),
            full: LogLimiter::new(Duration::from_secs(10)),
            origin: std::time::Instant::now(),
            ctl: ctl.clone(),
        };
        let (queue, jobs) = mpsc::sync_channel(WRITE_QUEUE);
        let baud = self.baud;

        let reader = thread::Builder::new()
            .name("hb-serial-rx".into())
            .stack_size(crate::realtime::THREAD_STACK)
            .spawn(move || read_loop(port, inbound))?;
        let writer = thread::Builder::new()
            .name("hb-serial-tx".into())
            .stack_size(crate::realtime::THREAD_STACK)
            .spawn(move || write_loop(out, jobs, baud, ctl));
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                // The reader holds the tty until it sees the flag.
                stop.store(true, Ordering::Relaxed);
                self.exiting.push(reader);
                return Err(e);
            }
        };
        Ok(Io {
            generation: self.generation,
            queue,
            stop,
            threads: vec![reader, writer],
        })
    }
}

impl Actor for SerialLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.open(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.stop_io();
    }
}

impl Supervised for SerialLink {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        // The struct is reused: make sure the old threads are ending; `started`
        // waits for them and opens the device again.
        self.stop_io();
    }
}

impl Handler<SendPacket> for SerialLink {
    type Result = ();

    fn handle(&mut self, msg: SendPacket, _: &mut Context<Self>) {
        let Some(io) = &self.io else { return };
        if !msg.bytes.starts_with(text::HEADER) {
            // A bug upstream: a serial peer could not even frame it.
            if let Some(suppressed) = self.not_text.hit(self.mono()) {
                error!(
                    self.log,
                    "not sending a packet that is not in text form on {}{}",
                    self.device.display(),
                    more(suppressed)
                );
            }
            return;
        }
        match io.queue.try_send(WriteJob::Packet(msg.bytes)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                bump(&self.counters.queue_full);
                if let Some(suppressed) = self.queue_full.hit(self.mono()) {
                    warn!(self.log, "{} is not draining: dropped a packet{}", self.device.display(), more(suppressed);
                        "dropped_total" => self.counters.queue_full.load(Ordering::Relaxed));
                }
            }
            // The writer ended on an I/O error; its LinkFailed is on the way.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Handler<Flush> for SerialLink {
    type Result = ResponseFuture<()>;

    /// Answers once the writer has handed every earlier packet to the kernel (or
    /// after 2 s, or at once if the link is not open).
    fn handle(&mut self, _: Flush, _: &mut Context<Self>) -> ResponseFuture<()> {
        let Some(io) = &self.io else {
            return Box::pin(async {});
        };
        let (done, wait) = oneshot::channel();
        if io.queue.try_send(WriteJob::Flush(done)).is_err() {
            // Full: the line is stuck and nothing queued would leave in time anyway.
            // Closed: the writer is gone.
            return Box::pin(async {});
        }
        let log = self.log.clone();
        Box::pin(async move {
            match tokio::time::timeout(FLUSH_TIMEOUT, wait).await {
                Ok(Ok(())) => {}
                // The writer ended (I/O error or restart): nothing more will be written.
                Ok(Err(_)) => debug!(log, "flush: the writer ended first"),
                Err(_) => warn!(log, "flush: the line did not drain in time";
                    "timeout_ms" => FLUSH_TIMEOUT.as_millis()),
            }
        })
    }
}

impl Handler<LinkFailed> for SerialLink {
    type Result = ();

    fn handle(&mut self, msg: LinkFailed, ctx: &mut Context<Self>) {
        if self.io.as_ref().map(|io| io.generation) != Some(msg.generation) {
            return; // an older open, already dealt with
        }
        self.fail(ctx, msg.what, &msg.error);
    }
}

// ---- the I/O threads ----------------------------------------------------------------

/// What both threads need to stop and to report.
#[derive(Clone)]
struct ThreadCtl {
    generation: u64,
    stop: Arc<AtomicBool>,
    /// Weak: the link's own threads do not keep it alive.
    owner: actix::WeakAddr<SerialLink>,
    counters: Arc<SerialCounters>,
    metrics: crate::metrics::Metrics,
    device: String,
    log: Logger,
}

impl ThreadCtl {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Reports a failure, unless the link already told this thread to stop.
    fn failed(&self, what: &'static str, error: io::Error) {
        if self.stopping() {
            return;
        }
        if let Some(owner) = self.owner.upgrade() {
            // do_send ignores the mailbox capacity, but each thread sends this at
            // most once per open and then ends: at most two per open.
            owner.do_send(LinkFailed {
                generation: self.generation,
                what,
                error,
            });
        }
    }
}

/// A read or write that found nothing to do in time, or was interrupted.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The receive side: frames, authenticates and forwards.
struct Inbound {
    link: LinkId,
    keys: SharedKeys,
    table: Recipient<PacketReceived>,
    /// Bounds the log lines about bad packets.
    bad: LogLimiter,
    /// Bounds the log lines about a full node-table mailbox.
    full: LogLimiter,
    /// This thread runs outside the actix runtime, so it reads the std clock
    /// (actix's clock would fall back to it here anyway).
    origin: std::time::Instant,
    ctl: ThreadCtl,
}

impl Inbound {
    fn mono(&self) -> hb_core::time::Instant {
        hb_core::time::Instant::from_millis(
            u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX),
        )
    }

    fn bad(&mut self, what: std::fmt::Arguments<'_>) {
        if let Some(suppressed) = self.bad.hit(self.mono()) {
            error!(
                self.ctl.log,
                "bad packet on {}: {what}{}",
                self.ctl.device,
                more(suppressed)
            );
        }
    }

    fn handle(&mut self, framed: Framed) {
        let counters = Arc::clone(&self.ctl.counters);
        match framed {
            Framed::Frame(bytes) => match packet::decode(&bytes, &self.keys.get()) {
                Ok(msg) => {
                    trace!(self.ctl.log, "packet"; "bytes" => bytes.len());
                    bump(&counters.received);
                    let msg = PacketReceived {
                        link: self.link,
                        msg,
                    };
                    if self.table.try_send(msg).is_err() {
                        bump(&counters.dropped_full);
                        self.ctl.metrics.dropped("table_full");
                        if let Some(suppressed) = self.full.hit(self.mono()) {
                            warn!(self.ctl.log, "the node table is not taking packets from {}: dropped one{}",
                                self.ctl.device, more(suppressed);
                                "dropped_total" => counters.dropped_full.load(Ordering::Relaxed));
                        }
                    }
                }
                Err(e) => {
                    bump(&counters.bad_packets);
                    self.ctl.metrics.dropped(super::drop_reason(&e));
                    self.bad(format_args!("{e}"));
                }
            },
            Framed::Cut => {
                bump(&counters.bad_packets);
                self.ctl.metrics.dropped("malformed");
                self.bad(format_args!("cut short by the next >>> line"));
            }
            Framed::TooLarge => {
                bump(&counters.oversized);
                self.ctl.metrics.dropped("oversized");
                self.bad(format_args!("longer than {} bytes, dropped", MAX_MSG - 1));
            }
        }
    }
}

fn read_loop(mut port: TTYPort, mut inbound: Inbound) {
    let mut framer = Framer::default();
    let mut buf = [0u8; 4096];
    while !inbound.ctl.stopping() {
        match port.read(&mut buf) {
            Ok(0) => {
                let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "end of file on the tty");
                return inbound.ctl.failed("read failed", eof);
            }
            Ok(n) => framer.push(&buf[..n], |f| inbound.handle(f)),
            Err(e) if transient(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                let hup = io::Error::new(io::ErrorKind::BrokenPipe, "the tty was hung up");
                return inbound.ctl.failed("read failed", hup);
            }
            Err(e) => return inbound.ctl.failed("read failed", e),
        }
    }
}

fn write_loop(mut port: TTYPort, jobs: Receiver<WriteJob>, baud: u32, ctl: ThreadCtl) {
    // 3.0.6 sends a break at open; on a pty this does nothing.
    let sent_break = port.set_break().and_then(|()| {
        thread::sleep(BREAK);
        port.clear_break()
    });
    if let Err(e) = sent_break {
        debug!(ctl.log, "cannot send a break"; "error" => %e);
    }
    let mut stalled = LogLimiter::new(Duration::from_secs(10));
    let origin = std::time::Instant::now();
    // Ends when the link drops the queue (stop, restart) or on an I/O error.
    while let Ok(job) = jobs.recv() {
        if ctl.stopping() {
            return;
        }
        let bytes = match job {
            WriteJob::Packet(bytes) => bytes,
            WriteJob::Flush(done) => {
                // The receiver may have timed out and gone: nothing to tell then.
                let _ = done.send(());
                continue;
            }
        };
        match write_packet(&mut port, &bytes, baud, &ctl.stop) {
            Ok(Written::All) => {}
            Ok(Written::Stopped) => return,
            Ok(Written::Stalled) => {
                bump(&ctl.counters.write_stalled);
                let now = hb_core::time::Instant::from_millis(
                    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX),
                );
                if let Some(suppressed) = stalled.hit(now) {
                    warn!(ctl.log, "{} takes no data: abandoned a packet part-way{}", ctl.device, more(suppressed);
                        "stall_ms" => WRITE_STALL.as_millis());
                }
            }
            Err(e) => return ctl.failed("write failed", e),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Written {
    All,
    /// The line took no byte for [`WRITE_STALL`]; the rest was dropped. The
    /// receiver resynchronises on the next `>>>`.
    Stalled,
    /// The link told the thread to stop.
    Stopped,
}

/// Writes one packet fully, in [`FRAGMENT`]-byte pieces paced as 3.0.6 does.
fn write_packet(
    port: &mut impl io::Write,
    bytes: &[u8],
    baud: u32,
    stop: &AtomicBool,
) -> io::Result<Written> {
    for (i, fragment) in bytes.chunks(FRAGMENT).enumerate() {
        if i > 0 {
            // 3.0.6: sleep 512 / (baud / 8) s between fragments.
            let micros = (FRAGMENT as u64 * 8_000_000) / u64::from(baud.max(1));
            thread::sleep(Duration::from_micros(micros));
        }
        let mut rest = fragment;
        let mut progress = std::time::Instant::now();
        while !rest.is_empty() {
            if stop.load(Ordering::Relaxed) {
                return Ok(Written::Stopped);
            }
            match port.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    rest = &rest[n..];
                    progress = std::time::Instant::now();
                }
                Err(e) if transient(&e) => {
                    if progress.elapsed() >= WRITE_STALL {
                        return Ok(Written::Stalled);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Written::All)
}

// ---- framing --------------------------------------------------------------------------

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
enum Framed {
    /// `>>>\n` ... `<<<\n`, to be decoded.
    Frame(Vec<u8>),
    /// A `>>>` line came before the frame's `<<<`.
    Cut,
    /// The frame reached [`MAX_MSG`] bytes and was dropped.
    TooLarge,
}

/// Cuts the byte stream of a serial line into text frames. Memory is bounded by
/// [`MAX_MSG`]; any byte sequence is accepted.
#[derive(Debug, Default)]
struct Framer {
    /// The frame so far, from `>>>\n`, while `in_frame`.
    frame: Vec<u8>,
    in_frame: bool,
    /// Where the current line starts in `frame`.
    line_start: usize,
    /// Outside a frame: the last bytes of the current line (the last `tail_len`
    /// of these three, at most three).
    tail: [u8; 3],
    tail_len: usize,
}

impl Framer {
    fn push(&mut self, bytes: &[u8], mut out: impl FnMut(Framed)) {
        for &b in bytes {
            if b == b'\r' {
                continue; // IGNCR, as 3.0.6 sets it
            }
            if !self.in_frame {
                if b == b'\n' {
                    if self.tail_len == 3 && &self.tail == b">>>" {
                        self.start();
                    }
                    self.tail_len = 0;
                } else {
                    self.tail = [self.tail[1], self.tail[2], b];
                    self.tail_len = (self.tail_len + 1).min(3);
                }
                continue;
            }
            self.frame.push(b);
            if self.frame.len() >= MAX_MSG {
                // The rest of this line is skipped like noise.
                self.frame = Vec::new();
                self.in_frame = false;
                self.tail_len = 0;
                out(Framed::TooLarge);
                continue;
            }
            if b != b'\n' {
                continue;
            }
            let line = &self.frame[self.line_start..self.frame.len() - 1];
            if line == b"<<<" {
                self.in_frame = false;
                out(Framed::Frame(mem::take(&mut self.frame)));
            } else if line == b">>>" {
                out(Framed::Cut);
                self.start();
            } else {
                self.line_start = self.frame.len();
            }
        }
    }

    fn start(&mut self) {
        self.frame.clear();
        self.frame.extend_from_slice(text::HEADER);
        self.line_start = self.frame.len();
        self.in_frame = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Vec<Framed> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |x| out.push(x));
        }
        out
    }

    fn frame(s: &[u8]) -> Framed {
        Framed::Frame(s.to_vec())
    }

    #[test]
    fn frames_are_found_after_noise_lines_and_noise_on_the_header_line() {
        assert_eq!(
            frames(&[b"junk\n\0\xff>>>\nt=status\n<<<\nmore junk\n>>>\nt=x\n<<<\n"]),
            vec![frame(b">>>\nt=status\n<<<\n"), frame(b">>>\nt=x\n<<<\n")]
        );
    }

    #[test]
    fn a_frame_split_into_single_bytes_is_the_same_frame() {
        let wire = b">>>\r\nt=status\r\nst=up\r\n<<<\r\n";
        let chunks: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(frames(&chunks), vec![frame(b">>>\nt=status\nst=up\n<<<\n")]);
    }

    #[test]
    fn a_header_line_inside_a_frame_starts_over() {
        assert_eq!(
            frames(&[b">>>\nt=sta>>>\nt=x\n>>>\nt=y\n<<<\n"]),
            vec![Framed::Cut, frame(b">>>\nt=y\n<<<\n")]
        );
    }

    #[test]
    fn nothing_comes_out_of_an_unterminated_frame_or_plain_junk() {
        assert_eq!(frames(&[b"<<<\n>>\n>>>", b"\nt=x\n"]), vec![]);
    }

    #[test]
    fn a_frame_reaching_max_msg_is_dropped_and_the_next_one_is_found() {
        let mut wire = b">>>\n".to_vec();
        while wire.len() < MAX_MSG + 10 {
            wire.extend_from_slice(b"x=0123456789abcdef\n");
        }
        wire.extend_from_slice(b"<<<\n>>>\nt=ok\n<<<\n");
        assert_eq!(
            frames(&[&wire]),
            vec![Framed::TooLarge, frame(b">>>\nt=ok\n<<<\n")]
        );
    }

    #[test]
    fn a_frame_one_byte_under_max_msg_is_kept() {
        let mut wire = b">>>\n".to_vec();
        let body = MAX_MSG - 1 - wire.len() - b"\n<<<\n".len();
        wire.extend(std::iter::repeat_n(b'y', body));
        wire.extend_from_slice(b"\n<<<\n");
        assert_eq!(wire.len(), MAX_MSG - 1);
        assert_eq!(frames(&[&wire]), vec![frame(&wire)]);
    }

    /// A writer that accepts nothing, like a pty nobody reads.
    struct Stuck;

    impl io::Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            thread::sleep(Duration::from_millis(20));
            Err(io::ErrorKind::TimedOut.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_line_abandons_the_packet_and_a_stop_ends_the_write() {
        let stop = AtomicBool::new(false);
        assert_eq!(
            write_packet(&mut Stuck, b">>>\n<<<\n", 19200, &stop).ok(),
            Some(Written::Stalled)
        );
        stop.store(true, Ordering::Relaxed);
        assert_eq!(
            write_packet(&mut Stuck, b">>>\n<<<\n", 19200, &stop).ok(),
            Some(Written::Stopped)
        );
    }

    #[test]
    fn long_packets_are_written_whole_in_fragments() {
        let stop = AtomicBool::new(false);
        let bytes: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        assert_eq!(
            write_packet(&mut out, &bytes, 460_800, &stop).ok(),
            Some(Written::All)
        );
        assert_eq!(out, bytes);
    }
}
