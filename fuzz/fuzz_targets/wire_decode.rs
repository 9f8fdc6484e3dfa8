//! The receive path of every link: any bytes, decoded with the key tables of the
//! captured packets (sha1, md5, crc, and a table with all three), so the seeds
//! from core/tests/vectors pass authentication and their mutations mostly do not.
//! What parses must also encode back to the same message, in both encodings,
//! whenever the encoder accepts it.
#![no_main]

use hb_core::wire::packet::{self, Parsed};
use hb_core::wire::{netstring, text, Format};
use heartbeat_fuzz::keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for k in keys() {
        let _ = packet::decode(data, k);
    }
    let Ok(parsed) = Parsed::parse(data) else {
        return;
    };
    for k in keys() {
        let _ = parsed.verify_trailer(k);
        let _ = parsed.verify_inner(k);
    }
    let msg = &parsed.message;
    // A netstring message always encodes again; a text one may hold what the
    // netstring form refuses (nothing today), so only the netstring case must.
    match netstring::encode(msg) {
        Ok(bytes) => assert_eq!(
            netstring::decode_prefix(&bytes).as_ref().map(|(m, _)| m),
            Ok(msg),
            "netstring round trip"
        ),
        Err(e) => assert!(
            parsed.format == Format::Text,
            "a decoded netstring message does not encode: {e}"
        ),
    }
    match text::encode(msg) {
        Ok(bytes) => assert_eq!(text::decode(&bytes).as_ref(), Ok(msg), "text round trip"),
        Err(e) => assert!(
            parsed.format == Format::Netstring,
            "a decoded text message does not encode: {e}"
        ),
    }
});
