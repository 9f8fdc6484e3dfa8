//! The TOML form: any text. An accepted configuration, written back as TOML
//! (`convert-config`), must read back as the same configuration.
#![no_main]

use hb_conf::HostCheck;
use heartbeat_fuzz::check_toml_round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let host = HostCheck::default();
    if let Ok(loaded) = hb_conf::parse_toml_text(text, &host) {
        check_toml_round_trip(&loaded, &host);
    }
});
