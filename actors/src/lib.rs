//! `hb-actors`: the actix actors of the heartbeat daemon. Actors only do I/O;
//! every decision is made in `hb-core`, and the binary in `src/` wires them.
//!
//! # Layout
//! * [`messages`]: every message between actors, grouped by receiver.
//! * [`links`]: one actor per heartbeat medium (UDP: bcast, ucast, mcast; serial).
//! * [`node_table`]: owns the membership state machine; sends and logs for it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ipaddr;
pub mod links;
pub mod messages;
pub mod node_table;
pub mod scripts;
