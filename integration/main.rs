//! The root package's single integration-test binary: it runs the real
//! `heartbeat` executable, and multi-node tests in network namespaces
//! (`harness`), beside Debian's heartbeat 3.0.6 as a real peer.

mod check_agreement;
mod cli;
mod conf_diff;
mod daemon;
mod debian_host;
mod demo;
mod explain;
mod failover;
mod faults;
mod harness;
mod harness_selftest;
mod hostile;
mod ipfail;
mod legacy;
mod links;
mod load;
mod logging;
mod loss;
mod membership;
mod metrics;
mod migration;
mod panic;
mod process;
// The failover benchmark's client probe (a thread in the client's network
// namespace, a new connection every 10 ms); its responder is not used here.
#[path = "../benches/failover/probe.rs"]
#[allow(dead_code)]
mod probe;
mod real_peer;
mod reload;
mod status;
