//! List values (type 3): each element as `LEN:elem,`, concatenated.

/// Packs list elements.
pub(crate) fn pack(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.extend(item.len().to_string().into_bytes());
        out.push(b':');
        out.extend_from_slice(item);
        out.push(b',');
    }
    out
}

/// Unpacks list elements; `None` if the bytes are not exactly a sequence of netstrings.
pub(crate) fn unpack(mut raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    while !raw.is_empty() {
        let (item, used) = super::netstring::read_netstring(raw, 0).ok()?;
        items.push(item.to_vec());
        raw = &raw[used..];
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_as_netstrings() {
        let items = vec![b"abc".to_vec(), b"defg".to_vec(), Vec::new()];
        assert_eq!(pack(&items), b"3:abc,4:defg,0:,".to_vec());
        assert_eq!(unpack(b"3:abc,4:defg,0:,"), Some(items));
        assert_eq!(unpack(b"3:abc"), None);
        assert_eq!(unpack(b"x"), None);
    }
}
