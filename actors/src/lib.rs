//! `hb-actors`: the actix actors of the heartbeat daemon.
//!
//! Nothing lives here yet. The membership issue adds one actor per heartbeat
//! medium (bcast, ucast, mcast, serial) and the node-status table that owns the
//! sans-IO state machine of `hb-core`; later issues add the resource manager,
//! the watchdog feeder and ipfail. Actors only do I/O: every decision is made in
//! `hb-core`, and the binary in `src/` wires the actors together.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
