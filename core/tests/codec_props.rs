//! Property tests of the wire codec: round trips in both encodings, and junk input
//! that never panics and always comes back as a typed error.

use hb_core::auth::{AuthMethod, KeyTable};
use hb_core::wire::packet::{self, EncodeOptions};
use hb_core::wire::{netstring, text, Format, Message, Parsed, Value};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_-]{0,11}"
}

/// String bytes both encodings carry: anything but NUL, and (for the text form)
/// not the control bytes 0x0f-0x1f that stand for newlines.
fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![8 => 0x20u8..=0xff, 1 => Just(b'\n'), 1 => 1u8..=0x0e],
        0..40,
    )
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => string_bytes().prop_map(Value::Str),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bin),
        1 => prop::collection::vec(prop::collection::vec(0x20u8..=0x7e, 0..10), 0..5).prop_map(Value::List),
        1 => prop::collection::vec(any::<u8>(), 0..20).prop_map(Value::Compressed),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let flat = prop::collection::vec((name(), leaf()), 0..8).prop_map(to_message);
    flat.prop_recursive(3, 40, 6, |inner| {
        prop::collection::vec(
            (
                name(),
                prop_oneof![3 => leaf(), 1 => inner.prop_map(Value::Struct)],
            ),
            0..6,
        )
        .prop_map(to_message)
    })
}

fn to_message(fields: Vec<(String, Value)>) -> Message {
    let mut m = Message::new();
    for (n, v) in fields {
        m.push(&n, v);
    }
    m
}

fn keys() -> impl Strategy<Value = KeyTable> {
    (
        0u8..16,
        prop_oneof![
            Just(AuthMethod::Crc),
            prop::collection::vec(0x21u8..0x7f, 1..70).prop_map(|key| AuthMethod::Md5 { key }),
            prop::collection::vec(0x21u8..0x7f, 1..70).prop_map(|key| AuthMethod::Sha1 { key }),
        ],
    )
        .prop_map(|(slot, m)| KeyTable::single(slot, m))
}

proptest! {
    #[test]
    fn netstring_round_trips(m in message()) {
        let bytes = netstring::encode(&m).expect("encodes");
        prop_assert_eq!(netstring::decode_prefix(&bytes), Ok((m, bytes.len())));
    }

    #[test]
    fn text_round_trips(m in message()) {
        let bytes = text::encode(&m).expect("encodes");
        prop_assert_eq!(text::decode(&bytes), Ok(m));
    }

    #[test]
    fn signed_packets_round_trip_in_both_formats(m in message(), keys in keys(), serial in any::<bool>()) {
        let opts = if serial { EncodeOptions::SERIAL } else { EncodeOptions::UDP };
        let bytes = packet::encode(&m, &keys, opts).expect("encodes");
        let parsed = Parsed::parse(&bytes).expect("parses");
        prop_assert_eq!(parsed.format, if serial { Format::Text } else { Format::Netstring });
        prop_assert_eq!(parsed.verify(&keys), Ok(keys.send_slot()));
        let mut expected = m.clone();
        expected.remove("auth");
        let mut got = packet::decode(&bytes, &keys).expect("verifies");
        got.remove("auth");
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let keys = KeyTable::single(1, AuthMethod::Crc);
        let _ = packet::decode(&bytes, &keys);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        header in prop_oneof![Just(&b"###\n"[..]), Just(&b">>>\n"[..])],
        tail in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b','), Just(b':'), Just(b'('), Just(b'='), 0x30u8..0x3a], 0..400),
    ) {
        let keys = KeyTable::single(1, AuthMethod::Crc);
        let mut bytes = header.to_vec();
        bytes.extend(tail);
        let _ = packet::decode(&bytes, &keys);
    }

    #[test]
    fn edited_valid_packets_are_rejected_without_panic(
        m in message(),
        keys in keys(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let good = packet::encode(&m, &keys, EncodeOptions::UDP).expect("encodes");
        let mut bad = good.clone();
        for (at, byte) in edits {
            let i = at.index(bad.len());
            bad[i] = byte;
        }
        // Every edit that changes the bytes must be caught by authentication.
        prop_assume!(bad != good);
        prop_assert!(packet::decode(&bad, &keys).is_err());
    }
}
