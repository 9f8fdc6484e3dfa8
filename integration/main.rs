//! The root package's single integration-test binary: it runs the real
//! `heartbeat` executable. Later issues add multi-node tests in network namespaces.

mod cli;
