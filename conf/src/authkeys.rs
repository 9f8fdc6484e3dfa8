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
//! Read as 3.0.6 reads it (`auth %d`, key lines `%d%s%s`): what follows the
//! number of `auth N` or the key of a key line is ignored, with a warning naming
//! it (`auth 2 # or 3 md5`); a repeated key number or `auth` line wins as in
//! 3.0.6, with a warning; `1 crc # note` is refused, as 3.0.6 reads `#` as a key
//! for crc. One difference: `auth N` after the line of key N is accepted with a
//! warning (3.0.6 refuses it, which matters in a mixed cluster).

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

/// A C `%d` at the start of `text` (after blanks): its value and the rest.
fn c_int(text: &str) -> Option<(i64, &str)> {
    let t = text.trim_start();
    let digits_at = usize::from(t.starts_with(['+', '-']));
    let len = t[digits_at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if len == 0 {
        return None;
    }
    let end = digits_at + len;
    // More digits than any key number has: out of range either way.
    let value = t[..end].parse::<i64>().unwrap_or(i64::MAX);
    Some((value, &t[end..]))
}

/// The next blank-separated word (`%s`) and the rest.
fn c_word(text: &str) -> Option<(&str, &str)> {
    let t = text.trim_start();
    if t.is_empty() {
        return None;
    }
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    Some((&t[..end], &t[end..]))
}

/// Parses authkeys text as heartbeat 3.0.6 reads it (`auth %d`, then
/// `%d%s%s` for a key line; what follows is ignored, with a warning naming it).
pub(crate) fn parse(path: &Path, text: &str, diags: &mut Diagnostics) -> Option<KeyTable> {
    let file: Arc<Path> = Arc::from(path);
    // The number of the last `auth` line, and its line.
    let mut authnum: Option<(i64, usize)> = None;
    let mut auth_lines = 0usize;
    // The key 3.0.6 sends with: the key line read while `auth` named it.
    let mut send: Option<(u32, usize)> = None;
    let mut slots: Vec<(u32, AuthMethod, usize)> = Vec::new();
    // Key numbers whose line was refused: no second error for `auth N` naming them.
    let mut refused: Vec<i64> = Vec::new();
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
        let ignored = |diags: &mut Diagnostics, rest: &str| {
            let rest = rest.trim();
            if !rest.is_empty() {
                diags.warn_hint(
                    &loc,
                    format!("ignored {rest:?} after the value, as heartbeat 3.0.6 ignores it"),
                    "put comments on their own line, starting with #",
                );
            }
        };
        if line.starts_with('a') {
            match line.strip_prefix("auth").and_then(c_int) {
                Some((num, rest)) => {
                    ignored(diags, rest);
                    auth_lines += 1;
                    if let Some((prev, prev_line)) = authnum.replace((num, n)) {
                        diags.warn_hint(
                            &loc,
                            format!("auth is given again (`auth {prev}` on line {prev_line}); as in heartbeat 3.0.6, a key line read after this one sends with key {num}"),
                            "keep one `auth N` line",
                        );
                    }
                }
                None => diags.error_hint(
                    &loc,
                    format!("Invalid auth line [{line}]"),
                    "write `auth N`, with N the number of the key to send with (0 to 15)",
                ),
            }
            continue;
        }
        let Some((num, rest)) = c_int(line) else {
            diags.error_hint(
                &loc,
                format!("Auth line [{line}] is invalid"),
                "key lines are `N crc`, `N md5 KEY` or `N sha1 KEY`, with N from 0 to 15, and the first line `auth N`",
            );
            continue;
        };
        let Some((method, rest)) = c_word(rest) else {
            diags.error_hint(
                &loc,
                format!("Auth line [{line}] is invalid"),
                "write `N crc`, `N md5 KEY` or `N sha1 KEY`",
            );
            continue;
        };
        refused.push(num);
        let Some(num) = u32::try_from(num)
            .ok()
            .filter(|s| (*s as usize) < MAX_AUTH_SLOTS)
        else {
            diags.error_hint(
                &loc,
                format!("Invalid authnum [{num}]"),
                "key numbers are 0 to 15",
            );
            continue;
        };
        let key = c_word(rest);
        let method = match (method, key) {
            ("crc", None) => AuthMethod::Crc,
            ("crc", Some((k, _))) => {
                let hint = if k.starts_with('#') {
                    "heartbeat 3.0.6 reads a comment after `crc` as a key and refuses the line too: put the comment on its own line"
                } else {
                    "write `N crc` alone"
                };
                diags.error_hint(&loc, "Auth method [crc] doesn't use a key", hint);
                continue;
            }
            (m @ ("md5" | "sha1"), None) => {
                diags.error_hint(
                    &loc,
                    format!("Auth method [{m}] requires a key"),
                    format!("write `{num} {m} KEY`"),
                );
                continue;
            }
            (m @ ("md5" | "sha1"), Some((key, rest))) => {
                ignored(diags, rest);
                if key.starts_with('#') {
                    diags.warn_hint(
                        &loc,
                        format!("key {num} is {key:?}: heartbeat 3.0.6 reads it as the key, not as a comment, and so do we"),
                        "give a real key; comments go on their own line",
                    );
                } else if key.len() < MIN_GOOD_KEY_LEN {
                    diags.warn_hint(
                        &loc,
                        format!("key {num} is only {} characters long", key.len()),
                        "use a long random key, e.g. the output of `openssl rand -hex 20`",
                    );
                }
                let key = key.as_bytes().to_vec();
                if m == "md5" {
                    AuthMethod::Md5 { key }
                } else {
                    AuthMethod::Sha1 { key }
                }
            }
            (other, _) => {
                diags.error_hint(
                    &loc,
                    format!("Invalid authtype [{other}]"),
                    "use crc, md5 or sha1 (lower case)",
                );
                continue;
            }
        };
        refused.retain(|r| *r != i64::from(num));
        if let Some(pos) = slots.iter().position(|(s, _, _)| *s == num) {
            let prev = slots[pos].2;
            diags.warn_hint(
                &loc,
                format!("key {num} is defined again (first on line {prev}); this line wins, as in heartbeat 3.0.6"),
                "give each key its own number",
            );
            slots.remove(pos);
        }
        if authnum.is_some_and(|(a, _)| a == i64::from(num)) {
            send = Some((num, n));
        }
        slots.push((num, method, n));
    }
    let whole = Loc::new(&file, 0);
    let Some((auth, auth_line)) = authnum.filter(|(a, _)| *a >= 0) else {
        diags.error_hint(
            &whole,
            "Missing auth directive in keyfile",
            "add a line `auth N` naming the key to send with",
        );
        return None;
    };
    let send_num = match send {
        Some((num, _)) => num,
        None => {
            let defined = u32::try_from(auth)
                .ok()
                .and_then(|a| slots.iter().find(|(s, _, _)| *s == a));
            match defined {
                // Ours accepts the key line before `auth`; 3.0.6 does not.
                Some((num, _, key_line)) if auth_lines == 1 => {
                    diags.warn_hint(
                        &Loc::new(&file, auth_line),
                        format!("`auth {num}` comes after the line of key {num} (line {key_line}); heartbeat 3.0.6 refuses this order"),
                        "move the `auth` line to the top so that 3.0.6 nodes can read the same file",
                    );
                    *num
                }
                _ if refused.contains(&auth) => return None,
                _ => {
                    diags.error_hint(
                        &Loc::new(&file, auth_line),
                        format!("Auth Key [{auth}] not found in keyfile"),
                        format!("add a line `{auth} sha1 KEY` (or md5, or crc) after `auth {auth}`, or change `auth {auth}`"),
                    );
                    return None;
                }
            }
        }
    };
    if diags.has_errors() {
        return None;
    }
    KeyTable::new(send_num, slots.into_iter().map(|(s, m, _)| (s, m))).ok()
}
