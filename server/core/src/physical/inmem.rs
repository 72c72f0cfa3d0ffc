//! The in-memory physical backend, for `-dev` and tests.

use std::collections::BTreeMap;

use async_trait::async_trait;
use parking_lot::RwLock;

use super::{children_of, Physical, PhysicalError, TxnOp};

/// A sorted map in memory.
#[derive(Default)]
pub struct InmemBackend {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl InmemBackend {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Physical for InmemBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError> {
        Ok(self.map.read().get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError> {
        let map = self.map.read();
        let keys = map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.as_str());
        Ok(children_of(prefix, keys))
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError> {
        let mut map = self.map.write();
        for op in ops {
            match op {
                TxnOp::Put { key, value } => {
                    map.insert(key, value);
                }
                TxnOp::Delete { key } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn storage_type(&self) -> &'static str {
        "inmem"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn inmem_passes_conformance() {
        let b = InmemBackend::new();
        super::super::conformance::run(&b).await;
    }
}
