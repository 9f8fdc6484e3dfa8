//! `hb-core`: the sans-IO heart of the heartbeat cluster manager.
//!
//! Nothing here opens a socket, reads a clock or spawns a task: callers hand in
//! bytes (and, in later modules, the current time) and get decisions back. That
//! keeps every rule testable in microseconds.
//!
//! # Layout
//! * [`wire`]: the heartbeat 3.0.6 message model and its two encodings (text and
//!   netstring), packet parsing, signing and verification.
//! * [`auth`]: the `authkeys` methods (crc, md5, sha1) and the key table.
//! * [`membership`]: who is alive, decided from heartbeats and dead times.
//! * [`resources`]: running resource groups (start/stop order, failures) and who
//!   holds which (the nice_failback protocol).
//! * [`ping`]: ICMP echo requests of the ping media, and which replies count.
//! * [`ipfail`]: the ipfail decisions (give the groups to the node that sees
//!   more ping nodes), with hysteresis.
//! * [`node`]: one node's decisions, membership, resources and ipfail wired together.
//! * [`ratelimit`]: bounded reporting of repeated problems.
//! * [`time`]: the injected clock ([`time::Now`]) and a seeded random generator.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod ipfail;
pub mod membership;
pub mod node;
pub mod ping;
pub mod ratelimit;
pub mod resources;
pub mod respawn;
pub mod time;
pub mod wire;
