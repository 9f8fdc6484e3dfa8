//! The in-memory message: an ordered list of typed fields (spec §1.1).

use std::fmt;

/// Wire type codes of a field (spec §1.1). The code is written as `(N)` before
/// the name of every non-string field in text form and every field in netstring form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `0`: printable text without NUL.
    String,
    /// `1`: arbitrary bytes, e.g. the 16-byte node UUID in `srcuuid`.
    Binary,
    /// `2`: a nested message.
    Struct,
    /// `3`: a list of strings.
    List,
    /// `4`: a compressed nested message, kept opaque.
    Compressed,
}

impl FieldType {
    /// The digit written on the wire.
    pub fn code(self) -> u8 {
        match self {
            FieldType::String => 0,
            FieldType::Binary => 1,
            FieldType::Struct => 2,
            FieldType::List => 3,
            FieldType::Compressed => 4,
        }
    }

    /// Maps a wire digit back to a type. `5` (FT_UNCOMPRESS) is in-memory only in
    /// the C library and always sent as `4`, so it is not accepted here.
    pub fn from_code(code: u8) -> Option<FieldType> {
        Some(match code {
            0 => FieldType::String,
            1 => FieldType::Binary,
            2 => FieldType::Struct,
            3 => FieldType::List,
            4 => FieldType::Compressed,
            _ => return None,
        })
    }
}

/// The value of one field.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// Text. Kept as bytes because the C sender does not promise UTF-8.
    Str(Vec<u8>),
    /// Raw bytes.
    Bin(Vec<u8>),
    /// A nested message.
    Struct(Message),
    /// A list of strings.
    List(Vec<Vec<u8>>),
    /// A compressed nested message, carried as it came.
    Compressed(Vec<u8>),
}

impl Value {
    /// The wire type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::Str(_) => FieldType::String,
            Value::Bin(_) => FieldType::Binary,
            Value::Struct(_) => FieldType::Struct,
            Value::List(_) => FieldType::List,
            Value::Compressed(_) => FieldType::Compressed,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            Value::Bin(b) => write!(f, "bin[{}]", hex_lower(b)),
            Value::Struct(m) => write!(f, "{m:?}"),
            Value::List(l) => f
                .debug_list()
                .entries(l.iter().map(|e| String::from_utf8_lossy(e)))
                .finish(),
            Value::Compressed(b) => write!(f, "compressed[{} bytes]", b.len()),
        }
    }
}

/// One named, typed field.
#[derive(Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name, e.g. `t`, `src`, `seq`.
    pub name: String,
    /// Field value.
    pub value: Value,
}

/// A heartbeat message: fields in order, duplicates allowed, lookup returns the first.
///
/// The order matters: both authentication digests are computed over the
/// encoded fields in order (spec §2).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    fields: Vec<Field>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for field in &self.fields {
            m.entry(&field.name, &field.value);
        }
        m.finish()
    }
}

impl Message {
    /// An empty message.
    pub fn new() -> Message {
        Message::default()
    }

    /// A message whose first field is `t=<msg_type>`, as every cluster message starts.
    pub fn with_type(msg_type: &str) -> Message {
        let mut m = Message::new();
        m.push_str("t", msg_type);
        m
    }

    /// Appends a field (even if one of the same name exists).
    pub fn push(&mut self, name: &str, value: Value) {
        self.fields.push(Field {
            name: name.to_owned(),
            value,
        });
    }

    /// Appends a string field.
    pub fn push_str(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.push(name, Value::Str(value.as_ref().to_vec()));
    }

    /// Appends a binary field.
    pub fn push_bin(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.push(name, Value::Bin(value.as_ref().to_vec()));
    }

    /// Sets a field: the first field of that name is replaced in place (keeping its
    /// position, as `send_cluster_msg` does), otherwise the field is appended.
    pub fn set(&mut self, name: &str, value: Value) {
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(f) => f.value = value,
            None => self.push(name, value),
        }
    }

    /// Sets a string field (see [`Message::set`]).
    pub fn set_str(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.set(name, Value::Str(value.as_ref().to_vec()));
    }

    /// Removes every field of that name; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| f.name != name);
        before - self.fields.len()
    }

    /// The first field of that name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// The first string field of that name, if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Str(s) => std::str::from_utf8(s).ok(),
            _ => None,
        }
    }

    /// The first binary field of that name.
    pub fn get_bin(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The first string field of that name read as lower-case-or-upper hex
    /// (`seq`, `hg`, `ts`, `dt`, `ackseq` are hex on the wire).
    pub fn get_hex(&self, name: &str) -> Option<u64> {
        let s = self.get_str(name)?;
        if s.is_empty() || s.len() > 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok()
    }

    /// All fields in order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the message has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Lower-case hex of bytes, the form every digest and binary dump uses.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_first_in_place_and_keeps_position() {
        let mut m = Message::with_type("status");
        m.push_str("src", "n1");
        m.push_str("src", "n2");
        m.set_str("src", "n3");
        assert_eq!(m.get_str("src"), Some("n3"));
        assert_eq!(m.fields()[1].name, "src");
        assert_eq!(m.fields()[2].value, Value::Str(b"n2".to_vec()));
        m.set_str("seq", "1");
        assert_eq!(m.fields().last().map(|f| f.name.as_str()), Some("seq"));
    }

    #[test]
    fn get_hex_reads_wire_numbers() {
        let mut m = Message::new();
        m.push_str("hg", "6b075b64");
        m.push_str("bad", "xyz");
        assert_eq!(m.get_hex("hg"), Some(1_795_644_260));
        assert_eq!(m.get_hex("bad"), None);
        assert_eq!(m.get_hex("missing"), None);
    }

    #[test]
    fn remove_drops_all_duplicates() {
        let mut m = Message::new();
        m.push_str("a", "1");
        m.push_str("a", "2");
        m.push_str("b", "3");
        assert_eq!(m.remove("a"), 2);
        assert_eq!(m.len(), 1);
    }
}
