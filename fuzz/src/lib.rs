//! What the fuzz targets share: the key tables of the captured packets, and the
//! example configuration the single-file targets complete their input with.
//!
//! The targets themselves are in `fuzz_targets/`; `run.sh` runs them all.

use hb_core::auth::{AuthMethod, KeyTable};

/// The key tables the captures in `core/tests/vectors/` were signed with, so
/// that a seed packet passes authentication with one of them.
pub fn capture_keys() -> [KeyTable; 4] {
    [
        // netns-sha1
        KeyTable::single(
            1,
            AuthMethod::Sha1 {
                key: b"hbA-sha1-key".to_vec(),
            },
        ),
        // netns-md5
        KeyTable::single(
            1,
            AuthMethod::Md5 {
                key: b"hbA-md5-key".to_vec(),
            },
        ),
        // netns-crc
        KeyTable::single(1, AuthMethod::Crc),
        // loopback-sha1-msgtypes: auth 2, and slots 1 and 3 as well.
        KeyTable::new(
            2,
            [
                (
                    2,
                    AuthMethod::Sha1 {
                        key: b"testkey".to_vec(),
                    },
                ),
                (
                    1,
                    AuthMethod::Md5 {
                        key: b"testkey".to_vec(),
                    },
                ),
                (3, AuthMethod::Crc),
            ],
        )
        .unwrap_or_else(|e| unreachable!("a fixed, valid key table: {e}")),
    ]
}

/// `conf/examples/seed/ha.cf`: what the haresources and authkeys targets pair their input with.
pub const SEED_HACF: &str = include_str!("../../conf/examples/seed/ha.cf");
/// `conf/examples/seed/haresources`.
pub const SEED_HARESOURCES: &str = include_str!("../../conf/examples/seed/haresources");
/// `conf/examples/seed/authkeys`.
pub const SEED_AUTHKEYS: &str = include_str!("../../conf/examples/seed/authkeys");

/// Reads the three files' texts as the daemon does (no host check is an
/// error) and, when the configuration is accepted, checks its TOML round trip.
/// The daemon reads the files with `read_to_string`: only UTF-8 gets that far,
/// so other input is skipped.
pub fn check_config_texts(hacf: &[u8], haresources: &[u8], authkeys: &[u8]) {
    let (Ok(hacf), Ok(haresources), Ok(authkeys)) = (
        std::str::from_utf8(hacf),
        std::str::from_utf8(haresources),
        std::str::from_utf8(authkeys),
    ) else {
        return;
    };
    let host = hb_conf::HostCheck::default();
    if let Ok(loaded) = hb_conf::parse_texts(hacf, haresources, authkeys, &host) {
        check_toml_round_trip(&loaded, &host);
    }
}

/// Checks what `convert-config` relies on: an accepted configuration, written
/// as TOML and read back, is the same configuration. A difference would make
/// `convert-config` fail with "does not read back".
pub fn check_toml_round_trip(loaded: &hb_conf::Loaded, host: &hb_conf::HostCheck) {
    let text = hb_conf::toml_form::write(&loaded.config, false);
    match hb_conf::parse_toml_text(&text, host) {
        Ok(back) => assert!(
            back.config.same_settings(&loaded.config),
            "the TOML form reads back as another configuration:\n{text}\nfirst: {:?}\nback: {:?}",
            loaded.config,
            back.config
        ),
        Err(e) => panic!("the TOML form does not read back:\n{text}\n{e}"),
    }
}

/// [`capture_keys`], built once.
pub fn keys() -> &'static [KeyTable; 4] {
    static KEYS: std::sync::OnceLock<[KeyTable; 4]> = std::sync::OnceLock::new();
    KEYS.get_or_init(capture_keys)
}

/// Signs a netstring body (`###\n` through `%%%\n`) as a sender does: appends
/// the trailer.
pub fn sign_netstring(body: &[u8], keys: &KeyTable) -> Vec<u8> {
    let token = keys.sign(body);
    let mut out = body.to_vec();
    out.extend(format!("{}:{token},", token.len()).into_bytes());
    out
}

/// Signs a text message (`>>>\n` ... `<<<\n`) whose fields decode: adds the
/// `auth=` line the receiver checks, over the text form of the decoded fields,
/// just before the last `<<<\n` (or at the end). `None` if the fields do not
/// decode, or cannot be put back in text form.
pub fn sign_text(text: &[u8], keys: &KeyTable) -> Option<Vec<u8>> {
    use hb_core::wire::text;
    let msg = text::decode(text).ok()?;
    let input = text::encode_fields(&msg, 0, Some("auth")).ok()?;
    let line = format!("auth={}\n", keys.sign(&input)).into_bytes();
    let body = text.strip_suffix(b"\0").unwrap_or(text);
    let at = body
        .strip_suffix(text::FOOTER)
        .map_or(body.len(), <[u8]>::len);
    let mut out = body[..at].to_vec();
    out.extend(line);
    out.extend_from_slice(&body[at..]);
    Some(out)
}
