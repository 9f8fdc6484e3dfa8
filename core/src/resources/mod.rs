//! Resource groups: how one group is acquired and released
//! ([`group::GroupRun`]), who should hold which group in a two-node
//! cluster with auto_failback on/off ([`nice::NiceFailback`]) or legacy
//! ([`legacy::Legacy`]), either behind [`protocol::Protocol`], and, for the
//! status table, where they are and why they last moved ([`moves`]).

pub mod group;
pub mod legacy;
pub mod moves;
pub mod nice;
pub mod protocol;
