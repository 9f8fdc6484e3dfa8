//! ha.cf: any text, read with the seed's haresources and authkeys. An accepted
//! configuration must also survive `convert-config`'s TOML round trip.
#![no_main]

use heartbeat_fuzz::{check_config_texts, SEED_AUTHKEYS, SEED_HARESOURCES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_config_texts(data, SEED_HARESOURCES.as_bytes(), SEED_AUTHKEYS.as_bytes());
});
