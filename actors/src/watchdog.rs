//! `watchdog DEV` (spec §11): the [`WatchdogFeeder`] actor keeps a watchdog
//! device fed for as long as the node table is alive.
//!
//! * [`open`]: `DEV` is opened write-only, close-on-exec and **non-blocking**
//!   (a FIFO without a reader then fails with `ENXIO` instead of blocking the
//!   start; a test starts its reader first). The fd stays non-blocking, so a
//!   write can never stall the System thread: a full pipe is a write error
//!   (`EAGAIN`), logged like any other. `WDIOC_SETTIMEOUT` asks for
//!   ceil((deadtime + 10 ms) / 1 s) seconds; a file that is not a watchdog
//!   (a FIFO, a regular file) refuses it with `ENOTTY`, which is a warning.
//!   Then `Using watchdog device: DEV`.
//! * Every keepalive the feeder sends a [`LivenessProbe`] to the node table
//!   and writes a single NUL byte only if the table answers within a
//!   keepalive. A wedged decision loop therefore stops the feeding, and the
//!   device reboots the machine. (3.0.6 feeds when it processes its own
//!   heartbeat, which is also once per keepalive.)
//! * [`RetimeWatchdog`] (a reload with a new keepalive or deadtime): the
//!   probes follow the new keepalive, and the timeout is set again from the
//!   new deadtime.
//! * [`MagicClose`], at the end of a graceful stop: writes `V` and closes, so
//!   a real device disarms. A daemon that dies without it leaves the device
//!   armed, on purpose.
//! * Write errors and unanswered probes are logged at a bounded rate
//!   ([`hb_core::ratelimit::LogLimiter`]); the daemon never stops for them.
//!
//! Never test this against a real watchdog device: it reboots the machine.
//! The tests use a FIFO or a regular file.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::prelude::*;
use hb_core::ratelimit::LogLimiter;
use hb_core::time::Instant;
use slog::{error, info, warn, Logger};

use crate::node_table::NodeTable;

/// How often a repeated problem (write error, unanswered probe) is logged.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// "Are you alive?" The node table answers it as soon as it handles it; an
/// answer within a keepalive lets the feeder feed the watchdog.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct LivenessProbe;

impl Handler<LivenessProbe> for NodeTable {
    type Result = ();

    /// Handling the message is the answer: the mailbox is being served.
    fn handle(&mut self, _: LivenessProbe, _: &mut Context<Self>) {}
}

/// Write `V` (the magic close) and close the device; answers once done.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct MagicClose;

/// A reload changed the timing: probe every `keepalive`, and set the
/// device's timeout from `deadtime`.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct RetimeWatchdog {
    /// The new keepalive.
    pub keepalive: Duration,
    /// The new deadtime.
    pub deadtime: Duration,
}

/// The `WDIOC_SETTIMEOUT` value for `deadtime`, as 3.0.6 computes it:
/// ceil((deadtime + 10 ms) / 1000 ms) seconds.
pub fn timeout_secs(deadtime: Duration) -> i32 {
    let ms = deadtime.as_millis().saturating_add(10);
    i32::try_from(ms.div_ceil(1000)).unwrap_or(i32::MAX)
}

/// Opens the device write-only, close-on-exec and non-blocking.
pub fn open_device(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` and sets its timeout from `deadtime`, logging as 3.0.6 does.
/// `None` (after an error line) if it cannot be opened: the daemon runs on
/// without a watchdog, as 3.0.6 does.
pub fn open(path: &Path, deadtime: Duration, log: &Logger) -> Option<File> {
    let dev = match open_device(path) {
        Ok(f) => f,
        Err(e) => {
            error!(
                log,
                "Cannot open watchdog device: {}: {e}; running without a watchdog",
                path.display()
            );
            return None;
        }
    };
    set_timeout(&dev, path, deadtime, log);
    info!(log, "Using watchdog device: {}", path.display());
    Some(dev)
}

/// Sets the device's timeout from `deadtime` (`WDIOC_SETTIMEOUT`), logging the
/// result; a device that refuses keeps its own timeout (a warning).
fn set_timeout(dev: &File, path: &Path, deadtime: Duration, log: &Logger) {
    let secs = timeout_secs(deadtime);
    match crate::sys::set_watchdog_timeout(dev, secs) {
        Ok(set) => info!(log, "Watchdog timeout set to {set} s"; "asked" => secs),
        Err(e) => warn!(
            log,
            "Cannot set the timeout of watchdog device {} to {secs} s (WDIOC_SETTIMEOUT: {e}); it keeps its own",
            path.display()
        ),
    }
}

/// Feeds an open watchdog device while the node table answers.
pub struct WatchdogFeeder {
    /// `None` once closed.
    dev: Option<File>,
    path: PathBuf,
    table: Recipient<LivenessProbe>,
    keepalive: Duration,
    /// A probe is out: the next tick does not send another.
    probing: bool,
    write_errors: LogLimiter,
    unanswered: LogLimiter,
    /// NUL bytes written (tests, and the closing line).
    fed: u64,
    /// The probe timer (every keepalive).
    ticks: Option<SpawnHandle>,
    origin: actix::clock::Instant,
    log: Logger,
}

impl WatchdogFeeder {
    /// A feeder for the already opened `dev` (see [`open`]), probing `table`
    /// every `keepalive`.
    pub fn new(
        dev: File,
        path: &Path,
        table: Recipient<LivenessProbe>,
        keepalive: Duration,
        log: &Logger,
    ) -> WatchdogFeeder {
        WatchdogFeeder {
            dev: Some(dev),
            path: path.to_path_buf(),
            table,
            keepalive,
            probing: false,
            write_errors: LogLimiter::new(REPORT_INTERVAL),
            unanswered: LogLimiter::new(REPORT_INTERVAL),
            fed: 0,
            ticks: None,
            origin: actix::clock::Instant::now(),
            log: log.new(slog::o!("actor" => "watchdog")),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn write(&mut self, byte: u8) -> io::Result<()> {
        let Some(dev) = self.dev.as_mut() else {
            return Ok(());
        };
        match dev.write(&[byte]) {
            Ok(1) => Ok(()),
            Ok(_) => Err(io::Error::from(io::ErrorKind::WriteZero)),
            Err(e) => Err(e),
        }
    }

    fn probe(&mut self, ctx: &mut Context<Self>) {
        if self.probing || self.dev.is_none() {
            return;
        }
        self.probing = true;
        let probe = self.table.send(LivenessProbe).timeout(self.keepalive);
        ctx.spawn(probe.into_actor(self).map(|answer, act, _| {
            act.probing = false;
            if act.dev.is_none() {
                return;
            }
            match answer {
                Ok(()) => match act.write(0) {
                    Ok(()) => act.fed += 1,
                    Err(e) => {
                        let now = act.now();
                        if let Some(more) = act.write_errors.hit(now) {
                            error!(act.log, "Cannot write to watchdog device {}: {e}", act.path.display(); "not_reported" => more);
                        }
                    }
                },
                Err(e) => {
                    let now = act.now();
                    if let Some(more) = act.unanswered.hit(now) {
                        warn!(act.log, "the node table did not answer within {:?} ({e}): watchdog not fed", act.keepalive; "not_reported" => more);
                    }
                }
            }
        }));
    }
}

impl Actor for WatchdogFeeder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.origin = actix::clock::Instant::now();
        self.probe(ctx);
        self.ticks = Some(ctx.run_interval(self.keepalive, |act, ctx| act.probe(ctx)));
    }
}

impl Handler<RetimeWatchdog> for WatchdogFeeder {
    type Result = ();

    fn handle(&mut self, msg: RetimeWatchdog, ctx: &mut Context<Self>) {
        let Some(dev) = self.dev.as_ref() else {
            return;
        };
        set_timeout(dev, &self.path, msg.deadtime, &self.log);
        if msg.keepalive != self.keepalive {
            self.keepalive = msg.keepalive;
            if let Some(old) = self.ticks.take() {
                ctx.cancel_future(old);
            }
            self.ticks = Some(ctx.run_interval(self.keepalive, |act, ctx| act.probe(ctx)));
            info!(self.log, "Watchdog fed every {:?}", self.keepalive);
        }
    }
}

impl Handler<MagicClose> for WatchdogFeeder {
    type Result = ();

    fn handle(&mut self, _: MagicClose, ctx: &mut Context<Self>) {
        if self.dev.is_none() {
            return;
        }
        if let Err(e) = self.write(b'V') {
            error!(
                self.log,
                "Cannot write the magic close to watchdog device {}: {e}; it stays armed",
                self.path.display()
            );
        }
        self.dev = None;
        info!(self.log, "Watchdog device {} closed", self.path.display(); "fed" => self.fed);
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §11: "WDIOC_SETTIMEOUT = ceil((deadtime+10 ms)/1000) s".
    #[test]
    fn timeout_is_deadtime_plus_10_ms_rounded_up_to_seconds() {
        let ms = Duration::from_millis;
        assert_eq!(timeout_secs(ms(30_000)), 31);
        assert_eq!(timeout_secs(ms(1_000)), 2);
        assert_eq!(timeout_secs(ms(990)), 1);
        assert_eq!(timeout_secs(ms(991)), 2);
        assert_eq!(timeout_secs(ms(5_500)), 6);
    }
}
