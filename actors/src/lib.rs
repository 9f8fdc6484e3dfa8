//! `hb-actors`: the actix actors of the heartbeat daemon. Actors only do I/O;
//! every decision is made in `hb-core`, and the binary in `src/` wires them.
//!
//! # Layout
//! * [`control`]: the local control socket (`standby`, `takeover`, `status`).
//! * [`journal`]: the facts behind log lines, as key-values for the event journal.
//! * [`metrics`]: the Prometheus metrics registry and its `GET /metrics` server.
//! * [`messages`]: every message between actors, grouped by receiver.
//! * [`links`]: one actor per heartbeat medium (UDP: bcast, ucast, mcast; serial).
//! * [`node_table`]: owns the membership and resource-ownership state machines;
//!   sends, logs and dispatches for them.
//! * [`resource_mgr`]: runs resource groups (scripts) as the node table asks.
//! * [`scripts`]: running haresources resource scripts.
//! * [`status`]: the status snapshot (`heartbeat status`, `cl_status`).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod control;
pub mod ipaddr;
pub mod journal;
pub mod keys;
pub mod links;
pub mod messages;
pub mod metrics;
pub mod node_table;
pub mod realtime;
pub mod resource_mgr;
pub mod respawn;
pub mod scripts;
pub mod status;
mod sys;
pub mod watchdog;
