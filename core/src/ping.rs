//! ICMP echo for the ping media (`ping`, `ping6`, `ping_group`; spec §5.1),
//! without I/O: building echo requests and deciding whether a received packet
//! answers one of ours.
//!
//! A reply counts only if all of these hold, so that a stray reply (another
//! program's ping, a late answer, a forged packet from a host that never saw
//! our request) cannot keep a dead ping node alive:
//!
//! * it is an echo reply (ICMP type 0, ICMPv6 type 129), with a valid checksum
//!   for IPv4 (the kernel checks ICMPv6 checksums);
//! * its identifier is ours ([`Echo::id`]: one random identifier per ping medium);
//! * its sequence number is one we sent less than `max_age` ago (`deadping`) and
//!   that has not been answered yet: each request is answered once;
//! * its payload is ours: [`MAGIC`], the medium's random 64-bit token, and the
//!   sequence number again.
//!
//! heartbeat 3.0.6 puts a signed heartbeat message into the payload and checks
//! the signature of the echo. The echo is our own request sent back, so a
//! signature proves no more than a random token does: only a host that saw the
//! request can answer it, in both cases.

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Instant;

/// The start of every payload we send.
pub const MAGIC: &[u8; 8] = b"hb-ping\0";

/// Length of our payload: magic, token, sequence number.
pub const PAYLOAD_LEN: usize = MAGIC.len() + 8 + 2;

/// Most requests remembered (a bound when `deadping` is many keepalives).
pub const MAX_OUTSTANDING: usize = 256;

/// The address family of a ping medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// ICMP over IPv4: raw sockets deliver the IP header too.
    V4,
    /// ICMPv6: raw sockets deliver the ICMPv6 message alone, checksum checked.
    V6,
}

impl Family {
    fn request_type(self) -> u8 {
        match self {
            Family::V4 => 8,
            Family::V6 => 128,
        }
    }

    fn reply_type(self) -> u8 {
        match self {
            Family::V4 => 0,
            Family::V6 => 129,
        }
    }
}

/// The echo state of one ping medium.
#[derive(Debug, Clone)]
pub struct Echo {
    id: u16,
    token: u64,
    next_seq: u16,
    max_age: Duration,
    /// Requests not answered yet, oldest first: sequence number and when sent.
    outstanding: VecDeque<(u16, Instant)>,
}

/// Internet checksum (RFC 1071).
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Echo {
    /// A medium's echo state: `id` and `token` are random (chosen by the
    /// caller), `max_age` is how long a request may be answered (`deadping`).
    pub fn new(id: u16, token: u64, max_age: Duration) -> Echo {
        Echo {
            id,
            token,
            next_seq: 1,
            max_age,
            outstanding: VecDeque::new(),
        }
    }

    /// The ICMP identifier of our requests.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// How many requests wait for an answer.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    fn payload(&self, seq: u16) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        p[..8].copy_from_slice(MAGIC);
        p[8..16].copy_from_slice(&self.token.to_be_bytes());
        p[16..].copy_from_slice(&seq.to_be_bytes());
        p
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(_, sent)) = self.outstanding.front() {
            if now.since(sent) >= self.max_age || self.outstanding.len() > MAX_OUTSTANDING {
                self.outstanding.pop_front();
            } else {
                break;
            }
        }
    }

    /// The next echo request, as the ICMP message to write to a raw socket
    /// (the ICMPv6 checksum is left to the kernel).
    pub fn request(&mut self, now: Instant, family: Family) -> Vec<u8> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.outstanding.retain(|(s, _)| *s != seq);
        self.outstanding.push_back((seq, now));
        self.expire(now);
        let mut m = vec![family.request_type(), 0, 0, 0];
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&self.payload(seq));
        if family == Family::V4 {
            let c = checksum(&m);
            m[2..4].copy_from_slice(&c.to_be_bytes());
        }
        m
    }

    /// A packet read from the raw socket. True if it answers a request of ours
    /// that was not answered yet (the request is then used up).
    pub fn accept(&mut self, now: Instant, family: Family, packet: &[u8]) -> bool {
        self.expire(now);
        let icmp = match family {
            Family::V4 => {
                let Some(&first) = packet.first() else {
                    return false;
                };
                let ihl = usize::from(first & 0x0f) * 4;
                if first >> 4 != 4 || ihl < 20 || packet.get(9) != Some(&1) {
                    return false;
                }
                match packet.get(ihl..) {
                    Some(icmp) if checksum(icmp) == 0 => icmp,
                    _ => return false,
                }
            }
            Family::V6 => packet,
        };
        if icmp.len() != 8 + PAYLOAD_LEN || icmp[0] != family.reply_type() || icmp[1] != 0 {
            return false;
        }
        let id = u16::from_be_bytes([icmp[4], icmp[5]]);
        let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
        if id != self.id || icmp[8..] != self.payload(seq) {
            return false;
        }
        match self.outstanding.iter().position(|(s, _)| *s == seq) {
            Some(i) => {
                self.outstanding.remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// What the pinged host sends back: the request as an echo reply, for IPv4
    /// inside an IP header as the raw socket delivers it.
    fn reply(request: &[u8], family: Family) -> Vec<u8> {
        let mut icmp = request.to_vec();
        icmp[0] = family.reply_type();
        if family == Family::V6 {
            return icmp;
        }
        icmp[2..4].copy_from_slice(&[0, 0]);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 254, 192, 0, 2, 11,
        ];
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn a_request_has_our_id_an_incrementing_seq_and_a_valid_checksum() {
        let mut e = Echo::new(0xbeef, 7, Duration::from_secs(3));
        let r1 = e.request(at(0), Family::V4);
        let r2 = e.request(at(1000), Family::V4);
        assert_eq!(r1[0], 8, "echo request");
        assert_eq!(&r1[4..6], &[0xbe, 0xef]);
        assert_eq!(&r1[6..8], &[0, 1]);
        assert_eq!(&r2[6..8], &[0, 2]);
        assert_eq!(checksum(&r1), 0, "a message with its checksum sums to zero");
        assert_eq!(&r1[8..16], MAGIC);
        let r6 = e.request(at(2000), Family::V6);
        assert_eq!(
            (r6[0], r6[2], r6[3]),
            (128, 0, 0),
            "kernel fills ICMPv6 checksums"
        );
    }

    #[test]
    fn the_reply_to_an_outstanding_request_counts_once() {
        for family in [Family::V4, Family::V6] {
            let mut e = Echo::new(1, 99, Duration::from_secs(3));
            let r = e.request(at(0), family);
            let answer = reply(&r, family);
            assert!(e.accept(at(5), family, &answer), "{family:?}");
            assert!(!e.accept(at(6), family, &answer), "a duplicate: {family:?}");
            assert_eq!(e.outstanding(), 0);
        }
    }

    #[test]
    fn replies_with_another_id_token_seq_or_type_do_not_count() {
        let mut e = Echo::new(1, 99, Duration::from_secs(3));
        let r = e.request(at(0), Family::V6);
        // Another medium (or program) with another identifier.
        let mut other = Echo::new(2, 99, Duration::from_secs(3));
        let theirs = reply(&other.request(at(0), Family::V6), Family::V6);
        assert!(!e.accept(at(1), Family::V6, &theirs));
        // Our identifier, but not our token: a guess at our id.
        let mut guess = Echo::new(1, 100, Duration::from_secs(3));
        let forged = reply(&guess.request(at(0), Family::V6), Family::V6);
        assert!(!e.accept(at(1), Family::V6, &forged));
        // A sequence number we never sent.
        let mut ahead = reply(&r, Family::V6);
        ahead[7] = 9;
        ahead[25] = 9;
        assert!(!e.accept(at(1), Family::V6, &ahead));
        // Our own request looped back is not a reply.
        assert!(!e.accept(at(1), Family::V6, &r));
        assert!(e.accept(at(1), Family::V6, &reply(&r, Family::V6)));
    }

    #[test]
    fn a_reply_older_than_max_age_does_not_count() {
        let mut e = Echo::new(1, 99, Duration::from_secs(3));
        let old = e.request(at(0), Family::V4);
        let fresh = e.request(at(2500), Family::V4);
        assert!(!e.accept(at(3000), Family::V4, &reply(&old, Family::V4)));
        assert!(e.accept(at(3000), Family::V4, &reply(&fresh, Family::V4)));
    }

    #[test]
    fn a_bad_checksum_or_truncated_packet_does_not_count_or_panic() {
        let mut e = Echo::new(1, 99, Duration::from_secs(3));
        let r = e.request(at(0), Family::V4);
        let mut bad = reply(&r, Family::V4);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(!e.accept(at(1), Family::V4, &bad));
        let good = reply(&r, Family::V4);
        for n in 0..good.len() {
            assert!(!e.accept(at(1), Family::V4, &good[..n]));
            assert!(!e.accept(at(1), Family::V6, &good[..n]));
        }
        assert!(e.accept(at(1), Family::V4, &good));
    }

    #[test]
    fn outstanding_requests_are_bounded() {
        let mut e = Echo::new(1, 99, Duration::from_secs(3600));
        for t in 0..1000 {
            e.request(at(t), Family::V4);
        }
        assert!(e.outstanding() <= MAX_OUTSTANDING + 1);
    }
}
