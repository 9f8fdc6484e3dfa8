//! Gratuitous ARP: tells the neighbours that the service address now lives at
//! this interface's MAC, so their ARP caches stop pointing at the old owner.
//!
//! Each frame goes out on a fresh `AF_PACKET` socket bound to the interface
//! (through `pnet_datalink`, since this crate forbids `unsafe`), opened, written
//! without waiting (`O_NONBLOCK`, zero write timeout) and closed at once. So no
//! socket lingers, none copies the interface's traffic between frames, and
//! a re-created interface is found again by index.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use actix::clock::{sleep_until, Instant};
use pnet_datalink::{Channel, ChannelType, Config, NetworkInterface};
use slog::{info, warn, Logger};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How many gratuitous ARP frames are sent, and how far apart.
///
/// heartbeat 3.0.6's IPaddr runs `send_arp -i 500 -r 10`: ten rounds, 500 ms
/// apart, each an ARP request and, half an interval later, an ARP reply. On
/// the wire (measured) that is 10 requests and 10 replies alternating every
/// 250 ms, which is what the default reproduces: frame `k` (from 0) leaves at
/// `k × spacing`, requests on even `k`, replies on odd `k`, for 4.75 s in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpSchedule {
    /// Request/reply pairs (`send_arp -r`).
    pub pairs: u32,
    /// Time between two frames (half of `send_arp -i`).
    pub spacing: Duration,
}

impl Default for ArpSchedule {
    fn default() -> ArpSchedule {
        ArpSchedule {
            pairs: 10,
            spacing: Duration::from_millis(250),
        }
    }
}

/// What an announcement sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArpReport {
    /// ARP requests written to the interface.
    pub requests: u32,
    /// ARP replies written to the interface.
    pub replies: u32,
    /// Frames that could not be written.
    pub failures: u32,
    /// The last write error, if any.
    pub last_error: Option<String>,
}

/// The background part of an announcement (every frame after the first
/// pair). Dropping this handle does not stop it; [`ArpAnnouncement::cancel`]
/// and `IpAddrAgent::stop` do.
#[derive(Debug)]
pub struct ArpAnnouncement {
    /// Ends with the report, or with a cancellation.
    task: JoinHandle<ArpReport>,
}

impl ArpAnnouncement {
    /// Stops sending; frames already sent stay sent.
    pub fn cancel(&self) {
        self.task.abort();
    }

    /// Has the last frame been sent (or the task been cancelled)?
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the last frame; `None` if it was cancelled first.
    pub async fn finished(self) -> Option<ArpReport> {
        self.task.await.ok()
    }

    pub(crate) fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }
}

/// ARP operation codes (RFC 826).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Request = 1,
    Reply = 2,
}

/// An Ethernet broadcast frame announcing `addr` at `mac`.
///
/// Both kinds have sender IP = target IP = `addr` (which is what makes them
/// gratuitous). A request's target MAC is zero (RFC 5227 announcement); a
/// reply's is the sender MAC, because Linux only treats a reply as
/// gratuitous, and lets it override a recent cache entry, when the two are
/// equal (`arp_is_garp`).
pub(crate) fn frame(op: Op, mac: [u8; 6], addr: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&(op as u16).to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&addr.octets());
    if op == Op::Reply {
        f[32..38].copy_from_slice(&mac);
    }
    f[38..42].copy_from_slice(&addr.octets());
    f
}

/// Writes one frame on interface `index` without blocking.
fn send(index: u32, name: &str, frame: &[u8]) -> io::Result<()> {
    let iface = NetworkInterface {
        name: name.to_owned(),
        description: String::new(),
        index,
        mac: None,
        ips: Vec::new(),
        flags: 0,
    };
    let config = Config {
        write_buffer_size: frame.len(),
        read_buffer_size: 64,
        read_timeout: Some(Duration::ZERO),
        // Zero: fail with TimedOut rather than wait for room in the queue.
        write_timeout: Some(Duration::ZERO),
        channel_type: ChannelType::Layer2,
        promiscuous: false,
        ..Config::default()
    };
    match pnet_datalink::channel(&iface, config)? {
        Channel::Ethernet(mut tx, _rx) => tx
            .send_to(frame, None)
            .unwrap_or_else(|| Err(io::Error::other("frame larger than the write buffer"))),
        _ => Err(io::Error::other("not an Ethernet channel")),
    }
}

/// One announcement in progress.
pub(crate) struct Announcer {
    pub index: u32,
    pub iface: String,
    pub mac: [u8; 6],
    pub addr: Ipv4Addr,
    pub schedule: ArpSchedule,
    pub log: Logger,
    /// When frame 0 was (or is) sent; frame `k` is due at `t0 + k × spacing`,
    /// so delays do not add up.
    t0: Instant,
    report: ArpReport,
}

impl Announcer {
    pub fn new(
        index: u32,
        iface: String,
        mac: [u8; 6],
        addr: Ipv4Addr,
        schedule: ArpSchedule,
        log: Logger,
    ) -> Announcer {
        Announcer {
            index,
            iface,
            mac,
            addr,
            schedule,
            log,
            t0: Instant::now(),
            report: ArpReport::default(),
        }
    }

    fn frames(&self) -> u32 {
        self.schedule.pairs.saturating_mul(2)
    }

    /// Sends frame `k` at its time. A failed write is counted and the
    /// schedule goes on (the link may come back within the 5 s); the first
    /// failure is logged at once, the rest in the summary.
    pub async fn step(&mut self, k: u32) {
        if k >= self.frames() {
            return;
        }
        sleep_until(self.t0 + self.schedule.spacing * k).await;
        let op = if k.is_multiple_of(2) {
            Op::Request
        } else {
            Op::Reply
        };
        match send(self.index, &self.iface, &frame(op, self.mac, self.addr)) {
            Ok(()) if op == Op::Request => self.report.requests += 1,
            Ok(()) => self.report.replies += 1,
            Err(e) => {
                if self.report.failures == 0 {
                    warn!(self.log, "cannot send gratuitous ARP for {} on {}: {e}", self.addr, self.iface;
                        "addr" => %self.addr, "iface" => &self.iface);
                }
                self.report.failures += 1;
                self.report.last_error = Some(e.to_string());
            }
        }
    }

    /// Spawns the whole announcement as a task. The returned receiver fires
    /// once the first frame (a request) is out; it fails if the task is
    /// cancelled before that. Being a task from the first frame on, the
    /// announcement can be cancelled at any point.
    pub fn spawn(mut self) -> (ArpAnnouncement, oneshot::Receiver<()>) {
        let (first_pair, first_pair_sent) = oneshot::channel();
        let task = tokio::spawn(async move {
            self.t0 = Instant::now();
            self.step(0).await;
            // The first request is what moves the neighbours' caches (Linux
            // updates an entry on a gratuitous request): the acquisition need
            // not wait the 250 ms until the first reply.
            // The receiver may be gone (start's caller dropped it): fine.
            let _ = first_pair.send(());
            for k in 1..self.frames() {
                self.step(k).await;
            }
            let r = &self.report;
            if r.failures > 0 {
                warn!(self.log, "gratuitous ARP for {} on {}: {} of {} frames failed, last: {}",
                    self.addr, self.iface, r.failures, self.frames(), r.last_error.as_deref().unwrap_or("");
                    "addr" => %self.addr, "iface" => &self.iface);
            } else {
                info!(self.log, "gratuitous ARP for {} on {} done: {} requests, {} replies",
                    self.addr, self.iface, r.requests, r.replies;
                    "addr" => %self.addr, "iface" => &self.iface);
            }
            self.report
        });
        (ArpAnnouncement { task }, first_pair_sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_frames_follow_rfc_826_and_linux_garp_rules() {
        let mac = [0x02, 0, 0, 0, 0, 0x0a];
        let addr = Ipv4Addr::new(192, 0, 2, 10);
        let req = frame(Op::Request, mac, addr);
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&req),
            "ffffffffffff02000000000a0806\
             0001080006040001\
             02000000000ac000020a\
             000000000000c000020a"
        );
        let rep = frame(Op::Reply, mac, addr);
        assert_eq!(
            hex(&rep),
            "ffffffffffff02000000000a0806\
             0001080006040002\
             02000000000ac000020a\
             02000000000ac000020a"
        );
    }

    #[test]
    fn default_schedule_is_send_arp_i500_r10() {
        let s = ArpSchedule::default();
        assert_eq!(s.pairs, 10);
        assert_eq!(s.spacing * (2 * s.pairs - 1), Duration::from_millis(4750));
    }
}
