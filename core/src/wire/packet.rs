//! Whole packets: which encoding, which authentication, and what a receiver checks.
//!
//! ```text
//!  netstring:  ###\n  LEN:(T)name=value, ...  LEN:(0)auth=N HEX,  %%%\n  LEN:N HEX,
//!              |<------- trailer digest covers these bytes -------------->|
//!  inner auth=: digest over the *text* form of every other field (spec §2.2)
//!  text:       >>>\n  name=value\n ...  auth=N HEX\n  <<<\n
//! ```
//!
//! A receiver checks the trailer of a netstring packet and the `auth=` field of a
//! text packet, as 3.0.6 does. One deliberate difference: 3.0.6 verifies a trailer
//! with the algorithm of the slot it names but the key of its *own* sending slot;
//! we use that slot's own key. With identical `authkeys` files on every node both
//! give the same answer; ours also lets a key rotation (two slots, nodes switching
//! `auth N` one by one) work.

use std::io::Read as _;

use super::error::{AuthError, DecodeError, EncodeError, PacketError};
use super::message::Message;
use super::{netstring, text, MAX_MSG, MAX_UNCOMPRESSED};
use crate::auth::{KeyTable, MAX_AUTH_SLOTS};

/// Which encoding a packet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `>>>` ... `<<<`, authenticated by its `auth=` field.
    Text,
    /// `###` ... `%%%` plus trailer, authenticated by the trailer.
    Netstring,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Netstring => "netstring",
        })
    }
}

/// An authentication token `N HEX`: key slot and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Key slot (0-15).
    pub slot: u8,
    /// Digest as sent (hex).
    pub digest: String,
}

impl Signature {
    /// Parses `N HEX` (one space; N in 0-15; HEX non-empty hex digits).
    pub fn parse(token: &[u8]) -> Result<Signature, AuthError> {
        let bad = || AuthError::BadToken(String::from_utf8_lossy(token).into_owned());
        let s = std::str::from_utf8(token).map_err(|_| bad())?;
        let (n, digest) = s.split_once(' ').ok_or_else(bad)?;
        let slot = match n.parse::<u8>() {
            Ok(slot)
                if n.bytes().all(|b| b.is_ascii_digit()) && usize::from(slot) < MAX_AUTH_SLOTS =>
            {
                slot
            }
            _ => return Err(bad()),
        };
        if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Signature {
            slot,
            digest: digest.to_owned(),
        })
    }

    fn verify(&self, keys: &KeyTable, data: &[u8]) -> Result<u8, AuthError> {
        let method = keys
            .slot(self.slot)
            .ok_or(AuthError::UnknownSlot(self.slot))?;
        if method.verify_hex(data, &self.digest) {
            Ok(self.slot)
        } else {
            Err(AuthError::Mismatch {
                slot: self.slot,
                method: method.name(),
            })
        }
    }
}

/// A packet that parsed, before anything is trusted.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// Its encoding.
    pub format: Format,
    /// Its fields, `auth` included.
    pub message: Message,
    /// The netstring trailer, if present.
    pub trailer: Option<Signature>,
    /// `###\n` through `%%%\n`: the bytes the trailer digest covers.
    signed: &'a [u8],
}

impl<'a> Parsed<'a> {
    /// Detects the encoding and parses. Nothing is verified yet.
    pub fn parse(bytes: &'a [u8]) -> Result<Parsed<'a>, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        if bytes.len() >= MAX_MSG {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_MSG - 1,
            });
        }
        if bytes.starts_with(netstring::HEADER) {
            let (message, end) = netstring::decode_prefix(bytes)?;
            let rest = &bytes[end..];
            let trailer = if rest.is_empty() {
                None
            } else {
                let (token, used) =
                    netstring::read_netstring(rest, 0).map_err(|_| DecodeError::BadTrailer)?;
                if used != rest.len() {
                    return Err(DecodeError::TrailingBytes(rest.len() - used));
                }
                Some(Signature::parse(token).map_err(|_| DecodeError::BadTrailer)?)
            };
            Ok(Parsed {
                format: Format::Netstring,
                message,
                trailer,
                signed: &bytes[..end],
            })
        } else if bytes.starts_with(text::HEADER) {
            Ok(Parsed {
                format: Format::Text,
                message: text::decode(bytes)?,
                trailer: None,
                signed: &[],
            })
        } else {
            Err(DecodeError::UnknownFormat(super::describe_start(bytes)))
        }
    }

    /// The inner `auth=` field, parsed; `None` if the message has none. Like
    /// 3.0.6, the last `auth` field counts.
    pub fn inner_auth(&self) -> Option<Result<Signature, AuthError>> {
        let field = self
            .message
            .fields()
            .iter()
            .rev()
            .find(|f| f.name == "auth")?;
        match &field.value {
            super::Value::Str(token) => Some(Signature::parse(token)),
            _ => Some(Err(AuthError::BadToken("(non-string auth field)".into()))),
        }
    }

    /// Checks the authentication a receiver relies on: the trailer for netstring,
    /// the `auth=` field for text. Returns the key slot that matched.
    pub fn verify(&self, keys: &KeyTable) -> Result<u8, AuthError> {
        match self.format {
            Format::Netstring => self.verify_trailer(keys),
            Format::Text => self.verify_inner(keys),
        }
    }

    /// Checks the netstring trailer.
    pub fn verify_trailer(&self, keys: &KeyTable) -> Result<u8, AuthError> {
        self.trailer
            .as_ref()
            .ok_or(AuthError::Missing)?
            .verify(keys, self.signed)
    }

    /// Checks the inner `auth=` field against the text form of the other fields.
    pub fn verify_inner(&self, keys: &KeyTable) -> Result<u8, AuthError> {
        let sig = self.inner_auth().ok_or(AuthError::Missing)??;
        let input = text::encode_fields(&self.message, 0, Some("auth"))
            .map_err(|_| AuthError::BadToken("(message cannot be put in text form)".into()))?;
        sig.verify(keys, &input)
    }
}

/// Receives a packet: parse, authenticate, expand a compressed message.
/// This is the whole receive path of a link; anything it rejects is dropped.
pub fn decode(bytes: &[u8], keys: &KeyTable) -> Result<Message, PacketError> {
    let parsed = Parsed::parse(bytes)?;
    parsed.verify(keys)?;
    Ok(decompress(parsed.message)?)
}

/// Expands `_compressed_payload` (spec §1.3), at most [`MAX_UNCOMPRESSED`] bytes.
/// Only `zlib` is supported; `bz2` is refused with a clear error. Heartbeat's own
/// messages never get large enough to be compressed.
fn decompress(msg: Message) -> Result<Message, DecodeError> {
    let Some(payload) = msg.get_bin("_compressed_payload") else {
        return Ok(msg);
    };
    let algorithm = msg.get_str("_compression_algorithm").unwrap_or("zlib");
    if algorithm != "zlib" {
        return Err(DecodeError::Compression(format!(
            "algorithm {algorithm:?} is not supported (only zlib)"
        )));
    }
    let mut inner = Vec::new();
    flate2::read::ZlibDecoder::new(payload)
        .take(MAX_UNCOMPRESSED as u64 + 1)
        .read_to_end(&mut inner)
        .map_err(|e| DecodeError::Compression(e.to_string()))?;
    if inner.len() > MAX_UNCOMPRESSED {
        return Err(DecodeError::TooLarge {
            len: inner.len(),
            max: MAX_UNCOMPRESSED,
        });
    }
    let (message, used) = netstring::decode_prefix(&inner)?;
    if used != inner.len() {
        return Err(DecodeError::TrailingBytes(inner.len() - used));
    }
    Ok(message)
}

/// How to put a message on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Encoding: netstring for UDP (what 3.0.6 sends), text for serial.
    pub format: Format,
    /// Add the inner `auth=` field (`msgfmt classic`, the default). Always added in text form.
    pub inner_auth: bool,
}

impl EncodeOptions {
    /// What a 3.0.6 node sends on UDP with the default `msgfmt classic`.
    pub const UDP: EncodeOptions = EncodeOptions {
        format: Format::Netstring,
        inner_auth: true,
    };
    /// What a serial link carries.
    pub const SERIAL: EncodeOptions = EncodeOptions {
        format: Format::Text,
        inner_auth: true,
    };
}

/// Signs and encodes a message. An existing `auth` field is replaced in place.
pub fn encode(msg: &Message, keys: &KeyTable, opts: EncodeOptions) -> Result<Vec<u8>, EncodeError> {
    let mut msg = msg.clone();
    if opts.inner_auth || opts.format == Format::Text {
        let input = text::encode_fields(&msg, 0, Some("auth"))?;
        msg.set_str("auth", keys.sign(&input));
    } else {
        msg.remove("auth");
    }
    let out = match opts.format {
        Format::Text => text::encode(&msg)?,
        Format::Netstring => {
            let mut out = netstring::encode(&msg)?;
            let token = keys.sign(&out);
            out.extend(format!("{}:{},", token.len(), token).into_bytes());
            out
        }
    };
    if out.len() >= MAX_MSG {
        return Err(EncodeError::TooLarge {
            len: out.len(),
            max: MAX_MSG - 1,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    fn keys() -> KeyTable {
        KeyTable::single(
            2,
            AuthMethod::Sha1 {
                key: b"testkey".to_vec(),
            },
        )
    }

    fn status() -> Message {
        let mut m = Message::with_type("status");
        m.push_str("st", "up");
        m.push_str("src", "peer");
        m.push_bin("srcuuid", [7u8; 16]);
        m.push_str("seq", "3");
        m
    }

    #[test]
    fn netstring_packet_carries_inner_auth_and_trailer() {
        let bytes = encode(&status(), &keys(), EncodeOptions::UDP).expect("encodes");
        let parsed = Parsed::parse(&bytes).expect("parses");
        assert_eq!(parsed.format, Format::Netstring);
        assert_eq!(parsed.verify_trailer(&keys()), Ok(2));
        assert_eq!(parsed.verify_inner(&keys()), Ok(2));
        assert_eq!(
            parsed.message.fields().last().map(|f| f.name.as_str()),
            Some("auth")
        );
        let trailer = &bytes[bytes.len() - 46..];
        assert!(
            trailer.starts_with(b"42:2 "),
            "{:?}",
            String::from_utf8_lossy(trailer)
        );
    }

    #[test]
    fn msgfmt_netstring_omits_the_inner_field() {
        let opts = EncodeOptions {
            format: Format::Netstring,
            inner_auth: false,
        };
        let bytes = encode(&status(), &keys(), opts).expect("encodes");
        let parsed = Parsed::parse(&bytes).expect("parses");
        assert!(parsed.message.get("auth").is_none());
        assert_eq!(parsed.verify(&keys()), Ok(2));
    }

    #[test]
    fn text_packet_is_verified_by_its_auth_field() {
        let bytes = encode(&status(), &keys(), EncodeOptions::SERIAL).expect("encodes");
        assert!(bytes.starts_with(b">>>\n"));
        assert_eq!(
            decode(&bytes, &keys()).map(|m| m.get_str("st").map(str::to_owned)),
            Ok(Some("up".into()))
        );
        let other = KeyTable::single(
            2,
            AuthMethod::Sha1 {
                key: b"otherkey".to_vec(),
            },
        );
        assert_eq!(
            decode(&bytes, &other),
            Err(PacketError::Auth(AuthError::Mismatch {
                slot: 2,
                method: "sha1"
            }))
        );
    }

    #[test]
    fn unknown_slot_and_missing_auth_are_distinct_errors() {
        let bytes = encode(&status(), &keys(), EncodeOptions::UDP).expect("encodes");
        let slot1 = KeyTable::single(1, AuthMethod::Crc);
        assert_eq!(
            decode(&bytes, &slot1),
            Err(PacketError::Auth(AuthError::UnknownSlot(2)))
        );
        let unsigned = netstring::encode(&status()).expect("encodes");
        assert_eq!(
            decode(&unsigned, &keys()),
            Err(PacketError::Auth(AuthError::Missing))
        );
        let text_unsigned = text::encode(&status()).expect("encodes");
        assert_eq!(
            decode(&text_unsigned, &keys()),
            Err(PacketError::Auth(AuthError::Missing))
        );
    }

    #[test]
    fn trailer_must_be_well_formed_and_last() {
        let mut bytes = encode(&status(), &keys(), EncodeOptions::UDP).expect("encodes");
        bytes.push(b'x');
        assert_eq!(
            Parsed::parse(&bytes).map(|_| ()),
            Err(DecodeError::TrailingBytes(1))
        );
        let mut bad = netstring::encode(&status()).expect("encodes");
        bad.extend_from_slice(b"5:2 xyz,");
        assert_eq!(
            Parsed::parse(&bad).map(|_| ()),
            Err(DecodeError::BadTrailer)
        );
    }

    #[test]
    fn signature_tokens() {
        assert_eq!(
            Signature::parse(b"15 ab"),
            Ok(Signature {
                slot: 15,
                digest: "ab".into()
            })
        );
        for bad in [
            &b"16 ab"[..],
            b"1",
            b"1 ",
            b"x ab",
            b"1 zz",
            b"+1 ab",
            b"1  ab",
        ] {
            assert!(
                Signature::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn compressed_payload_is_expanded_after_authentication() {
        use std::io::Write as _;
        let inner = netstring::encode(&status()).expect("encodes");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&inner).expect("compresses");
        let mut outer = Message::new();
        outer.push_bin("_compressed_payload", z.finish().expect("compresses"));
        outer.push_str("_compression_algorithm", "zlib");
        let bytes = encode(&outer, &keys(), EncodeOptions::UDP).expect("encodes");
        assert_eq!(decode(&bytes, &keys()), Ok(status()));
        outer.set_str("_compression_algorithm", "bz2");
        let bytes = encode(&outer, &keys(), EncodeOptions::UDP).expect("encodes");
        assert!(matches!(
            decode(&bytes, &keys()),
            Err(PacketError::Decode(DecodeError::Compression(_)))
        ));
    }

    #[test]
    fn zlib_bomb_is_bounded() {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![b'#'; MAX_UNCOMPRESSED + 10])
            .expect("compresses");
        let mut outer = Message::new();
        outer.push_bin("_compressed_payload", z.finish().expect("compresses"));
        let bytes = encode(&outer, &keys(), EncodeOptions::UDP).expect("encodes");
        assert!(matches!(
            decode(&bytes, &keys()),
            Err(PacketError::Decode(DecodeError::TooLarge { .. }))
        ));
    }

    #[test]
    fn oversized_packets_are_refused_both_ways() {
        let mut m = Message::with_type("big");
        m.push_bin("blob", vec![0u8; MAX_MSG]);
        assert!(matches!(
            encode(&m, &keys(), EncodeOptions::UDP),
            Err(EncodeError::TooLarge { .. })
        ));
        let huge = vec![b'#'; MAX_MSG];
        assert!(matches!(
            Parsed::parse(&huge),
            Err(DecodeError::TooLarge { .. })
        ));
    }
}
