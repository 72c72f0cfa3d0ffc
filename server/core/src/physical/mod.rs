//! Physical storage: the untrusted byte store under the barrier.
//!
//! Keys are `/`-separated paths. `list(prefix)` returns the direct children of
//! `prefix`: leaf names as they are and "folders" with a trailing `/`, sorted, each
//! once. Every backend passes [`conformance::run`].

pub mod conformance;
pub mod inmem;

use async_trait::async_trait;

pub use inmem::InmemBackend;

/// Errors from a physical backend.
#[derive(Debug, thiserror::Error)]
pub enum PhysicalError {
    /// The backend cannot accept writes now (for example a Raft follower or a lost quorum).
    #[error("storage is not writable here: {0}")]
    NotWritable(String),
    /// An I/O or engine failure.
    #[error("{0}")]
    Io(String),
}

/// One write in a batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TxnOp {
    /// Store `value` under `key`.
    Put { key: String, value: Vec<u8> },
    /// Remove `key` (no error when absent).
    Delete { key: String },
}

/// A key-value store of opaque bytes.
#[async_trait]
pub trait Physical: Send + Sync + 'static {
    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError>;
    /// Store `value` under `key`, replacing any value.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), PhysicalError> {
        self.transaction(vec![TxnOp::Put {
            key: key.to_string(),
            value,
        }])
        .await
    }
    /// Remove `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), PhysicalError> {
        self.transaction(vec![TxnOp::Delete {
            key: key.to_string(),
        }])
        .await
    }
    /// Direct children of `prefix` (which is empty or ends with `/`).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError>;
    /// Apply all operations atomically and in order.
    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError>;
    /// The Raft committed and applied indexes for `sys/leader`; `None` for
    /// storage that is not Raft.
    async fn raft_indexes(&self) -> Option<(u64, u64)> {
        None
    }
    /// A short name for `sys/seal-status`'s `storage_type` (`inmem`, `raft`).
    fn storage_type(&self) -> &'static str;
}

/// Turns the keys under `prefix` (full keys, sorted) into the direct children
/// `list` returns. Shared by backends that keep a sorted key space.
pub fn children_of<'a>(prefix: &str, keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let child = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        if out.last().map(|l| l.as_str()) != Some(child) {
            out.push(child.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}
