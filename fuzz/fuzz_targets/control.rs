//! The control socket's request line, cut and trimmed as the socket does
//! (at most 256 bytes, up to the first newline, UTF-8 only).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(256)];
    let line = match data.iter().position(|&b| b == b'\n') {
        Some(nl) => &data[..=nl],
        None => data,
    };
    let Ok(line) = std::str::from_utf8(line) else {
        return;
    };
    let _ = hb_actors::control::parse_line(line.trim());
});
