//! Authentication methods and the key table from `authkeys` (spec §2).
//!
//! * `crc`: CRC-32 with polynomial 0x04C11DB7, init 0, not reflected, final XOR
//!   0xFFFFFFFF, no length appended (the `CRC-32/CKSUM` catalogue entry; note that
//!   `crc32fast` computes the reflected ISO-HDLC CRC, which is a different checksum).
//!   Printed as `%lx`: lower-case hex without leading zeros. No key.
//! * `md5`, `sha1`: standard HMAC with the key's bytes, printed as full lower-case hex.

use std::fmt;

use hmac::{Hmac, Mac};

use crate::wire::message::hex_lower;

/// Number of key slots (`0..=15`, spec §1.1 MAXAUTH).
pub const MAX_AUTH_SLOTS: usize = 16;

const CRC_CKSUM: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_CKSUM);

/// One `authkeys` method with its key.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// `crc`: detects corruption only; anyone can forge it.
    Crc,
    /// `md5 KEY`: HMAC-MD5.
    Md5 {
        /// The key's bytes as written in `authkeys`.
        key: Vec<u8>,
    },
    /// `sha1 KEY`: HMAC-SHA1.
    Sha1 {
        /// The key's bytes as written in `authkeys`.
        key: Vec<u8>,
    },
}

impl fmt::Debug for AuthMethod {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Crc => f.write_str("crc"),
            AuthMethod::Md5 { key } => write!(f, "md5(<{} byte key>)", key.len()),
            AuthMethod::Sha1 { key } => write!(f, "sha1(<{} byte key>)", key.len()),
        }
    }
}

impl AuthMethod {
    /// The method's name as written in `authkeys`.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5 { .. } => "md5",
            AuthMethod::Sha1 { .. } => "sha1",
        }
    }

    /// The digest of `data` as heartbeat prints it.
    pub fn digest_hex(&self, data: &[u8]) -> String {
        match self {
            AuthMethod::Crc => format!("{:x}", CRC_CKSUM.checksum(data)),
            AuthMethod::Md5 { key } => {
                hex_lower(&hmac_md5(key).chain_update(data).finalize().into_bytes())
            }
            AuthMethod::Sha1 { key } => {
                hex_lower(&hmac_sha1(key).chain_update(data).finalize().into_bytes())
            }
        }
    }

    /// Checks a received hex digest against `data`. The digest must be exactly
    /// what heartbeat prints (lower-case, no leading zeros for crc), as 3.0.6
    /// compares the strings; the comparison takes constant time.
    pub fn verify_hex(&self, data: &[u8], digest: &str) -> bool {
        let expected = self.digest_hex(data);
        expected.len() == digest.len()
            && expected
                .bytes()
                .zip(digest.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn hmac_md5(key: &[u8]) -> Hmac<md5::Md5> {
    // HMAC accepts keys of any length (longer ones are hashed first, RFC 2104).
    <Hmac<md5::Md5> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

fn hmac_sha1(key: &[u8]) -> Hmac<sha1::Sha1> {
    <Hmac<sha1::Sha1> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// Why a key table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyTableError {
    /// A slot number outside `0..=15`. No table is built.
    #[error("key index {0} is out of range (0-15)")]
    SlotOutOfRange(u32),
    /// The `auth N` slot used for sending has no key. No table is built.
    #[error("auth {0} selects key {0}, but there is no key {0}")]
    SendSlotMissing(u8),
}

/// The keys of `authkeys`: up to 16 slots and the slot used for sending.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyTable {
    slots: [Option<AuthMethod>; MAX_AUTH_SLOTS],
    send: u8,
}

impl fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(method) = s {
                m.entry(&i, method);
            }
        }
        m.finish()?;
        write!(f, " send={}", self.send)
    }
}

impl KeyTable {
    /// Builds a table; `send` must name a defined slot.
    pub fn new(
        send: u32,
        slots: impl IntoIterator<Item = (u32, AuthMethod)>,
    ) -> Result<KeyTable, KeyTableError> {
        let mut table: [Option<AuthMethod>; MAX_AUTH_SLOTS] = Default::default();
        for (n, method) in slots {
            let slot = table
                .get_mut(n as usize)
                .ok_or(KeyTableError::SlotOutOfRange(n))?;
            *slot = Some(method);
        }
        let send = u8::try_from(send)
            .ok()
            .filter(|s| usize::from(*s) < MAX_AUTH_SLOTS)
            .ok_or(KeyTableError::SlotOutOfRange(send))?;
        if table[usize::from(send)].is_none() {
            return Err(KeyTableError::SendSlotMissing(send));
        }
        Ok(KeyTable { slots: table, send })
    }

    /// A table with one slot, used for sending.
    pub fn single(slot: u8, method: AuthMethod) -> KeyTable {
        let mut slots: [Option<AuthMethod>; MAX_AUTH_SLOTS] = Default::default();
        let slot = slot % MAX_AUTH_SLOTS as u8;
        slots[usize::from(slot)] = Some(method);
        KeyTable { slots, send: slot }
    }

    /// The slot number used to sign outgoing packets.
    pub fn send_slot(&self) -> u8 {
        self.send
    }

    /// The method used to sign outgoing packets.
    pub fn send_method(&self) -> &AuthMethod {
        // `new` and `single` guarantee the send slot is filled.
        self.slots[usize::from(self.send)]
            .as_ref()
            .unwrap_or(&AuthMethod::Crc)
    }

    /// The method in a slot, if defined.
    pub fn slot(&self, n: u8) -> Option<&AuthMethod> {
        self.slots.get(usize::from(n))?.as_ref()
    }

    /// Defined slots in order.
    pub fn slots(&self) -> impl Iterator<Item = (u8, &AuthMethod)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|m| (i as u8, m)))
    }

    /// Signs `data` with the sending slot: returns `"<slot> <hex>"`, the value of
    /// an `auth=` field and the body of a netstring trailer.
    pub fn sign(&self, data: &[u8]) -> String {
        format!("{} {}", self.send, self.send_method().digest_hex(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_cksum_without_length_and_prints_without_leading_zeros() {
        // CRC-32/CKSUM check value for "123456789".
        assert_eq!(AuthMethod::Crc.digest_hex(b"123456789"), "765e7680");
        // The reflected CRC-32 (crc32fast) gives cbf43926: a different algorithm.
        assert_ne!(AuthMethod::Crc.digest_hex(b"123456789"), "cbf43926");
        // A value with a leading zero nibble is printed short, as %lx does.
        let data = (0u32..)
            .map(|i| i.to_string())
            .find(|s| CRC_CKSUM.checksum(s.as_bytes()) < 0x1000_0000)
            .unwrap_or_default();
        let hex = AuthMethod::Crc.digest_hex(data.as_bytes());
        assert!(hex.len() < 8, "{hex}");
        assert!(AuthMethod::Crc.verify_hex(data.as_bytes(), &hex));
        assert!(!AuthMethod::Crc.verify_hex(data.as_bytes(), &format!("0{hex}")));
    }

    #[test]
    fn hmac_matches_rfc2202_vectors() {
        let md5 = AuthMethod::Md5 {
            key: b"Jefe".to_vec(),
        };
        assert_eq!(
            md5.digest_hex(b"what do ya want for nothing?"),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        let sha1 = AuthMethod::Sha1 {
            key: b"Jefe".to_vec(),
        };
        assert_eq!(
            sha1.digest_hex(b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert!(sha1.verify_hex(
            b"what do ya want for nothing?",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        ));
        // 3.0.6 compares strings: upper case is a different token.
        assert!(!sha1.verify_hex(
            b"what do ya want for nothing?",
            "EFFCDF6AE5EB2FA2D27416D5F184DF9C259A7C79"
        ));
        assert!(!sha1.verify_hex(
            b"what do ya want for nothing!",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        ));
        assert!(!sha1.verify_hex(b"x", "zz"));
        assert!(!sha1.verify_hex(b"x", ""));
    }

    #[test]
    fn key_table_requires_send_slot() {
        assert_eq!(
            KeyTable::new(3, [(1, AuthMethod::Crc)]),
            Err(KeyTableError::SendSlotMissing(3))
        );
        assert_eq!(
            KeyTable::new(1, [(16, AuthMethod::Crc)]),
            Err(KeyTableError::SlotOutOfRange(16))
        );
        let t = KeyTable::new(
            2,
            [
                (2, AuthMethod::Crc),
                (1, AuthMethod::Md5 { key: b"k".to_vec() }),
            ],
        )
        .expect("valid table");
        assert_eq!(t.send_slot(), 2);
        assert_eq!(t.slots().map(|(n, _)| n).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn debug_never_shows_keys() {
        let t = KeyTable::single(
            1,
            AuthMethod::Sha1 {
                key: b"secret-key".to_vec(),
            },
        );
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("sha1"), "{shown}");
    }
}
