//! Resource groups: how one group is acquired and released
//! ([`group::GroupRun`]), and who should hold which group in a two-node
//! cluster with auto_failback on/off ([`nice::NiceFailback`]).

pub mod group;
pub mod nice;
