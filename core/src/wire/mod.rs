//! The heartbeat 3.0.6 wire format (spec §1-§2).
//!
//! * [`message`]: the ordered, typed field list every packet carries.
//! * [`text`]: the classic `>>>`/`<<<` form (serial links, old senders).
//! * [`netstring`]: the `###`/`%%%` form a real 3.0.6 node sends on UDP.
//! * [`packet`]: whole UDP/serial payloads: format detection, the two
//!   authentications (inner `auth=` field and netstring trailer), compression.

pub mod error;
mod list;
pub mod message;
pub mod netstring;
pub mod packet;
pub mod text;

pub use error::{AuthError, DecodeError, EncodeError, PacketError};
pub use message::{Field, FieldType, Message, Value};
pub use packet::{Format, Parsed, Signature};

/// Largest encoded message (MAXMSG, 256 KiB). A packet of this size or more is
/// refused; the UDP receive buffer of a real node is one byte smaller.
pub const MAX_MSG: usize = 262_144;

/// Largest decompressed message (MAXUNCOMPRESSED, 2 MiB).
pub const MAX_UNCOMPRESSED: usize = 2 * 1024 * 1024;

/// Deepest nesting of messages inside messages (MAXDEPTH).
pub const MAX_DEPTH: usize = 16;

/// A field name must be non-empty, must not contain `=`, newline, CR or NUL, and
/// must not start with `(` (which would read as a type prefix).
pub(crate) fn check_name(name: &str) -> Result<(), EncodeError> {
    let ok = !name.is_empty()
        && !name.starts_with('(')
        && !name.bytes().any(|b| matches!(b, b'=' | b'\n' | b'\r' | 0));
    if ok {
        Ok(())
    } else {
        Err(EncodeError::InvalidName(name.to_owned()))
    }
}

/// The first few bytes of a packet, printable, for an error message.
pub(crate) fn describe_start(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(8)]).into_owned()
}
