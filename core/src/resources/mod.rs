//! Resource groups: how one group is acquired and released
//! ([`group::GroupRun`]), and later who should hold which group.

pub mod group;
