//! Codec errors. Every decode or authentication error means the same thing to the
//! caller: the packet is dropped and counted, and no cluster state changes.

/// Why bytes could not be decoded into a [`Message`](super::Message).
///
/// Offsets count from the start of the packet (or of the nested message).
/// State impact: none; the packet is dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Zero bytes.
    #[error("empty packet")]
    Empty,
    /// Neither `>>>\n` (text) nor `###\n` (netstring) at the start.
    #[error("not a heartbeat message (starts with {0:?}; expected \">>>\\n\" or \"###\\n\")")]
    UnknownFormat(String),
    /// Larger than the protocol allows.
    #[error("message of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Size seen.
        len: usize,
        /// Size allowed.
        max: usize,
    },
    /// The bytes end inside the message (no `<<<` / `%%%` end marker).
    #[error("message is truncated: no end marker")]
    Truncated,
    /// A netstring length that is not a plain decimal number, or runs past the end.
    #[error("bad netstring length at byte {offset}")]
    BadLength {
        /// Where the netstring starts.
        offset: usize,
    },
    /// A netstring not closed by `,`.
    #[error("netstring at byte {offset} is not closed by ','")]
    MissingComma {
        /// Where the netstring starts.
        offset: usize,
    },
    /// A netstring field without its `(N)` type prefix.
    #[error("field at byte {offset} has no (type) prefix")]
    MissingType {
        /// Where the field starts.
        offset: usize,
    },
    /// A type digit outside 0-4.
    #[error("field at byte {offset} has unknown type ({code})")]
    UnknownType {
        /// The type text found between the parentheses.
        code: String,
        /// Where the field starts.
        offset: usize,
    },
    /// A field without `=`.
    #[error("field at byte {offset} has no '='")]
    MissingEquals {
        /// Where the field starts.
        offset: usize,
    },
    /// An empty or non-UTF-8 field name, or one with forbidden bytes.
    #[error("field at byte {offset} has an invalid name")]
    BadName {
        /// Where the field starts.
        offset: usize,
    },
    /// A string field holding a NUL byte.
    #[error("string field {name:?} contains a NUL byte")]
    NulInString {
        /// The field's name.
        name: String,
    },
    /// A binary field whose text form is not base64.
    #[error("field {name:?} is not valid base64")]
    BadBase64 {
        /// The field's name.
        name: String,
    },
    /// A list field that is not a sequence of `LEN:elem,`.
    #[error("list field {name:?} is malformed")]
    BadList {
        /// The field's name.
        name: String,
    },
    /// A nested message that is not a complete message itself.
    #[error("nested message in field {name:?}: {reason}")]
    BadStruct {
        /// The field's name.
        name: String,
        /// What was wrong inside.
        reason: Box<DecodeError>,
    },
    /// Structs nested more than the protocol's limit.
    #[error("messages nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Bytes after the end of the message (and its trailer).
    #[error("{0} unexpected byte(s) after the end of the message")]
    TrailingBytes(usize),
    /// A netstring authentication trailer that is not `LEN:N HEX,`.
    #[error("malformed authentication trailer")]
    BadTrailer,
    /// A compressed message that could not be expanded.
    #[error("compressed message: {0}")]
    Compression(String),
}

/// Why a message could not be encoded. State impact: nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Field names must be non-empty and free of `=`, newline, CR and NUL, and must not start with `(`.
    #[error("invalid field name {0:?}")]
    InvalidName(String),
    /// A value this encoding cannot carry (e.g. a NUL in a string).
    #[error("field {name:?} cannot be encoded: {reason}")]
    Unencodable {
        /// The field's name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The encoded message reached the protocol's size limit.
    #[error("encoded message of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Size reached.
        len: usize,
        /// Size allowed.
        max: usize,
    },
    /// Structs nested more than the protocol's limit.
    #[error("messages nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
}

/// Why a received packet failed authentication. State impact: none; the packet is
/// dropped and counted (a node whose packets all fail is never heard, spec §2.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Netstring without trailer, or text without `auth=` field.
    #[error("packet carries no authentication")]
    Missing,
    /// An `auth` value that is not `N HEX`.
    #[error("bad/invalid auth token {0:?}")]
    BadToken(String),
    /// The slot number names no key in our authkeys.
    #[error("invalid authentication type [{0}]: no key {0} in authkeys")]
    UnknownSlot(u8),
    /// The digest does not match: wrong key, or the packet was altered.
    #[error("digest mismatch (key {slot}, {method}): wrong key or altered packet")]
    Mismatch {
        /// Slot named by the packet.
        slot: u8,
        /// Method of that slot.
        method: &'static str,
    },
}

/// Everything that can be wrong with a received packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// It does not parse.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// It parses but is not authentic.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
}
