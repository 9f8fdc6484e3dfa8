//! Past authentication: every input is signed with the right key before it is
//! decoded, so the fuzzer reaches the parsers, the decompression and the
//! round trip instead of stopping at a digest mismatch.
//!
//! The first byte picks the mode:
//! * even: `[_, K, BODY...]`: BODY (a netstring `###`...`%%%` body, or a text
//!   message) signed with capture key table K, then decoded. The seeds are the
//!   captured packets without their trailer.
//! * odd: a structured [`Input`] (arbitrary): a message, maybe a zlib payload,
//!   encoded with a key of its own, then mutated and signed again. Without
//!   mutations, what was encoded must decode to the same message.
#![no_main]

use std::io::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use hb_core::auth::{AuthMethod, KeyTable};
use hb_core::wire::packet::{self, EncodeOptions};
use hb_core::wire::{netstring, text, Format, Message, Value, MAX_DEPTH, MAX_UNCOMPRESSED};
use heartbeat_fuzz::{keys, sign_netstring, sign_text};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Key {
    Crc,
    Md5(Vec<u8>),
    Sha1(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum ArbValue {
    Str(Vec<u8>),
    Bin(Vec<u8>),
    List(Vec<Vec<u8>>),
    Compressed(Vec<u8>),
    Struct(Vec<(String, ArbValue)>),
}

/// What `_compressed_payload` carries, before zlib.
#[derive(Arbitrary, Debug)]
enum Payload {
    /// A message, netstring-encoded as a sender compresses it.
    Message(Vec<(String, ArbValue)>),
    /// Any bytes.
    Raw(Vec<u8>),
    /// Many copies of one byte: the size limit (MAX_UNCOMPRESSED) is near.
    Repeat { byte: u8, len: u32 },
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    Flip { at: u16, bit: u8 },
    Set { at: u16, byte: u8 },
    Insert { at: u16, bytes: Vec<u8> },
    Delete { at: u16, len: u8 },
    Truncate { at: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    slot: u8,
    key: Key,
    text: bool,
    inner_auth: bool,
    fields: Vec<(String, ArbValue)>,
    payload: Option<(Payload, Option<String>)>,
    mutations: Vec<Mutation>,
}

fn value(v: ArbValue, depth: usize) -> Value {
    match v {
        ArbValue::Str(s) => Value::Str(s),
        ArbValue::Bin(b) => Value::Bin(b),
        ArbValue::List(l) => Value::List(l),
        ArbValue::Compressed(c) => Value::Compressed(c),
        // Deeper than the codec allows is refused by the encoder; a little
        // deeper than that is enough to check it.
        ArbValue::Struct(_) if depth > MAX_DEPTH + 1 => Value::Str(Vec::new()),
        ArbValue::Struct(f) => Value::Struct(message(f, depth + 1)),
    }
}

fn message(fields: Vec<(String, ArbValue)>, depth: usize) -> Message {
    let mut m = Message::new();
    for (name, v) in fields {
        m.push(&name, value(v, depth));
    }
    m
}

fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let at = |i: u16| usize::from(i) % (bytes.len() + 1);
        match m {
            Mutation::Flip { at: i, bit } => {
                let i = at(*i);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << (bit % 8);
                }
            }
            Mutation::Set { at: i, byte } => {
                let i = at(*i);
                if let Some(b) = bytes.get_mut(i) {
                    *b = *byte;
                }
            }
            Mutation::Insert { at: i, bytes: new } => {
                let i = at(*i);
                bytes.splice(i..i, new.iter().copied());
            }
            Mutation::Delete { at: i, len } => {
                let i = at(*i);
                let end = (i + usize::from(*len)).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Truncate { at: i } => {
                let i = at(*i);
                bytes.truncate(i);
            }
        }
    }
}

/// Signs any body: as a netstring body, or (text) through its decoded fields.
fn sign_any(body: &[u8], keys: &KeyTable) -> Option<Vec<u8>> {
    if body.starts_with(text::HEADER) {
        sign_text(body, keys)
    } else {
        Some(sign_netstring(body, keys))
    }
}

fn raw(data: &[u8]) {
    let [k, body @ ..] = data else { return };
    let keys = &keys()[usize::from(*k) % keys().len()];
    if let Some(bytes) = sign_any(body, keys) {
        let _ = packet::decode(&bytes, keys);
    }
}

fn structured(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let method = match input.key {
        Key::Crc => AuthMethod::Crc,
        Key::Md5(key) => AuthMethod::Md5 { key },
        Key::Sha1(key) => AuthMethod::Sha1 { key },
    };
    let keys = KeyTable::single(input.slot, method);
    let mut msg = message(input.fields, 0);
    // What the payload should expand to, when it is a well-formed zlib message.
    let mut expanded: Option<Message> = None;
    if let Some((payload, algorithm)) = input.payload {
        let inner = match payload {
            Payload::Message(fields) => {
                let inner = message(fields, 0);
                let Ok(bytes) = netstring::encode(&inner) else {
                    return;
                };
                if bytes.len() <= MAX_UNCOMPRESSED
                    && algorithm.as_deref().is_none_or(|a| a == "zlib")
                {
                    expanded = Some(inner);
                }
                bytes
            }
            Payload::Raw(bytes) => bytes,
            Payload::Repeat { byte, len } => {
                vec![byte; len as usize % (MAX_UNCOMPRESSED + 4096)]
            }
        };
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        if z.write_all(&inner).is_err() {
            return;
        }
        let Ok(compressed) = z.finish() else { return };
        msg.push_bin("_compressed_payload", compressed);
        if let Some(a) = algorithm {
            msg.push_str("_compression_algorithm", a);
        }
    }
    let opts = EncodeOptions {
        format: if input.text {
            Format::Text
        } else {
            Format::Netstring
        },
        inner_auth: input.inner_auth,
    };
    let Ok(bytes) = packet::encode(&msg, &keys, opts) else {
        return;
    };

    if input.mutations.is_empty() {
        let decoded = packet::decode(&bytes, &keys);
        let compressed = msg.get("_compressed_payload").is_some();
        if let Some(inner) = expanded.filter(|_| msg.get_bin("_compressed_payload").is_some()) {
            // Only the first _compressed_payload counts: ours is first unless
            // the fields already had one.
            if msg
                .fields()
                .iter()
                .filter(|f| f.name == "_compressed_payload")
                .count()
                == 1
                && msg
                    .fields()
                    .iter()
                    .filter(|f| f.name == "_compression_algorithm")
                    .count()
                    <= 1
            {
                assert_eq!(decoded, Ok(inner), "compressed message");
            }
        } else if !compressed {
            let mut expected = msg.clone();
            if opts.inner_auth || opts.format == Format::Text {
                let input = text::encode_fields(&msg, 0, Some("auth"))
                    .unwrap_or_else(|e| panic!("encoded, yet its text form fails: {e}"));
                expected.set_str("auth", keys.sign(&input));
            } else {
                expected.remove("auth");
            }
            assert_eq!(decoded, Ok(expected), "round trip");
        }
        return;
    }

    // Mutate what the signature covers, then sign again.
    let body = match opts.format {
        Format::Netstring => {
            // The body ends at the last "%%%\n": the trailer has no '%'.
            let Some(end) = bytes.windows(4).rposition(|w| w == netstring::FOOTER) else {
                return;
            };
            bytes[..end + 4].to_vec()
        }
        Format::Text => {
            let mut unsigned = msg.clone();
            unsigned.remove("auth");
            let Ok(b) = text::encode(&unsigned) else {
                return;
            };
            b
        }
    };
    let mut body = body;
    mutate(&mut body, &input.mutations);
    if let Some(bytes) = sign_any(&body, &keys) {
        let _ = packet::decode(&bytes, &keys);
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => raw(rest),
        Some((_, rest)) => structured(rest),
        None => {}
    }
});
