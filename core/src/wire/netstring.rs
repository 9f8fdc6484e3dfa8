//! The netstring form (spec §1.2) that every real 3.0.6 node sends on UDP:
//! `###\n`, then `LEN:(T)name=value,` per field, then `%%%\n`. Values are raw bytes.
//! The authentication trailer after `%%%\n` is handled by [`super::packet`].

use super::error::{DecodeError, EncodeError};
use super::message::{FieldType, Message, Value};
use super::{check_name, list, MAX_DEPTH, MAX_MSG};

/// First line of a netstring message.
pub const HEADER: &[u8] = b"###\n";
/// Last line of a netstring message (the trailer, if any, follows).
pub const FOOTER: &[u8] = b"%%%\n";

/// Encodes a message from `###\n` through `%%%\n` (no trailer).
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    encode_at(msg, 0)
}

fn encode_at(msg: &Message, depth: usize) -> Result<Vec<u8>, EncodeError> {
    if depth >= MAX_DEPTH {
        return Err(EncodeError::TooDeep { max: MAX_DEPTH });
    }
    let mut out = HEADER.to_vec();
    for field in msg.fields() {
        check_name(&field.name)?;
        let value: std::borrow::Cow<'_, [u8]> = match &field.value {
            Value::Str(s) => {
                if s.contains(&0) {
                    return Err(EncodeError::Unencodable {
                        name: field.name.clone(),
                        reason: "NUL in a string",
                    });
                }
                s.into()
            }
            Value::Bin(b) | Value::Compressed(b) => b.into(),
            Value::List(items) => list::pack(items).into(),
            Value::Struct(child) => encode_at(child, depth + 1)?.into(),
        };
        let body_len = 3 + field.name.len() + 1 + value.len();
        out.extend(body_len.to_string().into_bytes());
        out.extend_from_slice(b":(");
        out.push(b'0' + field.value.field_type().code());
        out.push(b')');
        out.extend_from_slice(field.name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(&value);
        out.push(b',');
        if out.len() >= MAX_MSG {
            return Err(EncodeError::TooLarge {
                len: out.len(),
                max: MAX_MSG,
            });
        }
    }
    out.extend_from_slice(FOOTER);
    Ok(out)
}

/// Decodes the message at the start of `bytes`. Returns it and the number of bytes
/// it spans, `###\n` through `%%%\n`: what follows is the trailer, if any.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Message, usize), DecodeError> {
    decode_at(bytes, 0)
}

fn decode_at(bytes: &[u8], depth: usize) -> Result<(Message, usize), DecodeError> {
    if depth >= MAX_DEPTH {
        return Err(DecodeError::TooDeep { max: MAX_DEPTH });
    }
    if !bytes.starts_with(HEADER) {
        return Err(DecodeError::UnknownFormat(super::describe_start(bytes)));
    }
    let mut msg = Message::new();
    let mut pos = HEADER.len();
    loop {
        let rest = &bytes[pos..];
        if rest.starts_with(FOOTER) {
            return Ok((msg, pos + FOOTER.len()));
        }
        if rest.is_empty() {
            return Err(DecodeError::Truncated);
        }
        let (data, used) = read_netstring(bytes, pos)?;
        decode_field(data, pos, depth, &mut msg)?;
        pos += used;
    }
}

/// Reads one `LEN:data,` at `bytes[start..]`; returns the data and the bytes used.
pub(crate) fn read_netstring(bytes: &[u8], start: usize) -> Result<(&[u8], usize), DecodeError> {
    let rest = &bytes[start..];
    let bad = DecodeError::BadLength { offset: start };
    let colon = rest
        .iter()
        .take(8)
        .position(|&b| b == b':')
        .ok_or_else(|| {
            if rest.iter().all(u8::is_ascii_digit) {
                DecodeError::Truncated
            } else {
                bad.clone()
            }
        })?;
    let digits = &rest[..colon];
    // Plain decimal as "%d" prints it: no sign, no leading zero (except "0").
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
    {
        return Err(bad);
    }
    let len: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .filter(|&n| n < MAX_MSG)
        .ok_or(bad)?;
    let data_start = colon + 1;
    let data_end = data_start + len;
    if data_end >= rest.len() {
        return Err(DecodeError::Truncated);
    }
    if rest[data_end] != b',' {
        return Err(DecodeError::MissingComma { offset: start });
    }
    Ok((&rest[data_start..data_end], data_end + 1))
}

fn decode_field(
    data: &[u8],
    offset: usize,
    depth: usize,
    msg: &mut Message,
) -> Result<(), DecodeError> {
    let ty = match data {
        [b'(', d @ b'0'..=b'9', b')', ..] => {
            FieldType::from_code(d - b'0').ok_or_else(|| DecodeError::UnknownType {
                code: char::from(*d).to_string(),
                offset,
            })?
        }
        [b'(', ..] => {
            return Err(DecodeError::UnknownType {
                code: String::from_utf8_lossy(data.get(1..data.len().min(4)).unwrap_or_default())
                    .into_owned(),
                offset,
            })
        }
        _ => return Err(DecodeError::MissingType { offset }),
    };
    let data = &data[3..];
    let eq = data
        .iter()
        .position(|&b| b == b'=')
        .ok_or(DecodeError::MissingEquals { offset })?;
    let name = std::str::from_utf8(&data[..eq])
        .ok()
        .filter(|n| check_name(n).is_ok())
        .ok_or(DecodeError::BadName { offset })?;
    let raw = &data[eq + 1..];
    let value = match ty {
        FieldType::String => {
            if raw.contains(&0) {
                return Err(DecodeError::NulInString {
                    name: name.to_owned(),
                });
            }
            Value::Str(raw.to_vec())
        }
        FieldType::Binary => Value::Bin(raw.to_vec()),
        FieldType::Compressed => Value::Compressed(raw.to_vec()),
        FieldType::List => Value::List(list::unpack(raw).ok_or_else(|| DecodeError::BadList {
            name: name.to_owned(),
        })?),
        FieldType::Struct => {
            let (child, used) = decode_at(raw, depth + 1).map_err(|e| match e {
                DecodeError::TooDeep { .. } => e,
                other => DecodeError::BadStruct {
                    name: name.to_owned(),
                    reason: Box::new(other),
                },
            })?;
            if used != raw.len() {
                return Err(DecodeError::BadStruct {
                    name: name.to_owned(),
                    reason: Box::new(DecodeError::TrailingBytes(raw.len() - used)),
                });
            }
            Value::Struct(child)
        }
    };
    msg.push(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_the_type_prefix() {
        let mut m = Message::with_type("status");
        m.push_bin("u", [0u8, 1, 2]);
        let bytes = encode(&m).expect("encodes");
        assert_eq!(
            bytes,
            b"###\n11:(0)t=status,8:(1)u=\x00\x01\x02,%%%\n".to_vec()
        );
        assert_eq!(decode_prefix(&bytes), Ok((m, bytes.len())));
    }

    #[test]
    fn strings_are_raw_not_escaped() {
        let mut m = Message::new();
        m.push_str("info", "a\nb");
        let bytes = encode(&m).expect("encodes");
        assert!(bytes.windows(3).any(|w| w == b"a\nb"));
        assert_eq!(
            decode_prefix(&bytes).map(|(m, _)| m.get_str("info").map(str::to_owned)),
            Ok(Some("a\nb".into()))
        );
    }

    #[test]
    fn rejects_bad_lengths_and_framing() {
        assert_eq!(
            decode_prefix(b"###\n011:(0)t=status,%%%\n"),
            Err(DecodeError::BadLength { offset: 4 })
        );
        assert_eq!(
            decode_prefix(b"###\n-1:(0)t=status,%%%\n"),
            Err(DecodeError::BadLength { offset: 4 })
        );
        assert_eq!(
            decode_prefix(b"###\n11:(0)t=status;%%%\n"),
            Err(DecodeError::MissingComma { offset: 4 })
        );
        assert_eq!(
            decode_prefix(b"###\n99:(0)t=status,%%%\n"),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode_prefix(b"###\n8:t=status,%%%\n"),
            Err(DecodeError::MissingType { offset: 4 })
        );
        assert_eq!(
            decode_prefix(b"###\n5:(0)ab,%%%\n"),
            Err(DecodeError::MissingEquals { offset: 4 })
        );
        assert_eq!(
            decode_prefix(b"###\n11:(0)t=status,"),
            Err(DecodeError::Truncated)
        );
        assert_eq!(decode_prefix(b"###\n123"), Err(DecodeError::Truncated));
        assert_eq!(
            decode_prefix(b"###\n99999999:"),
            Err(DecodeError::BadLength { offset: 4 })
        );
    }

    #[test]
    fn nested_messages_round_trip_and_depth_is_bounded() {
        let mut m = Message::with_type("leaf");
        for _ in 0..MAX_DEPTH - 1 {
            let mut outer = Message::new();
            outer.push("c", Value::Struct(m));
            m = outer;
        }
        let bytes = encode(&m).expect("15 levels of nesting encode");
        assert_eq!(decode_prefix(&bytes), Ok((m.clone(), bytes.len())));
        let mut deeper = Message::new();
        deeper.push("c", Value::Struct(m));
        assert_eq!(
            encode(&deeper),
            Err(EncodeError::TooDeep { max: MAX_DEPTH })
        );
    }
}
