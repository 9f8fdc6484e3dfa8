//! The authentication keys, shared by the links (which verify) and the node
//! table (which signs), and replaced as a whole when the configuration is
//! reloaded: a packet is checked against one consistent table, old or new.

use std::sync::{Arc, RwLock};

use hb_core::auth::KeyTable;

/// A replaceable, shared [`KeyTable`].
#[derive(Debug, Clone)]
pub struct SharedKeys(Arc<RwLock<Arc<KeyTable>>>);

impl SharedKeys {
    /// Shares `keys`.
    pub fn new(keys: KeyTable) -> SharedKeys {
        SharedKeys(Arc::new(RwLock::new(Arc::new(keys))))
    }

    /// The current table.
    pub fn get(&self) -> Arc<KeyTable> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the table for every holder.
    pub fn set(&self, keys: KeyTable) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
    }
}

impl From<Arc<KeyTable>> for SharedKeys {
    fn from(keys: Arc<KeyTable>) -> SharedKeys {
        SharedKeys(Arc::new(RwLock::new(keys)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_core::auth::AuthMethod;

    #[test]
    fn every_clone_sees_the_new_table() {
        let a = SharedKeys::new(KeyTable::single(1, AuthMethod::Crc));
        let b = a.clone();
        let old = b.get();
        a.set(KeyTable::single(2, AuthMethod::Crc));
        assert!(!Arc::ptr_eq(&old, &b.get()), "b sees the new table");
        assert!(Arc::ptr_eq(&a.get(), &b.get()));
    }
}
