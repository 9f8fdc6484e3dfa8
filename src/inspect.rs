//! `heartbeat inspect`: what is in a captured packet, and does it verify.

use std::fmt::Write as _;

use hb_core::auth::KeyTable;
use hb_core::wire::{Message, Parsed, Value};

/// Fields whose value is hexadecimal on the wire, and what the number means.
fn hex_meaning(name: &str, value: u64) -> Option<String> {
    match name {
        "seq" | "ackseq" | "firstseq" => Some(value.to_string()),
        "hg" => Some(format!("generation {value}")),
        "dt" => Some(format!("deadtime {value} ms")),
        "ts" => Some(utc(value)),
        _ => None,
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

fn write_fields(out: &mut String, msg: &Message, indent: usize) {
    let width = msg.fields().iter().map(|f| f.name.len()).max().unwrap_or(0);
    for f in msg.fields() {
        let pad = " ".repeat(indent);
        let _ = write!(out, "{pad}{:width$} = ", f.name);
        match &f.value {
            Value::Str(s) => {
                let text = printable(s);
                let meaning = std::str::from_utf8(s)
                    .ok()
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_hexdigit())
                    })
                    .and_then(|v| u64::from_str_radix(v, 16).ok())
                    .and_then(|v| hex_meaning(&f.name, v))
                    .filter(|m| *m != text);
                match meaning {
                    Some(m) => {
                        let _ = writeln!(out, "{text:<12} ({m})");
                    }
                    None => {
                        let _ = writeln!(out, "{text}");
                    }
                }
            }
            Value::Bin(b) if b.len() == 16 => {
                let h = hex::encode(b);
                let _ = writeln!(
                    out,
                    "(binary, 16 bytes) {}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                );
            }
            Value::Bin(b) => {
                let _ = writeln!(out, "(binary, {} bytes) {}", b.len(), hex::encode(b));
            }
            Value::Compressed(b) => {
                let _ = writeln!(out, "(compressed, {} bytes)", b.len());
            }
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(|i| printable(i)).collect();
                let _ = writeln!(out, "(list) [{}]", items.join(", "));
            }
            Value::Struct(child) => {
                let _ = writeln!(out, "(message)");
                write_fields(out, child, indent + 4);
            }
        }
    }
}

/// Describes one packet; returns the text and whether it decoded and verified.
pub fn describe(name: &str, bytes: &[u8], keys: &KeyTable) -> (String, bool) {
    let mut out = String::new();
    let parsed = match Parsed::parse(bytes) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(out, "{name}: {} bytes: cannot decode: {e}", bytes.len());
            return (out, false);
        }
    };
    let _ = writeln!(out, "{name}: {} bytes, {} form", bytes.len(), parsed.format);
    write_fields(&mut out, &parsed.message, 2);
    let method = |slot: u8| keys.slot(slot).map_or("no such key", |m| m.name());
    // What a receiver relies on: the trailer (netstring) or the auth field (text).
    let verdict = parsed.verify(keys);
    let primary = match parsed.format {
        hb_core::wire::Format::Netstring => "trailer",
        hb_core::wire::Format::Text => "auth field",
    };
    let slot = match parsed.format {
        hb_core::wire::Format::Netstring => parsed.trailer.as_ref().map(|s| s.slot),
        hb_core::wire::Format::Text => parsed.inner_auth().and_then(Result::ok).map(|s| s.slot),
    };
    let key = slot.map_or_else(String::new, |s| format!(" key {s} ({})", method(s)));
    match &verdict {
        Ok(_) => {
            let _ = writeln!(out, "  {primary}:{key}: verified");
        }
        Err(e) => {
            let _ = writeln!(out, "  {primary}:{key}: FAILED: {e}");
        }
    }
    if parsed.format == hb_core::wire::Format::Netstring {
        match parsed.inner_auth() {
            None => {
                let _ = writeln!(out, "  auth field: absent (msgfmt netstring)");
            }
            Some(_) => {
                let inner = parsed.verify_inner(keys);
                let slot = parsed.inner_auth().and_then(Result::ok).map(|s| s.slot);
                let key = slot.map_or_else(String::new, |s| format!(" key {s} ({})", method(s)));
                let _ = match inner {
                    Ok(_) => writeln!(out, "  auth field:{key}: verified (not checked by receivers of netstring packets)"),
                    Err(e) => writeln!(out, "  auth field:{key}: does not verify: {e} (receivers check only the trailer)"),
                };
            }
        }
    }
    (out, verdict.is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(0x6b07_5eb4), "2026-11-25 22:18:28 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
