//! The classic text form (spec §1.2): `>>>\n`, one `name=value\n` line per field,
//! `<<<\n`. Serial links always carry it; old senders use it on UDP too.

use base64::Engine as _;

use super::error::{DecodeError, EncodeError};
use super::message::{FieldType, Message, Value};
use super::{check_name, list, MAX_DEPTH};

/// First line of a text message.
pub const HEADER: &[u8] = b">>>\n";
/// Last line of a text message.
pub const FOOTER: &[u8] = b"<<<\n";

/// A `\n` inside a string value travels as this byte (decimal 19).
pub const NEWLINE_IN_STRING: u8 = 0x13;

/// The byte that stands for `\n` inside a struct field of a message at `depth`
/// (0 for the top-level message)
/// (glue's `SPECIAL_SYMS`).
const STRUCT_NEWLINE: [u8; MAX_DEPTH] = [
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 15, 16, 17, 18,
];

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Encodes a whole message, header and footer included.
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    encode_at(msg, 0)
}

fn encode_at(msg: &Message, depth: usize) -> Result<Vec<u8>, EncodeError> {
    let mut out = HEADER.to_vec();
    out.extend(encode_fields(msg, depth, None)?);
    out.extend_from_slice(FOOTER);
    Ok(out)
}

/// The field lines only, optionally leaving out every field named `skip`.
/// With `skip = Some("auth")` this is exactly the input of the inner `auth=` digest (spec §2.2).
pub fn encode_fields(
    msg: &Message,
    depth: usize,
    skip: Option<&str>,
) -> Result<Vec<u8>, EncodeError> {
    if depth >= MAX_DEPTH {
        return Err(EncodeError::TooDeep { max: MAX_DEPTH });
    }
    let mut out = Vec::new();
    for field in msg.fields() {
        if skip == Some(field.name.as_str()) {
            continue;
        }
        check_name(&field.name)?;
        let unencodable = |reason| EncodeError::Unencodable {
            name: field.name.clone(),
            reason,
        };
        let ty = field.value.field_type();
        if ty != FieldType::String {
            out.push(b'(');
            out.push(b'0' + ty.code());
            out.push(b')');
        }
        out.extend_from_slice(field.name.as_bytes());
        out.push(b'=');
        match &field.value {
            Value::Str(s) => {
                for &b in s {
                    match b {
                        0 => return Err(unencodable("NUL in a string")),
                        NEWLINE_IN_STRING => {
                            return Err(unencodable(
                                "byte 0x13 in a string (it stands for newline)",
                            ))
                        }
                        b'\n' => out.push(NEWLINE_IN_STRING),
                        _ => out.push(b),
                    }
                }
            }
            Value::Bin(b) | Value::Compressed(b) => out.extend(B64.encode(b).into_bytes()),
            Value::List(items) => {
                let packed = list::pack(items);
                if packed.contains(&b'\n') {
                    return Err(unencodable("newline in a list element"));
                }
                out.extend(packed);
            }
            Value::Struct(child) => {
                let sym = STRUCT_NEWLINE[depth];
                let inner = encode_at(child, depth + 1)?;
                if inner.contains(&sym) {
                    return Err(unencodable("nested message contains its depth marker byte"));
                }
                out.extend(inner.into_iter().map(|b| if b == b'\n' { sym } else { b }));
            }
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Decodes a text message. One trailing NUL (old senders) is ignored; blank lines are skipped.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    decode_at(bytes, 0)
}

fn decode_at(bytes: &[u8], depth: usize) -> Result<Message, DecodeError> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep { max: MAX_DEPTH });
    }
    let body = bytes
        .strip_prefix(HEADER)
        .ok_or_else(|| DecodeError::UnknownFormat(super::describe_start(bytes)))?;
    let mut msg = Message::new();
    let mut offset = HEADER.len();
    let mut rest = body;
    loop {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Err(DecodeError::Truncated);
        };
        let line = &rest[..nl];
        let line_start = offset;
        rest = &rest[nl + 1..];
        offset += nl + 1;
        if line == b"<<<" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        decode_line(line, line_start, depth, &mut msg)?;
    }
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

fn decode_line(
    line: &[u8],
    offset: usize,
    depth: usize,
    msg: &mut Message,
) -> Result<(), DecodeError> {
    let (ty, line) = match line.strip_prefix(b"(") {
        Some(after) => {
            let close = after
                .iter()
                .position(|&b| b == b')')
                .ok_or(DecodeError::MissingType { offset })?;
            let code = &after[..close];
            let ty = match code {
                [d @ b'0'..=b'9'] => FieldType::from_code(d - b'0'),
                _ => None,
            }
            .ok_or_else(|| DecodeError::UnknownType {
                code: String::from_utf8_lossy(code).into_owned(),
                offset,
            })?;
            (ty, &after[close + 1..])
        }
        None => (FieldType::String, line),
    };
    let eq = line
        .iter()
        .position(|&b| b == b'=')
        .ok_or(DecodeError::MissingEquals { offset })?;
    let name = std::str::from_utf8(&line[..eq])
        .ok()
        .filter(|n| check_name(n).is_ok())
        .ok_or(DecodeError::BadName { offset })?;
    let raw = &line[eq + 1..];
    let value = match ty {
        FieldType::String => {
            if raw.contains(&0) {
                return Err(DecodeError::NulInString {
                    name: name.to_owned(),
                });
            }
            Value::Str(
                raw.iter()
                    .map(|&b| if b == NEWLINE_IN_STRING { b'\n' } else { b })
                    .collect(),
            )
        }
        FieldType::Binary | FieldType::Compressed => {
            let bytes = B64.decode(raw).map_err(|_| DecodeError::BadBase64 {
                name: name.to_owned(),
            })?;
            if ty == FieldType::Binary {
                Value::Bin(bytes)
            } else {
                Value::Compressed(bytes)
            }
        }
        FieldType::List => Value::List(list::unpack(raw).ok_or_else(|| DecodeError::BadList {
            name: name.to_owned(),
        })?),
        FieldType::Struct => {
            let sym = STRUCT_NEWLINE[depth];
            let inner: Vec<u8> = raw
                .iter()
                .map(|&b| if b == sym { b'\n' } else { b })
                .collect();
            let child = decode_at(&inner, depth + 1).map_err(|e| match e {
                DecodeError::TooDeep { .. } => e,
                other => DecodeError::BadStruct {
                    name: name.to_owned(),
                    reason: Box::new(other),
                },
            })?;
            Value::Struct(child)
        }
    };
    msg.push(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Message {
        let mut m = Message::with_type("status");
        m.push_str("st", "up");
        m.push_bin(
            "srcuuid",
            [
                0xc6, 0x6b, 0x4f, 0x54, 0xd0, 0xb1, 0x43, 0x4e, 0x9a, 0xc2, 0x1d, 0x4a, 0x02, 0xf7,
                0x64, 0xef,
            ],
        );
        m.push_str("info", "two\nlines");
        m
    }

    #[test]
    fn encodes_binary_as_typed_base64_and_escapes_newlines() {
        let text = encode(&status()).expect("encodes");
        assert_eq!(
            text,
            b">>>\nt=status\nst=up\n(1)srcuuid=xmtPVNCxQ06awh1KAvdk7w==\ninfo=two\x13lines\n<<<\n"
                .to_vec()
        );
        assert_eq!(decode(&text), Ok(status()));
    }

    #[test]
    fn skips_blank_lines_and_one_trailing_nul() {
        let m = decode(b">>>\nt=status\n\nst=up\n<<<\n\0").expect("decodes");
        assert_eq!(m.get_str("st"), Some("up"));
        assert_eq!(
            decode(b">>>\nt=status\n<<<\n\0\0"),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn only_the_first_equals_splits() {
        let m = decode(b">>>\ninfo=a=b\n<<<\n").expect("decodes");
        assert_eq!(m.get_str("info"), Some("a=b"));
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(
            decode(b">>>\nnoequals\n<<<\n"),
            Err(DecodeError::MissingEquals { offset: 4 })
        );
        assert_eq!(
            decode(b">>>\n=x\n<<<\n"),
            Err(DecodeError::BadName { offset: 4 })
        );
        assert_eq!(
            decode(b">>>\n(7)x=1\n<<<\n"),
            Err(DecodeError::UnknownType {
                code: "7".into(),
                offset: 4
            })
        );
        assert_eq!(
            decode(b">>>\n(1)x=%%\n<<<\n"),
            Err(DecodeError::BadBase64 { name: "x".into() })
        );
        assert_eq!(decode(b">>>\nt=status\n"), Err(DecodeError::Truncated));
        assert!(matches!(
            decode(b"<<<\n"),
            Err(DecodeError::UnknownFormat(_))
        ));
    }

    #[test]
    fn nested_struct_and_list_round_trip() {
        let mut child = Message::with_type("inner");
        child.push_str("x", "1");
        let mut m = Message::with_type("outer");
        m.push("child", Value::Struct(child));
        m.push(
            "names",
            Value::List(vec![b"n1".to_vec(), b"node-two".to_vec()]),
        );
        let text = encode(&m).expect("encodes");
        // One line per field: the child's newlines became its depth marker.
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 5);
        assert!(text
            .windows(19)
            .any(|w| w == b"names=2:n1,8:node-two,".get(..19).unwrap_or_default()));
        assert_eq!(decode(&text), Ok(m));
    }

    #[test]
    fn struct_field_of_top_level_uses_glue_depth_zero_marker() {
        // cluster-glue writes {c: {a: b}} as "(2)c=>>>\x14a=b\x14<<<\x14".
        let mut child = Message::new();
        child.push_str("a", "b");
        let mut m = Message::new();
        m.push("c", Value::Struct(child));
        let wire = b">>>\n(2)c=>>>\x14a=b\x14<<<\x14\n<<<\n".to_vec();
        assert_eq!(encode(&m), Ok(wire.clone()));
        assert_eq!(decode(&wire), Ok(m));
    }

    #[test]
    fn refuses_to_encode_what_it_could_not_decode() {
        let mut m = Message::new();
        m.push_str("x", "a\0b");
        assert!(matches!(encode(&m), Err(EncodeError::Unencodable { .. })));
        let mut m = Message::new();
        m.push_str("a=b", "x");
        assert_eq!(encode(&m), Err(EncodeError::InvalidName("a=b".into())));
    }
}
