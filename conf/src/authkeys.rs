//! `authkeys` (spec §2.1):
//!
//! ```text
//! auth 1
//! 1 sha1 key-for-sha1-any-text-you-want
//! 2 md5 another-key
//! 3 crc
//! ```
//!
//! `auth N` picks the key used for sending; every defined key is accepted on
//! receipt. The file must not be readable or writable by group or others.
//!
//! Differences from 3.0.6, all in the direction of saying more: a duplicate key
//! number or `auth` line is an error (3.0.6 keeps the last silently); extra words
//! after a key are an error (3.0.6 ignores them, and reads `1 crc # note` as a key
//! for crc); `auth N` after the line of key N is accepted with a warning (3.0.6
//! refuses it, which matters in a mixed cluster).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use hb_core::auth::{AuthMethod, KeyTable, MAX_AUTH_SLOTS};

use crate::diag::{ConfigError, Diagnostics, Loc};
use crate::hacf::MAX_LINE;

/// Shortest key that does not draw a warning.
pub const MIN_GOOD_KEY_LEN: usize = 8;

/// Rejects a key file that others can read or change, naming its mode.
pub fn check_mode(path: &Path) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::file(
            path,
            format!("Cannot open keyfile [{}]: {e}", path.display()),
            None,
        )
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::file(
            path,
            format!(
                "Bad permissions on keyfile [{}]: mode {mode:04o} lets group or others {} it",
                path.display(),
                if mode & 0o044 != 0 { "read" } else { "change" }
            ),
            Some(format!("chmod 600 {}", path.display())),
        ));
    }
    Ok(())
}

/// Parses authkeys text.
pub(crate) fn parse(path: &Path, text: &str, diags: &mut Diagnostics) -> Option<KeyTable> {
    let file: Arc<Path> = Arc::from(path);
    let mut send: Option<(u32, usize)> = None;
    let mut slots: Vec<(u32, AuthMethod, usize)> = Vec::new();
    // Key numbers whose line was refused: no second error for `auth N` naming them.
    let mut refused: Vec<u32> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let loc = Loc::new(&file, n);
        if raw.len() > MAX_LINE {
            diags.error(&loc, format!("line is longer than {MAX_LINE} characters"));
            continue;
        }
        let line = raw.trim_end_matches('\r').trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "auth" {
            match words.as_slice() {
                [_, num] => match slot_number(num) {
                    Some(s) => {
                        if let Some((_, prev)) = send.replace((s, n)) {
                            diags.error_hint(
                                &loc,
                                format!("auth is given twice (first on line {prev})"),
                                "keep one `auth N` line",
                            );
                        }
                    }
                    None => diags.error_hint(
                        &loc,
                        format!("Invalid auth line: {num:?} is not a key number 0-15"),
                        "write `auth N`, with N the number of the key to send with",
                    ),
                },
                _ => diags.error_hint(
                    &loc,
                    format!("Invalid auth line [{line}]"),
                    "write `auth N`",
                ),
            }
            continue;
        }
        let Some(num) = slot_number(words[0]) else {
            if words[0].bytes().all(|b| b.is_ascii_digit()) {
                diags.error_hint(
                    &loc,
                    format!("Invalid authnum [{}]", words[0]),
                    "key numbers are 0 to 15",
                );
                continue;
            }
            let hint = if words[0].starts_with("auth") {
                "write `auth N` with a space"
            } else {
                "key lines are `N crc`, `N md5 KEY` or `N sha1 KEY`, with N from 0 to 15"
            };
            diags.error_hint(&loc, format!("Auth line [{line}] is invalid"), hint);
            continue;
        };
        refused.push(num);
        let method = match words.get(1..).unwrap_or_default() {
            ["crc"] => AuthMethod::Crc,
            ["crc", ..] => {
                diags.error_hint(
                    &loc,
                    "Auth method [crc] doesn't use a key",
                    "write `N crc` alone; comments must be on their own line",
                );
                continue;
            }
            [m @ ("md5" | "sha1")] => {
                diags.error_hint(
                    &loc,
                    format!("Auth method [{m}] requires a key"),
                    format!("write `{num} {m} KEY`"),
                );
                continue;
            }
            [m @ ("md5" | "sha1"), key] => {
                if key.len() < MIN_GOOD_KEY_LEN {
                    diags.warn_hint(
                        &loc,
                        format!("key {num} is only {} characters long", key.len()),
                        "use a long random key, e.g. the output of `openssl rand -hex 20`",
                    );
                }
                let key = key.as_bytes().to_vec();
                if *m == "md5" {
                    AuthMethod::Md5 { key }
                } else {
                    AuthMethod::Sha1 { key }
                }
            }
            [m @ ("md5" | "sha1"), _, extra, ..] => {
                diags.error_hint(
                    &loc,
                    format!("key {num} ({m}): unexpected {extra:?} after the key"),
                    "a key is one word without blanks; comments must be on their own line",
                );
                continue;
            }
            [other, ..] => {
                diags.error_hint(
                    &loc,
                    format!("Invalid authtype [{other}]"),
                    "use crc, md5 or sha1 (lower case)",
                );
                continue;
            }
            [] => {
                diags.error_hint(
                    &loc,
                    format!("Auth line [{line}] is invalid"),
                    "write `N crc`, `N md5 KEY` or `N sha1 KEY`",
                );
                continue;
            }
        };
        if let Some((_, _, prev)) = slots.iter().find(|(s, _, _)| *s == num) {
            diags.error_hint(
                &loc,
                format!("key {num} is defined twice (first on line {prev})"),
                "give each key its own number",
            );
            continue;
        }
        refused.retain(|r| *r != num);
        slots.push((num, method, n));
    }
    let whole = Loc::new(&file, 0);
    let Some((send_num, send_line)) = send else {
        diags.error_hint(
            &whole,
            "Missing auth directive in keyfile",
            "add a line `auth N` naming the key to send with",
        );
        return None;
    };
    match slots.iter().find(|(s, _, _)| *s == send_num) {
        None if refused.contains(&send_num) => return None,
        None => {
            diags.error_hint(
                &Loc::new(&file, send_line),
                format!("Auth Key [{send_num}] not found in keyfile"),
                format!("add a line `{send_num} sha1 KEY` (or md5, or crc), or change `auth {send_num}`"),
            );
            return None;
        }
        Some((_, _, key_line)) if *key_line < send_line => diags.warn_hint(
            &Loc::new(&file, send_line),
            format!("`auth {send_num}` comes after the line of key {send_num} (line {key_line}); heartbeat 3.0.6 refuses this order"),
            "move the `auth` line to the top so that 3.0.6 nodes can read the same file",
        ),
        Some(_) => {}
    }
    if diags.has_errors() {
        return None;
    }
    KeyTable::new(send_num, slots.into_iter().map(|(s, m, _)| (s, m))).ok()
}

fn slot_number(word: &str) -> Option<u32> {
    word.parse::<u32>()
        .ok()
        .filter(|n| (*n as usize) < MAX_AUTH_SLOTS && word.bytes().all(|b| b.is_ascii_digit()))
}
